#include "listener_hub.hpp"

#include <chrono>
#include <thread>

#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_str;

void listener_hub::set(core_listener_v1* listener) noexcept {
    listener_.store(listener);
    if (listener == nullptr) {
        // Callers bump the counter before loading the pointer, so once it reads zero no
        // call can still be using the old listener.
        while (calls_.load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

void listener_hub::subscribe(uint64_t device_id, uint32_t flags) {
    flags &= TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC;
    if (device_id == 0 || flags == 0) return;  // no device has id 0
    std::lock_guard lk(mutex_);
    *subs_.try_emplace(device_id).first |= static_cast<uint8_t>(flags);
}

void listener_hub::unsubscribe(uint64_t device_id, uint32_t flags) {
    std::lock_guard lk(mutex_);
    uint8_t* f = subs_.find(device_id);
    if (f == nullptr) return;
    *f &= static_cast<uint8_t>(~flags);
    if (*f == 0) subs_.erase(device_id);
}

bool listener_hub::subscribed(uint64_t device_id, uint32_t flag) {
    std::lock_guard lk(mutex_);
    const uint8_t* f = subs_.find(device_id);
    return f != nullptr && (*f & flag) != 0;
}

std::pair<size_t, size_t> listener_hub::memory() {
    std::lock_guard lk(mutex_);
    return {subs_.size(), subs_.bytes()};
}

void listener_hub::forget(uint64_t device_id) {
    std::lock_guard lk(mutex_);
    subs_.erase(device_id);
}

void listener_hub::clear() {
    std::lock_guard lk(mutex_);
    subs_.clear();
}

void listener_hub::notify_attributes(uint64_t device_id, const std::vector<kv>& updated,
                                     const std::vector<std::string>& deleted) {
    if ((updated.empty() && deleted.empty()) || !subscribed(device_id, TERN_SUBSCRIBE_ATTRIBUTES)) return;
    std::vector<tern_kv> u;
    u.reserve(updated.size());
    for (const kv& x : updated) u.push_back(tern_kv{to_str(x.key), x.v.view()});
    std::vector<tern_str> d;
    d.reserve(deleted.size());
    for (const std::string& k : deleted) d.push_back(to_str(k));
    with_listener([&](core_listener_v1& l) {
        l.on_attributes_updated(device_id, u.data(), static_cast<uint32_t>(u.size()), d.data(),
                                static_cast<uint32_t>(d.size()));
    });
}

void listener_hub::device_event(uint64_t device_id, int32_t event) {
    with_listener([&](core_listener_v1& l) { l.on_device_event(device_id, event); });
}

}  // namespace tern::core_embedded

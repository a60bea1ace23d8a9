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
    std::lock_guard lk(mutex_);
    subs_[device_id] |= flags;
}

void listener_hub::unsubscribe(uint64_t device_id, uint32_t flags) {
    std::lock_guard lk(mutex_);
    auto it = subs_.find(device_id);
    if (it == subs_.end()) return;
    it->second &= ~flags;
    if (it->second == 0) subs_.erase(it);
}

bool listener_hub::subscribed(uint64_t device_id, uint32_t flag) {
    std::lock_guard lk(mutex_);
    auto it = subs_.find(device_id);
    return it != subs_.end() && (it->second & flag) != 0;
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

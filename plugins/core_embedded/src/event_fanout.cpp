// event_fanout: one core listener, any number of subscribers (event_fanout.hpp).
#include "event_fanout.hpp"

#include <bit>
#include <chrono>
#include <thread>

namespace tern::core_embedded {

namespace {

constexpr uint32_t known_flags = TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC;

uint64_t slot_bit(uint32_t i) { return uint64_t{1} << i; }

}  // namespace

event_fanout::event_fanout(core_v1& core) : core_(core) {
    slot& legacy = slots_[legacy_slot];
    legacy.taken = true;
    legacy_handle_ = uint64_t{1} << 6 | legacy_slot;
    legacy.handle.store(legacy_handle_);
    core_.set_listener(this);
}

event_fanout::~event_fanout() { core_.set_listener(nullptr); }

void event_fanout::configure(uint32_t max_subscribers, sdk::metric refused) {
    max_subscribers_ = max_subscribers < 1 ? 1 : max_subscribers > slot_count - 1 ? slot_count - 1 : max_subscribers;
    refused_ = refused;
}

uint32_t event_fanout::slot_of(uint64_t handle) const noexcept {
    const uint32_t i = static_cast<uint32_t>(handle & (slot_count - 1));
    if (handle == 0 || slots_[i].handle.load() != handle) return slot_count;
    return i;
}

void event_fanout::wait_idle(const slot& s) noexcept {
    // Deliveries bump calls before they load the handle, so once the handle (or listener)
    // is cleared and calls reads zero, no delivery can still use the old listener.
    while (s.calls.load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

// ---- subscribers -----------------------------------------------------------------------------

tern_status event_fanout::subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept {
    if (out_handle != nullptr) *out_handle = 0;
    if (listener == nullptr || out_handle == nullptr) return TERN_INVALID_ARGUMENT;
    std::lock_guard lk(mutex_);
    for (uint32_t i = 1; i <= max_subscribers_; ++i) {
        slot& s = slots_[i];
        if (s.taken) continue;
        s.taken = true;
        const uint64_t h = next_generation_++ << 6 | i;
        s.listener.store(listener);
        s.handle.store(h);
        *out_handle = h;
        return TERN_OK;
    }
    refused_.inc();
    return TERN_BUSY;
}

void event_fanout::close(uint64_t handle) noexcept {
    uint32_t i = slot_count;
    {
        std::lock_guard lk(mutex_);
        i = slot_of(handle);
        if (i == slot_count || i == legacy_slot) return;
        slots_[i].handle.store(0);
        slots_[i].listener.store(nullptr);
        const uint64_t bit = slot_bit(i);
        for (auto it = devices_.begin(); it != devices_.end();) {
            auto next = std::next(it);
            uint32_t flags = 0;
            if (it->second.attributes & bit) flags |= TERN_SUBSCRIBE_ATTRIBUTES;
            if (it->second.rpc & bit) flags |= TERN_SUBSCRIBE_RPC;
            if (flags != 0) drop_bits(it, bit, flags);
            it = next;
        }
    }
    wait_idle(slots_[i]);
    std::lock_guard lk(mutex_);
    slots_[i].taken = false;  // reusable only now: nothing of the old listener runs
}

void event_fanout::set_legacy_listener(core_listener_v1* listener) noexcept {
    slot& s = slots_[legacy_slot];
    s.listener.store(listener);
    if (listener == nullptr) wait_idle(s);
}

uint32_t event_fanout::subscribers() noexcept {
    std::lock_guard lk(mutex_);
    uint32_t n = 0;
    for (uint32_t i = 1; i < slot_count; ++i) n += slots_[i].taken && slots_[i].handle.load() != 0;
    return n;
}

// ---- per-device subscriptions -----------------------------------------------------------------

tern_status event_fanout::subscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
    flags &= known_flags;
    try {
        std::lock_guard lk(mutex_);
        const uint32_t i = slot_of(handle);
        if (i == slot_count) return TERN_NOT_FOUND;
        if (flags == 0) return TERN_OK;
        device_subs& d = devices_[device_id];
        if (flags & TERN_SUBSCRIBE_ATTRIBUTES) d.attributes |= slot_bit(i);
        if (flags & TERN_SUBSCRIBE_RPC) d.rpc |= slot_bit(i);
        // Every time, as tern.core/1 callers did: subscribing RPCs sends the pending ones.
        core_.subscribe(device_id, flags);
        return TERN_OK;
    } catch (const std::bad_alloc&) {
        return TERN_INTERNAL;
    }
}

void event_fanout::unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
    flags &= known_flags;
    std::lock_guard lk(mutex_);
    const uint32_t i = slot_of(handle);
    if (i == slot_count || flags == 0) return;
    auto it = devices_.find(device_id);
    if (it != devices_.end()) drop_bits(it, slot_bit(i), flags);
}

void event_fanout::drop_bits(std::unordered_map<uint64_t, device_subs>::iterator it, uint64_t bit,
                             uint32_t flags) {
    device_subs& d = it->second;
    uint32_t unheld = 0;
    if (flags & TERN_SUBSCRIBE_ATTRIBUTES) {
        const bool had = d.attributes != 0;
        d.attributes &= ~bit;
        if (had && d.attributes == 0) unheld |= TERN_SUBSCRIBE_ATTRIBUTES;
    }
    if (flags & TERN_SUBSCRIBE_RPC) {
        const bool had = d.rpc != 0;
        d.rpc &= ~bit;
        if (had && d.rpc == 0) unheld |= TERN_SUBSCRIBE_RPC;
    }
    const uint64_t device_id = it->first;
    if (d.attributes == 0 && d.rpc == 0) devices_.erase(it);
    if (unheld != 0) core_.unsubscribe(device_id, unheld);
}

// ---- delivery --------------------------------------------------------------------------------

event_fanout::targets event_fanout::targets_for(uint64_t device_id, uint32_t flag) {
    targets t;
    std::lock_guard lk(mutex_);
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return t;
    t.mask = flag == TERN_SUBSCRIBE_RPC ? it->second.rpc : it->second.attributes;
    for (uint64_t m = t.mask; m != 0; m &= m - 1) {
        const auto i = static_cast<uint32_t>(std::countr_zero(m));
        t.handles[i] = slots_[i].handle.load();
    }
    return t;
}

void event_fanout::on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                                         const tern_str* deleted, uint32_t deleted_count) noexcept {
    const targets t = targets_for(device_id, TERN_SUBSCRIBE_ATTRIBUTES);
    for (uint64_t m = t.mask; m != 0; m &= m - 1) {
        const auto i = static_cast<uint32_t>(std::countr_zero(m));
        deliver(i, t.handles[i], [&](core_listener_v1& l) {
            l.on_attributes_updated(device_id, updated, updated_count, deleted, deleted_count);
        });
    }
}

void event_fanout::on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept {
    const targets t = targets_for(device_id, TERN_SUBSCRIBE_RPC);
    for (uint64_t m = t.mask; m != 0; m &= m - 1) {
        const auto i = static_cast<uint32_t>(std::countr_zero(m));
        deliver(i, t.handles[i], [&](core_listener_v1& l) { l.on_rpc_request(device_id, rpc); });
    }
}

void event_fanout::on_device_event(uint64_t device_id, tern_device_event event) noexcept {
    for (uint32_t i = 0; i < slot_count; ++i) {
        const uint64_t h = slots_[i].handle.load();
        if (h != 0) deliver(i, h, [&](core_listener_v1& l) { l.on_device_event(device_id, event); });
    }
}

}  // namespace tern::core_embedded

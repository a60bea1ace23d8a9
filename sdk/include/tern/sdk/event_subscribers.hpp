// event_subscribers: the subscriber table of a tern.core.events/1 implementation (a core, or
// a transport node standing in for one). It keeps:
//
//  - at most 64 subscriber slots; a handle is (generation << 6 | slot) with a generation that
//    only grows from 1, so a handle is never 0 and a closed handle never matches the slot's
//    next subscriber. The lowest `reserved` slots are the implementation's own (a core's
//    tern.core/1 listener): always open, close() refuses them, set_reserved_listener fills them;
//  - per device, two bit masks (attributes, RPC: bit i is slot i) of who subscribed what, in
//    an sdk::id_table (a 24-byte slot per device; device ids are never 0, the table's
//    reserved key: subscribe_device refuses 0);
//  - close(handle), which returns only when no call into that handle's listener runs.
//
// What the implementation does with a device's UNION of flags (subscribe it at its core, send
// it to a core node) it does in the change hook: it runs after every subscribe_device with
// flags, and after every unsubscribe_device or close that dropped a device's bits, under the
// table's lock (so the hook calls come in the order of the masks' changes). The hook must not
// call back into the table; a subscribe_device whose hook returns an error is undone.
//
// Delivery: deliver(device, flag, f) calls f(listener) for every listener subscribed to the
// device for that flag, deliver_all(f) for every open slot, both outside the lock and from any
// thread (the ABI allows any).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <utility>

#include "tern/abi/core_capabilities.h"
#include "tern/sdk/host.hpp"
#include "tern/sdk/id_table.hpp"

namespace tern::sdk {

class event_subscribers {
public:
    static constexpr uint32_t slot_count = 64;
    static constexpr uint32_t known_flags = TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC;

    // How a device's union of flags over all slots changed in one call.
    struct union_change {
        uint64_t device_id = 0;
        uint32_t before = 0;      // the union before the call
        uint32_t after = 0;       // ... and after it
        uint32_t subscribed = 0;  // the flags a subscribe_device asked for (0: unsubscribe, close)
    };
    // Under the table's lock; must not call into the table. On subscribe_device, a status other
    // than TERN_OK undoes the subscription and is what subscribe_device returns.
    using change_fn = std::function<tern_status(const union_change&)>;

    explicit event_subscribers(change_fn on_change = {}, uint32_t reserved = 0)
        : on_change_(std::move(on_change)), reserved_(reserved < slot_count ? reserved : slot_count - 1) {
        for (uint32_t i = 0; i < reserved_; ++i) {
            slots_[i].taken = true;
            slots_[i].handle.store(next_generation_++ << 6 | i);
        }
    }
    event_subscribers(const event_subscribers&) = delete;
    event_subscribers& operator=(const event_subscribers&) = delete;

    // How many subscribers subscribe() admits (clamped to 1..slot_count - reserved) and the
    // counter of its refusals. Before the first subscribe.
    void set_max_subscribers(uint32_t n) noexcept {
        const uint32_t most = slot_count - reserved_;
        std::lock_guard lk(mutex_);
        max_subscribers_ = n < 1 ? 1 : n > most ? most : n;
    }
    void set_refused_metric(metric refused) noexcept {
        std::lock_guard lk(mutex_);
        refused_ = refused;
    }

    // ---- the reserved slots --------------------------------------------------------------
    uint64_t reserved_handle(uint32_t i) const noexcept { return i < reserved_ ? slots_[i].handle.load() : 0; }
    // Null waits until no call to the slot's old listener runs.
    void set_reserved_listener(uint32_t i, core_listener_v1* listener) noexcept {
        if (i >= reserved_) return;
        slots_[i].listener.store(listener);
        if (listener == nullptr) wait_idle(slots_[i]);
    }

    // ---- core_events_v1 ------------------------------------------------------------------
    // TERN_BUSY (and the refused counter) once max_subscribers are open.
    tern_status subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept {
        if (out_handle != nullptr) *out_handle = 0;
        if (listener == nullptr || out_handle == nullptr) return TERN_INVALID_ARGUMENT;
        std::lock_guard lk(mutex_);
        for (uint32_t i = reserved_; i < reserved_ + max_subscribers_; ++i) {
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

    // TERN_NOT_FOUND for a handle that is not open, TERN_INVALID_ARGUMENT for device 0 (no
    // device has it); unknown flags are ignored.
    tern_status subscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
        flags &= known_flags;
        try {
            std::lock_guard lk(mutex_);
            const uint32_t i = slot_of(handle);
            if (i == slot_count) return TERN_NOT_FOUND;
            if (device_id == device_map::empty_id) return TERN_INVALID_ARGUMENT;
            if (flags == 0) return TERN_OK;
            masks& d = *devices_.try_emplace(device_id).first;  // the hook cannot move it
            const masks old = d;
            if (flags & TERN_SUBSCRIBE_ATTRIBUTES) d.attributes |= slot_bit(i);
            if (flags & TERN_SUBSCRIBE_RPC) d.rpc |= slot_bit(i);
            const tern_status st = changed({device_id, old.flags(), d.flags(), flags});
            if (st != TERN_OK) {
                d = old;
                if (old.flags() == 0) devices_.erase(device_id);
            }
            return st;
        } catch (const std::bad_alloc&) {
            return TERN_INTERNAL;
        }
    }

    void unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
        flags &= known_flags;
        std::lock_guard lk(mutex_);
        const uint32_t i = slot_of(handle);
        if (i == slot_count || flags == 0) return;
        masks* d = devices_.find(device_id);
        if (d == nullptr || !drop_bits(device_id, *d, slot_bit(i), flags)) return;
        devices_.erase(device_id);
    }

    // Drops the handle's subscriptions; returns once no call into its listener runs, after
    // which the slot takes a new subscriber. Unknown, stale and reserved handles: nothing.
    void close(uint64_t handle) noexcept {
        uint32_t i = slot_count;
        {
            std::lock_guard lk(mutex_);
            i = slot_of(handle);
            if (i == slot_count || i < reserved_) return;
            slots_[i].handle.store(0);
            slots_[i].listener.store(nullptr);
            const uint64_t bit = slot_bit(i);
            devices_.erase_if([&](uint64_t device_id, masks& d) {
                uint32_t flags = 0;
                if (d.attributes & bit) flags |= TERN_SUBSCRIBE_ATTRIBUTES;
                if (d.rpc & bit) flags |= TERN_SUBSCRIBE_RPC;
                return flags != 0 && drop_bits(device_id, d, bit, flags);
            });
        }
        wait_idle(slots_[i]);
        std::lock_guard lk(mutex_);
        slots_[i].taken = false;  // reusable only now: nothing of the old listener runs
    }

    // ---- delivery ------------------------------------------------------------------------
    // Calls f(core_listener_v1&) for each listener subscribed to the device for flag (one of
    // TERN_SUBSCRIBE_*); false when nobody is.
    template <class F>
    bool deliver(uint64_t device_id, uint32_t flag, F&& f) noexcept {
        uint64_t mask = 0;
        std::array<uint64_t, slot_count> handles{};
        {
            std::lock_guard lk(mutex_);
            const masks* d = devices_.find(device_id);
            if (d == nullptr) return false;
            mask = flag == TERN_SUBSCRIBE_RPC ? d->rpc : d->attributes;
            for (uint64_t m = mask; m != 0; m &= m - 1) {
                const auto i = static_cast<uint32_t>(std::countr_zero(m));
                handles[i] = slots_[i].handle.load();
            }
        }
        for (uint64_t m = mask; m != 0; m &= m - 1) {
            const auto i = static_cast<uint32_t>(std::countr_zero(m));
            call(i, handles[i], f);
        }
        return mask != 0;
    }
    // Calls f(core_listener_v1&) for every open slot's listener (device events).
    template <class F>
    void deliver_all(F&& f) noexcept {
        for (uint32_t i = 0; i < slot_count; ++i) {
            const uint64_t h = slots_[i].handle.load();
            if (h != 0) call(i, h, f);
        }
    }

    // ---- tests and stats -----------------------------------------------------------------
    // Open subscribers, the reserved slots not counted.
    uint32_t subscribers() noexcept {
        std::lock_guard lk(mutex_);
        uint32_t n = 0;
        for (uint32_t i = reserved_; i < slot_count; ++i) n += slots_[i].taken && slots_[i].handle.load() != 0;
        return n;
    }
    // The device's union of flags over all slots.
    uint32_t union_of(uint64_t device_id) noexcept {
        std::lock_guard lk(mutex_);
        const masks* d = devices_.find(device_id);
        return d == nullptr ? 0 : d->flags();
    }
    // The per-device mask table (memory figures): devices with a mask, the table's slots, and
    // the bytes it holds (slots x 24; it owns nothing else).
    struct table_figures {
        std::size_t entries = 0;
        std::size_t capacity = 0;
        std::size_t bytes = 0;
    };
    table_figures device_table() noexcept {
        std::lock_guard lk(mutex_);
        return {devices_.size(), devices_.capacity(), devices_.bytes()};
    }

private:
    struct slot {
        std::atomic<uint64_t> handle{0};  // 0: nobody
        std::atomic<core_listener_v1*> listener{nullptr};
        std::atomic<int64_t> calls{0};    // listener calls running now
        bool taken = false;               // under mutex_: held, or still closing
    };
    struct masks {
        uint64_t attributes = 0;  // bit i: slot i subscribed TERN_SUBSCRIBE_ATTRIBUTES
        uint64_t rpc = 0;         // bit i: slot i subscribed TERN_SUBSCRIBE_RPC
        uint32_t flags() const noexcept {
            uint32_t f = 0;
            if (attributes != 0) f |= TERN_SUBSCRIBE_ATTRIBUTES;
            if (rpc != 0) f |= TERN_SUBSCRIBE_RPC;
            return f;
        }
    };
    using device_map = id_table<masks>;

    static uint64_t slot_bit(uint32_t i) noexcept { return uint64_t{1} << i; }

    // The slot of an open handle, or slot_count.
    uint32_t slot_of(uint64_t handle) const noexcept {
        const auto i = static_cast<uint32_t>(handle & (slot_count - 1));
        if (handle == 0 || slots_[i].handle.load() != handle) return slot_count;
        return i;
    }

    // Deliveries bump calls before they load the handle, so once the handle (or listener) is
    // cleared and calls reads zero, no delivery can still use the old listener.
    static void wait_idle(const slot& s) noexcept {
        while (s.calls.load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }

    // Calls f(listener) if the slot still holds handle; close() waits for it.
    template <class F>
    void call(uint32_t i, uint64_t handle, F& f) noexcept {
        slot& s = slots_[i];
        s.calls.fetch_add(1);
        if (s.handle.load() == handle)
            if (core_listener_v1* l = s.listener.load()) f(*l);
        s.calls.fetch_sub(1);
    }

    tern_status changed(const union_change& c) noexcept {
        if (!on_change_) return TERN_OK;
        try {
            return on_change_(c);
        } catch (...) {
            return TERN_INTERNAL;
        }
    }

    // Drops a slot's bits for a device and tells the hook; true when nobody holds the device
    // any more (the caller erases it). Under mutex_.
    bool drop_bits(uint64_t device_id, masks& d, uint64_t bit, uint32_t flags) noexcept {
        const uint32_t before = d.flags();
        if (flags & TERN_SUBSCRIBE_ATTRIBUTES) d.attributes &= ~bit;
        if (flags & TERN_SUBSCRIBE_RPC) d.rpc &= ~bit;
        const union_change c{device_id, before, d.flags(), 0};
        changed(c);
        return c.after == 0;
    }

    const change_fn on_change_;
    const uint32_t reserved_;
    std::array<slot, slot_count> slots_;

    // Guards the slots' taken flags and handle writes, devices_, next_generation_ and the
    // settings; the change hook runs under it.
    std::mutex mutex_;
    device_map devices_;
    uint64_t next_generation_ = 1;
    uint32_t max_subscribers_ = 16;
    metric refused_;
};

}  // namespace tern::sdk

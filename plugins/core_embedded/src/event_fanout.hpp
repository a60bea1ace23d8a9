// event_fanout: tern.core.events/1 over a core that keeps one listener. It registers
// itself as the core's only core_listener_v1 and hands each downlink to every subscriber
// that subscribed the device for it, and each device event to every subscriber. The
// tern.core/1 listener (core_v1::set_listener) is one subscriber among them, in a slot of
// its own, so a plugin built against ABI 1.0 keeps receiving what it subscribed.
//
// Subscribers live in a fixed table of at most 64 slots (bound: max_subscribers, plus the
// tern.core/1 slot); per-device subscriptions are two bit masks per device (attributes, RPC:
// bit i is slot i). A handle is (generation << 6 | slot), so a closed handle never matches
// the slot's next subscriber.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

class event_fanout final : public core_events_v1, public core_listener_v1 {
public:
    static constexpr uint32_t slot_count = 64;
    static constexpr uint32_t legacy_slot = 0;  // the tern.core/1 listener's

    // Registers itself as core's listener; the destructor unregisters it (waiting until
    // no call of the core into it runs). [start-stop]
    explicit event_fanout(core_v1& core);
    ~event_fanout();
    event_fanout(const event_fanout&) = delete;
    event_fanout& operator=(const event_fanout&) = delete;

    // How many subscribers subscribe() admits (1..63) and the counter of refusals.
    // [start-stop], before any subscribe.
    void configure(uint32_t max_subscribers, sdk::metric refused);

    // ---- core_events_v1 ----------------------------------------------------------------
    tern_status subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept override;
    tern_status subscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept override;
    void unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept override;
    void close(uint64_t handle) noexcept override;

    // ---- the tern.core/1 listener and its subscriptions -----------------------------------
    // core_v1::set_listener: null waits until no call to the old listener runs.
    void set_legacy_listener(core_listener_v1* listener) noexcept;
    uint64_t legacy_handle() const noexcept { return legacy_handle_; }

    // Live subscribers, the tern.core/1 slot not counted (tests, stats).
    uint32_t subscribers() noexcept;

    // ---- core_listener_v1: what the core delivers ------------------------------------------
    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept override;
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override;
    void on_device_event(uint64_t device_id, tern_device_event event) noexcept override;

private:
    struct slot {
        std::atomic<uint64_t> handle{0};  // 0: nobody
        std::atomic<core_listener_v1*> listener{nullptr};
        std::atomic<int64_t> calls{0};    // deliveries running now
        bool taken = false;               // under mutex_: held, or still closing
    };
    struct device_subs {
        uint64_t attributes = 0;  // bit i: slot i subscribed TERN_SUBSCRIBE_ATTRIBUTES
        uint64_t rpc = 0;         // bit i: slot i subscribed TERN_SUBSCRIBE_RPC
    };
    // The slots subscribed for a device (mask) and their handles as they were then.
    struct targets {
        uint64_t mask = 0;
        std::array<uint64_t, slot_count> handles{};
    };

    // The slot of a live handle, or slot_count. Under mutex_.
    uint32_t slot_of(uint64_t handle) const noexcept;
    targets targets_for(uint64_t device_id, uint32_t flag);
    // Calls f(listener) if the slot still holds handle; close() waits for it.
    template <class F>
    void deliver(uint32_t i, uint64_t handle, F&& f) noexcept {
        slot& s = slots_[i];
        s.calls.fetch_add(1);
        if (s.handle.load() == handle)
            if (core_listener_v1* l = s.listener.load()) f(*l);
        s.calls.fetch_sub(1);
    }
    static void wait_idle(const slot& s) noexcept;
    // Drops the slot's bits for a device and tells the core which flags nobody holds any
    // more. Under mutex_.
    void drop_bits(std::unordered_map<uint64_t, device_subs>::iterator it, uint64_t bit, uint32_t flags);

    core_v1& core_;
    std::array<slot, slot_count> slots_;
    uint64_t legacy_handle_ = 0;
    uint32_t max_subscribers_ = 16;
    sdk::metric refused_;

    // Guards the slots' taken flags and handles (writes), devices_ and next_generation_.
    // The core's subscribe/unsubscribe are called under it, so their order matches the
    // masks' (the core never calls into its listener under a lock of its own).
    std::mutex mutex_;
    std::unordered_map<uint64_t, device_subs> devices_;
    uint64_t next_generation_ = 2;  // 1 is the tern.core/1 slot's
};

}  // namespace tern::core_embedded

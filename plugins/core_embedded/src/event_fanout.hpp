// event_fanout: tern.core.events/1 over a core that keeps one listener. It registers
// itself as the core's only core_listener_v1 and hands each downlink to every subscriber
// that subscribed the device for it, and each device event to every subscriber. The
// tern.core/1 listener (core_v1::set_listener) is one subscriber among them, in a slot of
// its own, so a plugin built against ABI 1.0 keeps receiving what it subscribed.
//
// The subscribers, their handles and per-device masks are an sdk::event_subscribers table
// (bound: max_subscribers, plus the tern.core/1 slot, reserved slot 0); its change hook
// subscribes the device at the core on every subscribe_device and unsubscribes the flags
// nobody holds any more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/sdk/event_subscribers.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

class event_fanout final : public core_events_v1, public core_listener_v1 {
public:
    static constexpr uint32_t slot_count = sdk::event_subscribers::slot_count;
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
    uint64_t legacy_handle() const noexcept { return subs_.reserved_handle(legacy_slot); }

    // Live subscribers, the tern.core/1 slot not counted (tests, stats).
    uint32_t subscribers() noexcept;
    // Devices with subscriber masks and the bytes their table holds (a flat table of 24-byte
    // slots: id and two masks).
    std::pair<size_t, size_t> memory() noexcept {
        const auto t = subs_.device_table();
        return {t.entries, t.bytes};
    }

    // ---- core_listener_v1: what the core delivers ------------------------------------------
    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept override;
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override;
    void on_device_event(uint64_t device_id, tern_device_event event) noexcept override;

private:
    // The table's change hook: the core's subscribe/unsubscribe, under the table's lock, so
    // their order matches the masks' (the core never calls into its listener under a lock of
    // its own).
    tern_status on_union_change(const sdk::event_subscribers::union_change& c) noexcept;

    core_v1& core_;
    sdk::event_subscribers subs_;
};

}  // namespace tern::core_embedded

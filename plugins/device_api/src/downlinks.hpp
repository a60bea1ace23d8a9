// What goes down to a device on its observations, on its home shard: shared-attribute
// updates (merged while unacknowledged, docs/device-api.md §0.2) and server-side RPCs (docs/device-api.md §4.1) with
// their status reports to the core and their acknowledgement deadlines. One function,
// allowed(), decides whether a downlink goes now: the device's power policy when its profile
// names a power mode (docs/device-api.md §9), else always. What a policy holds stays here, merged
// (attributes) or in order (RPCs), until the device wakes (downlinks_power.cpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "attr_delta.hpp"
#include "device_state.hpp"
#include "tern/abi/core.h"
#include "tern/abi/power.h"

namespace tern::device_api {

class observations;
class runtime;
class state_table;
struct deadline;
struct shard_tables;

class downlinks {
public:
    downlinks(runtime& rt, state_table& states, observations& obs) : rt_(rt), states_(states), obs_(obs) {}

    // Core listener calls: routed to the device's home shard. [any-thread]
    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept;
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept;

    // Sends what is pending on the device's live observations, if allowed now. [shard H]
    void flush(shard_tables& sd, device_state& st);
    // What became of notification `cookie` on observation obs. [shard H]
    void result(uint64_t device_id, uint64_t obs, uint64_t cookie, int32_t result);
    // An RPC's acknowledgement deadline passed. [shard H]
    void ack_deadline(device_state& st, const deadline& d);
    // Reports an RPC's state to the core (and counts it).
    void rpc_status(device_state& st, int64_t id, tern_rpc_status s, std::string_view error) noexcept;

    // ---- power saving (downlinks_power.cpp) ----
    // An authenticated request of device dev on shard sd: a device whose mode sleeps has its
    // policy hear of it on its home shard (posted without allocating). [shard S]
    void uplink(shard_tables& sd, const device_entry& dev) noexcept;
    // Event e at now_ms for a device with state: its policy updates the state; what it held
    // goes when the device woke (or, after an uplink or ACK, whatever waits). [shard H]
    void power_event(shard_tables& sd, device_state& st, tern_power_event e, int64_t now_ms);
    // A deadline_kind::power deadline came. [shard H]
    void power_deadline(shard_tables& sd, device_state& st, const deadline& d);
    // Brings the power gauges up to date with st (gone: it is being dropped). [shard H]
    void account(device_state& st, bool gone = false) noexcept;

private:
    void home_attributes(uint64_t device_id, attr_delta changes);
    void home_rpc(uint64_t device_id, pending_rpc rpc);
    // Asks the device's policy whether one downlink may go now (true without a policy).
    bool allowed(shard_tables& sd, device_state& st);
    // After a policy call: arms its timer, tells the core it fell asleep or woke.
    void after_policy(shard_tables& sd, device_state& st);
    static void run_hop(void* ctx) noexcept;
    void home_uplink(uint64_t device_id, int64_t now_ms);
    // The wake whose latency is measured: what is held at this moment.
    void mark_wake(device_state& st) noexcept;
    void wake_progress(device_state& st) noexcept;
    // Bounds of what a sleeping device has held (max_pending_rpcs, max_pending_update_bytes).
    void bound_rpcs(device_state& st);
    void bound_update(device_state& st) noexcept;
    // The held update passed its bound: every shared attribute is read from the core now.
    void start_full_read(device_state& st);
    static void full_read_done(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                               const tern_kv* shared, uint32_t ns) noexcept;
    void home_full_read(uint64_t device_id, tern_status status, attr_delta read);
    // TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT for devices whose mode sleeps.
    static uint32_t keep_flag(const device_state& st) noexcept;
    void flush_attributes(shard_tables& sd, device_state& st);
    void flush_rpcs(shard_tables& sd, device_state& st);
    // A 2.05 notification with payload on observation o.
    tern_status notify(const observation& o, std::string_view payload, uint64_t cookie, uint32_t flags) noexcept;
    // The window within which a CON RPC notification must be acknowledged (docs/device-api.md §4.1.3).
    int64_t ack_window_ms(const device_entry& d, const pending_rpc& r, int64_t wall) const noexcept;

    runtime& rt_;
    state_table& states_;
    observations& obs_;
};

}  // namespace tern::device_api

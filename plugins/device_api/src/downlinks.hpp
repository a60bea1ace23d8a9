// What goes down to a device on its observations, on its home shard: shared-attribute
// updates (merged while unacknowledged, docs/device-api.md §0.2) and server-side RPCs (docs/device-api.md §4.1) with
// their status reports to the core and their acknowledgement deadlines. One function,
// allowed(), decides whether downlinks go now (where power saving, docs/device-api.md §9, will sit).
#pragma once

#include <cstdint>
#include <string_view>

#include "attr_delta.hpp"
#include "device_state.hpp"
#include "tern/abi/core.h"

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

private:
    void home_attributes(uint64_t device_id, attr_delta changes);
    void home_rpc(uint64_t device_id, pending_rpc rpc);
    bool allowed(const device_state& st) const noexcept;
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

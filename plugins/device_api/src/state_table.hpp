// The home shard's table of device states: made when a device first registers an
// observation, bounded by max_devices_with_state (an idle state makes room), idle states
// (no active observation) listed oldest first and dropped after inactivity_timeout; and a
// device's session with the core (OPEN with its first observation, ACTIVITY for
// acknowledged notifications, CLOSE with its last). [shard H]
#pragma once

#include <cstdint>
#include <memory>

#include "device.hpp"
#include "device_state.hpp"

namespace tern::device_api {

class downlinks;
class observations;
class runtime;
struct shard_tables;

class state_table {
public:
    state_table(runtime& rt, observations& obs, downlinks& down) : rt_(rt), obs_(obs), down_(down) {}

    // The device's state, its device info refreshed when dev is newer; made when absent and
    // create (null when the table is full of active states).
    device_state* state_for(shard_tables& sd, const std::shared_ptr<const device_entry>& dev, bool create);
    // Ends what it has open and forgets the state.
    void drop(shard_tables& sd, device_state& st);
    void idle_push(shard_tables& sd, device_state& st) noexcept;
    void idle_remove(shard_tables& sd, device_state& st) noexcept;
    // Drops idle states older than inactivity_timeout; the next expiry (0: none).
    uint64_t expire(shard_tables& sd, uint64_t now_ns);
    // Closes every state of the shard for the core: RPCs TIMEOUT, unsubscribed, sessions
    // closed. (Stopping.)
    void close_all(shard_tables& sd) noexcept;

    void open_session(device_state& st, const observation& o);
    void close_session(device_state& st) noexcept;
    // Session activity, at most once per report_timeout.
    void activity(device_state& st, const observation& o) noexcept;
    // Tells the core a session event of the device, from transport (runtime::transport_id)
    // and the endpoint's address.
    void session_event(const device_state& st, tern_session_event e, uint32_t transport,
                       const tern_endpoint& endpoint) noexcept;

private:
    runtime& rt_;
    observations& obs_;
    downlinks& down_;
};

}  // namespace tern::device_api

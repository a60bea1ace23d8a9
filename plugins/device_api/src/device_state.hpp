// What a device's home shard keeps about it while it has observations or pending
// downlinks: its observation slots (attributes, RPC), the attribute changes not yet
// delivered, the RPCs on their way, its session with the core and its place in the idle
// list. Only the home shard touches it (state_table.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attr_delta.hpp"
#include "device.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/power.h"

namespace tern::device_api {

// Who holds an observation (docs/device-api.md §3.1): the transport session, or the address for
// sessionless transports, and the CoAP token.
// The transport is its interned instance name (runtime::transport_id); the address the core
// hears of is formatted from the endpoint when it is told (runtime::format_address), so an
// observation holds no string.
struct obs_ident {
    uint64_t session = 0;
    tern_endpoint endpoint{};
    uint8_t token[8]{};
    uint32_t transport = UINT32_MAX;  // none
    uint8_t tkl = 0;
    bool same(const obs_ident& o) const noexcept;
};

struct observation {
    uint64_t id = 0;  // engine observation id; 0: none
    obs_ident who;
    uint32_t shard = 0;
    int32_t format = -1;          // Content-Format of its notifications
    int32_t request_format = -1;  // the registering GET's, for the payload adaptors
    uint8_t type = TERN_COAP_CON;
};

// One kind of observation of a device (attributes or RPC).
struct obs_slot {
    observation live;
    uint32_t gen = 0;            // registration generation
    bool registering = false;    // a registration is under way
    uint64_t grace_until_ns = 0; // ended by REPLACED: its re-registration is on its way
    bool active(uint64_t now_ns) const noexcept {
        return live.id != 0 || registering || grace_until_ns > now_ns;
    }
};

struct pending_rpc {
    int64_t id = 0;
    uint32_t flags = 0;
    int64_t expiration_ms = 0;
    std::string method;
    std::string params;
    uint64_t sent_on = 0;  // observation it was sent on; 0: not sent
    bool timed_out = false;  // TIMEOUT reported; kept to pass on a late DELIVERED
};

struct device_state {
    uint64_t device_id = 0;
    std::shared_ptr<const device_entry> dev;
    obs_slot attr;
    obs_slot rpc;
    uint32_t subscribed = 0;
    attr_delta delta;
    uint64_t delta_seq = 0;   // last change number given
    uint64_t delta_sent = 0;  // newest change already handed to the engine
    std::vector<pending_rpc> rpcs;
    bool session_open = false;
    // Who the session was opened for (its CLOSE names the same transport and address).
    uint32_t session_transport = UINT32_MAX;  // runtime::transport_id
    tern_endpoint session_endpoint{};
    uint64_t last_report_ns = 0;
    uint32_t reauth_gen = 0;  // the newest re-authentication asked for
    // Power saving (devices whose profile names a mode a policy decides; downlinks_power.cpp);
    // the small fields sit with the idle list's flag below, so no padding is added.
    uint32_t counted_rpcs = 0;   // held RPCs this state adds to the gauge
    tern_power_state power{};    // the policy's record of the device (32 bytes)
    int64_t power_timer_ms = 0;  // the wake_check_ms the shard's deadlines hold for it; 0: none
    // The wake being measured (wake-to-delivery latency): when it woke (0: none) and what
    // was held then, the attribute change number and the last RPC (if wake_rpc).
    uint64_t wake_ns = 0;
    uint64_t wake_attr_seq = 0;
    int64_t wake_last_rpc = 0;
    // The held update passed max_pending_update_bytes: its values were dropped and every
    // shared attribute is read from the core when the device wakes (full_update; full_read:
    // the read is under way, read_seq: the change number it started at).
    uint64_t read_seq = 0;
    // idle list (no active observation), oldest first
    uint64_t idle_since_ns = 0;
    bool idle = false;
    bool wake_rpc = false;
    bool asleep_reported = false;  // ASLEEP told to the core since its last wake
    bool full_update = false;
    bool full_read = false;
    bool counted_update = false;  // a held update this state adds to the gauge
    int8_t counted_power = -1;    // the power gauge it adds to: -1 none, 0 awake, 1 asleep
    device_state* idle_prev = nullptr;
    device_state* idle_next = nullptr;
};

}  // namespace tern::device_api

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

namespace tern::device_api {

// Who holds an observation (docs/device-api.md §3.1): the transport session, or the address for
// sessionless transports, and the CoAP token.
struct obs_ident {
    uint32_t transport = 0;
    uint64_t session = 0;
    tern_endpoint endpoint{};
    uint8_t tkl = 0;
    uint8_t token[8]{};
    bool same(const obs_ident& o) const noexcept;
};

struct observation {
    uint64_t id = 0;  // engine observation id; 0: none
    uint32_t shard = 0;
    obs_ident who;
    uint8_t type = TERN_COAP_CON;
    int32_t format = -1;          // Content-Format of its notifications
    int32_t request_format = -1;  // the registering GET's, for the payload adaptors
    std::string transport;
    std::string address;
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
    std::string session_transport;
    std::string session_address;
    uint64_t last_report_ns = 0;
    uint32_t reauth_gen = 0;  // the newest re-authentication asked for
    // idle list (no active observation), oldest first
    uint64_t idle_since_ns = 0;
    bool idle = false;
    device_state* idle_prev = nullptr;
    device_state* idle_next = nullptr;
};

}  // namespace tern::device_api

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
// observation holds no string. Where the relation lives (its shard) and its message type fill
// the struct's tail (same() does not compare them), so an observation takes 64 bytes and a
// slot 80.
struct obs_ident {
    uint64_t session = 0;
    tern_endpoint endpoint{};
    uint8_t token[8]{};
    uint16_t transport = UINT16_MAX;  // none (runtime::max_transport_names are fewer)
    uint8_t tkl = 0;
    uint8_t type = TERN_COAP_CON;     // of the registration and its notifications
    uint16_t shard = 0;               // the engine's shard of the relation (shards are fewer than 65 536)
    bool same(const obs_ident& o) const noexcept;
};

struct observation {
    uint64_t id = 0;  // engine observation id; 0: none
    obs_ident who;
    int32_t format = -1;          // Content-Format of its notifications
    int32_t request_format = -1;  // the registering GET's, for the payload adaptors
};

// One kind of observation of a device (attributes or RPC).
struct obs_slot {
    observation live;
    uint64_t grace_until_ns = 0; // ended by REPLACED: its re-registration is on its way
    uint32_t gen = 0;            // registration generation
    bool registering = false;    // a registration is under way
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

// A device's RPCs on their way: one pointer until it has one (most devices never do), the
// vector freed again when the last one leaves. The vector's interface, as far as used.
class rpc_list {
public:
    bool empty() const noexcept { return !v_ || v_->empty(); }
    std::size_t size() const noexcept { return v_ ? v_->size() : 0; }
    std::size_t capacity() const noexcept { return v_ ? v_->capacity() : 0; }
    pending_rpc* begin() noexcept { return v_ ? v_->data() : nullptr; }
    pending_rpc* end() noexcept { return begin() + size(); }
    const pending_rpc* begin() const noexcept { return v_ ? v_->data() : nullptr; }
    const pending_rpc* end() const noexcept { return begin() + size(); }
    pending_rpc& operator[](std::size_t i) noexcept { return (*v_)[i]; }
    const pending_rpc& operator[](std::size_t i) const noexcept { return (*v_)[i]; }
    pending_rpc& back() noexcept { return v_->back(); }
    void push_back(pending_rpc r) {
        if (!v_) v_ = std::make_unique<std::vector<pending_rpc>>();
        v_->push_back(std::move(r));
    }
    void erase(pending_rpc* at) noexcept {
        v_->erase(v_->begin() + (at - v_->data()));
        if (v_->empty()) v_.reset();
    }
    void clear() noexcept { v_.reset(); }

private:
    std::unique_ptr<std::vector<pending_rpc>> v_;
};

// What a device whose power mode sleeps keeps beside its state (downlinks_power.cpp): the
// policy's record, its timer, the wake being measured, the full read of a held update past
// its bound, and what it adds to the power gauges. Only such devices have one: an always
// reachable device pays one null pointer.
struct power_part {
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
    uint32_t counted_rpcs = 0;  // held RPCs this state adds to the gauge
    bool wake_rpc = false;
    bool asleep_reported = false;  // ASLEEP told to the core since its last wake
    bool full_update = false;
    bool full_read = false;
    bool counted_update = false;  // a held update this state adds to the gauge
    int8_t counted_power = -1;    // the power gauge it adds to: -1 none, 0 awake, 1 asleep
    bool counted_memory = false;  // counted in device_api_memory_bytes{table="power_states"}

    static const power_part none;  // the defaults, for devices without one
};
inline const power_part power_part::none{};

struct device_state {
    // Never null: the newest info of the device (its id is the state's key).
    std::shared_ptr<const device_entry> dev;
    obs_slot attr;
    obs_slot rpc;
    attr_delta delta;
    uint64_t delta_seq = 0;   // last change number given
    uint64_t delta_sent = 0;  // newest change already handed to the engine
    rpc_list rpcs;
    // Who the session was opened for (its CLOSE names the same transport and address).
    tern_endpoint session_endpoint{};
    uint64_t last_report_ns = 0;
    // Power saving: made for a device whose mode a policy decides; null for the rest.
    std::unique_ptr<power_part> power_;
    // idle list (no active observation), oldest first
    uint64_t idle_since_ns = 0;
    device_state* idle_prev = nullptr;
    device_state* idle_next = nullptr;
    // What downlinks::account last counted of its undelivered downlinks (memory metric).
    uint32_t counted_items = 0;
    uint32_t counted_heap = 0;
    uint16_t reauth_gen = 0;                  // the newest re-authentication asked for
    uint16_t session_transport = UINT16_MAX;  // runtime::transport_id
    uint8_t subscribed = 0;                   // TERN_SUBSCRIBE_* asked of the core
    bool session_open = false;
    bool idle = false;

    uint64_t device_id() const noexcept { return dev->device_id; }
    // Its power part, or the defaults when it has none (reading never makes one).
    const power_part& pw() const noexcept { return power_ ? *power_ : power_part::none; }
    // Its power part, made when absent.
    power_part& pw_mut() {
        if (!power_) power_ = std::make_unique<power_part>();
        return *power_;
    }
};

}  // namespace tern::device_api

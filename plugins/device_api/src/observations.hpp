// Observe relations (docs/device-api.md §3): one attribute and one RPC observation per device, held on
// the device's home shard H, while the engine keeps each relation on the shard S of the
// request that made it.
//
// Registration: request shard S --post--> home H (state, subscribe, snapshot) --post--> S
// (engine respond with Observe; S learns observation id -> device) --post--> H (live).
// Ends and notification results travel S -> H the same way, so H sees every fact about an
// observation in the order S produced them.
//
// Also here: what a device event (deleted, updated, credentials changed) does to a
// device's observations (observations_events.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "device.hpp"
#include "device_state.hpp"
#include "request.hpp"
#include "route.hpp"
#include "tern/abi/core.h"

namespace tern::device_api {

class authenticator;
class downlinks;
class responder;
class runtime;
class state_table;
struct shard_tables;

class observations {
public:
    observations(runtime& rt, responder& out, state_table& states, downlinks& down, authenticator& auth)
        : rt_(rt), out_(out), states_(states), down_(down), auth_(auth) {}

    // GET + Observe=0 of route r from device dev: registers on its home shard. [shard S]
    void start_registration(const request& v, const route& r, const std::shared_ptr<const device_entry>& dev);
    // Engine callbacks: routed to the device's home shard. [the observation's shard]
    void on_end(uint64_t observation, int32_t reason) noexcept;
    void on_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept;

    // Ends the live observation of a kind with a final response (code 0: none). [shard H]
    void end(shard_tables& sd, device_state& st, bool rpc, uint8_t code, std::string_view text);
    // Unsubscribes what no active observation needs, reports undeliverable RPCs TIMEOUT,
    // closes the session when nothing is observed, and makes the state idle. [shard H]
    void settle(shard_tables& sd, device_state& st);
    // The grace of REPLACED observations that ended by now_ns. [shard H]
    void grace_over(shard_tables& sd, device_state& st, uint64_t now_ns);
    // A device event of the core. [shard H]
    void device_event(uint64_t device_id, int32_t event);

private:
    struct registration;
    void home_register(std::unique_ptr<registration> t);
    static void snapshot_read(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                              const tern_kv* shared, uint32_t ns) noexcept;
    void home_snapshot(std::unique_ptr<registration> t, tern_status status, std::string payload);
    void respond(uint32_t home, uint64_t device_id, bool rpc, uint32_t gen, uint64_t exchange, std::string payload,
                 int32_t format, observation o);
    void home_registered(uint64_t device_id, bool rpc, uint32_t gen, uint64_t obs, observation o);
    void end_on_shard(uint64_t obs, uint8_t code, std::string text);
    // The live observation of a kind is over: RPCs sent on it go again on the next one
    // (keep) or are TIMEOUT; the attribute delta is kept (keep) or dropped.
    void gone(device_state& st, bool rpc, bool keep);
    void home_end(uint64_t device_id, uint64_t obs, int32_t reason);
    static void reauth_done(void* ctx, tern_status status, const tern_device_record* record) noexcept;
    void home_reauth(uint64_t device_id, uint32_t gen, tern_status status, std::shared_ptr<device_entry> dev);

    runtime& rt_;
    responder& out_;
    state_table& states_;
    downlinks& down_;
    authenticator& auth_;
};

}  // namespace tern::device_api

// What an identified device asks for (serve): the profile checks, the per-device message
// limit and activity, then the uplink itself: telemetry, client attributes, RPC replies,
// client-side RPCs, claims, GET attributes and OTA downloads (uplinks_ota.cpp); Observe
// registrations go to observations. Provisioning needs no device (uplinks_provision.cpp).
// Core calls of the hot path take their context from the shard's pool. [shard S; core
// completions any-thread]
#pragma once

#include <cstdint>
#include <memory>

#include "auth_cache.hpp"
#include "device.hpp"
#include "request.hpp"
#include "route.hpp"
#include "tern/abi/core.h"

namespace tern::device_api {

class downlinks;
class observations;
class responder;
class runtime;
struct shard_tables;
struct uplink_op;

class uplinks {
public:
    uplinks(runtime& rt, responder& out, observations& obs, downlinks& down)
        : rt_(rt), out_(out), obs_(obs), down_(down) {}

    // Request v of route r from device dev, whose meter on this shard is meter.
    void serve(shard_tables& sd, const request& v, const route& r, const std::shared_ptr<const device_entry>& dev,
               device_meter& meter);
    // POST provision: decoded by each adaptor in table order until one understands it.
    void provision(const request& v);

private:
    void report_activity(const device_entry& dev, std::string_view transport, const tern_peer& peer,
                         uint64_t& last_report_ns) noexcept;
    // A pooled context for request v of this shard, ready for its core call.
    uplink_op* start_op(shard_tables& sd, const request& v, action kind);
    void telemetry(shard_tables& sd, const request& v, const device_entry& dev, device_meter& meter);
    void attributes(shard_tables& sd, const request& v, const device_entry& dev);
    void rpc_reply(shard_tables& sd, const request& v, const route& r, const device_entry& dev);
    void rpc_call(shard_tables& sd, const request& v, const std::shared_ptr<const device_entry>& dev);
    void claim(shard_tables& sd, const request& v, const device_entry& dev);
    void get_attributes(shard_tables& sd, const request& v, const std::shared_ptr<const device_entry>& dev);
    void ota(const request& v, const route& r, const device_entry& dev);
    static void write_done(void* ctx, tern_status status, tern_str message) noexcept;
    static void attributes_read(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                                const tern_kv* shared, uint32_t ns) noexcept;
    static void client_rpc_done(void* ctx, tern_status status, tern_str text) noexcept;
    static void provision_done(void* ctx, tern_status status, const tern_provision_result* result) noexcept;
    static void ota_done(void* ctx, tern_status status, const tern_ota_package* package) noexcept;
    void recycle(uplink_op* o) noexcept;

    runtime& rt_;
    responder& out_;
    observations& obs_;
    downlinks& down_;
};

}  // namespace tern::device_api

// The plugin's configuration: the settings struct and its schema, each key declared once
// (tern/sdk/config.hpp): name, member, default, range, unit and doc text. The descriptor
// publishes settings_schema.keys() (the README's table is generated from it) and the
// instance loads the struct with settings_schema.load().
#pragma once

#include <cstdint>
#include <string>

#include "tern/sdk/config.hpp"

namespace tern::device_api {

struct settings {
    std::string core;    // core instance name; empty: the first provider
    std::string engine;  // coap engine instance name; empty: the first provider
    int64_t client_rpc_timeout_ms{};
    int64_t inactivity_timeout_ms{};
    int64_t report_timeout_ms{};
    int64_t auth_cache_size{};
    int64_t auth_cache_ttl_ms{};
    int64_t max_devices_with_state{};
    int64_t max_payload_size{};
    int64_t dtls_session_inactivity_timeout_ms{};
    int64_t psm_activity_timer_ms{};
    int64_t paging_transmission_window_ms{};
    // Power saving: what a sleeping device may have held for it.
    int64_t max_pending_rpcs{};
    int64_t max_pending_update_bytes{};
    // Rate limits (libs/ratelimit). Per device (per shard): messages and telemetry data
    // points; 0 rate: no limit. A device profile may override them (profile options of the
    // same names).
    int64_t device_message_rate{};  // per second
    int64_t device_message_burst{};
    int64_t device_datapoint_rate{};  // per second
    int64_t device_datapoint_burst{};
    // Per source address: unauthenticated work (provisioning, lookups of tokens the cache
    // does not know); 0 rate: no limit.
    int64_t source_rate{};  // per second
    int64_t source_burst{};
    int64_t source_table_size{};  // addresses with a bucket, over all shards
    // Tokens the core did not know, remembered per shard.
    int64_t unknown_token_cache_size{};
    int64_t unknown_token_cache_ttl_ms{};
    // Max-Age of the 5.03 answered when the core is busy.
    int64_t busy_max_age_s{};
};

namespace cfg = tern::sdk::cfg;

inline constexpr auto settings_schema = cfg::bind<settings>(
    cfg::string("core", &settings::core, "",
                "Instance name of the core to use; empty: the first instance providing each of the core's "
                "capabilities (tern.core.auth/1 ...)"),
    cfg::string("engine", &settings::engine, "",
                "Instance name of the CoAP engine to serve on; empty: the first instance providing tern.coap.engine/1"),
    cfg::integer("client_rpc_timeout", &settings::client_rpc_timeout_ms, 10000,
                 "How long a client-side RPC (POST .../rpc) waits for its answer; after it the device gets no "
                 "response (ThingsBoard's transport.coap.timeout). The engine's timeout must be at least this")
        .at_least(1)
        .unit("ms"),
    cfg::integer("inactivity_timeout", &settings::inactivity_timeout_ms, 600000,
                 "A device's state (profile, pending downlinks) is dropped this long after its last observation ended")
        .at_least(1)
        .unit("ms"),
    cfg::integer("report_timeout", &settings::report_timeout_ms, 3000,
                 "Session activity (real uplinks and acknowledged notifications) is reported to the core at most "
                 "once per this interval per device (0: every time)")
        .at_least(0)
        .unit("ms"),
    cfg::integer("auth_cache_size", &settings::auth_cache_size, 100000,
                 "Access tokens and DTLS sessions whose device is kept in memory, over all shards (LRU; 0: ask the "
                 "core every time)")
        .range(0, 1e9)
        .unit("entries"),
    cfg::integer("auth_cache_ttl", &settings::auth_cache_ttl_ms, 300000,
                 "How long an access token's device is trusted without asking the core again (changes the core "
                 "reports drop it at once)")
        .at_least(1)
        .unit("ms"),
    cfg::integer("max_devices_with_state", &settings::max_devices_with_state, 2000000,
                 "Devices with observations or pending downlinks, over all shards; past it Observe registrations get "
                 "5.03 (only authenticated devices make one; an unused place costs no memory)")
        .range(1, 1e9)
        .unit("devices"),
    cfg::integer("max_payload_size", &settings::max_payload_size, 65536,
                 "Largest uplink body (telemetry, attributes, RPC, claim, provisioning); larger ones get 4.13 with "
                 "Size1 (OTA downloads are not limited)")
        .range(1, 268435456)
        .unit("bytes"),
    cfg::integer("dtls_session_inactivity_timeout", &settings::dtls_session_inactivity_timeout_ms, 86400000,
                 "A DTLS session's X.509/PSK identity is forgotten after this long without a request (docs/device-api.md §7)")
        .at_least(1)
        .unit("ms"),
    cfg::integer("psm_activity_timer", &settings::psm_activity_timer_ms, 10000,
                 "PSM devices: an RPC sent as a CON notification and not acknowledged within this time is reported "
                 "TIMEOUT, unless the device or its profile sets its own timer")
        .at_least(1)
        .unit("ms"),
    cfg::integer("paging_transmission_window", &settings::paging_transmission_window_ms, 10000,
                 "Other devices: an RPC sent as a CON notification and not acknowledged within this time is "
                 "reported TIMEOUT, unless the device or its profile sets its own window")
        .at_least(1)
        .unit("ms"),
    cfg::integer("max_pending_rpcs", &settings::max_pending_rpcs, 100,
                 "Per device: server-side RPCs held while its power mode has it asleep; past it the oldest held "
                 "one ends FAILED with an error saying so")
        .range(1, 100000)
        .unit("RPCs"),
    cfg::integer("max_pending_update_bytes", &settings::max_pending_update_bytes, 65536,
                 "Per device: size of the merged shared-attribute update held while it is asleep (keys and values); "
                 "past it the held values are dropped and every shared attribute is read from the core and sent "
                 "when it wakes (deletions are still sent)")
        .range(64, 268435456)
        .unit("bytes"),
    cfg::integer("device_message_rate", &settings::device_message_rate, 200,
                 "Per device: uplink requests (telemetry, attributes, RPC, claim, Observe; not OTA downloads) per "
                 "second, kept per reactor shard; past it 4.29 with Max-Age and nothing stored (0: no limit; a device "
                 "profile option of this name overrides it)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("device_message_burst", &settings::device_message_burst, 1000,
                 "Per device: requests allowed at once above device_message_rate (profile option overrides)")
        .range(1, 1e6)
        .unit("requests"),
    cfg::integer("device_datapoint_rate", &settings::device_datapoint_rate, 10000,
                 "Per device: telemetry data points (key/values) per second; a message over it gets 4.29 with "
                 "Max-Age and nothing stored (0: no limit; profile option overrides)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("device_datapoint_burst", &settings::device_datapoint_burst, 50000,
                 "Per device: data points allowed at once above device_datapoint_rate; a larger message passes on a "
                 "full bucket (profile option overrides)")
        .range(1, 1e6)
        .unit("points"),
    cfg::integer("source_rate", &settings::source_rate, 20,
                 "Per source address: unauthenticated work per second (provisioning requests, lookups of access "
                 "tokens not in the cache; a token found valid is not counted); past it 4.29 with Max-Age (0: no "
                 "limit)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("source_burst", &settings::source_burst, 100, "Per source address: unauthenticated work allowed at once above source_rate")
        .range(1, 1e6)
        .unit("requests"),
    cfg::integer("source_table_size", &settings::source_table_size, 65536,
                 "Source addresses with a rate-limit bucket, over all shards; past it idle or least recently used "
                 "buckets are dropped (0: no per-source limit)")
        .range(0, 1e8)
        .unit("addresses"),
    cfg::integer("unknown_token_cache_size", &settings::unknown_token_cache_size, 65536,
                 "Access tokens the core did not know, remembered over all shards so repeats are answered 4.01 "
                 "without asking the core (LRU; 0: no negative cache)")
        .range(0, 1e8)
        .unit("entries"),
    cfg::integer("unknown_token_cache_ttl", &settings::unknown_token_cache_ttl_ms, 5000,
                 "How long an unknown access token is remembered; a token created meanwhile works after at most "
                 "this long (at once when the core reports a credential change)")
        .range(1, 3600000)
        .unit("ms"),
    cfg::integer("busy_max_age", &settings::busy_max_age_s, 5,
                 "Max-Age of the 5.03 answered when the core is busy (its queues are full): when the device may retry")
        .range(0, 3600)
        .unit("s")
);

// The settings of an empty configuration table.
inline settings default_settings() { return settings_schema.defaults(); }

}  // namespace tern::device_api

// The plugin's configuration (schema in device_api_plugin.cpp, documented in README.md).
#pragma once

#include <cstdint>
#include <string>

namespace tern::device_api {

struct settings {
    std::string core;    // core instance name; empty: the first provider
    std::string engine;  // coap engine instance name; empty: the first provider
    int64_t client_rpc_timeout_ms = 10000;
    int64_t inactivity_timeout_ms = 600000;
    int64_t report_timeout_ms = 3000;
    int64_t auth_cache_size = 100000;
    int64_t auth_cache_ttl_ms = 300000;
    int64_t max_devices_with_state = 100000;
    int64_t max_payload_size = 65536;
    int64_t dtls_session_inactivity_timeout_ms = 86400000;
    int64_t psm_activity_timer_ms = 10000;
    int64_t paging_transmission_window_ms = 10000;
    // Rate limits (ratelimit.hpp). Per device (per shard): messages and telemetry data
    // points; 0 rate: no limit. A device profile may override them (profile options of the
    // same names).
    int64_t device_message_rate = 200;    // per second
    int64_t device_message_burst = 1000;
    int64_t device_datapoint_rate = 10000;  // per second
    int64_t device_datapoint_burst = 50000;
    // Per source address: unauthenticated work (provisioning, lookups of tokens the cache
    // does not know); 0 rate: no limit.
    int64_t source_rate = 20;  // per second
    int64_t source_burst = 100;
    int64_t source_table_size = 65536;  // addresses with a bucket, over all shards
    // Tokens the core did not know, remembered per shard.
    int64_t unknown_token_cache_size = 65536;
    int64_t unknown_token_cache_ttl_ms = 5000;
    // Max-Age of the 5.03 answered when the core is busy.
    int64_t busy_max_age_s = 5;
};

}  // namespace tern::device_api

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
};

}  // namespace tern::device_api

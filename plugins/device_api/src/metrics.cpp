#include "metrics.hpp"

#include <string>

namespace tern::device_api {

namespace {

constexpr const char* code_labels[] = {"2.01", "2.03", "2.05", "4.00", "4.01", "4.04",
                                       "4.05", "4.13", "4.29", "5.00", "5.03", "none", "other"};
constexpr const char* dl_kind_labels[] = {"attributes", "rpc"};
constexpr const char* dl_result_labels[] = {"sent",    "delivered", "merged", "timeout",
                                            "dropped", "reset",     "failed"};

sdk::metric counter(const sdk::host* h, const char* name, const char* help, const std::string& labels = {}) {
    return h == nullptr ? sdk::metric{} : h->counter(name, help, labels.empty() ? nullptr : labels.c_str());
}
sdk::metric gauge(const sdk::host* h, const char* name, const char* help, const std::string& labels = {}) {
    return h == nullptr ? sdk::metric{} : h->gauge(name, help, labels.empty() ? nullptr : labels.c_str());
}

}  // namespace

code_slot slot_of(uint8_t code, bool silent) noexcept {
    if (silent) return code_slot::none;
    switch (code) {
        case TERN_COAP_CODE(2, 1): return code_slot::c201;
        case TERN_COAP_CODE(2, 3): return code_slot::c203;
        case TERN_COAP_CODE(2, 5): return code_slot::c205;
        case TERN_COAP_CODE(4, 0): return code_slot::c400;
        case TERN_COAP_CODE(4, 1): return code_slot::c401;
        case TERN_COAP_CODE(4, 4): return code_slot::c404;
        case TERN_COAP_CODE(4, 5): return code_slot::c405;
        case TERN_COAP_CODE(4, 13): return code_slot::c413;
        case TERN_COAP_CODE(4, 29): return code_slot::c429;
        case TERN_COAP_CODE(5, 0): return code_slot::c500;
        case TERN_COAP_CODE(5, 3): return code_slot::c503;
        default: return code_slot::other;
    }
}

void metrics::init(const sdk::host* m) {
    for (size_t k = 0; k < static_cast<size_t>(action::count_); ++k)
        for (size_t c = 0; c < static_cast<size_t>(code_slot::count_); ++c)
            requests[k][c] = counter(m, "device_api_requests_total",
                                     "Device API requests by feature and the response code sent (none: no response)",
                                     sdk::cat("feature=\"", action_label(static_cast<action>(k)), "\",code=\"", code_labels[c], "\""));
    const char* hits_help = "Authentications answered from the plugin's per-shard cache";
    const char* miss_help = "Authentications that asked the core";
    const char* evict_help = "Cache entries dropped because the cache was full (auth_cache_size, unknown_token_cache_size)";
    const char* entries_help = "Entries in the authentication caches";
    token_hits = counter(m, "device_api_auth_cache_hits_total", hits_help, "cache=\"token\"");
    token_misses = counter(m, "device_api_auth_cache_misses_total", miss_help, "cache=\"token\"");
    token_evictions = counter(m, "device_api_auth_cache_evictions_total", evict_help, "cache=\"token\"");
    token_entries = gauge(m, "device_api_auth_cache_entries", entries_help, "cache=\"token\"");
    session_hits = counter(m, "device_api_auth_cache_hits_total", hits_help, "cache=\"dtls_session\"");
    session_misses = counter(m, "device_api_auth_cache_misses_total", miss_help, "cache=\"dtls_session\"");
    session_evictions = counter(m, "device_api_auth_cache_evictions_total", evict_help, "cache=\"dtls_session\"");
    session_entries = gauge(m, "device_api_auth_cache_entries", entries_help, "cache=\"dtls_session\"");
    const char* auth_help = "Core authentications by result";
    auth_ok = counter(m, "device_api_authentications_total", auth_help, "result=\"ok\"");
    auth_unknown = counter(m, "device_api_authentications_total", auth_help, "result=\"unknown\"");
    auth_error = counter(m, "device_api_authentications_total", auth_help, "result=\"error\"");
    for (size_t k = 0; k < 2; ++k)
        observations[k] = gauge(m, "device_api_observations", "Live Observe relations by kind",
                                std::string("kind=\"") + dl_kind_labels[k] + "\"");
    states = gauge(m, "device_api_device_states", "Devices with per-device state (observations, pending downlinks)");
    states_refused = counter(m, "device_api_device_states_refused_total",
                             "Observe registrations refused (5.03) because max_devices_with_state was reached");
    states_evicted = counter(m, "device_api_device_states_evicted_total",
                             "Idle device states dropped early to make room (max_devices_with_state)");
    states_expired = counter(m, "device_api_device_states_expired_total",
                             "Idle device states dropped after inactivity_timeout");
    sessions = gauge(m, "device_api_sessions", "Devices with an open session (at least one observation)");
    for (size_t k = 0; k < 2; ++k)
        for (size_t r = 0; r < static_cast<size_t>(dl_result::count_); ++r)
            downlinks[k][r] = counter(m, "device_api_downlinks_total",
                                      "Notifications to devices by kind and what became of them",
                                      std::string("kind=\"") + dl_kind_labels[k] + "\",result=\"" +
                                          dl_result_labels[r] + "\"");
    const char* rpc_help = "Server-side RPC progress reported to the core, and device replies";
    rpc_sent = counter(m, "device_api_rpc_total", rpc_help, "outcome=\"sent\"");
    rpc_delivered = counter(m, "device_api_rpc_total", rpc_help, "outcome=\"delivered\"");
    rpc_timeout = counter(m, "device_api_rpc_total", rpc_help, "outcome=\"timeout\"");
    rpc_failed = counter(m, "device_api_rpc_total", rpc_help, "outcome=\"failed\"");
    rpc_replies = counter(m, "device_api_rpc_total", rpc_help, "outcome=\"reply\"");
    rpc_refused = counter(m, "device_api_rpc_refused_total",
                          "Server-side RPCs answered TIMEOUT at once because 256 (or max_pending_rpcs when larger) "
                          "were already waiting for the device");
    const char* crpc_help = "Client-side RPCs by outcome (timeout: the device got no answer)";
    client_rpc_ok = counter(m, "device_api_client_rpc_total", crpc_help, "outcome=\"ok\"");
    client_rpc_timeout = counter(m, "device_api_client_rpc_total", crpc_help, "outcome=\"timeout\"");
    client_rpc_error = counter(m, "device_api_client_rpc_total", crpc_help, "outcome=\"error\"");
    payload_too_large = counter(m, "device_api_payload_too_large_total",
                                "Uplinks refused with 4.13 because their body exceeded max_payload_size");
    activity_reports = counter(m, "device_api_activity_reports_total",
                               "Session activity events sent to the core (at most one per device per report_timeout)");
    const char* limited_help = "Requests answered 4.29 by a rate limit (nothing was done for them)";
    limited_provision = counter(m, "device_api_rate_limited_total", limited_help, "limit=\"source_provision\"");
    limited_token = counter(m, "device_api_rate_limited_total", limited_help, "limit=\"source_unknown_token\"");
    limited_messages = counter(m, "device_api_rate_limited_total", limited_help, "limit=\"device_messages\"");
    limited_datapoints = counter(m, "device_api_rate_limited_total", limited_help, "limit=\"device_datapoints\"");
    source_evictions = counter(m, "device_api_source_buckets_evicted_total",
                               "Per-source rate-limit buckets with history dropped to make room (source_table_size)");
    source_buckets = gauge(m, "device_api_source_buckets", "Source addresses with a rate-limit bucket");
    for (size_t k = 0; k < 2; ++k)
        power_devices[k] = gauge(m, "device_api_power_devices",
                                 "Devices with state whose power mode sleeps, by state (asleep: downlinks are held)",
                                 k == 0 ? "state=\"awake\"" : "state=\"asleep\"");
    held_rpcs = gauge(m, "device_api_held_rpcs", "Server-side RPCs held for devices whose power mode sleeps");
    held_updates = gauge(m, "device_api_held_updates",
                         "Devices whose power mode sleeps with a shared-attribute update held for them");
    for (size_t k = 0; k < 2; ++k)
        held[k] = counter(m, "device_api_held_total", "Downlinks held because the device was asleep, by kind",
                          std::string("kind=\"") + dl_kind_labels[k] + "\"");
    const char* limit_help = "Held downlinks past a per-device bound: the oldest RPC ended FAILED (max_pending_rpcs), "
                             "the held values replaced by a read on wake (max_pending_update_bytes)";
    held_limit_rpcs = counter(m, "device_api_held_limit_total", limit_help, "limit=\"max_pending_rpcs\"");
    held_limit_update = counter(m, "device_api_held_limit_total", limit_help, "limit=\"max_pending_update_bytes\"");
    static constexpr double wake_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
    wake_delivery = m == nullptr ? sdk::metric{}
                                 : m->histogram("device_api_wake_delivery_seconds",
                                                "From a sleeping device's wake to the delivery of the last downlink "
                                                "held for it then",
                                                wake_buckets);
    unknown_hits = counter(m, "device_api_auth_cache_hits_total", hits_help, "cache=\"unknown_token\"");
    unknown_evictions = counter(m, "device_api_auth_cache_evictions_total", evict_help, "cache=\"unknown_token\"");
    unknown_entries = gauge(m, "device_api_auth_cache_entries", entries_help, "cache=\"unknown_token\"");
    for (size_t t = 0; t < mem_count; ++t) {
        const std::string label = std::string("table=\"") + mem_names[t] + "\"";
        mem_bytes[t] = gauge(m, "device_api_memory_bytes",
                             "Bytes a table holds now, from the plugin's own accounting (entries x footprint with "
                             "the index's share, plus heap the entries own; README Memory)",
                             label);
        mem_entries[t] = gauge(m, "device_api_entries", "Entries of a table whose memory device_api_memory_bytes reports",
                               label);
    }
}

}  // namespace tern::device_api

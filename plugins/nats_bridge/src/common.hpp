// What the bridge's parts share: the core's capabilities, the subject names built from the
// prefix, the uplink and request operations, and the metric handles.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "tern/abi/core_capabilities.h"
#include "tern/sdk/host.hpp"

namespace tern::nats_bridge {

// The core node's eight capabilities (core_embedded's), looked up once at start.
struct core_caps {
    core_auth_v1* auth = nullptr;
    core_telemetry_v1* telemetry = nullptr;
    core_attributes_v1* attributes = nullptr;
    core_rpc_v1* rpc = nullptr;
    core_provisioning_v1* provisioning = nullptr;
    core_ota_v1* ota = nullptr;
    core_sessions_v1* sessions = nullptr;
    core_events_v1* events = nullptr;
};

// Durable uplinks, by the last token of their subject <P>.up.<p>.<op>.
enum class uplink_op : uint8_t { telemetry, attributes, rpc_reply, rpc_status, unknown };
inline constexpr std::array<const char*, 5> uplink_op_names{"telemetry", "attributes", "rpc_reply", "rpc_status",
                                                            "unknown"};
inline uplink_op uplink_op_of(std::string_view subject) {
    const auto dot = subject.rfind('.');
    const std::string_view last = dot == std::string_view::npos ? subject : subject.substr(dot + 1);
    for (size_t i = 0; i + 1 < uplink_op_names.size(); ++i)
        if (last == uplink_op_names[i]) return static_cast<uplink_op>(i);
    return uplink_op::unknown;
}

// Requests and fire-and-forget calls from transport nodes: <P>.core.v1.<subject suffix>.
enum class request_op : uint8_t {
    authenticate,
    psk_key,
    get_attributes,
    client_rpc,
    claim,
    provision,
    ota_package,
    ota_chunk,
    subscribe,
    session_event,
    rpc_resend,
};
inline constexpr size_t request_op_count = 11;
struct request_op_info {
    const char* name;    // metric label
    const char* suffix;  // after <P>.core.v1.
};
inline constexpr std::array<request_op_info, request_op_count> request_ops{{
    {"authenticate", "auth.authenticate"},
    {"psk_key", "auth.psk_key"},
    {"get_attributes", "attributes.get"},
    {"client_rpc", "rpc.client"},
    {"claim", "provisioning.claim"},
    {"provision", "provisioning.provision"},
    {"ota_package", "ota.package"},
    {"ota_chunk", "ota.chunk"},
    {"subscribe", "events.subscribe"},
    {"session_event", "sessions.event"},
    {"rpc_resend", "rpc.resend"},
}};

// Subject, stream and bucket names of one prefix.
struct names {
    std::string prefix;

    std::string request(request_op op) const { return prefix + ".core.v1." + request_ops[size_t(op)].suffix; }
    std::string queue_group() const { return prefix + "-core"; }
    std::string stream() const { return prefix + "_UP"; }
    std::string uplinks() const { return prefix + ".up.>"; }
    std::string partition_filter(uint32_t p) const { return prefix + ".up." + std::to_string(p) + ".>"; }
    std::string durable(uint32_t p) const { return prefix + "-core-p" + std::to_string(p); }
    std::string cluster_bucket() const { return prefix + "_cluster"; }
    std::string device_node_bucket() const { return prefix + "_device_node"; }
    std::string device_node_watch() const { return "$KV." + device_node_bucket() + ".>"; }
    std::string downlink(std::string_view node, std::string_view kind) const {
        std::string s = prefix;
        s.append(".node.").append(node).append(".down.").append(kind);
        return s;
    }
    std::string device_events() const { return prefix + ".core.v1.events.device"; }
    std::string hello() const { return prefix + ".core.v1.events.hello"; }
};

// [A-Za-z0-9_-]{1,max}: a subject token that is safe to build subjects and names from.
inline bool valid_token(std::string_view s, size_t max = 64) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

enum class downlink_kind : uint8_t { attributes, rpc, device_event };
inline constexpr std::array<const char*, 3> downlink_kind_names{"attributes", "rpc", "device_event"};

struct bridge_metrics {
    sdk::metric connected;                                  // gauge 0/1
    std::array<sdk::metric, 5> applied;                     // {op}
    sdk::metric redeliveries_skipped;
    std::array<sdk::metric, 5> refused;                     // {op}
    sdk::metric busy_retries;
    std::array<sdk::metric, request_op_count> requests;     // {op}
    sdk::metric requests_busy;                              // max_requests_in_flight reached
    std::array<sdk::metric, 3> downlinks;                   // {kind}
    std::array<sdk::metric, 3> downlinks_unrouted;          // {kind}
    sdk::metric route_cache_entries;                        // gauge
    sdk::metric subscriptions_refused;                      // max_subscribed_devices reached
    sdk::metric subscribed_devices;                         // gauge
    sdk::metric uplinks_held;                               // gauge: delivered, not yet acknowledged
    sdk::metric state_errors;                               // state file writes that failed

    void register_all(const sdk::host& h);
};

}  // namespace tern::nats_bridge

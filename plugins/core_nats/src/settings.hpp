// The plugin's configuration: each key of [plugins.core_nats] declared once with the member
// of settings it fills (tern/sdk/config.hpp), so the descriptor's schema (from which the
// README table is generated) and the typed settings come from one declaration.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tern/nats_link/link.hpp"
#include "tern/sdk/config.hpp"

namespace tern::core_nats {

struct settings {
    std::vector<std::string> servers;
    std::string subject_prefix;
    std::string node_id;  // after resolve(): never empty
    std::chrono::milliseconds request_timeout{};
    std::chrono::milliseconds publish_ack_timeout{};
    std::chrono::milliseconds client_rpc_timeout{};
    std::chrono::milliseconds connect_timeout{};
    uint32_t max_requests_in_flight = 0;
    uint32_t max_pending_publishes = 0;
    std::chrono::milliseconds reconnect_wait{};
    std::chrono::milliseconds reconnect_wait_max{};
    uint32_t max_message_bytes = 0;
    uint32_t auth_cache_size = 0;
    std::chrono::milliseconds auth_cache_ttl{};
    uint32_t registration_cache_size = 0;
    std::string ota_cache_dir;
    uint64_t ota_cache_max_bytes = 0;
    std::chrono::milliseconds ota_fetch_timeout{};
    uint32_t ota_chunk_bytes = 0;
    uint32_t ota_max_fetches = 0;
    uint32_t ota_max_waiters = 0;
    uint32_t resubscribe_rate = 0;
    uint32_t event_subscribers = 0;
};

namespace cfg = sdk::cfg;

constexpr auto config_schema = cfg::bind<settings>(
    cfg::strings("servers", &settings::servers, R"(["nats://127.0.0.1:4222"])",
                 "NATS server URLs (nats://host:port), tried in turn; every node of a cluster "
                 "talks to the same NATS cluster"),
    cfg::string("subject_prefix", &settings::subject_prefix, "tern",
                "first token of every subject, stream and bucket name ([A-Za-z0-9_-]+); the same "
                "on every node of a cluster")
        .range(1, 32),
    cfg::string("node_id", &settings::node_id, "",
                "this transport node's name in the cluster ([A-Za-z0-9_-]{1,64}), unique per "
                "node: downlinks for its devices are sent to it by this name. Empty: the host "
                "name up to its first dot, other characters outside the set made '-'")
        .range(0, 64),
    cfg::integer("request_timeout", &settings::request_timeout, 2000,
                 "wait for a core node's reply to a request (authenticate, get_attributes, claim, "
                 "...); a client-side RPC waits its own timeout plus 1 s")
        .range(50, 60000),
    cfg::integer("publish_ack_timeout", &settings::publish_ack_timeout, 5000,
                 "wait for JetStream to acknowledge a durable uplink (telemetry, attributes, RPC "
                 "replies); past it the device gets 5.03")
        .range(50, 60000),
    cfg::integer("client_rpc_timeout", &settings::client_rpc_timeout, 10000,
                 "wait for a client-side RPC whose caller gave no timeout (keep it equal to the "
                 "core node's client_rpc_timeout); the request waits 1 s longer than the RPC")
        .range(1, 86400000),
    cfg::integer("connect_timeout", &settings::connect_timeout, 2000, "one connection attempt")
        .range(100, 60000),
    cfg::integer("max_requests_in_flight", &settings::max_requests_in_flight, 4096,
                 "requests waiting for a core node's reply; past it a call completes BUSY (5.03)")
        .range(1, 1048576),
    cfg::integer("max_pending_publishes", &settings::max_pending_publishes, 8192,
                 "durable uplinks waiting for their JetStream acknowledgement; past it an uplink "
                 "completes BUSY (5.03)")
        .range(1, 1048576),
    cfg::integer("reconnect_wait", &settings::reconnect_wait, 100,
                 "first delay before reconnecting to NATS; doubles per failed attempt")
        .range(10, 60000),
    cfg::integer("reconnect_wait_max", &settings::reconnect_wait_max, 5000,
                 "cap of the reconnect delay")
        .range(10, 86400000),
    cfg::integer("max_message_bytes", &settings::max_message_bytes, 1048576,
                 "largest encoded message sent; keep it at or below the NATS server's "
                 "max_payload (1 MiB by default). A larger call completes INVALID_ARGUMENT")
        .unit("bytes")
        .range(1024, 4194304),
    cfg::integer("auth_cache_size", &settings::auth_cache_size, 100000,
                 "credentials and PSK identities remembered on this node (LRU; 0: every "
                 "authentication asks a core node)")
        .range(0, 16777216),
    cfg::integer("auth_cache_ttl", &settings::auth_cache_ttl, 60000,
                 "how long a remembered credential is used; a device event from the core "
                 "(credentials changed, device deleted) drops it at once")
        .range(1000, 86400000),
    cfg::integer("registration_cache_size", &settings::registration_cache_size, 200000,
                 "devices remembered as registered to this node in the device_node bucket (LRU)")
        .range(1, 16777216),
    cfg::string("ota_cache_dir", &settings::ota_cache_dir, "var/ota-cache",
                "folder of this node's copies of OTA packages fetched from a core node")
        .path(),
    cfg::integer("ota_cache_max_bytes", &settings::ota_cache_max_bytes, 1073741824,
                 "bytes of OTA packages kept in ota_cache_dir (least recently used go first; "
                 "a package in use is never deleted)")
        .unit("bytes")
        .at_least(1048576),
    cfg::integer("ota_fetch_timeout", &settings::ota_fetch_timeout, 10000,
                 "wait for one chunk of an OTA package from a core node")
        .range(100, 600000),
    cfg::integer("ota_chunk_bytes", &settings::ota_chunk_bytes, 262144,
                 "bytes of an OTA package asked from a core node in one request (the reply must "
                 "fit the NATS server's max_payload)")
        .unit("bytes")
        .range(4096, 524288),
    cfg::integer("ota_max_fetches", &settings::ota_max_fetches, 4,
                 "OTA packages fetched from core nodes at once; a device asking for another "
                 "package meanwhile gets 5.03")
        .range(1, 256),
    cfg::integer("ota_max_waiters", &settings::ota_max_waiters, 1024,
                 "device requests waiting for OTA packages being fetched, all packages "
                 "together; past it a device gets 5.03")
        .range(1, 1048576),
    cfg::integer("resubscribe_rate", &settings::resubscribe_rate, 2000,
                 "device subscriptions re-sent per second after a reconnect or a core node's "
                 "hello (paced so that a restart does not flood the core)")
        .range(1, 1048576),
    cfg::integer("event_subscribers", &settings::event_subscribers, 16,
                 "plugins that may hold a tern.core.events/1 subscription at once (device_api, "
                 "power, ...); past it a subscribe is refused")
        .range(1, 64));

// Checks what the schema cannot express (name sets, the reconnect caps) and fills node_id
// from the host name when it is empty. Throws sdk::error (TERN_CONFIG) naming the key.
void resolve(settings& s);

// The nats_link settings these give (log: the caller's).
nats_link::link_settings link_settings_of(const settings& s);

// [A-Za-z0-9_-]+ of at most max characters.
bool is_token(std::string_view text, std::size_t max);

}  // namespace tern::core_nats

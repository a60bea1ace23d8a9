// The plugin's configuration: the settings struct and its schema, each key declared once
// (tern/sdk/config.hpp). The descriptor publishes settings_schema.keys() (the README's table is
// generated from it) and the instance loads the struct with settings_schema.load().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/sdk/config.hpp"

namespace tern::nats_bridge {

struct settings {
    std::string core;  // instance name of the core; empty: the first provider
    std::vector<std::string> servers;
    std::string subject_prefix;
    uint32_t uplink_partitions{};
    std::string state_file;
    int64_t stream_max_bytes{};
    uint32_t consumer_batch{};
    uint32_t consumer_ack_wait_ms{};
    uint32_t max_ack_pending{};
    uint32_t pipeline_window{};
    uint32_t busy_retry_delay_ms{};
    uint32_t route_cache_size{};
    uint32_t max_requests_in_flight{};
    uint32_t max_subscribed_devices{};
    uint32_t request_timeout_ms{};
    uint32_t startup_wait_ms{};
};

namespace cfg = tern::sdk::cfg;

inline constexpr auto settings_schema = cfg::bind<settings>(
    cfg::string("core", &settings::core, "",
                "Instance name of the core whose capabilities are served (tern.core.auth/1 ...); empty: the first "
                "instance providing each"),
    cfg::strings("servers", &settings::servers, R"(["nats://127.0.0.1:4222"])",
                 "NATS server URLs, tried in turn; the link reconnects by itself with back-off"),
    cfg::string("subject_prefix", &settings::subject_prefix, "tern",
                "First token of every subject, stream and bucket name ([A-Za-z0-9_-]+); every node of a cluster "
                "uses the same")
        .range(1, 64),
    cfg::integer("uplink_partitions", &settings::uplink_partitions, 16,
                 "Uplink partitions (device id modulo this): one durable consumer each, applied in order. Written "
                 "to the KV bucket <prefix>_cluster at the first start; a bridge configured otherwise refuses to "
                 "start")
        .range(1, 1024),
    cfg::string("state_file", &settings::state_file, "var/nats_bridge.db",
                "SQLite file (WAL) holding the highest applied stream sequence per partition, so that a redelivered "
                "uplink is acknowledged without being applied again")
        .path(),
    cfg::integer("stream_max_bytes", &settings::stream_max_bytes, 1073741824,
                 "Size bound of the uplink stream <prefix>_UP. When it is full JetStream refuses publishes (discard "
                 "new): devices get 5.03 and nothing acknowledged is dropped")
        .at_least(1048576)
        .unit("bytes"),
    cfg::integer("consumer_batch", &settings::consumer_batch, 64,
                 "Uplinks fetched at once by a partition's pull consumer")
        .range(1, 4096),
    cfg::integer("consumer_ack_wait", &settings::consumer_ack_wait_ms, 30000,
                 "How long JetStream waits for the acknowledgement of a delivered uplink before it delivers it again")
        .range(1000, 3600000)
        .unit("ms"),
    cfg::integer("max_ack_pending", &settings::max_ack_pending, 1024,
                 "Uplinks of one partition delivered and not yet acknowledged (what the bridge holds in memory per "
                 "partition)")
        .range(1, 65536),
    cfg::integer("pipeline_window", &settings::pipeline_window, 256,
                 "Uplinks of one partition handed to the core and not yet completed (the core's writer keeps their "
                 "order)")
        .range(1, 65536),
    cfg::integer("busy_retry_delay", &settings::busy_retry_delay_ms, 200,
                 "After the core answered an uplink with TERN_BUSY, the delay before the partition applies it (and "
                 "what followed it) again")
        .range(1, 60000)
        .unit("ms"),
    cfg::integer("route_cache_size", &settings::route_cache_size, 100000,
                 "Devices whose transport node (KV bucket <prefix>_device_node) is kept in memory for routing "
                 "downlinks (LRU); a miss reads the bucket")
        .range(1, 100000000)
        .unit("entries"),
    cfg::integer("max_requests_in_flight", &settings::max_requests_in_flight, 1024,
                 "Requests from transport nodes handed to the core and not yet answered; past it a request is "
                 "answered TERN_BUSY")
        .range(1, 1000000),
    cfg::integer("max_subscribed_devices", &settings::max_subscribed_devices, 1000000,
                 "Devices with downlinks subscribed for a transport node (events.subscribe); past it a new one is "
                 "answered TERN_BUSY")
        .range(1, 100000000),
    cfg::integer("request_timeout", &settings::request_timeout_ms, 2000,
                 "Timeout of the JetStream management calls (stream, consumers, key-value)")
        .range(100, 60000)
        .unit("ms"),
    cfg::integer("startup_wait", &settings::startup_wait_ms, 5000,
                 "How long start waits for NATS to check the cluster settings; when NATS is not reachable by then, "
                 "the bridge starts and sets up once it connects")
        .range(0, 600000)
        .unit("ms"));

}  // namespace tern::nats_bridge

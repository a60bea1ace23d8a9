// The plugin's configuration: the settings struct and its schema, each key declared once
// (tern/sdk/config.hpp). The descriptor publishes settings_schema.keys() (the README's table
// is generated from it); the instance loads the struct with settings_schema.load() and checks
// what the schema cannot say (path shapes) with check() (settings.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/sdk/config.hpp"

namespace tern::efento {

struct settings {
    std::string engine;  // CoAP engine instance name; empty: the first provider
    std::string core;    // core instance name; empty: the first provider of each capability
    // Where the sensors post: /<prefix>/<name> for each of the four resources.
    std::string prefix;
    std::string measurements_path;
    std::string device_info_path;
    std::string configuration_path;
    std::string time_path;
    // Further full paths of the three uplinks (POST only).
    std::vector<std::string> measurements_aliases;
    std::vector<std::string> device_info_aliases;
    std::vector<std::string> configuration_aliases;
    // cloud_token -> device, over all shards; and tokens the core did not know.
    int64_t token_cache_size{};
    int64_t token_cache_ttl_ms{};
    int64_t unknown_token_cache_size{};
    int64_t unknown_token_cache_ttl_ms{};
    // Per source address: lookups of tokens the caches do not know.
    int64_t source_rate{};
    int64_t source_burst{};
    int64_t source_table_size{};
    int64_t busy_max_age_s{};
    // The conversion's bounds (decoder.hpp decode_limits).
    int64_t max_values_per_message{};
    int64_t max_decoded_size{};
    bool type_cast_enabled{};
};

namespace cfg = tern::sdk::cfg;

inline constexpr auto settings_schema = cfg::bind<settings>(
    cfg::string("engine", &settings::engine, "",
                "Instance name of the CoAP engine to serve on; empty: the first instance providing tern.coap.engine/1"),
    cfg::string("core", &settings::core, "",
                "Instance name of the core to use; empty: the first instance providing each of the core's "
                "capabilities (tern.core.auth/1 ...)"),
    cfg::string("prefix", &settings::prefix, "efento",
                "First path segment of the four Efento resources (/efento/m, /efento/i, /efento/c, /efento/t); one "
                "segment, as set in the sensors' server settings")
        .range(1, 64),
    cfg::string("measurements_path", &settings::measurements_path, "m",
                "Second segment of the measurements resource (POST ProtoMeasurements -> telemetry)")
        .range(1, 64),
    cfg::string("device_info_path", &settings::device_info_path, "i",
                "Second segment of the device information resource (POST ProtoDeviceInfo -> telemetry)")
        .range(1, 64),
    cfg::string("configuration_path", &settings::configuration_path, "c",
                "Second segment of the configuration resource (POST ProtoConfig -> client attributes)")
        .range(1, 64),
    cfg::string("time_path", &settings::time_path, "t",
                "Second segment of the time resource (GET: the server's Unix time, 4 bytes big-endian)")
        .range(1, 64),
    cfg::strings("measurements_aliases", &settings::measurements_aliases, R"(["coap/measurements"])",
                 "Further full paths that take measurements (POST only); [] for none"),
    cfg::strings("device_info_aliases", &settings::device_info_aliases, R"(["coap/device-info"])",
                 "Further full paths that take device information (POST only); [] for none"),
    cfg::strings("configuration_aliases", &settings::configuration_aliases, R"(["coap/configuration"])",
                 "Further full paths that take the configuration (POST only); [] for none"),
    cfg::integer("token_cache_size", &settings::token_cache_size, 100000,
                 "cloud_tokens whose device is kept in memory, over all shards (LRU; 0: ask the core every time)")
        .range(0, 1e9)
        .unit("entries"),
    cfg::integer("token_cache_ttl", &settings::token_cache_ttl_ms, 300000,
                 "How long a cloud_token's device is trusted without asking the core again (changes the core "
                 "reports drop it at once)")
        .at_least(1)
        .unit("ms"),
    cfg::integer("unknown_token_cache_size", &settings::unknown_token_cache_size, 65536,
                 "cloud_tokens the core did not know, remembered over all shards so repeats are answered 4.01 "
                 "without asking the core (LRU; 0: no negative cache)")
        .range(0, 1e8)
        .unit("entries"),
    cfg::integer("unknown_token_cache_ttl", &settings::unknown_token_cache_ttl_ms, 5000,
                 "How long an unknown cloud_token is remembered; a token created meanwhile works after at most this "
                 "long (at once when the core reports a credential change)")
        .range(1, 3600000)
        .unit("ms"),
    cfg::integer("source_rate", &settings::source_rate, 20,
                 "Per source address: lookups of cloud_tokens the caches do not know, per second (a token found "
                 "valid is not counted); past it 4.29 with Max-Age (0: no limit)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("source_burst", &settings::source_burst, 100,
                 "Per source address: lookups allowed at once above source_rate")
        .range(1, 1e6)
        .unit("requests"),
    cfg::integer("source_table_size", &settings::source_table_size, 65536,
                 "Source addresses with a rate-limit bucket, over all shards; past it idle or least recently used "
                 "buckets are dropped (0: no per-source limit)")
        .range(0, 1e8)
        .unit("addresses"),
    cfg::integer("busy_max_age", &settings::busy_max_age_s, 5,
                 "Max-Age of the 5.03 answered when the core is busy (its queues are full): when the sensor may retry")
        .range(0, 3600)
        .unit("s"),
    cfg::integer("max_values_per_message", &settings::max_values_per_message, 4096,
                 "Most data points (key/values, every timestamp's together) one message may store; more refuses "
                 "the whole message with 4.13")
        .range(1, 1e6)
        .unit("values"),
    cfg::integer("max_decoded_size", &settings::max_decoded_size, 65536,
                 "Most bytes a configuration message's attributes (keys and values) may decode to; more refuses it "
                 "with 4.00")
        .range(1, 1073741824)
        .unit("bytes"),
    cfg::boolean("type_cast_enabled", &settings::type_cast_enabled, true,
                 "Store configuration strings in plain decimal notation (\"42\") as numbers, as ThingsBoard's "
                 "transport.json.type_cast_enabled does"));

// The settings of an empty configuration table.
inline settings default_settings() { return settings_schema.defaults(); }

// Checks what the schema cannot: single-segment names, distinct names, alias paths (no empty
// segment, no pattern characters, none twice). A leading '/' of an alias is dropped. Throws
// sdk::error (TERN_CONFIG) naming the key.
void check(settings& s);

}  // namespace tern::efento

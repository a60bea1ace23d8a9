// The plugin's configuration: each key of [plugins.core_embedded] declared once, with the
// member of plugin_config it fills (tern/sdk/config.hpp). The same declaration gives the
// descriptor's schema (from which the README table is generated) and the typed settings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core_types.hpp"
#include "tern/sdk/config.hpp"

namespace tern::core_embedded {

struct plugin_config {
    std::string database, admin_bind, admin_key, sync;
    uint32_t group_commit_max_batch = 0;
    int64_t group_commit_max_delay_us = 0;
    int64_t checkpoint_interval = 0;  // ms
    int64_t wal_limit = 0;            // pages
    uint32_t write_queue_capacity = 0;
    uint64_t write_queue_max_bytes = 0;
    int64_t max_key_length = 0, max_telemetry_keys_per_device = 0, max_telemetry_keys = 0;
    int64_t max_attributes_per_device = 0;
    int64_t telemetry_key_cache = 0;
    unsigned read_threads = 0;
    size_t read_queue_capacity = 0;
    uint64_t read_queue_max_bytes = 0;
    size_t credential_cache_size = 0;
    int64_t claim_duration = 0;  // ms
    bool claim_allowed_by_default = false, client_rpc_builtin = false, client_rpc_queue = false;
    size_t client_rpc_queue_capacity = 0;
    int64_t client_rpc_timeout = 0, rpc_default_timeout = 0;  // ms
    int32_t rpc_max_retries = 0;
    int64_t activity_flush_interval = 0;  // ms
    uint64_t max_ota_size = 0, max_request_size = 0;
    size_t admin_max_connections = 0;
    int64_t admin_header_timeout = 0;  // ms
    size_t min_token_length = 0, min_psk_key_length = 0;
    bool quick_check = false;
    uint32_t event_subscribers = 0;

    // What the store (embedded_core) takes of it.
    core_settings core() const {
        core_settings s;
        s.database = database;
        s.sync = sync;
        s.writer.max_batch = group_commit_max_batch;
        s.writer.max_delay_us = group_commit_max_delay_us;
        s.writer.queue_capacity = write_queue_capacity;
        s.writer.queue_bytes = write_queue_max_bytes;
        s.writer.max_key_length = max_key_length;
        s.writer.max_keys_per_device = max_telemetry_keys_per_device;
        s.writer.max_keys = max_telemetry_keys;
        s.writer.max_attributes_per_device = max_attributes_per_device;
        s.writer.device_key_cache = static_cast<uint64_t>(telemetry_key_cache);
        s.checkpoint_interval_ms = checkpoint_interval;
        s.wal_limit_pages = wal_limit;
        s.read_threads = read_threads;
        s.read_queue_capacity = read_queue_capacity;
        s.read_queue_bytes = read_queue_max_bytes;
        s.credential_cache_size = credential_cache_size;
        s.claim_duration_ms = claim_duration;
        s.claim_allowed_by_default = claim_allowed_by_default;
        s.client_rpc_builtin = client_rpc_builtin;
        s.client_rpc_queue = client_rpc_queue;
        s.client_rpc_queue_capacity = client_rpc_queue_capacity;
        s.client_rpc_default_timeout_ms = client_rpc_timeout;
        s.rpc_default_timeout_ms = rpc_default_timeout;
        s.rpc_max_retries = rpc_max_retries;
        s.activity_flush_interval_ms = activity_flush_interval;
        s.max_ota_size = max_ota_size;
        s.quick_check = quick_check;
        return s;
    }
};

namespace cfg = sdk::cfg;

constexpr auto config_schema = cfg::bind<plugin_config>(
    cfg::string("database", &plugin_config::database, "var/tern.db", "SQLite database file (WAL); the admin key file, the "
                "OTA folder and the bound-address file live beside it").path(),
    cfg::string("admin_bind", &plugin_config::admin_bind, "127.0.0.1:8080", "host:port of the admin HTTP API; port 0 picks a free "
                "port (logged and written to <database>.admin-addr); empty disables the API"),
    cfg::string("admin_key", &plugin_config::admin_key, "", "bearer key of the admin API, at least 16 characters; empty: generated on "
                "first start and kept in <database>.admin-key (mode 0600), never logged"),
    cfg::string("sync", &plugin_config::sync, "full", "full: every group commit is fsynced (survives power loss); normal: "
                "survives a process crash, not a power loss").choices("full|normal"),
    cfg::integer("group_commit_max_batch", &plugin_config::group_commit_max_batch, 4096, "most write ops committed in one transaction")
        .range(1, 1000000),
    cfg::integer("group_commit_max_delay_us", &plugin_config::group_commit_max_delay_us, 2000, "longest wait for more ops before a commit, after "
                 "the oldest queued op arrived (0: commit what is there)").range(0, 1000000).unit("us"),
    cfg::integer("checkpoint_interval", &plugin_config::checkpoint_interval, 200, "how often a thread of its own copies the WAL into the "
                 "database file, so commits never wait for it; 0: SQLite does it inside the commit "
                 "that fills 4000 pages").range(0, 60000).unit("ms"),
    cfg::integer("wal_limit", &plugin_config::wal_limit, 65536, "WAL pages (4 KiB) past which a checkpoint waits for the writer "
                 "to restart the WAL (a writer that never pauses)").range(1000, 100000000),
    cfg::integer("write_queue_capacity", &plugin_config::write_queue_capacity, 65536, "write ops waiting for the writer; when full, writes "
                 "are refused with TERN_BUSY (devices get 5.03/5.00)").range(1, 100000000),
    cfg::integer("write_queue_max_bytes", &plugin_config::write_queue_max_bytes, 67108864, "memory the payloads of write ops may hold from "
                 "submission until committed; beyond, writes are refused with TERN_BUSY like a full queue "
                 "(one op alone is always taken)").range(65536, 1e12).unit("bytes"),
    cfg::integer("max_key_length", &plugin_config::max_key_length, 255, "longest telemetry or attribute key a device may post, in "
                 "characters (ThingsBoard's key columns are varchar(255)); a longer one refuses the "
                 "message with 4.00. 0: no limit").range(0, 1000000).unit("characters"),
    cfg::integer("max_telemetry_keys_per_device", &plugin_config::max_telemetry_keys_per_device, 1000, "distinct telemetry keys one device may have; "
                 "a message that would add more is refused with 4.00 and nothing of it is stored. "
                 "0: no limit").range(0, 1e9),
    cfg::integer("max_telemetry_keys", &plugin_config::max_telemetry_keys, 1000000, "distinct telemetry key names over all devices (the "
                 "dictionary the writer keeps in memory); values under new names beyond it are refused "
                 "(core busy). 0: no limit").range(0, 1e9),
    cfg::integer("max_attributes_per_device", &plugin_config::max_attributes_per_device, 1000, "client attribute keys one device may have; a "
                 "message that would add more is refused with 4.00 and nothing of it is stored. 0: no "
                 "limit").range(0, 1e9),
    cfg::integer("telemetry_key_cache", &plugin_config::telemetry_key_cache, 4194304, "key ids of the devices that posted "
                 "telemetry, kept for the max_telemetry_keys_per_device check (about 70 bytes a device plus 8 a key); past it "
                 "the cache is dropped and refilled from the database as devices post. 0: no cache").range(0, 1e10),
    cfg::integer("read_threads", &plugin_config::read_threads, 2, "threads (and SQLite read connections) serving reads").range(1, 64),
    cfg::integer("read_queue_capacity", &plugin_config::read_queue_capacity, 4096, "reads waiting for a reader thread; beyond, TERN_BUSY")
        .range(1, 100000000),
    cfg::integer("read_queue_max_bytes", &plugin_config::read_queue_max_bytes, 67108864, "request text waiting reads may hold (provisioning "
                 "requests with their certificates, tokens); beyond, TERN_BUSY like a full queue (one read "
                 "alone is always taken)").range(65536, 1e12).unit("bytes"),
    cfg::integer("credential_cache_size", &plugin_config::credential_cache_size, 10000, "authenticated credentials kept in memory (LRU); "
                 "0 disables the cache").range(0, 100000000),
    cfg::integer("claim_duration", &plugin_config::claim_duration, 86400000, "claim lifetime when the device gives none (docs/device-api.md §5.1)")
        .range(1, 1e15).unit("ms"),
    cfg::boolean("claim_allowed_by_default", &plugin_config::claim_allowed_by_default, true, "devices may register claims without the server "
                 "attribute claimingAllowed=true"),
    cfg::boolean("client_rpc_builtin", &plugin_config::client_rpc_builtin, true, "answer the built-in client-side RPCs (getCurrentTime, "
                 "ping, getDeviceInfo)"),
    cfg::boolean("client_rpc_queue", &plugin_config::client_rpc_queue, true, "queue other client-side RPCs for an operator "
                 "(GET /api/client-rpc); off: the device gets no answer"),
    cfg::integer("client_rpc_queue_capacity", &plugin_config::client_rpc_queue_capacity, 1000, "client-side RPCs waiting for an operator")
        .range(1, 1000000),
    cfg::integer("client_rpc_timeout", &plugin_config::client_rpc_timeout, 10000, "how long a queued client-side RPC waits when the "
                 "transport gives no timeout").range(1, 86400000).unit("ms"),
    cfg::integer("rpc_default_timeout", &plugin_config::rpc_default_timeout, 10000, "expiration of a server-side RPC sent without one")
        .range(1, 604800000).unit("ms"),
    cfg::integer("rpc_max_retries", &plugin_config::rpc_max_retries, 3, "re-sends of a persistent RPC after a transport TIMEOUT, "
                 "before it ends as TIMEOUT").range(0, 1000),
    cfg::integer("activity_flush_interval", &plugin_config::activity_flush_interval, 5000, "how often devices' lastActivityTime (and connect "
                 "and disconnect times) are written; 0 never").range(0, 86400000).unit("ms"),
    cfg::integer("max_ota_size", &plugin_config::max_ota_size, 268435456, "largest OTA package upload").range(1, 1e13).unit("bytes"),
    cfg::integer("max_request_size", &plugin_config::max_request_size, 1048576, "largest admin API request body other than OTA uploads")
        .range(1024, 1e9).unit("bytes"),
    cfg::integer("admin_max_connections", &plugin_config::admin_max_connections, 256, "concurrent admin API connections; when all are open, a new "
                 "one closes the oldest that has not shown the key").range(1, 100000),
    cfg::integer("admin_header_timeout", &plugin_config::admin_header_timeout, 10000, "how long a connection that has not yet shown the admin key "
                 "may take to send a request header").range(100, 600000).unit("ms"),
    cfg::integer("min_token_length", &plugin_config::min_token_length, 4, "shortest access token the admin API accepts (shorter: 400); "
                 "tokens under 16 characters are stored with a warning").range(1, 1024),
    cfg::integer("min_psk_key_length", &plugin_config::min_psk_key_length, 1, "shortest PSK key the admin API accepts (shorter: 400); keys "
                 "under 16 bytes are stored with a warning").range(1, 64).unit("bytes"),
    cfg::boolean("quick_check", &plugin_config::quick_check, false, "run PRAGMA quick_check on the database at start (reads the whole "
                 "file, seconds per GB); a damaged database then refuses to start"),
    cfg::integer("event_subscribers", &plugin_config::event_subscribers, 16, "plugins that may hold a tern.core.events/1 subscription at once "
                 "(the tern.core/1 listener not counted); one more is refused with TERN_BUSY").range(1, 63));

}  // namespace tern::core_embedded

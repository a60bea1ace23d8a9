// The plugin: descriptor, configuration schema, and the instance that ties the store,
// the admin API and the CLI to the kernel.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "admin_api.hpp"
#include "admin_server.hpp"
#include "capabilities.hpp"
#include "cli.hpp"
#include "core.hpp"
#include "tern/sdk/plugin.hpp"

namespace tern::core_embedded {
namespace {

namespace cfg = sdk::cfg;

constexpr tern_config_key config_schema[] = {
    cfg::string("database", "var/tern.db", "SQLite database file (WAL); the admin key file, the "
                "OTA folder and the bound-address file live beside it").path(),
    cfg::string("admin_bind", "127.0.0.1:8080", "host:port of the admin HTTP API; port 0 picks a free "
                "port (logged and written to <database>.admin-addr); empty disables the API"),
    cfg::string("admin_key", "", "bearer key of the admin API, at least 16 characters; empty: generated on "
                "first start and kept in <database>.admin-key (mode 0600), never logged"),
    cfg::string("sync", "full", "full: every group commit is fsynced (survives power loss); normal: "
                "survives a process crash, not a power loss").choices("full|normal"),
    cfg::integer("group_commit_max_batch", 4096, "most write ops committed in one transaction")
        .range(1, 1000000),
    cfg::integer("group_commit_max_delay_us", 2000, "longest wait for more ops before a commit, after "
                 "the oldest queued op arrived (0: commit what is there)").range(0, 1000000).unit("us"),
    cfg::integer("checkpoint_interval", 200, "how often a thread of its own copies the WAL into the "
                 "database file, so commits never wait for it; 0: SQLite does it inside the commit "
                 "that fills 4000 pages").range(0, 60000).unit("ms"),
    cfg::integer("wal_limit", 65536, "WAL pages (4 KiB) past which a checkpoint waits for the writer "
                 "to restart the WAL (a writer that never pauses)").range(1000, 100000000),
    cfg::integer("write_queue_capacity", 65536, "write ops waiting for the writer; when full, writes "
                 "are refused with TERN_BUSY (devices get 5.03/5.00)").range(1, 100000000),
    cfg::integer("write_queue_max_bytes", 67108864, "memory the payloads of write ops may hold from "
                 "submission until committed; beyond, writes are refused with TERN_BUSY like a full queue "
                 "(one op alone is always taken)").range(65536, 1e12).unit("bytes"),
    cfg::integer("max_key_length", 255, "longest telemetry or attribute key a device may post, in "
                 "characters (ThingsBoard's key columns are varchar(255)); a longer one refuses the "
                 "message with 4.00. 0: no limit").range(0, 1000000).unit("characters"),
    cfg::integer("max_telemetry_keys_per_device", 1000, "distinct telemetry keys one device may have; "
                 "a message that would add more is refused with 4.00 and nothing of it is stored. "
                 "0: no limit").range(0, 1e9),
    cfg::integer("max_telemetry_keys", 1000000, "distinct telemetry key names over all devices (the "
                 "dictionary the writer keeps in memory); values under new names beyond it are refused "
                 "(core busy). 0: no limit").range(0, 1e9),
    cfg::integer("max_attributes_per_device", 1000, "client attribute keys one device may have; a "
                 "message that would add more is refused with 4.00 and nothing of it is stored. 0: no "
                 "limit").range(0, 1e9),
    cfg::integer("read_threads", 2, "threads (and SQLite read connections) serving reads").range(1, 64),
    cfg::integer("read_queue_capacity", 4096, "reads waiting for a reader thread; beyond, TERN_BUSY")
        .range(1, 100000000),
    cfg::integer("read_queue_max_bytes", 67108864, "request text waiting reads may hold (provisioning "
                 "requests with their certificates, tokens); beyond, TERN_BUSY like a full queue (one read "
                 "alone is always taken)").range(65536, 1e12).unit("bytes"),
    cfg::integer("credential_cache_size", 100000, "authenticated credentials kept in memory (LRU); "
                 "0 disables the cache").range(0, 100000000),
    cfg::integer("claim_duration", 86400000, "claim lifetime when the device gives none (spec §5.1)")
        .range(1, 1e15).unit("ms"),
    cfg::boolean("claim_allowed_by_default", true, "devices may register claims without the server "
                 "attribute claimingAllowed=true"),
    cfg::boolean("client_rpc_builtin", true, "answer the built-in client-side RPCs (getCurrentTime, "
                 "ping, getDeviceInfo)"),
    cfg::boolean("client_rpc_queue", true, "queue other client-side RPCs for an operator "
                 "(GET /api/client-rpc); off: the device gets no answer"),
    cfg::integer("client_rpc_queue_capacity", 1000, "client-side RPCs waiting for an operator")
        .range(1, 1000000),
    cfg::integer("client_rpc_timeout", 10000, "how long a queued client-side RPC waits when the "
                 "transport gives no timeout").range(1, 86400000).unit("ms"),
    cfg::integer("rpc_default_timeout", 10000, "expiration of a server-side RPC sent without one")
        .range(1, 604800000).unit("ms"),
    cfg::integer("rpc_max_retries", 3, "re-sends of a persistent RPC after a transport TIMEOUT, "
                 "before it ends as TIMEOUT").range(0, 1000),
    cfg::integer("activity_flush_interval", 5000, "how often devices' lastActivityTime (and connect "
                 "and disconnect times) are written; 0 never").range(0, 86400000).unit("ms"),
    cfg::integer("max_ota_size", 268435456, "largest OTA package upload").range(1, 1e13).unit("bytes"),
    cfg::integer("max_request_size", 1048576, "largest admin API request body other than OTA uploads")
        .range(1024, 1e9).unit("bytes"),
    cfg::integer("admin_max_connections", 256, "concurrent admin API connections; when all are open, a new "
                 "one closes the oldest that has not shown the key").range(1, 100000),
    cfg::integer("admin_header_timeout", 10000, "how long a connection that has not yet shown the admin key "
                 "may take to send a request header").range(100, 600000).unit("ms"),
    cfg::integer("min_token_length", 4, "shortest access token the admin API accepts (shorter: 400); "
                 "tokens under 16 characters are stored with a warning").range(1, 1024),
    cfg::integer("min_psk_key_length", 1, "shortest PSK key the admin API accepts (shorter: 400); keys "
                 "under 16 bytes are stored with a warning").range(1, 64).unit("bytes"),
    cfg::boolean("quick_check", false, "run PRAGMA quick_check on the database at start (reads the whole "
                 "file, seconds per GB); a damaged database then refuses to start"),
    cfg::integer("event_subscribers", 16, "plugins that may hold a tern.core.events/1 subscription at once "
                 "(the tern.core/1 listener not counted); one more is refused with TERN_BUSY").range(1, 63),
};

// A configured admin_key shorter than this refuses to start.
constexpr size_t min_admin_key_length = 16;

constexpr const char* provides[] = {TERN_IID_CORE_V1,           TERN_IID_CORE_AUTH_V1,     TERN_IID_CORE_TELEMETRY_V1,
                                    TERN_IID_CORE_ATTRIBUTES_V1, TERN_IID_CORE_RPC_V1,      TERN_IID_CORE_PROVISIONING_V1,
                                    TERN_IID_CORE_OTA_V1,        TERN_IID_CORE_SESSIONS_V1, TERN_IID_CORE_EVENTS_V1,
                                    TERN_IID_CLI_V1};

constexpr double batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
constexpr double latency_buckets[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

class core_instance final : public sdk::instance {
public:
    explicit core_instance(const tern_create_args& a)
        : instance(a),
          core_(std::make_unique<embedded_core>(metrics_, log())),
          services_(*core_),
          cli_([this] { return cli_config(); }) {}

    ~core_instance() override = default;

protected:
    void* provide(std::string_view iid) noexcept override {
        if (void* core = services_.query(iid)) return core;
        if (iid == TERN_IID_CLI_V1) return static_cast<tern::cli_v1*>(&cli_);
        return nullptr;
    }

    void on_start() override {
        const sdk::config c = config();
        core_settings s;
        s.database = std::string(c.get_string("database"));
        s.sync = std::string(c.get_string("sync"));
        s.writer.max_batch = static_cast<uint32_t>(c.get_int("group_commit_max_batch"));
        s.writer.max_delay_us = c.get_int("group_commit_max_delay_us");
        s.writer.queue_capacity = static_cast<uint32_t>(c.get_int("write_queue_capacity"));
        s.writer.queue_bytes = static_cast<uint64_t>(c.get_int("write_queue_max_bytes"));
        s.writer.max_key_length = c.get_int("max_key_length");
        s.writer.max_keys_per_device = c.get_int("max_telemetry_keys_per_device");
        s.writer.max_keys = c.get_int("max_telemetry_keys");
        s.writer.max_attributes_per_device = c.get_int("max_attributes_per_device");
        s.checkpoint_interval_ms = c.get_int("checkpoint_interval");
        s.wal_limit_pages = c.get_int("wal_limit");
        s.read_threads = static_cast<unsigned>(c.get_int("read_threads"));
        s.read_queue_capacity = static_cast<size_t>(c.get_int("read_queue_capacity"));
        s.read_queue_bytes = static_cast<uint64_t>(c.get_int("read_queue_max_bytes"));
        s.credential_cache_size = static_cast<size_t>(c.get_int("credential_cache_size"));
        s.claim_duration_ms = c.get_int("claim_duration");
        s.claim_allowed_by_default = c.get_bool("claim_allowed_by_default");
        s.client_rpc_builtin = c.get_bool("client_rpc_builtin");
        s.client_rpc_queue = c.get_bool("client_rpc_queue");
        s.client_rpc_queue_capacity = static_cast<size_t>(c.get_int("client_rpc_queue_capacity"));
        s.client_rpc_default_timeout_ms = c.get_int("client_rpc_timeout");
        s.rpc_default_timeout_ms = c.get_int("rpc_default_timeout");
        s.rpc_max_retries = static_cast<int32_t>(c.get_int("rpc_max_retries"));
        s.activity_flush_interval_ms = c.get_int("activity_flush_interval");
        s.max_ota_size = static_cast<uint64_t>(c.get_int("max_ota_size"));
        s.quick_check = c.get_bool("quick_check");

        register_metrics();
        services_.configure(static_cast<uint32_t>(c.get_int("event_subscribers")),
                            host().counter("core_event_subscribers_refused_total",
                                           "tern.core.events/1 subscriptions refused: event_subscribers reached"));
        core_->start(s);
        log().info("database ", s.database, " (sync=", s.sync, ")");

        const std::string bind(c.get_string("admin_bind"));
        if (bind.empty()) {
            log().info("admin API disabled (admin_bind is empty)");
            return;
        }
        try {
            std::string key(c.get_string("admin_key"));
            if (!key.empty() && key.size() < min_admin_key_length)
                throw sdk::error(TERN_CONFIG, "admin_key has " + std::to_string(key.size()) + " characters; it must have "
                                 "at least " + std::to_string(min_admin_key_length) + " (or leave it empty for a "
                                 "generated one)");
            if (key.empty()) {
                const std::string path = admin_key_path(s.database);
                bool created = false;
                key = load_or_create_admin_key(path, created);
                // The key itself never goes to the log (logs are collected, shipped, shared).
                if (created) log().info("admin key generated and stored in ", path, " (mode 0600; the tern commands read it there)");
                if (const int mode = narrow_key_file(path); mode > 0) {
                    char old[8];
                    std::snprintf(old, sizeof old, "%04o", mode);
                    log().warn("narrowed the mode of ", path, " from ", old, " to 0600: it holds the admin key");
                }
            }
            credential_rules rules;
            rules.min_token_length = static_cast<size_t>(c.get_int("min_token_length"));
            rules.min_psk_key_length = static_cast<size_t>(c.get_int("min_psk_key_length"));
            rules.weak = weak_credentials_;
            api_ = std::make_unique<admin_api>(*core_, key, log(), rules);
            admin_ = std::make_unique<admin_server>(*api_, log());
            admin_server_settings as;
            as.bind = bind;
            as.max_body = static_cast<uint64_t>(c.get_int("max_request_size"));
            as.max_upload = s.max_ota_size;
            as.upload_dir = core_->ota_dir();
            as.max_connections = static_cast<size_t>(c.get_int("admin_max_connections"));
            as.header_timeout_ms = c.get_int("admin_header_timeout");
            as.evicted = admin_evicted_;
            as.refused = admin_refused_;
            admin_->start(as);
            addr_file_ = admin_addr_path(s.database);
            std::ofstream(addr_file_) << admin_->address() << "\n";
            log().info("admin API on http://", admin_->address());
            if (!loopback_only(admin_->address()))
                log().warn("the admin API listens on ", admin_->address(), ", beyond this machine, over plain HTTP: "
                           "the admin key and every device credential cross the network in clear; bind it to "
                           "127.0.0.1 and reach it through SSH or a TLS proxy");
        } catch (...) {
            if (admin_) admin_->stop();
            core_->stop();
            admin_.reset();
            api_.reset();
            throw;
        }
    }

    void on_stop() noexcept override {
        // The server first (no new requests), then the core, which answers what still
        // waits; the server object outlives those answers.
        if (admin_) admin_->stop();
        core_->stop();
        admin_.reset();
        api_.reset();
        if (!addr_file_.empty()) std::remove(addr_file_.c_str());
        addr_file_.clear();
    }

private:
    cli_settings cli_config() const {
        const sdk::config c = config();
        cli_settings s;
        s.database = std::string(c.get_string("database"));
        s.admin_bind = std::string(c.get_string("admin_bind"));
        s.admin_key = std::string(c.get_string("admin_key"));
        if (s.admin_bind.empty()) throw sdk::error(TERN_CONFIG, "the admin API is disabled (admin_bind is empty)");
        return s;
    }

    void register_metrics() {
        if (registered_) return;
        registered_ = true;
        const sdk::host& h = host();
        metrics_.write_queue_depth = h.gauge("core_write_queue_depth", "write ops waiting for the writer");
        metrics_.write_rejected = h.counter("core_write_rejected_total", "write ops refused: the write queue was full");
        metrics_.write_queue_bytes =
            h.gauge("core_write_queue_bytes", "bytes of write ops submitted and not yet committed");
        metrics_.write_rejected_bytes =
            h.counter("core_write_rejected_bytes_total", "write ops refused: write_queue_max_bytes was reached");
        metrics_.telemetry_keys = h.gauge("core_telemetry_keys", "names in the telemetry key dictionary");
        metrics_.attribute_keys_refused = h.counter("core_attribute_keys_refused_total",
                                                    "client attributes refused: max_attributes_per_device was reached");
        metrics_.key_length_refused =
            h.counter("core_key_length_refused_total", "device messages refused: a key longer than max_key_length");
        metrics_.telemetry_keys_refused_device =
            h.counter("core_telemetry_keys_refused_total", "telemetry refused: too many distinct keys",
                      "limit=\"max_telemetry_keys_per_device\"");
        metrics_.telemetry_keys_refused_total =
            h.counter("core_telemetry_keys_refused_total", "telemetry refused: too many distinct keys",
                      "limit=\"max_telemetry_keys\"");
        metrics_.commits = h.counter("core_commits_total", "committed group-commit transactions");
        metrics_.commit_errors = h.counter("core_commit_errors_total", "group-commit transactions that failed");
        metrics_.ops_per_commit = h.histogram("core_ops_per_commit", "write ops per transaction", batch_buckets);
        metrics_.commit_seconds = h.histogram("core_commit_seconds", "BEGIN to COMMIT latency", latency_buckets);
        metrics_.read_queue_depth = h.gauge("core_read_queue_depth", "reads waiting for a reader thread");
        metrics_.read_rejected = h.counter("core_read_rejected_total", "reads refused: the read queue was full");
        metrics_.read_queue_bytes =
            h.gauge("core_read_queue_bytes", "bytes of request text (provisioning requests, tokens) held by waiting reads");
        metrics_.read_rejected_bytes =
            h.counter("core_read_rejected_bytes_total", "reads refused: read_queue_max_bytes was reached");
        metrics_.auth_cache_hits = h.counter("core_auth_cache_hits_total", "authentications served from memory");
        metrics_.auth_cache_misses = h.counter("core_auth_cache_misses_total", "authentications that read the database");
        metrics_.auth_cache_size = h.gauge("core_auth_cache_entries", "credentials in the authentication cache");
        metrics_.telemetry_values = h.counter("core_telemetry_values_total", "telemetry key/values stored");
        metrics_.telemetry_purge_devices =
            h.gauge("core_telemetry_purge_devices", "deleted devices whose telemetry history is still being removed");
        metrics_.telemetry_purged =
            h.counter("core_telemetry_purged_total", "telemetry points of deleted devices removed");
        metrics_.wal_checkpoints =
            h.counter("core_wal_checkpoints_total", "WAL checkpoints run beside the writer (checkpoint_interval)");
        metrics_.wal_restarts = h.counter("core_wal_restarts_total",
                                          "checkpoints that waited for the writer: the WAL passed wal_limit");
        metrics_.wal_frames = h.gauge("core_wal_frames", "pages in the WAL at the last checkpoint");
        static const char* const labels[7] = {"status=\"QUEUED\"",     "status=\"SENT\"",    "status=\"DELIVERED\"",
                                              "status=\"SUCCESSFUL\"", "status=\"TIMEOUT\"", "status=\"FAILED\"",
                                              "status=\"EXPIRED\""};
        for (int i = 0; i < 7; ++i)
            metrics_.rpc_by_status[i] = h.counter("core_rpc_total", "server-side RPCs reaching each status", labels[i]);
        metrics_.client_rpc_queue_depth = h.gauge("core_client_rpc_queue_depth", "client-side RPCs waiting for an operator");
        metrics_.client_rpc_rejected = h.counter("core_client_rpc_rejected_total", "client-side RPCs refused: the queue was full");
        metrics_.sessions = h.gauge("core_sessions", "live device sessions");
        admin_evicted_ = h.counter("core_admin_connections_evicted_total",
                                   "admin API connections without the key closed to make room (admin_max_connections)");
        admin_refused_ = h.counter("core_admin_connections_refused_total",
                                   "admin API connections refused: every slot held by an authenticated client");
        weak_credentials_ = h.counter("core_admin_weak_credentials_total",
                                      "access tokens and PSK keys stored with a too-short warning");
    }

    // The key file is read as it is: one left group- or world-readable (an old version, a
    // copy) is narrowed to 0600. Returns its old mode when it was narrowed, else 0.
    static int narrow_key_file(const std::string& path) {
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) return 0;
        if (::chmod(path.c_str(), st.st_mode & 0700) != 0) return 0;
        return static_cast<int>(st.st_mode & 07777);
    }

    core_metrics metrics_;
    sdk::metric admin_evicted_, admin_refused_, weak_credentials_;
    std::unique_ptr<embedded_core> core_;
    core_services services_;  // the core's interfaces over core_ (destroyed before it)
    cli cli_;
    std::unique_ptr<admin_api> api_;
    std::unique_ptr<admin_server> admin_;
    std::string addr_file_;
    bool registered_ = false;
};

}  // namespace
}  // namespace tern::core_embedded

TERN_PLUGIN(tern::core_embedded::core_instance,
            {.name = "core_embedded",
             .version = "0.1.0",
             .vendor = "Tern",
             .description = "Embedded core: devices, attributes, telemetry, RPC, OTA in SQLite; admin HTTP API and CLI",
             .provides = tern::core_embedded::provides,
             .config = tern::core_embedded::config_schema})

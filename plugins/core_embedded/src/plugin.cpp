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
#include "plugin_config.hpp"
#include "tern/sdk/plugin.hpp"

namespace tern::core_embedded {
namespace {

// The configuration schema and its typed settings: plugin_config.hpp.

// A configured admin_key shorter than this refuses to start.
constexpr size_t min_admin_key_length = 16;

constexpr const char* provides[] = {TERN_IID_CORE_V1,           TERN_IID_CORE_AUTH_V1,     TERN_IID_CORE_TELEMETRY_V1,
                                    TERN_IID_CORE_ATTRIBUTES_V1, TERN_IID_CORE_RPC_V1,      TERN_IID_CORE_PROVISIONING_V1,
                                    TERN_IID_CORE_OTA_V1,        TERN_IID_CORE_SESSIONS_V1, TERN_IID_CORE_EVENTS_V1,
                                    TERN_IID_CLI_V1};

// Payload adaptors check profiles before they are stored (profile_check.hpp): optional, and
// asked for so that they start before the core and stop after it.
constexpr tern_requirement requirements[] = {sdk::may_use(TERN_IID_PAYLOAD_V1), sdk::may_use(TERN_IID_PAYLOAD_V2)};

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
        const plugin_config pc = config_schema.load(c);
        const core_settings s = pc.core();

        register_metrics();
        services_.configure(pc.event_subscribers,
                            host().counter("core_event_subscribers_refused_total",
                                           "tern.core.events/1 subscriptions refused: event_subscribers reached"));
        core_->use_payload_adaptors(&host().registry());
        core_->set_memory_extra([this](memory_figures& f) {
            const auto [devices, bytes] = services_.events().memory();
            f[static_cast<size_t>(mem_table::event_masks)] = {devices, bytes};
        });
        core_->start(s);
        log().info("database ", s.database, " (sync=", s.sync, ")");

        const std::string& bind = pc.admin_bind;
        if (bind.empty()) {
            log().info("admin API disabled (admin_bind is empty)");
            return;
        }
        try {
            std::string key = pc.admin_key;
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
            rules.min_token_length = pc.min_token_length;
            rules.min_psk_key_length = pc.min_psk_key_length;
            rules.weak = weak_credentials_;
            api_ = std::make_unique<admin_api>(*core_, key, log(), rules);
            admin_ = std::make_unique<admin_server>(*api_, log());
            admin_server_settings as;
            as.bind = bind;
            as.max_body = pc.max_request_size;
            as.max_upload = s.max_ota_size;
            as.upload_dir = core_->ota_dir();
            as.max_connections = pc.admin_max_connections;
            as.header_timeout_ms = pc.admin_header_timeout;
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
        const plugin_config pc = config_schema.load(config());
        cli_settings s;
        s.database = pc.database;
        s.admin_bind = pc.admin_bind;
        s.admin_key = pc.admin_key;
        s.max_request_size = pc.max_request_size;
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
        metrics_.devices_asleep =
            h.gauge("core_devices_asleep", "devices a transport reported asleep (power saving) and not active since");
        for (size_t i = 0; i < std::size(mem_table_names); ++i) {
            const std::string label = std::string("table=\"") + mem_table_names[i] + "\"";
            metrics_.memory_bytes[i] = h.gauge("core_memory_bytes", "bytes a table that grows with devices holds now "
                                               "(README, Memory)", label.c_str());
            metrics_.table_entries[i] = h.gauge("core_entries", "entries of a table whose bytes core_memory_bytes reports",
                                                label.c_str());
        }
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
             .requirements = tern::core_embedded::requirements,
             .config = tern::core_embedded::config_schema.keys()})

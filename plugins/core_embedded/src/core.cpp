// The embedded core's life cycle (the database, the threads) and its core_v1 and admin
// entry points, each handed to the component that does it (core.hpp lists them).
#include "core.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <sqlite3.h>

#include "schema.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

namespace fs = std::filesystem;
using sdk::to_str;

embedded_core::embedded_core(core_metrics& metrics, sdk::logger log)
    : parts_(metrics, log), checkpointer_(metrics, log) {}

embedded_core::~embedded_core() { stop(); }

std::string embedded_core::ota_dir() const { return ota_.dir(); }

// Start-up, before the first connection: one process per database (a second one would
// break the writer's in-memory state), and a database file only its owner can read (it
// holds tokens, PSK keys and provisioning secrets).
void embedded_core::open_private() {
    try {
        db_lock_.acquire(parts_.settings.database + ".lock");
        for (const db::loose_file& f : db::make_private(parts_.settings.database)) {
            char old[8];
            std::snprintf(old, sizeof old, "%04o", f.mode);
            if (f.failure.empty())
                parts_.log.warn("narrowed the mode of ", f.path, " from ", old, " to 0600: it holds device credentials");
            else
                parts_.log.warn(f.path, " is readable by others (mode ", old, ") and cannot be narrowed (", f.failure,
                          "): it holds device credentials; chmod 600 it");
        }
    } catch (const db::error& e) {
        db_lock_.release();
        throw sdk::error(e.code() == SQLITE_BUSY ? TERN_BUSY : TERN_IO, e.what());
    }
    db::set_error_log(this, parts_.log);
}

// PRAGMA quick_check (the quick_check setting): finds damaged pages and indexes now rather
// than as failed writes later. Reads the whole file: seconds per GB.
void embedded_core::check_integrity(db::connection& w) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string first;
    size_t problems = 0;
    try {
        auto q = w.query("PRAGMA quick_check");
        while (q->step()) {
            const std::string row = q->get_string(0);
            if (row == "ok") continue;
            if (problems++ == 0) first = row;
        }
    } catch (const db::error& e) {  // damage that stops the check itself
        if (problems++ == 0) first = e.detail();
    }
    if (problems > 0)
        throw sdk::error(TERN_IO, "database " + parts_.settings.database + " failed its integrity check (PRAGMA quick_check, " +
                                      std::to_string(problems) + " problem(s), the first: " + first +
                                      "); restore a backup, or start with quick_check = false to run on it as it is");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    parts_.log.info("database ", parts_.settings.database, " passed PRAGMA quick_check (", ms, " ms)");
}

void embedded_core::start(const core_settings& s) {
    // SQLite's allocation statistics take a global mutex on every malloc; nothing here
    // reads them. Only possible before SQLite initialises (later it is a harmless no-op).
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
    std::lock_guard lk(lifecycle_);
    if (parts_.running) return;
    parts_.settings = s;
    if (parts_.settings.database.empty()) throw sdk::error(TERN_CONFIG, "database must not be empty");
    if (parts_.settings.sync != "full" && parts_.settings.sync != "normal")
        throw sdk::error(TERN_CONFIG, "sync must be \"full\" or \"normal\"");
    try {
        const fs::path db(parts_.settings.database);
        if (db.has_parent_path()) fs::create_directories(db.parent_path());
        fs::create_directories(ota_.dir());
        // Half-finished uploads of an earlier run
        for (const auto& e : fs::directory_iterator(ota_.dir()))
            if (e.path().extension() == ".part") fs::remove(e.path());
    } catch (const fs::filesystem_error& e) {
        throw sdk::error(TERN_IO, std::string("cannot prepare the database folder: ") + e.what());
    }
    open_private();
    struct unlock_unless_started {
        db::file_lock& lock;
        bool started = false;
        ~unlock_unless_started() {
            if (!started) lock.release();
        }
    } unlock{db_lock_};
    try {
        auto w = db::connection::open(parts_.settings.database, true, false);
        {
            auto q = w.query("PRAGMA journal_mode = WAL");
            if (!q->step() || q->get_text(0) != "wal")
                throw sdk::error(TERN_IO, "cannot switch " + parts_.settings.database + " to WAL mode");
        }
        if (parts_.settings.quick_check) check_integrity(w);
        w.exec(parts_.settings.sync == "normal" ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
        // Checkpoints run beside the writer (checkpointer.hpp); without that thread, bigger
        // ones inside the commit: fewer database-file fsyncs in the hot path.
        w.exec(parts_.settings.checkpoint_interval_ms > 0 ? "PRAGMA wal_autocheckpoint = 0"
                                                    : "PRAGMA wal_autocheckpoint = 4000");
        w.exec("PRAGMA cache_size = -65536");
        if (const int v = stored_schema_version(w); v > 0 && v < 2)
            parts_.log.info("migrating database ", parts_.settings.database, " from schema ", v, ": moving the telemetry "
                      "history to its time-bucketed layout (a while for a large database)");
        const int from = migrate(w);
        if (from != schema_version)
            parts_.log.info("database ", parts_.settings.database, " migrated from schema ", from, " to ",
                      schema_version);
        auth_.configure(parts_.settings.credential_cache_size);
        client_rpcs_.configure(parts_.settings);
        rpcs_.restore(w);
        const bool purge = purge_.load(w);
        parts_.timers.start();
        parts_.writes.start(std::move(w), parts_.settings.writer);
        parts_.reads.start(parts_.settings.database, parts_.settings.read_threads, parts_.settings.read_queue_capacity,
                           parts_.settings.read_queue_bytes);
        checkpointer_.start(parts_.settings.database, parts_.settings.checkpoint_interval_ms,
                            parts_.settings.wal_limit_pages);
        rpcs_.resume();
        if (purge) purge_.run();  // what an earlier run left
    } catch (const db::error& e) {
        parts_.timers.stop();
        checkpointer_.stop();
        parts_.writes.stop();
        parts_.reads.stop();
        throw sdk::error(TERN_IO, e.what());
    }
    unlock.started = true;
    parts_.running = true;
    sessions_.start();
    report_memory();
}

memory_figures embedded_core::memory() {
    memory_figures f{};
    auto put = [&f](mem_table t, std::pair<size_t, size_t> x) { f[static_cast<size_t>(t)] = {x.first, x.second}; };
    put(mem_table::auth_cache, auth_.memory());
    const session_book::table_memory s = sessions_.sessions_memory(), a = sessions_.asleep_memory();
    put(mem_table::sessions, {s.entries, s.bytes});
    put(mem_table::sleeping_devices, {a.entries, a.bytes});
    put(mem_table::subscriptions, parts_.listener.memory());
    // A device's node (next, id, vector; 48 bytes as allocated) and bucket, its key ids and
    // their vector's allocation header.
    const writer::key_cache_figures k = parts_.writes.key_cache();
    put(mem_table::device_keys, {k.devices, k.devices * (48 + 16) + k.buckets * sizeof(void*) + k.ids * sizeof(int64_t)});
    put(mem_table::rpcs, rpcs_.memory());
    if (memory_extra_) memory_extra_(f);
    return f;
}

void embedded_core::report_memory() {
    const memory_figures f = memory();
    for (size_t i = 0; i < f.size(); ++i) {
        parts_.metrics.memory_bytes[i].set(static_cast<int64_t>(f[i].bytes));
        parts_.metrics.table_entries[i].set(static_cast<int64_t>(f[i].entries));
    }
    if (parts_.running) parts_.timers.schedule(1000, [this] { report_memory(); });
}

void embedded_core::stop() {
    std::lock_guard lk(lifecycle_);
    if (!parts_.running.exchange(false)) return;
    parts_.timers.stop();  // no deadline fires any more; what they guarded is completed below
    sessions_.flush();
    parts_.writes.stop();  // commits what is queued and runs its completions
    checkpointer_.stop();
    parts_.reads.stop();
    db_lock_.release();  // every connection is closed
    db::clear_error_log(this);

    // Whatever still waits gets its answer now.
    client_rpcs_.stop();
    rpcs_.stop();
    parts_.listener.clear();
    sessions_.clear();
    auth_.clear();
    ota_.forget();
}

// ---- core_v1 -----------------------------------------------------------------------------

tern_status embedded_core::set_listener(core_listener_v1* listener) noexcept {
    parts_.listener.set(listener);
    return TERN_OK;
}

void embedded_core::authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done,
                                 void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, nullptr);
    auth_.authenticate(kind, value, done, ctx);
}

void embedded_core::post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                                   tern_core_done_fn done, void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
    data_.post_telemetry(device_id, records, count, done, ctx);
}

void embedded_core::post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                                    uint32_t count, tern_core_done_fn done, void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
    data_.post_attributes(device_id, scope, values, count, done, ctx);
}

void embedded_core::get_attributes(uint64_t device_id, const tern_key_filter* client, const tern_key_filter* shared,
                                   tern_core_attributes_fn done, void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, nullptr, 0, nullptr, 0);
    data_.get_attributes(device_id, client, shared, done, ctx);
}

void embedded_core::subscribe(uint64_t device_id, uint32_t flags) noexcept {
    if (!running() || flags == 0) return;
    try {
        parts_.listener.subscribe(device_id, flags);
        // Pending RPCs go out from the timer thread, never inside the subscriber's call.
        if (flags & TERN_SUBSCRIBE_RPC) rpcs_.resend(device_id);
    } catch (...) {
        parts_.log.error("subscribe failed: out of memory");
    }
}

void embedded_core::unsubscribe(uint64_t device_id, uint32_t flags) noexcept {
    parts_.listener.unsubscribe(device_id, flags);
}

void embedded_core::session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                                  tern_str address) noexcept {
    if (running()) sessions_.event(device_id, event, transport, address);
}

void embedded_core::rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status, tern_str error) noexcept {
    if (running()) rpcs_.status(device_id, rpc_id, status, error);
}

void embedded_core::rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                              void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
    rpcs_.reply(device_id, rpc_id, result, done, ctx);
}

void embedded_core::resend_pending_rpcs(uint64_t device_id) noexcept {
    if (running()) rpcs_.resend(device_id);
}

void embedded_core::client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                               tern_core_text_fn done, void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, tern_str{});
    client_rpcs_.call(device_id, method, params, timeout_ms, done, ctx);
}

void embedded_core::claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms, tern_core_done_fn done,
                          void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
    provisioner_.claim(device_id, secret_key, duration_ms, done, ctx);
}

void embedded_core::provision(const tern_provision_request* request, tern_core_provision_fn done,
                              void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, nullptr);
    provisioner_.provision(request, done, ctx);
}

void embedded_core::ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done, void* ctx) noexcept {
    if (!running()) return done(ctx, TERN_UNAVAILABLE, nullptr);
    ota_.package(device_id, type, done, ctx);
}

// ---- admin operations ------------------------------------------------------------------------

void embedded_core::create_profile(profile_spec spec, callback<profile> cb) {
    admin_.create_profile(std::move(spec), std::move(cb));
}
void embedded_core::update_profile(profile_spec spec, callback<profile> cb) {
    admin_.update_profile(std::move(spec), std::move(cb));
}
void embedded_core::delete_profile(std::string name, callback<none> cb) {
    admin_.delete_profile(std::move(name), std::move(cb));
}
void embedded_core::get_profile(std::string name, callback<profile> cb) { admin_.get_profile(std::move(name), std::move(cb)); }
void embedded_core::list_profiles(callback<std::vector<profile>> cb) { admin_.list_profiles(std::move(cb)); }

void embedded_core::create_device(device_spec spec, callback<device> cb) {
    admin_.create_device(std::move(spec), std::move(cb));
}
void embedded_core::update_device(device_spec spec, callback<device> cb) {
    admin_.update_device(std::move(spec), std::move(cb));
}
void embedded_core::delete_device(std::string name, callback<none> cb) { admin_.delete_device(std::move(name), std::move(cb)); }
void embedded_core::get_device(std::string name, callback<device> cb) {
    // The stored device, then its power state and pending RPCs from memory (on the reader's thread).
    admin_.get_device(std::move(name), [this, cb = std::move(cb)](result<device> r) {
        if (r.ok() && r.value.power_status) {
            device_power_status& ps = *r.value.power_status;
            sessions_.power_of(r.value.id, ps.last_activity_ts, ps);
            ps.rpcs = rpcs_.pending_of(r.value.id);
        }
        cb(std::move(r));
    });
}
void embedded_core::list_devices(std::string profile, int64_t limit, int64_t offset, callback<std::vector<device>> cb) {
    admin_.list_devices(std::move(profile), limit, offset, std::move(cb));
}

void embedded_core::import_devices(device_import batch, callback<import_outcome> cb) {
    core_embedded::import_devices(parts_, std::move(batch), std::move(cb));
}

void embedded_core::set_attributes(std::string device, tern_attribute_scope scope, std::vector<kv> values,
                                   callback<none> cb) {
    admin_.set_attributes(std::move(device), scope, std::move(values), std::move(cb));
}
void embedded_core::delete_attributes(std::string device, tern_attribute_scope scope, std::vector<std::string> keys,
                                      callback<none> cb) {
    admin_.delete_attributes(std::move(device), scope, std::move(keys), std::move(cb));
}
void embedded_core::read_attributes(std::string device, uint32_t scopes, std::vector<std::string> keys,
                                    callback<attribute_set> cb) {
    admin_.read_attributes(std::move(device), scopes, std::move(keys), std::move(cb));
}
void embedded_core::latest_telemetry(std::string device, std::vector<std::string> keys,
                                     callback<std::vector<ts_latest>> cb) {
    admin_.latest_telemetry(std::move(device), std::move(keys), std::move(cb));
}
void embedded_core::telemetry_range(std::string device, std::vector<std::string> keys, int64_t start_ts,
                                    int64_t end_ts, int64_t limit, bool desc,
                                    callback<std::map<std::string, std::vector<ts_point>>> cb) {
    admin_.telemetry_range(std::move(device), std::move(keys), start_ts, end_ts, limit, desc, std::move(cb));
}

void embedded_core::send_rpc(rpc_request_spec spec, callback<rpc_record> cb) { rpcs_.send(std::move(spec), std::move(cb)); }
void embedded_core::get_rpc(std::string device, int64_t id, callback<rpc_record> cb) {
    rpcs_.get(std::move(device), id, std::move(cb));
}
void embedded_core::list_rpcs(std::string device, int64_t limit, callback<std::vector<rpc_record>> cb) {
    rpcs_.list(std::move(device), limit, std::move(cb));
}

void embedded_core::list_client_rpcs(callback<std::vector<client_rpc_entry>> cb) { client_rpcs_.list(std::move(cb)); }
tern_status embedded_core::reply_client_rpc(uint64_t id, std::string_view json) { return client_rpcs_.reply(id, json); }
client_rpc_config embedded_core::get_client_rpc_config() { return client_rpcs_.config(); }
void embedded_core::set_client_rpc_config(client_rpc_config c) { client_rpcs_.set_config(c); }

void embedded_core::complete_claim(std::string name, std::string secret_key, std::string owner, callback<device> cb) {
    provisioner_.complete_claim(std::move(name), std::move(secret_key), std::move(owner), std::move(cb));
}
void embedded_core::remove_claim(std::string device, callback<none> cb) {
    provisioner_.remove_claim(std::move(device), std::move(cb));
}

void embedded_core::create_ota_package(ota_upload upload, callback<ota_package_row> cb) {
    ota_.create(std::move(upload), std::move(cb));
}
void embedded_core::delete_ota_package(uint64_t id, callback<none> cb) { ota_.remove(id, std::move(cb)); }
void embedded_core::get_ota_package(uint64_t id, callback<ota_package_row> cb) { ota_.get(id, std::move(cb)); }
void embedded_core::list_ota_packages(callback<std::vector<ota_package_row>> cb) { ota_.list(std::move(cb)); }
void embedded_core::assign_ota_package(ota_target target, tern_ota_type type, uint64_t package_id, callback<none> cb) {
    ota_.assign(std::move(target), type, package_id, std::move(cb));
}

void embedded_core::list_sessions(size_t limit, callback<std::vector<session_info>> cb) {
    sessions_.list(limit, std::move(cb));
}

core_stats embedded_core::stats() {
    core_stats s;
    s.writer = parts_.writes.stats();
    s.auth_cache_entries = auth_.entries();
    s.auth_cache_hits = auth_.hits();
    s.auth_cache_misses = auth_.misses();
    s.sessions = sessions_.count();
    s.devices_asleep = sessions_.asleep();
    s.pending_rpcs = rpcs_.pending();
    s.client_rpc_queue = client_rpcs_.waiting();
    s.purge_devices = purge_.devices();
    s.purged_points = purge_.points();
    return s;
}

void embedded_core::flush(std::function<void()> cb) {
    auto shared = std::make_shared<std::function<void()>>(std::move(cb));
    parts_.submit([](write_txn&, std::string&) -> tern_status { return TERN_OK; },
                  [shared](tern_status, const std::string&) { (*shared)(); });
}

}  // namespace tern::core_embedded

// The embedded core's life cycle and its device-facing hot paths: authentication with
// its cache, telemetry, attributes, subscriptions and sessions.
#include "core.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include <sqlite3.h>

#include "schema.hpp"
#include "store.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

namespace fs = std::filesystem;
using sdk::to_str;
using sdk::to_sv;

// A resolved device with the text its tern_device_info points into.
struct embedded_core::device_record {
    tern_device_info info{};
    std::string name, profile_name, credential_value;
    std::string schemas[4];
    std::vector<profile_option> extra;  // the profile's integer options
    std::vector<tern_kv> options;

    void bind_views() {
        info.struct_size = sizeof info;
        info.device_name = to_str(name);
        info.profile_name = to_str(profile_name);
        info.credential_value =
            tern_bytes{reinterpret_cast<const uint8_t*>(credential_value.data()),
                       credential_value.size()};
        options.clear();
        for (int i = 0; i < 4; ++i) {
            if (schemas[i].empty()) continue;
            tern_kv kv{};
            kv.key = tern_str{profile_option_keys[i], std::char_traits<char>::length(profile_option_keys[i])};
            kv.value.type = TERN_VALUE_STR;
            kv.value.u.s = to_str(schemas[i]);
            options.push_back(kv);
        }
        for (const profile_option& o : extra) {
            tern_kv kv{};
            kv.key = to_str(o.key);
            kv.value.type = TERN_VALUE_INT;
            kv.value.u.i = o.value;
            options.push_back(kv);
        }
        info.profile_options = options.empty() ? nullptr : options.data();
        info.profile_option_count = static_cast<uint32_t>(options.size());
    }
};

namespace {

std::string cache_key(tern_credential_kind kind, std::string_view value) {
    std::string k;
    k.reserve(value.size() + 1);
    k.push_back(static_cast<char>('0' + kind));
    k.append(value);
    return k;
}

// Device value if set, else profile value, else 0 (the device API applies its defaults).
int64_t pick(int64_t device_value, int64_t profile_value) {
    return device_value != 0 ? device_value : profile_value;
}

std::shared_ptr<embedded_core::device_record> load_record(db::connection& c,
                                                          tern_credential_kind kind,
                                                          std::string_view id) {
    auto q = c.query(
        "SELECT d.id, d.name, d.profile_id, p.name, d.revision, p.revision, p.transport_type, "
        "p.coap_device_type, p.payload_type, d.power_mode, p.power_mode, d.psm_activity_timer, "
        "p.psm_activity_timer, d.edrx_cycle, p.edrx_cycle, d.paging_transmission_window, "
        "p.paging_transmission_window, c.value, p.telemetry_schema, p.attributes_schema, "
        "p.rpc_request_schema, p.rpc_response_schema, p.options "
        "FROM credentials c JOIN devices d ON d.id = c.device_id "
        "JOIN profiles p ON p.id = d.profile_id WHERE c.kind = ? AND c.id = ?");
    q->bind(1, static_cast<int64_t>(kind)).bind(2, id);
    if (!q->step()) return nullptr;
    auto r = std::make_shared<embedded_core::device_record>();
    tern_device_info& i = r->info;
    i.device_id = q->get_id(0);
    r->name = q->get_string(1);
    i.profile_id = q->get_id(2);
    r->profile_name = q->get_string(3);
    i.revision = std::max(q->get_id(4), q->get_id(5));
    i.transport_type = static_cast<tern_transport_type>(q->get_int(6));
    i.coap_device_type = static_cast<tern_coap_device_type>(q->get_int(7));
    i.payload_type = static_cast<tern_payload_type>(q->get_int(8));
    i.power_mode = static_cast<tern_power_mode>(pick(q->get_int(9), q->get_int(10)));
    i.psm_activity_timer_ms = pick(q->get_int(11), q->get_int(12));
    i.edrx_cycle_ms = pick(q->get_int(13), q->get_int(14));
    i.paging_transmission_window_ms = pick(q->get_int(15), q->get_int(16));
    r->credential_value = q->get_string(17);
    for (int k = 0; k < 4; ++k) r->schemas[k] = q->get_string(18 + k);
    r->extra = store::options_from_json(q->get_string(22));
    r->bind_views();
    return r;
}

// Telemetry of one device: flattened into one arena so an op costs three allocations.
class telemetry_op final : public write_op {
public:
    struct item {
        int64_t ts;
        tern_value_type type;
        uint32_t key_off, key_len;
        uint32_t s_off, s_len;
        int64_t i;
        double d;
    };

    telemetry_op(uint64_t device, tern_core_done_fn done, void* ctx, core_metrics& m)
        : device_(device), done_(done), ctx_(ctx), metrics_(m) {}

    void add(int64_t ts, const tern_kv& kv) {
        if (kv.value.type == TERN_VALUE_NULL) return;  // nulls are dropped (spec §2.2)
        item it{};
        it.ts = ts;
        it.type = kv.value.type;
        it.key_off = static_cast<uint32_t>(arena_.size());
        it.key_len = static_cast<uint32_t>(kv.key.size);
        arena_.append(to_sv(kv.key));
        switch (kv.value.type) {
            case TERN_VALUE_BOOL: it.i = kv.value.u.b != 0; break;
            case TERN_VALUE_INT: it.i = kv.value.u.i; break;
            case TERN_VALUE_DOUBLE: it.d = kv.value.u.d; break;
            case TERN_VALUE_BYTES:
                it.s_off = static_cast<uint32_t>(arena_.size());
                it.s_len = static_cast<uint32_t>(kv.value.u.bytes.size);
                arena_.append(sdk::as_text(kv.value.u.bytes));
                break;
            default:
                it.s_off = static_cast<uint32_t>(arena_.size());
                it.s_len = static_cast<uint32_t>(kv.value.u.s.size);
                arena_.append(to_sv(kv.value.u.s));
                break;
        }
        items_.push_back(it);
    }
    size_t size() const noexcept { return items_.size(); }
    void reserve(size_t n, size_t bytes) {
        items_.reserve(n);
        arena_.reserve(bytes);
    }

    bool isolated() const noexcept override { return false; }

    tern_status apply(write_txn& t) override {
        if (t.deleted(device_)) {
            message = "the device was deleted";
            return TERN_NOT_FOUND;
        }
        const std::string_view a(arena_);
        // max_telemetry_keys_per_device / max_telemetry_keys: refused before anything is written
        names_.clear();
        for (const item& it : items_) names_.push_back(a.substr(it.key_off, it.key_len));
        if (const tern_status s = t.admit_ts_keys(device_, names_, message); s != TERN_OK) return s;
        for (const item& it : items_) {
            const int64_t key = t.ts_key(a.substr(it.key_off, it.key_len));
            {
                auto q = t.query(
                    "INSERT INTO ts_kv(bucket, device_id, key_id, ts, type, v) VALUES (?6, ?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT(bucket, device_id, key_id, ts) DO UPDATE SET type = excluded.type, "
                    "v = excluded.v");
                bind(*q, key, it, a);
                q->run();
            }
            t.device_has_ts_key(device_, key);
        }
        return TERN_OK;
    }

    void finish(tern_status s) noexcept override {
        if (s == TERN_OK) metrics_.telemetry_values.inc(items_.size());
        done_(ctx_, s, to_str(message));
    }

private:
    void bind(db::statement& q, int64_t key, const item& it, std::string_view a) {
        q.bind_id(1, device_).bind(2, key).bind(3, it.ts).bind(4, static_cast<int64_t>(it.type));
        q.bind(6, ts_bucket(it.ts));
        switch (it.type) {
            case TERN_VALUE_BOOL:
            case TERN_VALUE_INT: q.bind(5, it.i); break;
            case TERN_VALUE_DOUBLE: q.bind(5, it.d); break;
            case TERN_VALUE_BYTES: q.bind_blob(5, a.substr(it.s_off, it.s_len)); break;
            default: q.bind(5, a.substr(it.s_off, it.s_len)); break;
        }
    }

    uint64_t device_;
    tern_core_done_fn done_;
    void* ctx_;
    core_metrics& metrics_;
    std::vector<item> items_;
    std::string arena_;
    std::vector<std::string_view> names_;
};

}  // namespace

embedded_core::embedded_core(core_metrics& metrics, sdk::logger log)
    : metrics_(metrics), log_(log), writer_(metrics, log), checkpointer_(metrics, log), readers_(metrics, log) {}

embedded_core::~embedded_core() { stop(); }

std::string embedded_core::ota_dir() const {
    const fs::path db(settings_.database);
    const fs::path dir = db.has_parent_path() ? db.parent_path() : fs::path(".");
    return (dir / "ota").string();
}

// Start-up, before the first connection: one process per database (a second one would
// break the writer's in-memory state), and a database file only its owner can read (it
// holds tokens, PSK keys and provisioning secrets).
void embedded_core::open_private() {
    try {
        db_lock_.acquire(settings_.database + ".lock");
        for (const db::loose_file& f : db::make_private(settings_.database)) {
            char old[8];
            std::snprintf(old, sizeof old, "%04o", f.mode);
            if (f.failure.empty())
                log_.warn("narrowed the mode of ", f.path, " from ", old, " to 0600: it holds device credentials");
            else
                log_.warn(f.path, " is readable by others (mode ", old, ") and cannot be narrowed (", f.failure,
                          "): it holds device credentials; chmod 600 it");
        }
    } catch (const db::error& e) {
        db_lock_.release();
        throw sdk::error(e.code() == SQLITE_BUSY ? TERN_BUSY : TERN_IO, e.what());
    }
    db::set_error_log(this, log_);
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
        throw sdk::error(TERN_IO, "database " + settings_.database + " failed its integrity check (PRAGMA quick_check, " +
                                      std::to_string(problems) + " problem(s), the first: " + first +
                                      "); restore a backup, or start with quick_check = false to run on it as it is");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    log_.info("database ", settings_.database, " passed PRAGMA quick_check (", ms, " ms)");
}

void embedded_core::start(const core_settings& s) {
    // SQLite's allocation statistics take a global mutex on every malloc; nothing here
    // reads them. Only possible before SQLite initialises (later it is a harmless no-op).
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
    std::lock_guard lk(lifecycle_);
    if (running_) return;
    settings_ = s;
    if (settings_.database.empty()) throw sdk::error(TERN_CONFIG, "database must not be empty");
    if (settings_.sync != "full" && settings_.sync != "normal")
        throw sdk::error(TERN_CONFIG, "sync must be \"full\" or \"normal\"");
    try {
        const fs::path db(settings_.database);
        if (db.has_parent_path()) fs::create_directories(db.parent_path());
        fs::create_directories(ota_dir());
        // Half-finished uploads of an earlier run
        for (const auto& e : fs::directory_iterator(ota_dir()))
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
        auto w = db::connection::open(settings_.database, true, false);
        {
            auto q = w.query("PRAGMA journal_mode = WAL");
            if (!q->step() || q->get_text(0) != "wal")
                throw sdk::error(TERN_IO, "cannot switch " + settings_.database + " to WAL mode");
        }
        if (settings_.quick_check) check_integrity(w);
        w.exec(settings_.sync == "normal" ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
        // Checkpoints run beside the writer (checkpointer.hpp); without that thread, bigger
        // ones inside the commit: fewer database-file fsyncs in the hot path.
        w.exec(settings_.checkpoint_interval_ms > 0 ? "PRAGMA wal_autocheckpoint = 0"
                                                    : "PRAGMA wal_autocheckpoint = 4000");
        w.exec("PRAGMA cache_size = -65536");
        if (const int v = stored_schema_version(w); v > 0 && v < 2)
            log_.info("migrating database ", settings_.database, " from schema ", v, ": moving the telemetry "
                      "history to its time-bucketed layout (a while for a large database)");
        const int from = migrate(w);
        if (from != schema_version)
            log_.info("database ", settings_.database, " migrated from schema ", from, " to ",
                      schema_version);
        client_config_.builtin = settings_.client_rpc_builtin;
        client_config_.queue = settings_.client_rpc_queue;
        auto open_rpcs = load_open_rpcs(w);
        bool purge = false;
        {
            auto q = w.query("SELECT count(*) FROM ts_purge");
            if (q->step()) purge_devices_ = static_cast<uint64_t>(q->get_int(0));
            purge = purge_devices_ > 0;
        }
        metrics_.telemetry_purge_devices.set(static_cast<int64_t>(purge_devices_.load()));
        timers_.start();
        writer_.start(std::move(w), settings_.writer);
        readers_.start(settings_.database, settings_.read_threads, settings_.read_queue_capacity,
                       settings_.read_queue_bytes);
        checkpointer_.start(settings_.database, settings_.checkpoint_interval_ms, settings_.wal_limit_pages);
        for (auto& [device_id, live] : open_rpcs) rpc_track(device_id, std::move(live));
        if (purge) purge_history();  // what an earlier run left
    } catch (const db::error& e) {
        timers_.stop();
        checkpointer_.stop();
        writer_.stop();
        readers_.stop();
        throw sdk::error(TERN_IO, e.what());
    }
    unlock.started = true;
    running_ = true;
    if (settings_.activity_flush_interval_ms > 0) {
        std::lock_guard sl(sessions_mutex_);
        activity_timer_ = timers_.schedule(settings_.activity_flush_interval_ms, [this] { flush_activity(); });
    }
}

void embedded_core::stop() {
    std::lock_guard lk(lifecycle_);
    if (!running_.exchange(false)) return;
    timers_.stop();  // no deadline fires any more; what they guarded is completed below
    flush_activity();
    writer_.stop();  // commits what is queued and runs its completions
    checkpointer_.stop();
    readers_.stop();
    db_lock_.release();  // every connection is closed
    db::clear_error_log(this);

    // Whatever still waits gets its answer now.
    std::map<uint64_t, client_call> calls;
    {
        std::lock_guard cl(client_mutex_);
        calls.swap(client_calls_);
    }
    metrics_.client_rpc_queue_depth.add(-static_cast<int64_t>(calls.size()));
    for (auto& [id, c] : calls) c.done(c.ctx, TERN_UNAVAILABLE, tern_str{});

    std::vector<std::pair<rpc_record, std::shared_ptr<rpc_waiter>>> waiting;
    {
        std::lock_guard rl(rpc_mutex_);
        for (auto& [key, w] : rpc_waiters_) {
            rpc_record r;
            r.device_id = key.first;
            r.id = key.second;
            auto d = rpcs_.find(key.first);
            if (d != rpcs_.end()) {
                auto it = d->second.find(key.second);
                if (it != d->second.end()) {
                    r.method = it->second.method;
                    r.status = it->second.status;
                    r.expiration_ts = it->second.expiration_ts;
                }
            }
            waiting.emplace_back(std::move(r), w);
        }
        rpc_waiters_.clear();
        rpcs_.clear();
    }
    for (auto& [r, w] : waiting) {
        result<rpc_record> res;
        res.value = std::move(r);
        w->cb(std::move(res));
    }
    {
        std::lock_guard sl(subs_mutex_);
        subs_.clear();
    }
    {
        std::lock_guard sl(sessions_mutex_);
        metrics_.sessions.add(-static_cast<int64_t>(session_count_));
        sessions_.clear();
        session_count_ = 0;
    }
    cache_clear();
    ota_cache_clear();
}

// ---- listener -------------------------------------------------------------------------

tern_status embedded_core::set_listener(core_listener_v1* listener) noexcept {
    listener_.store(listener);
    if (listener == nullptr) {
        // Callers bump the counter before loading the pointer, so once it reads zero no
        // call can still be using the old listener.
        while (listener_calls_.load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return TERN_OK;
}

bool embedded_core::subscribed(uint64_t device_id, uint32_t flag) {
    std::lock_guard lk(subs_mutex_);
    auto it = subs_.find(device_id);
    return it != subs_.end() && (it->second & flag) != 0;
}

void embedded_core::notify_attributes(uint64_t device_id, const std::vector<kv>& updated,
                                      const std::vector<std::string>& deleted) {
    if ((updated.empty() && deleted.empty()) || !subscribed(device_id, TERN_SUBSCRIBE_ATTRIBUTES))
        return;
    std::vector<tern_kv> u;
    u.reserve(updated.size());
    for (const kv& x : updated) u.push_back(tern_kv{to_str(x.key), x.v.view()});
    std::vector<tern_str> d;
    d.reserve(deleted.size());
    for (const std::string& k : deleted) d.push_back(to_str(k));
    with_listener([&](core_listener_v1& l) {
        l.on_attributes_updated(device_id, u.data(), static_cast<uint32_t>(u.size()), d.data(),
                                static_cast<uint32_t>(d.size()));
    });
}

void embedded_core::device_event(uint64_t device_id, int32_t event) {
    with_listener([&](core_listener_v1& l) { l.on_device_event(device_id, event); });
}

// ---- authentication cache ---------------------------------------------------------------

std::shared_ptr<const embedded_core::device_record> embedded_core::cache_find(const std::string& key) {
    std::lock_guard lk(cache_mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) return nullptr;
    cache_lru_.splice(cache_lru_.begin(), cache_lru_, it->second.lru);
    return it->second.rec;
}

void embedded_core::cache_insert(const std::string& key, std::shared_ptr<const device_record> rec,
                                 uint64_t epoch) {
    if (settings_.credential_cache_size == 0) return;
    std::lock_guard lk(cache_mutex_);
    // An invalidation since the read began may concern this very record: drop it.
    if (epoch != cache_epoch_) return;
    auto it = cache_.find(key);
    if (it != cache_.end()) {
        it->second.rec = std::move(rec);
        return;
    }
    cache_lru_.push_front(key);
    const uint64_t dev = rec->info.device_id;
    cache_.emplace(key, cache_entry{std::move(rec), cache_lru_.begin()});
    cache_by_device_.emplace(dev, key);
    while (cache_.size() > settings_.credential_cache_size) {
        const std::string& victim = cache_lru_.back();
        auto v = cache_.find(victim);
        const uint64_t vd = v->second.rec->info.device_id;
        auto range = cache_by_device_.equal_range(vd);
        for (auto r = range.first; r != range.second; ++r) {
            if (r->second == victim) {
                cache_by_device_.erase(r);
                break;
            }
        }
        cache_.erase(v);
        cache_lru_.pop_back();
    }
    metrics_.auth_cache_size.set(static_cast<int64_t>(cache_.size()));
}

void embedded_core::cache_forget_device(uint64_t device_id) {
    std::lock_guard lk(cache_mutex_);
    ++cache_epoch_;
    auto range = cache_by_device_.equal_range(device_id);
    for (auto r = range.first; r != range.second; ++r) {
        auto it = cache_.find(r->second);
        if (it != cache_.end()) {
            cache_lru_.erase(it->second.lru);
            cache_.erase(it);
        }
    }
    cache_by_device_.erase(range.first, range.second);
    metrics_.auth_cache_size.set(static_cast<int64_t>(cache_.size()));
}

void embedded_core::cache_clear() {
    std::lock_guard lk(cache_mutex_);
    ++cache_epoch_;
    cache_.clear();
    cache_by_device_.clear();
    cache_lru_.clear();
    metrics_.auth_cache_size.set(0);
}

void embedded_core::ota_cache_clear() {
    std::lock_guard lk(ota_mutex_);
    ++ota_epoch_;
    ota_cache_.clear();
}

void embedded_core::authenticate(tern_credential_kind kind, tern_str value,
                                 tern_core_device_fn done, void* ctx) noexcept {
    if (!running_) {
        done(ctx, TERN_UNAVAILABLE, nullptr);
        return;
    }
    if (value.size == 0) {
        done(ctx, TERN_NOT_FOUND, nullptr);
        return;
    }
    std::string key;
    uint64_t epoch = 0;
    try {
        key = cache_key(kind, to_sv(value));
        if (auto rec = cache_find(key)) {
            cache_hits_.fetch_add(1, std::memory_order_relaxed);
            metrics_.auth_cache_hits.inc();
            done(ctx, TERN_OK, &rec->info);
            return;
        }
        {
            std::lock_guard lk(cache_mutex_);
            epoch = cache_epoch_;
        }
    } catch (...) {
        done(ctx, TERN_INTERNAL, nullptr);
        return;
    }
    cache_misses_.fetch_add(1, std::memory_order_relaxed);
    metrics_.auth_cache_misses.inc();
    try {
        std::string id(to_sv(value));
        readers_.submit(
            [this, kind, id = std::move(id), key = std::move(key), epoch, done, ctx](db::connection& c) {
                std::shared_ptr<device_record> rec;
                try {
                    rec = load_record(c, kind, id);
                } catch (const std::exception& e) {
                    log_.error("authentication lookup failed: ", e.what());
                    done(ctx, TERN_UNAVAILABLE, nullptr);
                    return;
                }
                if (!rec) {
                    done(ctx, TERN_NOT_FOUND, nullptr);
                    return;
                }
                cache_insert(key, rec, epoch);
                done(ctx, TERN_OK, &rec->info);
            },
            [done, ctx](tern_status s) { done(ctx, s, nullptr); }, value.size);
    } catch (const std::bad_alloc&) {  // nothing was queued
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

// ---- telemetry and attributes --------------------------------------------------------------

void embedded_core::post_telemetry(uint64_t device_id, const tern_ts_record* records,
                                   uint32_t count, tern_core_done_fn done, void* ctx) noexcept {
    if (!running_) {
        done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
        return;
    }
    std::unique_ptr<telemetry_op> op;
    try {
        op = std::make_unique<telemetry_op>(device_id, done, ctx, metrics_);
        size_t n = 0, bytes = 0;
        const int64_t max_key = writer_.settings().max_key_length;
        std::string why;
        for (uint32_t r = 0; r < count; ++r) {
            n += records[r].count;
            for (uint32_t k = 0; k < records[r].count; ++k) {
                const tern_kv& kv = records[r].values[k];
                if (key_too_long(to_sv(kv.key), max_key, "telemetry key", why)) {
                    metrics_.key_length_refused.inc();
                    done(ctx, TERN_INVALID_ARGUMENT, to_str(why));
                    return;
                }
                bytes += kv.key.size;
                if (kv.value.type == TERN_VALUE_STR || kv.value.type == TERN_VALUE_JSON)
                    bytes += kv.value.u.s.size;
                else if (kv.value.type == TERN_VALUE_BYTES)
                    bytes += kv.value.u.bytes.size;
            }
        }
        if (bytes > 0xFFFFFFF0u) {
            done(ctx, TERN_INVALID_ARGUMENT, to_str("telemetry too large"));
            return;
        }
        op->reserve(n, bytes);
        op->bytes = sizeof(telemetry_op) + n * (sizeof(telemetry_op::item) + sizeof(std::string_view)) + bytes;
        for (uint32_t r = 0; r < count; ++r)
            for (uint32_t k = 0; k < records[r].count; ++k) op->add(records[r].ts, records[r].values[k]);
    } catch (...) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    if (op->size() == 0) {  // nothing to store ({} or only nulls): already "durable"
        done(ctx, TERN_OK, tern_str{});
        return;
    }
    submit(std::move(op));
}

void embedded_core::post_attributes(uint64_t device_id, tern_attribute_scope scope,
                                    const tern_kv* values, uint32_t count, tern_core_done_fn done,
                                    void* ctx) noexcept {
    if (!running_) {
        done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
        return;
    }
    if (scope != TERN_SCOPE_CLIENT && scope != TERN_SCOPE_SHARED && scope != TERN_SCOPE_SERVER) {
        done(ctx, TERN_INVALID_ARGUMENT, to_str("unknown attribute scope"));
        return;
    }
    auto vals = std::make_shared<std::vector<kv>>();
    uint64_t bytes = 0;
    try {
        std::string why;
        for (uint32_t i = 0; i < count; ++i) {
            if (key_too_long(to_sv(values[i].key), writer_.settings().max_key_length, "attribute key", why)) {
                metrics_.key_length_refused.inc();
                done(ctx, TERN_INVALID_ARGUMENT, to_str(why));
                return;
            }
        }
        vals->reserve(count);
        for (uint32_t i = 0; i < count; ++i) {
            if (values[i].value.type == TERN_VALUE_NULL) continue;
            vals->push_back(kv{std::string(to_sv(values[i].key)), value::from(values[i].value)});
            bytes += sizeof(kv) + vals->back().key.size() + vals->back().v.s.size();
        }
    } catch (...) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    if (vals->empty()) {
        done(ctx, TERN_OK, tern_str{});
        return;
    }
    std::unique_ptr<fn_op> op;
    try {
        op = std::make_unique<fn_op>(
            [this, device_id, scope, vals](write_txn& t, std::string& msg) -> tern_status {
                if (t.deleted(device_id)) {
                    msg = "the device was deleted";
                    return TERN_NOT_FOUND;
                }
                // max_attributes_per_device: refused before anything is written
                if (!store::attribute_keys_fit(t.conn(), device_id, scope, *vals,
                                               writer_.settings().max_attributes_per_device, msg)) {
                    metrics_.attribute_keys_refused.inc();
                    return TERN_INVALID_ARGUMENT;
                }
                for (const kv& x : *vals) store::upsert_attribute(t.conn(), device_id, scope, x.key, x.v, t.now());
                return TERN_OK;
            },
            [this, device_id, scope, vals, done, ctx](tern_status s, const std::string& msg) {
                if (s == TERN_OK && scope == TERN_SCOPE_SHARED) notify_attributes(device_id, *vals, {});
                done(ctx, s, to_str(msg));
            },
            /*isolated=*/false);
    } catch (const std::bad_alloc&) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    op->bytes = sizeof(fn_op) + bytes;
    submit(std::move(op));
}

void embedded_core::get_attributes(uint64_t device_id, const tern_key_filter* client,
                                   const tern_key_filter* shared, tern_core_attributes_fn done,
                                   void* ctx) noexcept {
    if (!running_) {
        done(ctx, TERN_UNAVAILABLE, nullptr, 0, nullptr, 0);
        return;
    }
    struct filter {
        tern_key_selection selection = TERN_KEYS_NONE;
        std::vector<std::string> keys;
    };
    auto copy = [](const tern_key_filter* f) {
        filter out;
        if (f == nullptr) return out;  // no filter: nothing of that scope
        out.selection = f->selection;
        if (f->selection == TERN_KEYS_LISTED)
            for (uint32_t i = 0; i < f->count; ++i) out.keys.emplace_back(to_sv(f->keys[i]));
        return out;
    };
    filter fc, fs_;
    try {
        fc = copy(client);
        fs_ = copy(shared);
    } catch (...) {
        done(ctx, TERN_INTERNAL, nullptr, 0, nullptr, 0);
        return;
    }
    try {
        readers_.submit(
            [device_id, fc = std::move(fc), fs_ = std::move(fs_), done, ctx](db::connection& c) {
                std::vector<attribute> ca, sa;
                try {
                    auto load = [&](const filter& f, tern_attribute_scope scope) {
                        if (f.selection == TERN_KEYS_ALL) return store::load_attributes(c, device_id, scope, nullptr);
                        if (f.selection == TERN_KEYS_LISTED) return store::load_attributes(c, device_id, scope, &f.keys);
                        return std::vector<attribute>{};
                    };
                    ca = load(fc, TERN_SCOPE_CLIENT);
                    sa = load(fs_, TERN_SCOPE_SHARED);
                } catch (const std::exception&) {
                    done(ctx, TERN_UNAVAILABLE, nullptr, 0, nullptr, 0);
                    return;
                }
                std::vector<tern_kv> ck, sk;
                ck.reserve(ca.size());
                sk.reserve(sa.size());
                for (const attribute& a : ca) ck.push_back(tern_kv{to_str(a.key), a.v.view()});
                for (const attribute& a : sa) sk.push_back(tern_kv{to_str(a.key), a.v.view()});
                done(ctx, TERN_OK, ck.data(), static_cast<uint32_t>(ck.size()), sk.data(),
                     static_cast<uint32_t>(sk.size()));
            },
            [done, ctx](tern_status s) { done(ctx, s, nullptr, 0, nullptr, 0); });
    } catch (const std::bad_alloc&) {  // nothing was queued
        done(ctx, TERN_INTERNAL, nullptr, 0, nullptr, 0);
    }
}

// ---- subscriptions and sessions --------------------------------------------------------------

void embedded_core::subscribe(uint64_t device_id, uint32_t flags) noexcept {
    if (!running_ || flags == 0) return;
    try {
        {
            std::lock_guard lk(subs_mutex_);
            subs_[device_id] |= flags;
        }
        // Pending RPCs go out from the timer thread, never inside the subscriber's call.
        if (flags & TERN_SUBSCRIBE_RPC) timers_.post([this, device_id] { dispatch_rpcs(device_id, true); });
    } catch (...) {
        log_.error("subscribe failed: out of memory");
    }
}

void embedded_core::unsubscribe(uint64_t device_id, uint32_t flags) noexcept {
    std::lock_guard lk(subs_mutex_);
    auto it = subs_.find(device_id);
    if (it == subs_.end()) return;
    it->second &= ~flags;
    if (it->second == 0) subs_.erase(it);
}

void embedded_core::session_event(uint64_t device_id, tern_session_event event,
                                  tern_str transport, tern_str address) noexcept {
    if (!running_) return;
    try {
        const int64_t now = now_ms();
        std::lock_guard lk(sessions_mutex_);
        device_sessions& ds = sessions_[device_id];
        const std::string_view tr = to_sv(transport), ad = to_sv(address);
        auto find = [&] {
            for (auto it = ds.open.begin(); it != ds.open.end(); ++it)
                if (it->transport == tr && it->address == ad) return it;
            return ds.open.end();
        };
        switch (event) {
            case TERN_SESSION_OPEN: {
                auto it = find();
                if (it == ds.open.end()) {
                    session_info s;
                    s.device_id = device_id;
                    s.transport = tr;
                    s.address = ad;
                    s.opened_ts = now;
                    s.last_activity_ts = now;
                    ds.open.push_back(std::move(s));
                    ++session_count_;
                    metrics_.sessions.add(1);
                } else {
                    it->last_activity_ts = now;
                }
                ds.pending.push_back(kv{"lastConnectTime", value::of_int(now)});
                break;
            }
            case TERN_SESSION_CLOSE: {
                auto it = find();
                if (it != ds.open.end()) {
                    ds.open.erase(it);
                    --session_count_;
                    metrics_.sessions.add(-1);
                }
                ds.pending.push_back(kv{"lastDisconnectTime", value::of_int(now)});
                break;
            }
            case TERN_SESSION_ACTIVITY: {
                auto it = find();
                if (it != ds.open.end()) it->last_activity_ts = now;
                ds.last_activity_ts = now;
                ds.dirty = true;
                break;
            }
            default: break;
        }
    } catch (...) {
        log_.error("session_event failed: out of memory");
    }
}

// Writes lastActivityTime (and connect/disconnect times) of every device that had traffic
// since the last flush in one op: at most one write per device per interval, whatever
// the message rate.
void embedded_core::flush_activity() {
    struct item {
        uint64_t device;
        std::vector<kv> values;
    };
    auto items = std::make_shared<std::vector<item>>();
    {
        std::lock_guard lk(sessions_mutex_);
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            device_sessions& ds = it->second;
            if (ds.dirty || !ds.pending.empty()) {
                item x{it->first, std::move(ds.pending)};
                ds.pending.clear();
                if (ds.dirty) x.values.push_back(kv{"lastActivityTime", value::of_int(ds.last_activity_ts)});
                ds.dirty = false;
                items->push_back(std::move(x));
            }
            if (ds.open.empty() && !ds.dirty && ds.pending.empty()) it = sessions_.erase(it);
            else ++it;
        }
        if (running_ && settings_.activity_flush_interval_ms > 0)
            activity_timer_ = timers_.schedule(settings_.activity_flush_interval_ms, [this] { flush_activity(); });
    }
    if (items->empty()) return;
    submit(
        [items](write_txn& t, std::string&) -> tern_status {
            for (const item& x : *items) {
                if (t.deleted(x.device)) continue;
                for (const kv& v : x.values)
                    store::upsert_attribute(t.conn(), x.device, TERN_SCOPE_SERVER, v.key, v.v, t.now());
            }
            return TERN_OK;
        },
        [this](tern_status s, const std::string& msg) {
            if (s != TERN_OK) log_.warn("activity times not stored: ", msg);
        });
}

void embedded_core::list_sessions(callback<std::vector<session_info>> cb) {
    auto list = std::make_shared<std::vector<session_info>>();
    {
        std::lock_guard lk(sessions_mutex_);
        for (const auto& [id, ds] : sessions_)
            for (const session_info& s : ds.open) list->push_back(s);
    }
    read<std::vector<session_info>>(
        [list, cb](db::connection& c) {
            result<std::vector<session_info>> r;
            try {
                for (session_info& s : *list) {
                    auto q = c.query("SELECT name FROM devices WHERE id = ?");
                    q->bind_id(1, s.device_id);
                    if (q->step()) s.device_name = q->get_string(0);
                }
                std::sort(list->begin(), list->end(), [](const session_info& a, const session_info& b) {
                    return a.device_name != b.device_name ? a.device_name < b.device_name
                                                          : a.opened_ts < b.opened_ts;
                });
                r.value = std::move(*list);
            } catch (const std::exception& e) {
                r.status = TERN_IO;
                r.message = e.what();
            }
            cb(std::move(r));
        },
        cb);
}

core_stats embedded_core::stats() {
    core_stats s;
    s.writer = writer_.stats();
    {
        std::lock_guard lk(cache_mutex_);
        s.auth_cache_entries = cache_.size();
    }
    s.auth_cache_hits = cache_hits_.load();
    s.auth_cache_misses = cache_misses_.load();
    {
        std::lock_guard lk(sessions_mutex_);
        s.sessions = session_count_;
    }
    {
        std::lock_guard lk(rpc_mutex_);
        for (const auto& [d, m] : rpcs_) s.pending_rpcs += m.size();
    }
    {
        std::lock_guard lk(client_mutex_);
        s.client_rpc_queue = client_calls_.size();
    }
    s.purge_devices = purge_devices_.load();
    s.purged_points = purged_points_.load();
    return s;
}

void embedded_core::flush(std::function<void()> cb) {
    auto shared = std::make_shared<std::function<void()>>(std::move(cb));
    submit([](write_txn&, std::string&) -> tern_status { return TERN_OK; },
           [shared](tern_status, const std::string&) { (*shared)(); });
}

}  // namespace tern::core_embedded

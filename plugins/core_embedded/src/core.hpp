// The embedded core: core_v1 over SQLite, plus the operations the admin API offers.
//
// Threads: one writer (group commit, writer.hpp), a few readers (reader.hpp), one timer
// thread (timers.hpp). Every completion runs exactly once, on one of those threads or
// synchronously on the caller's (cache hits, refusals), and never under a lock of ours.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics.hpp"
#include "model.hpp"
#include "reader.hpp"
#include "tern/abi/core.h"
#include "tern/sdk/host.hpp"
#include "timers.hpp"
#include "checkpointer.hpp"
#include "writer.hpp"

namespace tern::core_embedded {

struct core_settings {
    std::string database = "var/tern.db";
    std::string sync = "full";  // full | normal
    writer_settings writer;
    int64_t checkpoint_interval_ms = 200;  // 0: SQLite's automatic checkpoints in the commit
    int64_t wal_limit_pages = 65536;
    unsigned read_threads = 2;
    size_t read_queue_capacity = 4096;
    uint64_t read_queue_bytes = 64ull << 20;  // request text held by waiting reads (provisioning)
    size_t credential_cache_size = 100000;
    int64_t claim_duration_ms = 86400000;
    bool claim_allowed_by_default = true;
    bool client_rpc_builtin = true;
    bool client_rpc_queue = true;
    size_t client_rpc_queue_capacity = 1000;
    int64_t client_rpc_default_timeout_ms = 10000;
    int64_t rpc_default_timeout_ms = 10000;
    int32_t rpc_max_retries = 3;
    int64_t activity_flush_interval_ms = 5000;
    uint64_t max_ota_size = 268435456;
    bool quick_check = false;  // PRAGMA quick_check at start; a damaged database refuses to start
};

// The outcome of an admin operation: a status, a message when it failed, and a value.
template <class T>
struct result {
    tern_status status = TERN_OK;
    std::string message;
    T value{};
    bool ok() const noexcept { return status == TERN_OK; }
};
struct none {};
template <class T>
using callback = std::function<void(result<T>)>;

struct attribute_set {
    std::vector<attribute> client, shared, server;
};

struct ota_upload {
    tern_ota_type type = TERN_OTA_FIRMWARE;
    std::string title;
    std::string version;
    std::string tag;
    std::string checksum_algorithm = "SHA256";
    std::string checksum;  // expected; empty: not checked
    std::string url;       // URL-only package when there is no file
    std::string file_name;
    std::string content_type;
    std::string temp_path;  // the uploaded bytes; moved into the OTA folder
};

// Where an OTA package is assigned.
struct ota_target {
    std::string device;   // device name, or
    std::string profile;  // profile name
};

struct rpc_request_spec {
    std::string device;
    std::string method;
    std::string params;  // JSON text; empty: null
    bool oneway = false;
    bool persistent = false;
    int64_t timeout_ms = 0;  // expiration = now + timeout (<= 0: rpc_default_timeout)
    bool wait = true;        // answer once final or expired (non-persistent requests)
};

struct client_rpc_config {
    bool builtin = true;
    bool queue = true;
};

struct core_stats {
    writer_stats writer;
    size_t auth_cache_entries = 0;
    uint64_t auth_cache_hits = 0;
    uint64_t auth_cache_misses = 0;
    size_t sessions = 0;
    size_t pending_rpcs = 0;
    size_t client_rpc_queue = 0;
    uint64_t purge_devices = 0;  // deleted devices whose history is still being removed
    uint64_t purged_points = 0;  // history points of deleted devices removed since start
};

class embedded_core final : public tern::core_v1 {
public:
    embedded_core(core_metrics& metrics, sdk::logger log);
    ~embedded_core();
    embedded_core(const embedded_core&) = delete;
    embedded_core& operator=(const embedded_core&) = delete;

    // Opens (creating) the database, migrates, starts the threads. Throws sdk::error.
    void start(const core_settings& s);
    // Completes everything pending (client RPCs and RPC waits get their current state),
    // commits what is queued and joins the threads. Idempotent.
    void stop();
    bool running() const noexcept { return running_.load(); }
    const core_settings& settings() const noexcept { return settings_; }

    // ---- core_v1 --------------------------------------------------------------------
    tern_status set_listener(core_listener_v1* listener) noexcept override;
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done,
                      void* ctx) noexcept override;
    void post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                        tern_core_done_fn done, void* ctx) noexcept override;
    void post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                         uint32_t count, tern_core_done_fn done, void* ctx) noexcept override;
    void get_attributes(uint64_t device_id, const tern_key_filter* client,
                        const tern_key_filter* shared, tern_core_attributes_fn done,
                        void* ctx) noexcept override;
    void subscribe(uint64_t device_id, uint32_t flags) noexcept override;
    void unsubscribe(uint64_t device_id, uint32_t flags) noexcept override;
    void session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                       tern_str address) noexcept override;
    void rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                    tern_str error) noexcept override;
    void rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                   void* ctx) noexcept override;
    void resend_pending_rpcs(uint64_t device_id) noexcept override;
    void client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                    tern_core_text_fn done, void* ctx) noexcept override;
    void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
               tern_core_done_fn done, void* ctx) noexcept override;
    void provision(const tern_provision_request* request, tern_core_provision_fn done,
                   void* ctx) noexcept override;
    void ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                     void* ctx) noexcept override;

    // ---- admin operations (callbacks run once, on any thread) ---------------------------
    void create_profile(profile_spec spec, callback<profile> cb);
    void update_profile(profile_spec spec, callback<profile> cb);
    void delete_profile(std::string name, callback<none> cb);
    void get_profile(std::string name, callback<profile> cb);
    void list_profiles(callback<std::vector<profile>> cb);

    // Without credentials a device gets a generated access token (as ThingsBoard does).
    void create_device(device_spec spec, callback<device> cb);
    void update_device(device_spec spec, callback<device> cb);
    void delete_device(std::string name, callback<none> cb);
    void get_device(std::string name, callback<device> cb);
    void list_devices(std::string profile, int64_t limit, int64_t offset,
                      callback<std::vector<device>> cb);

    // scope: TERN_SCOPE_SHARED or TERN_SCOPE_SERVER (CLIENT too, for completeness).
    void set_attributes(std::string device, tern_attribute_scope scope, std::vector<kv> values,
                        callback<none> cb);
    void delete_attributes(std::string device, tern_attribute_scope scope,
                           std::vector<std::string> keys, callback<none> cb);
    // scopes: bit (1 << scope) for each wanted scope; keys empty: all.
    void read_attributes(std::string device, uint32_t scopes, std::vector<std::string> keys,
                         callback<attribute_set> cb);

    void latest_telemetry(std::string device, std::vector<std::string> keys,
                          callback<std::vector<ts_latest>> cb);
    // Points with start_ts <= ts <= end_ts, newest first when desc, at most limit per key.
    void telemetry_range(std::string device, std::vector<std::string> keys, int64_t start_ts,
                         int64_t end_ts, int64_t limit, bool desc,
                         callback<std::map<std::string, std::vector<ts_point>>> cb);

    // The callback gets the record when queued (persistent, or wait == false) or when it
    // reached a final state or its expiration (wait == true).
    void send_rpc(rpc_request_spec spec, callback<rpc_record> cb);
    void get_rpc(std::string device, int64_t id, callback<rpc_record> cb);
    void list_rpcs(std::string device, int64_t limit, callback<std::vector<rpc_record>> cb);

    // Waiting client-side RPCs, oldest first, with device names.
    void list_client_rpcs(callback<std::vector<client_rpc_entry>> cb);
    // TERN_NOT_FOUND when the call is unknown or already answered / timed out.
    tern_status reply_client_rpc(uint64_t id, std::string_view json);
    client_rpc_config get_client_rpc_config();
    void set_client_rpc_config(client_rpc_config c);

    // Completes a claim (spec §5.1): TERN_NOT_FOUND no claim registered, TERN_TIMEOUT
    // expired, TERN_PERMISSION wrong secret, TERN_EXISTS already claimed.
    void complete_claim(std::string name, std::string secret_key, std::string owner,
                        callback<device> cb);
    void remove_claim(std::string device, callback<none> cb);

    void create_ota_package(ota_upload upload, callback<ota_package_row> cb);
    void delete_ota_package(uint64_t id, callback<none> cb);
    void get_ota_package(uint64_t id, callback<ota_package_row> cb);
    void list_ota_packages(callback<std::vector<ota_package_row>> cb);
    // package_id 0 unassigns.
    void assign_ota_package(ota_target target, tern_ota_type type, uint64_t package_id,
                            callback<none> cb);

    void list_sessions(callback<std::vector<session_info>> cb);
    core_stats stats();
    // Where OTA files live: <dir of database>/ota
    std::string ota_dir() const;

    // Runs cb after everything submitted before it is committed (tests, benchmarks).
    void flush(std::function<void()> cb);

    struct device_record;  // a resolved tern_device_info with its owned text

private:
    friend class core_test_access;

    // listener calls, safe against set_listener(nullptr)
    template <class F>
    void with_listener(F&& f) {
        listener_calls_.fetch_add(1);
        if (core_listener_v1* l = listener_.load()) f(*l);
        listener_calls_.fetch_sub(1);
    }
    void notify_attributes(uint64_t device_id, const std::vector<kv>& updated,
                           const std::vector<std::string>& deleted);
    void device_event(uint64_t device_id, int32_t event);
    bool subscribed(uint64_t device_id, uint32_t flag);

    // auth cache
    std::shared_ptr<const device_record> cache_find(const std::string& key);
    void cache_insert(const std::string& key, std::shared_ptr<const device_record> rec,
                      uint64_t epoch);
    void cache_forget_device(uint64_t device_id);
    void cache_clear();
    void ota_cache_clear();

    // writes
    bool submit(std::unique_ptr<write_op> op) { return writer_.submit(std::move(op)); }
    bool submit(fn_op::apply_fn a, fn_op::finish_fn f) {
        return writer_.submit(std::move(a), std::move(f));
    }
    template <class T>
    bool read(std::function<void(db::connection&)> fn, const callback<T>& cb) {
        return readers_.submit(std::move(fn), [cb](tern_status s) {
            result<T> r;
            r.status = s;
            r.message = s == TERN_BUSY ? "the store's read queue is full" : "the store is not running";
            cb(std::move(r));
        });
    }

    // RPC internals (core_rpc.cpp)
    struct rpc_live {
        int64_t id = 0;
        std::string method, params;
        uint32_t flags = 0;
        tern_rpc_status status = TERN_RPC_QUEUED;
        int64_t created_ts = 0;
        int64_t expiration_ts = 0;
        bool dispatched = false;
        int32_t retries = 0;
        uint64_t expiry_timer = 0;
    };
    struct rpc_waiter {
        callback<rpc_record> cb;
    };
    // Closes what cannot go on after a restart and returns the persistent RPCs to track
    // (tracked once the writer runs, so their expiry can be stored).
    std::vector<std::pair<uint64_t, rpc_live>> load_open_rpcs(db::connection& c);
    void rpc_track(uint64_t device_id, rpc_live live);
    void dispatch_rpcs(uint64_t device_id, bool resend);
    void rpc_transition(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                        std::string result, std::string error, tern_core_done_fn done, void* ctx);
    void rpc_expire(uint64_t device_id, int64_t rpc_id);
    void rpc_settled(rpc_record rec);
    void rpc_persist(const rpc_record& rec, std::function<void(tern_status, const std::string&)> then);
    void rpc_count(tern_rpc_status s) {
        if (s >= 0 && s < 7) metrics_.rpc_by_status[s].inc();
    }

    // client RPC internals
    struct client_call {
        client_rpc_entry entry;
        tern_core_text_fn done = nullptr;
        void* ctx = nullptr;
        uint64_t timer = 0;
    };
    bool builtin_client_rpc(uint64_t device_id, std::string_view method, std::string_view params,
                            tern_core_text_fn done, void* ctx);
    void client_rpc_timeout(uint64_t id);

    // History of deleted devices (ts_purge): one bounded step per write op, each riding in
    // an ordinary batch, until none is left.
    void purge_history();

    // start-up
    void open_private();
    void check_integrity(db::connection& w);

    // activity
    void flush_activity();

    core_metrics& metrics_;
    sdk::logger log_;
    core_settings settings_;
    std::atomic<bool> running_{false};
    std::mutex lifecycle_;

    db::file_lock db_lock_;  // <database>.lock: one process per database
    writer writer_;
    checkpointer checkpointer_;
    reader_pool readers_;
    timer_service timers_;

    std::atomic<core_listener_v1*> listener_{nullptr};
    std::atomic<int64_t> listener_calls_{0};

    // auth cache: (kind, value) -> device record, LRU-bounded
    struct cache_entry {
        std::shared_ptr<const device_record> rec;
        std::list<std::string>::iterator lru;
    };
    std::mutex cache_mutex_;
    std::unordered_map<std::string, cache_entry> cache_;
    std::unordered_multimap<uint64_t, std::string> cache_by_device_;
    std::list<std::string> cache_lru_;  // front: most recently used
    uint64_t cache_epoch_ = 0;
    std::atomic<uint64_t> cache_hits_{0}, cache_misses_{0};

    std::mutex subs_mutex_;
    std::unordered_map<uint64_t, uint32_t> subs_;

    std::mutex rpc_mutex_;
    std::unordered_map<uint64_t, std::map<int64_t, rpc_live>> rpcs_;
    std::multimap<std::pair<uint64_t, int64_t>, std::shared_ptr<rpc_waiter>> rpc_waiters_;

    std::mutex client_mutex_;
    std::map<uint64_t, client_call> client_calls_;
    uint64_t next_client_call_ = 1;
    client_rpc_config client_config_;

    std::mutex ota_mutex_;
    std::map<std::pair<uint64_t, tern_ota_type>, std::shared_ptr<const ota_package_row>> ota_cache_;
    uint64_t ota_epoch_ = 0;

    struct device_sessions {
        std::vector<session_info> open;
        int64_t last_activity_ts = 0;
        bool dirty = false;  // lastActivityTime not yet written
        std::vector<kv> pending;  // lastConnectTime / lastDisconnectTime to write
    };
    std::mutex sessions_mutex_;
    std::unordered_map<uint64_t, device_sessions> sessions_;
    size_t session_count_ = 0;
    uint64_t activity_timer_ = 0;

    std::atomic<bool> purging_{false}, purge_again_{false};
    std::atomic<uint64_t> purge_devices_{0}, purged_points_{0};
};

}  // namespace tern::core_embedded

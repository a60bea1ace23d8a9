// The single writer: one thread owns the write connection and commits many callers' ops
// in one transaction (group commit). An op's finish() runs only after COMMIT returned,
// so "done" means durable. What the ops write is theirs; the writer keeps only what every
// op of a batch must agree on: the telemetry key dictionary and each device's key ids
// (write_txn::ts_key, admit_ts_keys), the revision counter and the devices deleted since
// start (write_txn::deleted).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "db.hpp"
#include "metrics.hpp"
#include "service_thread.hpp"
#include "tern/abi/status.h"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

class write_txn;

class write_op {
public:
    virtual ~write_op() = default;
    // Runs the op's statements in the open transaction. A non-OK return is a refusal
    // (message in `message`); isolated ops are then rolled back to their savepoint.
    // May run more than once (the batch is retried op by op after a failure), so it
    // must compute everything afresh. Throws db::error on database trouble.
    virtual tern_status apply(write_txn& t) = 0;
    // Once, after COMMIT (or with the failure). Runs on the writer thread, or on the
    // submitting thread when the op is refused at the door.
    virtual void finish(tern_status status) noexcept = 0;
    // Isolated ops run inside a savepoint, so a refusal or an error undoes only them.
    // Hot-path ops (telemetry) skip the savepoint: their only failure is the database's.
    virtual bool isolated() const noexcept { return true; }

    std::string message;  // why apply() refused or failed
    int64_t enqueued_ns = 0;
    // What the op holds in memory until it is finished (its payload, roughly): counted
    // against writer_settings::queue_bytes from submit() to finish(). Set before submit().
    uint64_t bytes = 0;
};

// An op made of two functions (admin operations, where an allocation does not matter).
class fn_op final : public write_op {
public:
    using apply_fn = std::function<tern_status(write_txn&, std::string& message)>;
    using finish_fn = std::function<void(tern_status, const std::string& message)>;
    fn_op(apply_fn a, finish_fn f, bool isolated = true)
        : apply_(std::move(a)), finish_(std::move(f)), isolated_(isolated) {}
    tern_status apply(write_txn& t) override { return apply_(t, message); }
    void finish(tern_status s) noexcept override {
        if (finish_) finish_(s, message);
    }
    bool isolated() const noexcept override { return isolated_; }

private:
    apply_fn apply_;
    finish_fn finish_;
    bool isolated_;
};

struct writer_settings {
    uint32_t max_batch = 4096;
    int64_t max_delay_us = 2000;
    uint32_t queue_capacity = 65536;
    // Bytes of ops submitted and not yet finished (queued or in the batch being committed);
    // past it ops are refused with TERN_BUSY. An op alone may exceed it when nothing waits.
    uint64_t queue_bytes = 64ull << 20;
    // Telemetry keys: the longest name in characters (code points), the most distinct keys one
    // device may have (ts_latest rows), the most names in the dictionary (ts_keys). 0: no limit.
    int64_t max_key_length = 255;
    int64_t max_keys_per_device = 1000;
    int64_t max_keys = 1000000;
    // Client attribute keys one device may have (checked by the attribute op). 0: no limit.
    int64_t max_attributes_per_device = 1000;
    // Devices' key sets cached for the per-device check, in key ids; past it the cache is
    // dropped and refilled from ts_latest as devices post.
    uint64_t device_key_cache = 4u << 20;
};


struct writer_stats {
    uint64_t commits = 0;
    uint64_t ops = 0;
    uint64_t max_batch = 0;
    uint64_t rejected = 0;
    uint64_t rejected_bytes = 0;  // of those, refused by the byte budget
    uint64_t cpu_ns = 0;  // CPU time the writer thread has used
    uint64_t queued_bytes = 0;  // bytes of ops submitted and not yet finished
    uint64_t ts_keys = 0;       // telemetry key names in the dictionary
};

class writer {
public:
    writer(core_metrics& m, sdk::logger log) : metrics_(m), log_(log) {}
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void start(db::connection conn, writer_settings s);
    // Finishes every queued op (committing them), then joins the thread.
    void stop();

    // Queues an op. When the queue is full or the writer is stopped, finish() runs at
    // once on this thread with TERN_BUSY / TERN_UNAVAILABLE. Returns whether it was queued.
    bool submit(std::unique_ptr<write_op> op);
    // Convenience for fn_op.
    bool submit(fn_op::apply_fn a, fn_op::finish_fn f) {
        return submit(std::make_unique<fn_op>(std::move(a), std::move(f)));
    }

    writer_stats stats() const;
    // The per-device telemetry key cache (device_keys_) as of the last commit: devices, key
    // ids held, buckets. Any thread.
    struct key_cache_figures {
        uint64_t devices = 0, ids = 0, buckets = 0;
    };
    key_cache_figures key_cache() const noexcept {
        return {dk_devices_.load(std::memory_order_relaxed), dk_ids_.load(std::memory_order_relaxed),
                dk_buckets_.load(std::memory_order_relaxed)};
    }
    const writer_settings& settings() const noexcept { return settings_; }

private:
    friend class write_txn;
    void run();
    void commit_batch(std::vector<std::unique_ptr<write_op>>& batch);
    bool apply_batch(std::vector<std::unique_ptr<write_op>>& batch, std::vector<tern_status>& st,
                     bool force_isolated, std::string& failure);

    writer_settings settings_;
    core_metrics& metrics_;
    sdk::logger log_;
    db::connection conn_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<write_op>> queue_;
    uint64_t queued_bytes_ = 0;  // of ops submitted and not yet finished
    service_thread thread_;

    std::atomic<uint64_t> commits_{0}, ops_{0}, max_batch_seen_{0}, rejected_{0}, rejected_bytes_{0}, cpu_ns_{0};
    std::atomic<uint64_t> ts_key_count_{0};
    std::atomic<uint64_t> dk_devices_{0}, dk_ids_{0}, dk_buckets_{0};  // key_cache()

    // Writer-thread state shared by ops, with undo on rollback.
    struct sv_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, int64_t, sv_hash, std::equal_to<>> ts_keys_;
    // device -> its telemetry key ids, sorted (ts_latest's rows), for the devices that posted
    // since the cache was last dropped; device_keys_ids_ counts the ids held.
    std::unordered_map<uint64_t, std::vector<int64_t>> device_keys_;
    uint64_t device_keys_ids_ = 0;
    bool dictionary_full_logged_ = false;
    std::vector<int64_t>& device_keys(uint64_t device_id);
    std::vector<std::string_view> fresh_names_;  // admit_ts_keys' scratch
    std::vector<int64_t> fresh_ids_;
    std::unordered_set<uint64_t> deleted_devices_;
    std::vector<std::function<void()>> op_undo_, txn_undo_;
};

// What an op sees while it runs: the connection and writer-side helpers.
class write_txn {
public:
    explicit write_txn(writer& w, int64_t now) : w_(w), now_(now) {}
    db::connection& conn() noexcept { return w_.conn_; }
    db::use query(const char* sql) { return w_.conn_.query(sql); }
    // ms since the epoch when the batch started (one clock reading per batch)
    int64_t now() const noexcept { return now_; }
    // The id of a telemetry key, inserted when new.
    int64_t ts_key(std::string_view name);
    // Whether a device may store values under these key names (repeats allowed) without
    // passing max_keys_per_device or max_keys; TERN_OK, or a refusal with message set
    // (TERN_INVALID_ARGUMENT: the device's own limit; TERN_BUSY: the dictionary is full).
    // Reads nothing but the device's key ids (cached); writes nothing.
    tern_status admit_ts_keys(uint64_t device_id, const std::vector<std::string_view>& names, std::string& message);
    // Records that the device has the key (after its value was written), undone on rollback.
    void device_has_ts_key(uint64_t device_id, int64_t key_id);
    // A fresh value of the global revision counter (device, profile, credential changes).
    uint64_t next_revision();
    // Devices deleted since start: ops for them are refused (ids are never reused).
    bool deleted(uint64_t device_id) const { return w_.deleted_devices_.count(device_id) != 0; }
    void mark_deleted(uint64_t device_id);
    // Runs when this op's changes are rolled back (keeps writer-side caches true).
    void on_undo(std::function<void()> f) { w_.op_undo_.push_back(std::move(f)); }

private:
    writer& w_;
    int64_t now_;
};

}  // namespace tern::core_embedded

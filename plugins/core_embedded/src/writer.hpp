// The single writer: one thread owns the write connection and commits many callers' ops
// in one transaction (group commit). An op's finish() runs only after COMMIT returned,
// so "done" means durable. Nothing here knows what the ops write.
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
};

struct writer_stats {
    uint64_t commits = 0;
    uint64_t ops = 0;
    uint64_t max_batch = 0;
    uint64_t rejected = 0;
    uint64_t cpu_ns = 0;  // CPU time the writer thread has used
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
    size_t queue_depth() const;

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
    bool running_ = false;
    bool stopping_ = false;
    std::thread thread_;

    std::atomic<uint64_t> commits_{0}, ops_{0}, max_batch_seen_{0}, rejected_{0}, cpu_ns_{0};

    // Writer-thread state shared by ops, with undo on rollback.
    struct sv_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, int64_t, sv_hash, std::equal_to<>> ts_keys_;
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

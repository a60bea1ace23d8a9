#include "writer.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <exception>

#include "model.hpp"

namespace tern::core_embedded {

namespace {
int64_t mono_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

writer::~writer() { stop(); }

void writer::start(db::connection conn, writer_settings s) {
    settings_ = s;
    if (settings_.max_batch == 0) settings_.max_batch = 1;
    if (settings_.queue_capacity == 0) settings_.queue_capacity = 1;
    conn_ = std::move(conn);
    ts_keys_.clear();
    device_keys_.clear();
    device_keys_ids_ = 0;
    dictionary_full_logged_ = false;
    deleted_devices_.clear();
    // Load the telemetry key dictionary once; new keys are added as ops insert them. It is
    // bounded by max_keys (names of at most max_key_length characters), so this map is too.
    {
        auto q = conn_.query("SELECT id, name FROM ts_keys");
        while (q->step()) ts_keys_.emplace(q->get_string(1), q->get_int(0));
    }
    ts_key_count_ = ts_keys_.size();
    metrics_.telemetry_keys.set(static_cast<int64_t>(ts_keys_.size()));
    if (settings_.max_keys > 0 && ts_keys_.size() > static_cast<uint64_t>(settings_.max_keys))
        log_.warn("the telemetry key dictionary holds ", ts_keys_.size(), " names, more than max_telemetry_keys (",
                  settings_.max_keys, "): values under new key names are refused");
    std::lock_guard lk(mutex_);
    thread_.start([this] { run(); });
}

void writer::stop() {
    thread_.stop(mutex_, cv_, [this] { conn_ = db::connection{}; });
}

bool writer::submit(std::unique_ptr<write_op> op) {
    tern_status refused = TERN_OK;
    bool by_bytes = false;
    uint64_t held = 0;
    {
        std::lock_guard lk(mutex_);
        if (!thread_.accepting()) {
            refused = TERN_UNAVAILABLE;
        } else if (queue_.size() >= settings_.queue_capacity) {
            refused = TERN_BUSY;
        } else if (queued_bytes_ != 0 && queued_bytes_ + op->bytes > settings_.queue_bytes) {
            refused = TERN_BUSY;
            by_bytes = true;
            held = queued_bytes_;
        } else {
            op->enqueued_ns = mono_ns();
            const bool was_empty = queue_.empty();
            try {
                queue_.push_back(std::move(op));
            } catch (const std::bad_alloc&) {
                refused = TERN_INTERNAL;  // op is still ours: it is finished below
            }
            // Wake the writer only when it may be waiting for its first op or for a
            // full batch: one wake-up per batch, not per op.
            if (refused == TERN_OK) {
                queued_bytes_ += queue_.back()->bytes;
                metrics_.write_queue_bytes.set(static_cast<int64_t>(queued_bytes_));
            }
            if (refused == TERN_OK && (was_empty || queue_.size() == settings_.max_batch)) cv_.notify_one();
        }
    }
    if (refused == TERN_OK) {
        metrics_.write_queue_depth.add(1);
        return true;
    }
    if (refused == TERN_BUSY && by_bytes) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        rejected_bytes_.fetch_add(1, std::memory_order_relaxed);
        metrics_.write_rejected_bytes.inc();
        op->message = "the store's write queue is full (" + std::to_string(held) + " bytes waiting, write_queue_max_bytes " +
                      std::to_string(settings_.queue_bytes) + ")";
    } else if (refused == TERN_BUSY) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        metrics_.write_rejected.inc();
        op->message = "the store's write queue is full";
    } else if (refused == TERN_INTERNAL) {
        op->message = "out of memory";
    } else {
        op->message = "the store is not running";
    }
    op->finish(refused);
    return false;
}

writer_stats writer::stats() const {
    writer_stats s;
    s.commits = commits_.load();
    s.ops = ops_.load();
    s.max_batch = max_batch_seen_.load();
    s.rejected = rejected_.load();
    s.rejected_bytes = rejected_bytes_.load();
    s.cpu_ns = cpu_ns_.load();
    s.ts_keys = ts_key_count_.load();
    std::lock_guard lk(mutex_);
    s.queued_bytes = queued_bytes_;
    return s;
}

void writer::run() {
    std::vector<std::unique_ptr<write_op>> batch;
    batch.reserve(settings_.max_batch);
    for (;;) {
        {
            std::unique_lock lk(mutex_);
            cv_.wait(lk, [&] { return !queue_.empty() || thread_.stopping(); });
            if (queue_.empty()) break;  // stopping, and everything is committed
            // Wait for company at most max_delay after the oldest op arrived, unless the
            // batch is already full: amortises one fsync over many callers.
            if (settings_.max_delay_us > 0 && !thread_.stopping()) {
                const auto deadline = std::chrono::steady_clock::time_point(
                    std::chrono::nanoseconds(queue_.front()->enqueued_ns +
                                             settings_.max_delay_us * 1000));
                cv_.wait_until(lk, deadline, [&] {
                    return queue_.size() >= settings_.max_batch || thread_.stopping();
                });
            }
            const size_t n = std::min<size_t>(queue_.size(), settings_.max_batch);
            for (size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        metrics_.write_queue_depth.add(-static_cast<int64_t>(batch.size()));
        uint64_t bytes = 0;
        for (const auto& op : batch) bytes += op->bytes;
        commit_batch(batch);  // the ops are finished: their bytes are free
        batch.clear();
        dk_devices_.store(device_keys_.size(), std::memory_order_relaxed);
        dk_ids_.store(device_keys_ids_, std::memory_order_relaxed);
        dk_buckets_.store(device_keys_.bucket_count(), std::memory_order_relaxed);
        {
            std::lock_guard lk(mutex_);
            queued_bytes_ -= bytes;
            metrics_.write_queue_bytes.set(static_cast<int64_t>(queued_bytes_));
        }
    }
}

bool writer::apply_batch(std::vector<std::unique_ptr<write_op>>& batch,
                         std::vector<tern_status>& st, bool force_isolated, std::string& failure) {
    write_txn txn(*this, now_ms());
    for (size_t i = 0; i < batch.size(); ++i) {
        write_op& op = *batch[i];
        op.message.clear();
        op_undo_.clear();
        const bool isolated = force_isolated || op.isolated();
        if (isolated) conn_.query("SAVEPOINT op")->run();
        tern_status s = TERN_OK;
        bool threw = false;
        try {
            s = op.apply(txn);
        } catch (const db::error& e) {
            s = TERN_IO;
            op.message = e.what();
            threw = true;
        } catch (const std::exception& e) {
            s = TERN_INTERNAL;
            op.message = e.what();
            threw = true;
        }
        if (isolated) {
            if (s != TERN_OK) {
                conn_.query("ROLLBACK TO op")->run();
                for (auto it = op_undo_.rbegin(); it != op_undo_.rend(); ++it) (*it)();
                op_undo_.clear();
            }
            conn_.query("RELEASE op")->run();
        } else if (threw) {
            failure = op.message;
            return false;  // the caller rolls the whole batch back and retries it isolated
        }
        for (auto& f : op_undo_) txn_undo_.push_back(std::move(f));
        op_undo_.clear();
        st[i] = s;
    }
    return true;
}

void writer::commit_batch(std::vector<std::unique_ptr<write_op>>& batch) {
    const int64_t t0 = mono_ns();
    std::vector<tern_status> st(batch.size(), TERN_OK);
    bool committed = false;
    std::string failure;
    for (int attempt = 0; attempt < 2 && !committed; ++attempt) {
        const bool force_isolated = attempt == 1;
        txn_undo_.clear();
        try {
            conn_.exec("BEGIN IMMEDIATE");
            if (!apply_batch(batch, st, force_isolated, failure)) {
                conn_.exec("ROLLBACK");
                for (auto it = txn_undo_.rbegin(); it != txn_undo_.rend(); ++it) (*it)();
                for (auto it = op_undo_.rbegin(); it != op_undo_.rend(); ++it) (*it)();
                op_undo_.clear();
                log_.warn("a hot-path write failed (", failure, "); retrying the batch op by op");
                continue;
            }
            conn_.exec("COMMIT");
            committed = true;
        } catch (const std::exception& e) {
            failure = e.what();
            try {
                conn_.exec("ROLLBACK");
            } catch (...) {
            }
            for (auto it = txn_undo_.rbegin(); it != txn_undo_.rend(); ++it) (*it)();
            for (auto it = op_undo_.rbegin(); it != op_undo_.rend(); ++it) (*it)();
            op_undo_.clear();
            break;  // BEGIN or COMMIT failed: the database is in trouble, not one op
        }
    }
    txn_undo_.clear();
    if (committed) {
        commits_.fetch_add(1, std::memory_order_relaxed);
        metrics_.commits.inc();
        metrics_.ops_per_commit.observe(static_cast<double>(batch.size()));
        metrics_.commit_seconds.observe(static_cast<double>(mono_ns() - t0) / 1e9);
    } else {
        metrics_.commit_errors.inc();
        log_.error("commit of ", batch.size(), " ops failed: ", failure);
        for (size_t i = 0; i < batch.size(); ++i) {
            st[i] = TERN_IO;
            batch[i]->message = "the store could not commit: " + failure;
        }
    }
    ops_.fetch_add(batch.size(), std::memory_order_relaxed);
    uint64_t seen = max_batch_seen_.load(std::memory_order_relaxed);
    while (seen < batch.size() &&
           !max_batch_seen_.compare_exchange_weak(seen, batch.size(), std::memory_order_relaxed)) {
    }
    // Completions run after COMMIT returned, outside every lock of the writer.
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->finish(st[i]);
    timespec cpu{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    cpu_ns_.store(static_cast<uint64_t>(cpu.tv_sec) * 1000000000u + static_cast<uint64_t>(cpu.tv_nsec),
                  std::memory_order_relaxed);
}

std::vector<int64_t>& writer::device_keys(uint64_t device_id) {
    auto it = device_keys_.find(device_id);
    if (it != device_keys_.end()) return it->second;
    if (device_keys_ids_ > settings_.device_key_cache) {
        device_keys_.clear();
        device_keys_ids_ = 0;
    }
    std::vector<int64_t> ids;
    {
        auto q = conn_.query("SELECT key_id FROM ts_latest WHERE device_id = ? ORDER BY key_id");
        q->bind_id(1, device_id);
        while (q->step()) ids.push_back(q->get_int(0));
    }
    device_keys_ids_ += ids.size();
    return device_keys_.emplace(device_id, std::move(ids)).first->second;
}

tern_status write_txn::admit_ts_keys(uint64_t device_id, const std::vector<std::string_view>& names,
                                     std::string& message) {
    const writer_settings& s = w_.settings_;
    if (s.max_keys_per_device <= 0 && s.max_keys <= 0) return TERN_OK;
    const std::vector<int64_t>* known = s.max_keys_per_device > 0 ? &w_.device_keys(device_id) : nullptr;
    auto& fresh = w_.fresh_names_;  // not in the dictionary yet
    auto& added = w_.fresh_ids_;    // in the dictionary, new for the device
    fresh.clear();
    added.clear();
    for (const std::string_view name : names) {
        const auto it = w_.ts_keys_.find(name);
        if (it == w_.ts_keys_.end()) fresh.push_back(name);
        else if (known != nullptr && !std::binary_search(known->begin(), known->end(), it->second))
            added.push_back(it->second);
    }
    if (fresh.empty() && added.empty()) return TERN_OK;  // the usual case: keys it has
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    std::sort(added.begin(), added.end());
    added.erase(std::unique(added.begin(), added.end()), added.end());
    const uint64_t more = fresh.size() + added.size();
    if (known != nullptr && known->size() + more > static_cast<uint64_t>(s.max_keys_per_device)) {
        w_.metrics_.telemetry_keys_refused_device.inc();
        message = std::to_string(known->size() + more) + " distinct telemetry keys for the device (it has " +
                  std::to_string(known->size()) + "), more than max_telemetry_keys_per_device " +
                  std::to_string(s.max_keys_per_device) + "; nothing stored";
        return TERN_INVALID_ARGUMENT;
    }
    if (s.max_keys > 0 && w_.ts_keys_.size() + fresh.size() > static_cast<uint64_t>(s.max_keys)) {
        w_.metrics_.telemetry_keys_refused_total.inc();
        if (!w_.dictionary_full_logged_) {  // once per start: the metric counts the refusals
            w_.dictionary_full_logged_ = true;
            w_.log_.warn("the telemetry key dictionary holds max_telemetry_keys (", s.max_keys,
                         ") names: telemetry under new key names is refused until the limit is raised");
        }
        message = "the telemetry key dictionary is full (max_telemetry_keys " + std::to_string(s.max_keys) +
                  "): new key names are refused; nothing stored";
        return TERN_BUSY;
    }
    return TERN_OK;
}

void write_txn::device_has_ts_key(uint64_t device_id, int64_t key_id) {
    if (w_.settings_.max_keys_per_device <= 0) return;
    const auto it = w_.device_keys_.find(device_id);
    if (it == w_.device_keys_.end()) return;  // not cached: read from ts_latest when needed
    std::vector<int64_t>& ids = it->second;
    const auto at = std::lower_bound(ids.begin(), ids.end(), key_id);
    if (at != ids.end() && *at == key_id) return;
    ids.insert(at, key_id);
    ++w_.device_keys_ids_;
    // A rollback forgets the device's set (read again from the database when needed): a set
    // read in this transaction after the insert would otherwise keep the key.
    on_undo([this, device_id] {
        const auto d = w_.device_keys_.find(device_id);
        if (d == w_.device_keys_.end()) return;
        w_.device_keys_ids_ -= std::min<uint64_t>(w_.device_keys_ids_, d->second.size());
        w_.device_keys_.erase(d);
    });
}

int64_t write_txn::ts_key(std::string_view name) {
    auto it = w_.ts_keys_.find(name);
    if (it != w_.ts_keys_.end()) return it->second;
    {
        auto q = w_.conn_.query("INSERT INTO ts_keys(name) VALUES (?) ON CONFLICT(name) DO NOTHING");
        q->bind(1, name).run();
    }
    int64_t id = 0;
    {
        auto q = w_.conn_.query("SELECT id FROM ts_keys WHERE name = ?");
        q->bind(1, name);
        if (!q->step()) throw db::error(0, "telemetry key vanished");
        id = q->get_int(0);
    }
    std::string key(name);
    w_.ts_keys_.emplace(key, id);
    w_.ts_key_count_ = w_.ts_keys_.size();
    w_.metrics_.telemetry_keys.set(static_cast<int64_t>(w_.ts_keys_.size()));
    on_undo([this, key] {
        w_.ts_keys_.erase(key);
        w_.ts_key_count_ = w_.ts_keys_.size();
        w_.metrics_.telemetry_keys.set(static_cast<int64_t>(w_.ts_keys_.size()));
    });
    return id;
}

uint64_t write_txn::next_revision() {
    auto q = w_.conn_.query("UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value");
    if (!q->step()) throw db::error(0, "meta.revision is missing");
    return q->get_id(0);
}

void write_txn::mark_deleted(uint64_t device_id) {
    if (const auto d = w_.device_keys_.find(device_id); d != w_.device_keys_.end()) {
        w_.device_keys_ids_ -= std::min<uint64_t>(w_.device_keys_ids_, d->second.size());
        w_.device_keys_.erase(d);
    }
    if (w_.deleted_devices_.insert(device_id).second)
        on_undo([this, device_id] { w_.deleted_devices_.erase(device_id); });
}

}  // namespace tern::core_embedded

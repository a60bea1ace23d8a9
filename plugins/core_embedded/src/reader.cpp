#include "reader.hpp"

#include <exception>

namespace tern::core_embedded {

void reader_pool::start(const std::string& path, unsigned threads, size_t capacity, uint64_t max_bytes) {
    if (threads == 0) threads = 1;
    std::vector<db::connection> conns;
    for (unsigned i = 0; i < threads; ++i) {
        auto c = db::connection::open(path, false, true);
        c.exec("PRAGMA query_only = 1");
        conns.push_back(std::move(c));
    }
    std::lock_guard lk(mutex_);
    capacity_ = capacity == 0 ? 1 : capacity;
    max_bytes_ = max_bytes == 0 ? 1 : max_bytes;
    queued_bytes_ = 0;
    running_ = true;
    stopping_ = false;
    for (auto& c : conns) threads_.emplace_back([this, c = std::move(c)]() mutable { run(std::move(c)); });
}

void reader_pool::stop() {
    {
        std::lock_guard lk(mutex_);
        if (!running_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard lk(mutex_);
    running_ = false;
}

bool reader_pool::submit(read_fn fn, const refuse_fn& refused, uint64_t bytes) {
    tern_status s = TERN_OK;
    bool by_bytes = false;
    {
        std::lock_guard lk(mutex_);
        if (!running_ || stopping_) s = TERN_UNAVAILABLE;
        else if (queue_.size() >= capacity_) s = TERN_BUSY;
        else if (queued_bytes_ != 0 && queued_bytes_ + bytes > max_bytes_) {
            s = TERN_BUSY;
            by_bytes = true;
        } else {
            try {
                queue_.emplace_back(std::move(fn), bytes);
                queued_bytes_ += bytes;
                metrics_.read_queue_bytes.set(static_cast<int64_t>(queued_bytes_));
            } catch (const std::bad_alloc&) {
                s = TERN_INTERNAL;
            }
        }
    }
    if (s == TERN_OK) {
        metrics_.read_queue_depth.add(1);
        cv_.notify_one();
        return true;
    }
    if (s == TERN_BUSY) metrics_.read_rejected.inc();
    if (by_bytes) metrics_.read_rejected_bytes.inc();
    if (refused) refused(s);
    return false;
}

void reader_pool::run(db::connection conn) {
    for (;;) {
        read_fn fn;
        {
            std::unique_lock lk(mutex_);
            cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
            if (queue_.empty()) return;
            fn = std::move(queue_.front().first);
            queued_bytes_ -= queue_.front().second;
            metrics_.read_queue_bytes.set(static_cast<int64_t>(queued_bytes_));
            queue_.pop_front();
        }
        metrics_.read_queue_depth.add(-1);
        // Read functions report their own errors to their callers; this catch only keeps
        // a bug from taking the thread down.
        try {
            fn(conn);
        } catch (const std::exception& e) {
            log_.error("read failed: ", e.what());
        }
    }
}

}  // namespace tern::core_embedded

// Read connections (WAL readers) on their own threads, so a read never blocks a caller's
// thread (reactor shards) and never waits for the writer.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "db.hpp"
#include "metrics.hpp"
#include "tern/abi/status.h"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

class reader_pool {
public:
    // fn runs on a reader thread with its connection; on refusal (queue full, stopped)
    // it is not run and refused(status) runs on the submitting thread instead.
    using read_fn = std::function<void(db::connection&)>;
    using refuse_fn = std::function<void(tern_status)>;

    reader_pool(core_metrics& m, sdk::logger log) : metrics_(m), log_(log) {}
    ~reader_pool() { stop(); }

    // capacity bounds the reads waiting, max_bytes what they hold (see submit).
    void start(const std::string& path, unsigned threads, size_t capacity, uint64_t max_bytes = 64ull << 20);
    // Runs what is queued, then joins.
    void stop();
    // bytes: what fn holds of a request (text it copied, such as a provisioning request),
    // counted against max_bytes while it waits; past it TERN_BUSY, unless nothing waits.
    bool submit(read_fn fn, const refuse_fn& refused, uint64_t bytes = 0);

private:
    void run(db::connection conn);

    core_metrics& metrics_;
    sdk::logger log_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::pair<read_fn, uint64_t>> queue_;
    size_t capacity_ = 0;
    uint64_t max_bytes_ = 0;
    uint64_t queued_bytes_ = 0;
    bool running_ = false;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace tern::core_embedded

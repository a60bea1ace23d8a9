// Read connections (WAL readers) on their own threads, so a read never blocks a caller's
// thread (reactor shards) and never waits for the writer.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
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

    void start(const std::string& path, unsigned threads, size_t capacity);
    // Runs what is queued, then joins.
    void stop();
    bool submit(read_fn fn, const refuse_fn& refused);

private:
    void run(db::connection conn);

    core_metrics& metrics_;
    sdk::logger log_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<read_fn> queue_;
    size_t capacity_ = 0;
    bool running_ = false;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace tern::core_embedded

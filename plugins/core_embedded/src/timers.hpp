// One thread running deadlines (RPC expiry, client RPC timeouts, activity flushes) and
// deferred work (sending pending RPCs outside the subscriber's call).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include "service_thread.hpp"

namespace tern::core_embedded {

class timer_service {
public:
    using task = std::function<void()>;
    timer_service() = default;
    ~timer_service() { stop(); }

    void start();
    // Joins; tasks not yet due are dropped (their owners complete them on stop).
    void stop();
    // Runs fn on the timer thread after delay_ms (0: soon). Returns an id for cancel, or
    // 0 when stopped (fn is then dropped).
    uint64_t schedule(int64_t delay_ms, task fn);
    uint64_t post(task fn) { return schedule(0, std::move(fn)); }
    // true when the task was removed before it ran.
    bool cancel(uint64_t id);

private:
    void run();
    using clock = std::chrono::steady_clock;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<clock::time_point, std::pair<uint64_t, task>> due_;
    std::unordered_map<uint64_t, std::multimap<clock::time_point, std::pair<uint64_t, task>>::iterator>
        by_id_;
    uint64_t next_id_ = 1;
    service_thread thread_;
};

}  // namespace tern::core_embedded

// One thread that runs until told to stop, for the core's long-lived workers (the writer,
// the timers). Its owner keeps the mutex and the condition variable its loop waits on;
// the two flags here are read and written under that mutex only:
//   running:  started and not yet joined (work may be queued)
//   stopping: told to end (the loop finishes what it must and returns)
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace tern::core_embedded {

class service_thread {
public:
    service_thread() = default;
    service_thread(const service_thread&) = delete;
    service_thread& operator=(const service_thread&) = delete;

    // The caller holds the owner's mutex. false (and nothing started) when already running.
    bool start(std::function<void()> loop) {
        if (running_) return false;
        running_ = true;
        stopping_ = false;
        thread_ = std::thread(std::move(loop));
        return true;
    }

    // Takes `mutex` (the caller must not hold it): marks stopping, wakes the loop through
    // `cv` and joins it; then, under the mutex again, runs `after` (the owner's clean-up)
    // and marks the thread stopped. false when it was not running.
    template <class After>
    bool stop(std::mutex& mutex, std::condition_variable& cv, After&& after) {
        {
            std::lock_guard lk(mutex);
            if (!running_) return false;
            stopping_ = true;
        }
        cv.notify_all();
        if (thread_.joinable()) thread_.join();
        std::lock_guard lk(mutex);
        after();
        running_ = false;
        return true;
    }

    // Under the owner's mutex.
    bool running() const noexcept { return running_; }
    bool stopping() const noexcept { return stopping_; }
    bool accepting() const noexcept { return running_ && !stopping_; }

private:
    bool running_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace tern::core_embedded

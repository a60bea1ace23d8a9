// worker: the bridge's own thread. It runs what must not run on a NATS thread or the core's
// threads: the setup after each (re)connect (which waits for JetStream answers), the state
// file's writes followed by the acknowledgements, and delayed retries of busy partitions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace tern::nats_bridge {

class worker {
public:
    using clock = std::chrono::steady_clock;
    using job = std::function<void()>;

    worker() = default;
    ~worker() { stop(); }
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    void start() {
        std::lock_guard lk(mu_);
        if (thread_.joinable()) return;
        stopping_ = false;
        thread_ = std::thread([this] { run(); });
    }
    // Runs the jobs already queued (not the delayed ones), then joins the thread.
    void stop() {
        {
            std::lock_guard lk(mu_);
            if (!thread_.joinable()) return;
            stopping_ = true;
        }
        cv_.notify_all();
        thread_.join();
        std::lock_guard lk(mu_);
        delayed_.clear();
    }
    // [any-thread] false once stopping.
    bool post(job j) {
        {
            std::lock_guard lk(mu_);
            if (stopping_) return false;
            jobs_.push_back(std::move(j));
        }
        cv_.notify_one();
        return true;
    }
    bool post_after(std::chrono::milliseconds delay, job j) {
        {
            std::lock_guard lk(mu_);
            if (stopping_) return false;
            delayed_.emplace(clock::now() + delay, std::move(j));
        }
        cv_.notify_one();
        return true;
    }
    // Interruptible sleep for a job that waits (setup retries): false when stopping.
    bool pause(std::chrono::milliseconds d) {
        std::unique_lock lk(mu_);
        return !cv_.wait_for(lk, d, [this] { return stopping_; });
    }
    bool stopping() const {
        std::lock_guard lk(mu_);
        return stopping_;
    }

private:
    void run() {
        std::unique_lock lk(mu_);
        for (;;) {
            while (!delayed_.empty() && delayed_.begin()->first <= clock::now()) {
                jobs_.push_back(std::move(delayed_.begin()->second));
                delayed_.erase(delayed_.begin());
            }
            if (!jobs_.empty()) {
                job j = std::move(jobs_.front());
                jobs_.pop_front();
                lk.unlock();
                j();
                lk.lock();
                continue;
            }
            if (stopping_) return;
            if (delayed_.empty()) cv_.wait(lk);
            else cv_.wait_until(lk, delayed_.begin()->first);
        }
    }

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<job> jobs_;
    std::multimap<clock::time_point, job> delayed_;
    std::thread thread_;
    bool stopping_ = false;
};

}  // namespace tern::nats_bridge

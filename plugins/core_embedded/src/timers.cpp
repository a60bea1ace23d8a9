#include "timers.hpp"

namespace tern::core_embedded {

void timer_service::start() {
    std::lock_guard lk(mutex_);
    thread_.start([this] { run(); });
}

void timer_service::stop() {
    thread_.stop(mutex_, cv_, [this] {
        due_.clear();
        by_id_.clear();
    });
}

uint64_t timer_service::schedule(int64_t delay_ms, task fn) {
    std::lock_guard lk(mutex_);
    if (!thread_.accepting()) return 0;
    const uint64_t id = next_id_++;
    const auto when = clock::now() + std::chrono::milliseconds(delay_ms < 0 ? 0 : delay_ms);
    auto it = due_.emplace(when, std::make_pair(id, std::move(fn)));
    by_id_.emplace(id, it);
    if (it == due_.begin()) cv_.notify_one();
    return id;
}

bool timer_service::cancel(uint64_t id) {
    std::lock_guard lk(mutex_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    due_.erase(it->second);
    by_id_.erase(it);
    return true;
}

void timer_service::run() {
    std::unique_lock lk(mutex_);
    while (!thread_.stopping()) {
        if (due_.empty()) {
            cv_.wait(lk);
            continue;
        }
        auto first = due_.begin();
        if (first->first > clock::now()) {
            cv_.wait_until(lk, first->first);
            continue;
        }
        task fn = std::move(first->second.second);
        by_id_.erase(first->second.first);
        due_.erase(first);
        lk.unlock();
        fn();  // never under the lock: tasks schedule and cancel freely
        lk.lock();
    }
}

}  // namespace tern::core_embedded

// A stand-in for the kernel's reactor, metrics and log, enough to run the DTLS transport in
// a test process: one thread per shard polling its watched descriptors, running posted
// tasks and one-shot timers.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tern/abi/host.h"

namespace tern::dtls::testing {

class fake_reactor final : public reactor_v1 {
public:
    explicit fake_reactor(uint32_t shards) {
        for (uint32_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<shard>());
        for (uint32_t i = 0; i < shards; ++i) shards_[i]->thread = std::thread([this, i] { run(i); });
    }
    ~fake_reactor() {
        stopping_ = true;
        for (auto& s : shards_) wake(*s);
        for (auto& s : shards_) s->thread.join();
    }

    uint32_t shard_count() noexcept override { return static_cast<uint32_t>(shards_.size()); }
    uint32_t current_shard() noexcept override { return this_shard(); }
    uint64_t now_ns() noexcept override {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count());
    }
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override {
        if (shard >= shards_.size()) return TERN_INVALID_ARGUMENT;
        if (stopping_) return TERN_UNAVAILABLE;
        auto& s = *shards_[shard];
        {
            std::lock_guard lk(s.mu);
            s.tasks.emplace_back(fn, ctx);
        }
        wake(s);
        return TERN_OK;
    }
    tern_status watch_fd(uint32_t shard, int fd, uint32_t, tern_fd_fn fn, void* ctx, uint64_t* out) noexcept override {
        if (shard >= shards_.size()) return TERN_INVALID_ARGUMENT;
        auto& s = *shards_[shard];
        const uint64_t id = (uint64_t{shard} << 32) | ++next_id_;
        {
            std::lock_guard lk(s.mu);
            s.watches[id] = watch{fd, fn, ctx};
        }
        wake(s);
        *out = id;
        return TERN_OK;
    }
    void unwatch_fd(uint64_t id) noexcept override {
        auto& s = *shards_[id >> 32];
        {
            std::lock_guard lk(s.mu);
            s.watches.erase(id);
        }
        wait_round(s, id >> 32);
    }
    tern_status timer_create(uint32_t shard, tern_task_fn fn, void* ctx, uint64_t* out) noexcept override {
        if (shard >= shards_.size()) return TERN_INVALID_ARGUMENT;
        auto& s = *shards_[shard];
        const uint64_t id = (uint64_t{shard} << 32) | ++next_id_;
        std::lock_guard lk(s.mu);
        s.timers[id] = timer{fn, ctx, 0};
        *out = id;
        return TERN_OK;
    }
    void timer_arm(uint64_t id, uint64_t delay_ns) noexcept override {
        auto& s = *shards_[id >> 32];
        {
            std::lock_guard lk(s.mu);
            auto it = s.timers.find(id);
            if (it != s.timers.end()) it->second.deadline = now_ns() + delay_ns;
        }
        wake(s);
    }
    void timer_cancel(uint64_t id) noexcept override {
        auto& s = *shards_[id >> 32];
        std::lock_guard lk(s.mu);
        auto it = s.timers.find(id);
        if (it != s.timers.end()) it->second.deadline = 0;
    }
    void timer_destroy(uint64_t id) noexcept override {
        auto& s = *shards_[id >> 32];
        {
            std::lock_guard lk(s.mu);
            s.timers.erase(id);
        }
        wait_round(s, id >> 32);
    }

    // Runs f on shard and waits for it.
    void run_on(uint32_t shard, std::function<void()> f) {
        std::atomic<bool> done{false};
        struct ctx_t {
            std::function<void()>* f;
            std::atomic<bool>* done;
        } c{&f, &done};
        post(shard, [](void* p) {
            auto* c = static_cast<ctx_t*>(p);
            (*c->f)();
            c->done->store(true);
        }, &c);
        while (!done.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }

private:
    struct watch {
        int fd;
        tern_fd_fn fn;
        void* ctx;
    };
    struct timer {
        tern_task_fn fn;
        void* ctx;
        uint64_t deadline;
    };
    struct shard {
        std::thread thread;
        std::mutex mu;
        std::map<uint64_t, watch> watches;
        std::map<uint64_t, timer> timers;
        std::deque<std::pair<tern_task_fn, void*>> tasks;
        std::atomic<uint64_t> rounds{0};
        int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ~shard() { ::close(wake_fd); }
    };
    static uint32_t& this_shard() {
        static thread_local uint32_t s = TERN_NO_SHARD;
        return s;
    }
    static void wake(shard& s) {
        const uint64_t one = 1;
        (void)!::write(s.wake_fd, &one, sizeof one);
    }
    // From another thread: wait until the shard finished a whole round (so a removed
    // callback is not running any more).
    void wait_round(shard& s, uint64_t index) {
        if (this_shard() == index || stopping_) return;
        const uint64_t seen = s.rounds.load();
        wake(s);
        while (s.rounds.load() < seen + 2 && !stopping_) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }

    void run(uint32_t index) {
        this_shard() = index;
        shard& s = *shards_[index];
        while (!stopping_) {
            std::vector<std::pair<uint64_t, watch>> ws;
            std::deque<std::pair<tern_task_fn, void*>> tasks;
            uint64_t next = 0;
            {
                std::lock_guard lk(s.mu);
                ws.assign(s.watches.begin(), s.watches.end());
                tasks.swap(s.tasks);
                for (auto& [id, t] : s.timers)
                    if (t.deadline != 0 && (next == 0 || t.deadline < next)) next = t.deadline;
            }
            for (auto& [fn, ctx] : tasks) fn(ctx);
            // due timers
            const uint64_t now = now_ns();
            std::vector<std::pair<tern_task_fn, void*>> due;
            {
                std::lock_guard lk(s.mu);
                for (auto& [id, t] : s.timers)
                    if (t.deadline != 0 && t.deadline <= now) {
                        t.deadline = 0;
                        due.emplace_back(t.fn, t.ctx);
                    }
            }
            for (auto& [fn, ctx] : due) fn(ctx);
            s.rounds.fetch_add(1);
            if (!tasks.empty() || !due.empty()) continue;
            std::vector<pollfd> pfds{pollfd{s.wake_fd, POLLIN, 0}};
            for (auto& [id, w] : ws) pfds.push_back(pollfd{w.fd, POLLIN, 0});
            int wait_ms = 100;
            if (next != 0) wait_ms = next <= now ? 0 : static_cast<int>(std::min<uint64_t>((next - now) / 1000000 + 1, 100));
            if (::poll(pfds.data(), pfds.size(), wait_ms) <= 0) continue;
            if (pfds[0].revents & POLLIN) {
                uint64_t v;
                (void)!::read(s.wake_fd, &v, sizeof v);
            }
            for (size_t i = 1; i < pfds.size(); ++i) {
                if (!(pfds[i].revents & POLLIN)) continue;
                {
                    std::lock_guard lk(s.mu);
                    if (!s.watches.count(ws[i - 1].first)) continue;
                }
                ws[i - 1].second.fn(ws[i - 1].second.ctx, ws[i - 1].second.fd, TERN_FD_READ);
            }
        }
        s.rounds.fetch_add(2);
    }

    std::vector<std::unique_ptr<shard>> shards_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> next_id_{0};
};

}  // namespace tern::dtls::testing

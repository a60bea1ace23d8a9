// A reactor with real shard threads, for tests of plugins that own sockets (transports):
// each shard is a thread polling its watched descriptors, running posted tasks in order and
// one-shot timers on the steady clock, as the kernel's reactor does. Serve it from a fake
// host with fake_host::use_reactor(r).
//
//     tern::sdk::testing::threaded_reactor r(2);
//     h.use_reactor(r);
//     r.run_on(0, [&] { ... });   // runs on shard 0 and waits for it
//
// unwatch_fd() and timer_destroy() from another thread wait until the shard finished the
// round it was in, so the callback is not running any more when they return (the
// reactor_v1 contract).
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tern/abi/host.h"

namespace tern::sdk::testing {

class threaded_reactor final : public reactor_v1 {
public:
    explicit threaded_reactor(uint32_t shards = 1) {
        for (uint32_t i = 0; i < (shards == 0 ? 1 : shards); ++i) shards_.push_back(std::make_unique<shard>());
        for (uint32_t i = 0; i < shards_.size(); ++i) shards_[i]->thread = std::thread([this, i] { run(i); });
    }
    ~threaded_reactor() {
        stopping_ = true;
        for (auto& s : shards_) wake(*s);
        for (auto& s : shards_) s->thread.join();
    }
    threaded_reactor(const threaded_reactor&) = delete;
    threaded_reactor& operator=(const threaded_reactor&) = delete;

    uint32_t shard_count() noexcept override { return static_cast<uint32_t>(shards_.size()); }
    uint32_t current_shard() noexcept override { return this_shard(); }
    uint64_t now_ns() noexcept override {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count());
    }
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override {
        if (shard >= shards_.size() || fn == nullptr) return TERN_INVALID_ARGUMENT;
        if (stopping_) return TERN_UNAVAILABLE;
        auto& s = *shards_[shard];
        {
            std::lock_guard lk(s.mu);
            s.tasks.emplace_back(fn, ctx);
        }
        posts.fetch_add(1);
        wake(s);
        return TERN_OK;
    }
    tern_status watch_fd(uint32_t shard, int fd, uint32_t events, tern_fd_fn fn, void* ctx,
                         uint64_t* out) noexcept override {
        if (shard >= shards_.size() || fn == nullptr || out == nullptr) return TERN_INVALID_ARGUMENT;
        auto& s = *shards_[shard];
        const uint64_t id = (uint64_t{shard} << 32) | ++next_id_;
        {
            std::lock_guard lk(s.mu);
            for (const auto& [other, w] : s.watches)
                if (w.fd == fd) return TERN_EXISTS;
            s.watches[id] = watch{fd, events, fn, ctx};
        }
        wake(s);
        *out = id;
        return TERN_OK;
    }
    void unwatch_fd(uint64_t id) noexcept override {
        if ((id >> 32) >= shards_.size()) return;
        auto& s = *shards_[id >> 32];
        {
            std::lock_guard lk(s.mu);
            s.watches.erase(id);
        }
        wait_round(id >> 32);
    }
    tern_status timer_create(uint32_t shard, tern_task_fn fn, void* ctx, uint64_t* out) noexcept override {
        if (shard >= shards_.size() || fn == nullptr || out == nullptr) return TERN_INVALID_ARGUMENT;
        auto& s = *shards_[shard];
        const uint64_t id = (uint64_t{shard} << 32) | ++next_id_;
        std::lock_guard lk(s.mu);
        s.timers[id] = timer{fn, ctx, 0};
        *out = id;
        return TERN_OK;
    }
    void timer_arm(uint64_t id, uint64_t delay_ns) noexcept override {
        if ((id >> 32) >= shards_.size()) return;
        auto& s = *shards_[id >> 32];
        {
            std::lock_guard lk(s.mu);
            auto it = s.timers.find(id);
            if (it != s.timers.end()) it->second.deadline = now_ns() + std::max<uint64_t>(delay_ns, 1);
        }
        wake(s);
    }
    void timer_cancel(uint64_t id) noexcept override {
        if ((id >> 32) >= shards_.size()) return;
        auto& s = *shards_[id >> 32];
        std::lock_guard lk(s.mu);
        auto it = s.timers.find(id);
        if (it != s.timers.end()) it->second.deadline = 0;
    }
    void timer_destroy(uint64_t id) noexcept override {
        if ((id >> 32) >= shards_.size()) return;
        auto& s = *shards_[id >> 32];
        {
            std::lock_guard lk(s.mu);
            s.timers.erase(id);
        }
        wait_round(id >> 32);
    }

    // Runs f on shard and waits until it has run.
    void run_on(uint32_t shard, std::function<void()> f) {
        struct call {
            std::function<void()>* f = nullptr;
            std::mutex m;
            std::condition_variable cv;
            bool done = false;
        } c;
        c.f = &f;
        const tern_status s = post(shard, [](void* p) {
            auto* c = static_cast<call*>(p);
            (*c->f)();
            std::lock_guard lk(c->m);
            c->done = true;
            c->cv.notify_all();
        }, &c);
        if (s != TERN_OK) return;
        std::unique_lock lk(c.m);
        c.cv.wait(lk, [&] { return c.done; });
    }

    // Tasks posted so far.
    std::atomic<uint64_t> posts{0};

private:
    struct watch {
        int fd;
        uint32_t events;
        tern_fd_fn fn;
        void* ctx;
    };
    struct timer {
        tern_task_fn fn;
        void* ctx;
        uint64_t deadline;  // 0: not armed
    };
    struct shard {
        std::thread thread;
        std::mutex mu;
        std::condition_variable round_done;
        std::map<uint64_t, watch> watches;
        std::map<uint64_t, timer> timers;
        std::deque<std::pair<tern_task_fn, void*>> tasks;
        uint64_t rounds = 0;
        bool stopped = false;
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
    // From another thread: waits until the shard finished the round it was in (the next one
    // has begun), so no callback it copied from the tables before the change still runs.
    void wait_round(uint64_t index) {
        if (this_shard() == index) return;
        shard& s = *shards_[index];
        std::unique_lock lk(s.mu);
        const uint64_t seen = s.rounds;
        wake(s);
        s.round_done.wait(lk, [&] { return s.rounds >= seen + 1 || s.stopped; });
    }

    void run(uint32_t index) {
        this_shard() = index;
        shard& s = *shards_[index];
        while (!stopping_) {
            std::vector<std::pair<uint64_t, watch>> ws;
            std::deque<std::pair<tern_task_fn, void*>> tasks;
            std::vector<std::pair<uint64_t, timer>> due;
            uint64_t next = 0;
            const uint64_t now = now_ns();
            {
                std::lock_guard lk(s.mu);
                ++s.rounds;
                s.round_done.notify_all();
                ws.assign(s.watches.begin(), s.watches.end());
                tasks.swap(s.tasks);
                for (auto& [id, t] : s.timers) {
                    if (t.deadline != 0 && t.deadline <= now) {
                        due.emplace_back(id, t);
                        t.deadline = 0;
                    } else if (t.deadline != 0 && (next == 0 || t.deadline < next)) {
                        next = t.deadline;
                    }
                }
            }
            for (auto& [fn, ctx] : tasks) fn(ctx);
            for (auto& [id, t] : due) {
                if (!alive_timer(s, id)) continue;  // destroyed by an earlier callback
                t.fn(t.ctx);
            }
            if (!tasks.empty() || !due.empty()) continue;
            poll_once(s, ws, next);
        }
        std::lock_guard lk(s.mu);
        s.stopped = true;
        s.round_done.notify_all();
    }
    static bool alive_timer(shard& s, uint64_t id) {
        std::lock_guard lk(s.mu);
        return s.timers.count(id) != 0;
    }
    void poll_once(shard& s, const std::vector<std::pair<uint64_t, watch>>& ws, uint64_t next) {
        std::vector<pollfd> pfds{pollfd{s.wake_fd, POLLIN, 0}};
        for (const auto& [id, w] : ws) {
            short ev = 0;
            if (w.events & TERN_FD_READ) ev |= POLLIN;
            if (w.events & TERN_FD_WRITE) ev |= POLLOUT;
            pfds.push_back(pollfd{w.fd, ev, 0});
        }
        int wait_ms = 100;
        if (next != 0) {
            const uint64_t now = now_ns();
            wait_ms = next <= now ? 0 : static_cast<int>(std::min<uint64_t>((next - now) / 1'000'000 + 1, 100));
        }
        if (::poll(pfds.data(), pfds.size(), wait_ms) <= 0) return;
        if (pfds[0].revents & POLLIN) {
            uint64_t v;
            (void)!::read(s.wake_fd, &v, sizeof v);
        }
        for (std::size_t i = 1; i < pfds.size(); ++i) {
            const auto& [id, w] = ws[i - 1];
            const short rev = pfds[i].revents;
            uint32_t events = 0;
            if (rev & (POLLIN | POLLERR | POLLHUP)) events |= w.events & TERN_FD_READ;
            if (rev & (POLLOUT | POLLERR)) events |= w.events & TERN_FD_WRITE;
            for (uint32_t bit : {uint32_t{TERN_FD_READ}, uint32_t{TERN_FD_WRITE}}) {
                if ((events & bit) == 0) continue;
                {
                    // skip a watch removed meanwhile (its owner may be gone)
                    std::lock_guard lk(s.mu);
                    if (s.watches.count(id) == 0) break;
                }
                w.fn(w.ctx, w.fd, bit);
            }
        }
    }

    std::vector<std::unique_ptr<shard>> shards_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> next_id_{0};
};

}  // namespace tern::sdk::testing

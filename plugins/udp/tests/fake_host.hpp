// A stand-in for the kernel's reactor, metrics and log, just enough to drive the UDP
// transport without the kernel: one thread per shard polling its watched descriptors
// (level-triggered) and running posted tasks. Timers are not needed by the transport.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tern/abi/host.h"

namespace tern::udp::testing {

inline thread_local uint32_t this_shard = TERN_NO_SHARD;

class fake_reactor final : public reactor_v1 {
public:
    explicit fake_reactor(uint32_t shards) {
        for (uint32_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<shard>());
        for (uint32_t i = 0; i < shards; ++i)
            shards_[i]->thread = std::thread([this, i] { run(i); });
    }
    ~fake_reactor() {
        stopping_ = true;
        for (auto& s : shards_) wake(*s);
        for (auto& s : shards_) s->thread.join();
    }

    uint32_t shard_count() noexcept override { return static_cast<uint32_t>(shards_.size()); }
    uint32_t current_shard() noexcept override { return this_shard; }
    uint64_t now_ns() noexcept override {
        return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override {
        if (shard >= shards_.size()) return TERN_INVALID_ARGUMENT;
        if (stopping_) return TERN_UNAVAILABLE;
        auto& s = *shards_[shard];
        {
            std::lock_guard lk(s.mu);
            s.tasks.push_back([fn, ctx] { fn(ctx); });
        }
        posts.fetch_add(1);
        wake(s);
        return TERN_OK;
    }
    tern_status watch_fd(uint32_t shard, int fd, uint32_t, tern_fd_fn fn, void* ctx,
                         uint64_t* out) noexcept override {
        if (shard >= shards_.size()) return TERN_INVALID_ARGUMENT;
        auto& s = *shards_[shard];
        const uint64_t id = (static_cast<uint64_t>(shard) << 32) | ++next_watch_;
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
        std::unique_lock lk(s.mu);
        s.watches.erase(id);
        // the shard re-reads its watch list after every callback; wait for that
        const uint64_t seen = s.generation;
        wake(s);
        if (this_shard != (id >> 32))
            s.cv.wait(lk, [&] { return s.generation > seen + 1 || stopping_; });
    }
    tern_status timer_create(uint32_t, tern_task_fn, void*, uint64_t*) noexcept override {
        return TERN_UNSUPPORTED;
    }
    void timer_arm(uint64_t, uint64_t) noexcept override {}
    void timer_cancel(uint64_t) noexcept override {}
    void timer_destroy(uint64_t) noexcept override {}

    // Runs f on shard and waits for it.
    void run_on(uint32_t shard, std::function<void()> f) {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        struct ctx_t {
            std::function<void()>* f;
            std::mutex* m;
            std::condition_variable* cv;
            bool* done;
        } c{&f, &m, &cv, &done};
        post(shard, [](void* p) {
            auto* c = static_cast<ctx_t*>(p);
            (*c->f)();
            std::lock_guard lk(*c->m);
            *c->done = true;
            c->cv->notify_all();
        }, &c);
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return done; });
    }

    std::atomic<uint64_t> posts{0};

private:
    struct watch {
        int fd;
        tern_fd_fn fn;
        void* ctx;
    };
    struct shard {
        std::thread thread;
        std::mutex mu;
        std::condition_variable cv;
        std::map<uint64_t, watch> watches;
        std::deque<std::function<void()>> tasks;
        uint64_t generation = 0;
        int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ~shard() { ::close(wake_fd); }
    };
    static void wake(shard& s) {
        const uint64_t one = 1;
        (void)!::write(s.wake_fd, &one, sizeof one);
    }

    void run(uint32_t index) {
        this_shard = index;
        shard& s = *shards_[index];
        while (!stopping_) {
            std::vector<std::pair<uint64_t, watch>> ws;
            std::deque<std::function<void()>> tasks;
            {
                std::lock_guard lk(s.mu);
                ++s.generation;
                s.cv.notify_all();
                ws.assign(s.watches.begin(), s.watches.end());
                tasks.swap(s.tasks);
            }
            for (auto& t : tasks) t();
            if (!tasks.empty()) continue;
            std::vector<pollfd> pfds;
            pfds.push_back(pollfd{s.wake_fd, POLLIN, 0});
            for (auto& [id, w] : ws) pfds.push_back(pollfd{w.fd, POLLIN, 0});
            if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
            if (pfds[0].revents & POLLIN) {
                uint64_t v;
                (void)!::read(s.wake_fd, &v, sizeof v);
            }
            for (size_t i = 1; i < pfds.size(); ++i) {
                if (!(pfds[i].revents & POLLIN)) continue;
                const uint64_t id = ws[i - 1].first;
                {
                    // skip a watch removed meanwhile (its owner may be gone)
                    std::lock_guard lk(s.mu);
                    if (!s.watches.count(id)) continue;
                }
                ws[i - 1].second.fn(ws[i - 1].second.ctx, ws[i - 1].second.fd, TERN_FD_READ);
            }
        }
        std::lock_guard lk(s.mu);
        ++s.generation;
        s.cv.notify_all();
    }

    std::vector<std::unique_ptr<shard>> shards_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> next_watch_{0};
};

class fake_metrics final : public metrics_v1 {
public:
    tern_status add_metric(const tern_metric_desc* d, uint64_t* out) noexcept override {
        std::lock_guard lk(mu_);
        std::string key = d->name;
        if (d->labels != nullptr) key += std::string("{") + d->labels + "}";
        names_.push_back(key);
        values_.push_back(std::make_unique<std::atomic<int64_t>>(0));
        *out = names_.size() - 1;
        return TERN_OK;
    }
    void count(uint64_t m, uint64_t d) noexcept override { values_[m]->fetch_add(static_cast<int64_t>(d)); }
    void gauge_add(uint64_t m, int64_t d) noexcept override { values_[m]->fetch_add(d); }
    void gauge_set(uint64_t m, int64_t v) noexcept override { values_[m]->store(v); }
    void observe(uint64_t, double) noexcept override {}

    int64_t value(const std::string& key) {
        std::lock_guard lk(mu_);
        for (size_t i = 0; i < names_.size(); ++i)
            if (names_[i] == key) return values_[i]->load();
        return -1;
    }

private:
    std::mutex mu_;
    std::vector<std::string> names_;
    std::vector<std::unique_ptr<std::atomic<int64_t>>> values_;
};

class fake_log final : public log_v1 {
public:
    tern_log_level level() noexcept override { return TERN_LOG_DEBUG; }
    void write(tern_log_level, tern_str msg) noexcept override {
        std::lock_guard lk(mu_);
        lines_.emplace_back(msg.data, msg.size);
    }
    std::vector<std::string> lines() {
        std::lock_guard lk(mu_);
        return lines_;
    }

private:
    std::mutex mu_;
    std::vector<std::string> lines_;
};

}  // namespace tern::udp::testing

#include "kernel/reactor/shard_pool.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <boost/asio/post.hpp>

#include "kernel/metrics/store.hpp"

namespace tern::kernel::reactor {

namespace asio = boost::asio;

shard_pool::shard_pool(uint32_t count) {
    if (count == 0) count = 1;
    shards_.reserve(count);
    for (uint32_t i = 0; i < count; ++i) shards_.push_back(std::make_unique<shard>(*this, i));
}

shard_pool::~shard_pool() {
    stop();
    // Shards release their watched fds (never closing them) and die before the pool.
    shards_.clear();
}

void shard_pool::start() {
    if (running()) return;
    for (auto& s : shards_) s->start();
    running_.store(true, std::memory_order_release);
}

void shard_pool::stop() {
    stopping_.store(true, std::memory_order_release);
    for (auto& s : shards_) s->stop();
    running_.store(false, std::memory_order_release);
}

void shard_pool::report(const std::string& msg) const {
    if (report_) report_(msg);
}

void shard_pool::set_post_counters(metrics::store* store, std::vector<uint64_t> ids) {
    post_store_ = store;
    post_ids_ = std::move(ids);
}

uint32_t shard_pool::shard_count() noexcept { return static_cast<uint32_t>(shards_.size()); }

uint32_t shard_pool::current_shard() noexcept {
    const shard* s = current_shard_of_thread();
    return (s != nullptr && &s->pool() == this) ? s->index() : TERN_NO_SHARD;
}

uint64_t shard_pool::now_ns() noexcept {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

tern_status shard_pool::post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept {
    if (fn == nullptr || shard >= shards_.size()) return TERN_INVALID_ARGUMENT;
    if (stopping_.load(std::memory_order_acquire)) return TERN_UNAVAILABLE;
    try {
        asio::post(shards_[shard]->io(), [fn, ctx] { fn(ctx); });
    } catch (...) {
        return TERN_INTERNAL;
    }
    if (post_store_ != nullptr && shard < post_ids_.size()) post_store_->count(post_ids_[shard], 1);
    return TERN_OK;
}

// A template, not std::function: the common case (caller is the owning shard) must not
// allocate.
template <class F>
void shard_pool::on_shard(shard& s, F f, wait_mode mode) {
    if (s.is_current() || !running()) {
        f();
        return;
    }
    const shard* caller = current_shard_of_thread();
    if (mode == wait_mode::none || (caller != nullptr && &caller->pool() == this)) {
        asio::post(s.io(), std::move(f));
        return;
    }
    // Whoever claims the work runs it: the shard, or this thread if the shard stopped
    // before getting to it (then nothing else can run on it any more).
    struct state {
        std::mutex mu;
        std::condition_variable cv;
        bool claimed = false;
        bool done = false;
    };
    auto st = std::make_shared<state>();
    asio::post(s.io(), [st, &f] {
        {
            std::lock_guard lock(st->mu);
            if (st->claimed) return;
            st->claimed = true;
        }
        f();
        {
            std::lock_guard lock(st->mu);
            st->done = true;
        }
        st->cv.notify_all();
    });
    std::unique_lock lock(st->mu);
    while (!st->done) {
        if (st->cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return st->done; })) break;
        if (!running() && !st->claimed) {
            st->claimed = true;
            lock.unlock();
            f();
            return;
        }
    }
}

shard* shard_pool::owner(uint64_t handle) noexcept {
    const auto p = split_handle(handle);
    if (handle == 0 || p.shard >= shards_.size()) return nullptr;
    return shards_[p.shard].get();
}

tern_status shard_pool::watch_fd(uint32_t shard, int fd, uint32_t events, tern_fd_fn fn, void* ctx,
                                 uint64_t* out_watch) noexcept {
    if (shard >= shards_.size() || fn == nullptr || out_watch == nullptr || fd < 0) return TERN_INVALID_ARGUMENT;
    if ((events & (TERN_FD_READ | TERN_FD_WRITE)) == 0 || (events & ~uint32_t{TERN_FD_READ | TERN_FD_WRITE}) != 0)
        return TERN_INVALID_ARGUMENT;
    try {
        auto& s = *shards_[shard];
        std::string err;
        const tern_status st = s.watch_create(fd, events, fn, ctx, out_watch, err);
        if (st != TERN_OK) {
            report(err);
            return st;
        }
        const auto p = split_handle(*out_watch);
        on_shard(s, [&s, p] { s.watch_arm(p.slot, p.gen); }, wait_mode::none);
        return TERN_OK;
    } catch (...) {
        return TERN_INTERNAL;
    }
}

void shard_pool::unwatch_fd(uint64_t watch) noexcept {
    shard* s = owner(watch);
    if (s == nullptr) return;
    const auto p = split_handle(watch);
    try {
        on_shard(*s, [s, p] { s->watch_destroy(p.slot, p.gen); }, wait_mode::wait);
    } catch (...) {
    }
}

tern_status shard_pool::timer_create(uint32_t shard, tern_task_fn fn, void* ctx, uint64_t* out_timer) noexcept {
    if (shard >= shards_.size() || fn == nullptr || out_timer == nullptr) return TERN_INVALID_ARGUMENT;
    try {
        return shards_[shard]->timer_create(fn, ctx, out_timer);
    } catch (...) {
        return TERN_INTERNAL;
    }
}

void shard_pool::timer_arm(uint64_t timer, uint64_t delay_ns) noexcept {
    shard* s = owner(timer);
    if (s == nullptr) return;
    const auto p = split_handle(timer);
    try {
        on_shard(*s, [s, p, delay_ns] { s->timer_arm(p.slot, p.gen, delay_ns); }, wait_mode::none);
    } catch (...) {
    }
}

void shard_pool::timer_cancel(uint64_t timer) noexcept {
    shard* s = owner(timer);
    if (s == nullptr) return;
    const auto p = split_handle(timer);
    try {
        on_shard(*s, [s, p] { s->timer_cancel(p.slot, p.gen); }, wait_mode::none);
    } catch (...) {
    }
}

void shard_pool::timer_destroy(uint64_t timer) noexcept {
    shard* s = owner(timer);
    if (s == nullptr) return;
    const auto p = split_handle(timer);
    try {
        on_shard(*s, [s, p] { s->timer_destroy(p.slot, p.gen); }, wait_mode::wait);
    } catch (...) {
    }
}

}  // namespace tern::kernel::reactor

#include "kernel/reactor/shard.hpp"

#include <pthread.h>
#include <sys/stat.h>

#include <chrono>
#include <limits>

#include <boost/asio/post.hpp>

#include "kernel/reactor/shard_pool.hpp"

namespace tern::kernel::reactor {

namespace asio = boost::asio;

namespace {
thread_local const shard* tls_shard = nullptr;

// Deadlines past this are as good as never and must not overflow steady_clock.
constexpr uint64_t max_delay_ns = uint64_t{100} * 365 * 24 * 3600 * 1000000000ull;
}  // namespace

const shard* current_shard_of_thread() noexcept { return tls_shard; }

// Small, trivially copyable handlers: Asio recycles their operation memory per thread, so
// re-arming a timer or a watch allocates nothing after the first time.
struct shard::timer_handler {
    shard* self;
    uint32_t slot;
    uint32_t gen;
    uint64_t seq;
    void operator()(const boost::system::error_code& ec) const {
        if (!ec) self->timer_fired(slot, gen, seq);
    }
};

struct shard::watch_handler {
    shard* self;
    uint32_t slot;
    uint32_t gen;
    uint32_t event;
    void operator()(const boost::system::error_code& ec) const { self->watch_fired(slot, gen, event, ec); }
};

shard::shard(shard_pool& pool, uint32_t index) : pool_(pool), index_(index) {
    work_.emplace(asio::make_work_guard(io_));
}

shard::~shard() {
    stop();
    release_all();
}

void shard::start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
        tls_shard = this;
        thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
        const std::string name = "tern-shard-" + std::to_string(index_);
        ::pthread_setname_np(::pthread_self(), name.c_str());
        for (;;) {
            try {
                io_.run();
                break;
            } catch (const std::exception& e) {
                // Plugin callbacks are noexcept; this is Asio itself. Keep serving.
                pool_.report("reactor shard " + std::to_string(index_) + ": " + e.what());
            }
        }
        tls_shard = nullptr;
    });
    // Known before start() returns, so that is_current() is exact from the first task on.
    while (thread_id_.load(std::memory_order_acquire) == std::thread::id{}) std::this_thread::yield();
}

void shard::stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
}

bool shard::is_current() const noexcept { return tls_shard == this; }

tern_status shard::timer_create(tern_task_fn fn, void* ctx, uint64_t* out) {
    const auto slot = timers_.allocate([this] { return new timer_slot(io_); });
    if (!slot) return TERN_BUSY;
    timer_slot* t = timers_.get(*slot);
    t->fn = fn;
    t->ctx = ctx;
    t->armed = false;
    *out = make_handle(index_, *slot, t->gen.load(std::memory_order_relaxed));
    return TERN_OK;
}

void shard::timer_arm(uint32_t slot, uint32_t gen, uint64_t delay_ns) {
    timer_slot* t = timers_.get(slot);
    if (t == nullptr || t->gen.load(std::memory_order_relaxed) != gen) return;
    if (delay_ns > max_delay_ns) delay_ns = max_delay_ns;
    ++t->seq;
    t->armed = true;
    t->timer.expires_after(std::chrono::nanoseconds(static_cast<int64_t>(delay_ns)));
    t->timer.async_wait(timer_handler{this, slot, gen, t->seq});
}

void shard::timer_cancel(uint32_t slot, uint32_t gen) {
    timer_slot* t = timers_.get(slot);
    if (t == nullptr || t->gen.load(std::memory_order_relaxed) != gen) return;
    ++t->seq;
    t->armed = false;
    t->timer.cancel();
}

void shard::timer_destroy(uint32_t slot, uint32_t gen) {
    timer_slot* t = timers_.get(slot);
    if (t == nullptr || t->gen.load(std::memory_order_relaxed) != gen) return;
    ++t->seq;
    t->armed = false;
    t->timer.cancel();
    t->fn = nullptr;
    t->ctx = nullptr;
    t->gen.store(next_gen(gen), std::memory_order_relaxed);
    timers_.release(slot);
}

void shard::timer_fired(uint32_t slot, uint32_t gen, uint64_t seq) {
    timer_slot* t = timers_.get(slot);
    if (t == nullptr || t->gen.load(std::memory_order_relaxed) != gen || t->seq != seq || !t->armed) return;
    t->armed = false;
    t->fn(t->ctx);
}

tern_status shard::watch_create(int fd, uint32_t events, tern_fd_fn fn, void* ctx, uint64_t* out,
                                std::string& err) {
    const auto slot = watches_.allocate([] { return new watch_slot(); });
    if (!slot) {
        err = "too many fd watches on shard " + std::to_string(index_);
        return TERN_BUSY;
    }
    watch_slot* w = watches_.get(*slot);
    // epoll cannot watch regular files or directories (they are always "ready"); Asio
    // would accept them and then fail every wait, so say so now.
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        watches_.release(*slot);
        err = "cannot watch fd " + std::to_string(fd) + ": it is not open";
        return TERN_INVALID_ARGUMENT;
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        watches_.release(*slot);
        err = "cannot watch fd " + std::to_string(fd) + ": files and directories are always ready; read them directly";
        return TERN_UNSUPPORTED;
    }
    auto sd = std::make_unique<asio::posix::stream_descriptor>(io_);
    boost::system::error_code ec;
    sd->assign(fd, ec);
    if (ec) {
        watches_.release(*slot);
        err = "cannot watch fd " + std::to_string(fd) + ": " + ec.message();
        return ec == boost::system::errc::file_exists ? TERN_EXISTS : TERN_IO;
    }
    w->sd = std::move(sd);
    w->fn = fn;
    w->ctx = ctx;
    w->fd = fd;
    w->events = events;
    w->live = true;
    *out = make_handle(index_, *slot, w->gen.load(std::memory_order_relaxed));
    return TERN_OK;
}

void shard::wait_for(watch_slot& w, uint32_t slot, uint32_t gen, uint32_t event) {
    w.sd->async_wait(event == TERN_FD_READ ? asio::posix::stream_descriptor::wait_read
                                           : asio::posix::stream_descriptor::wait_write,
                     watch_handler{this, slot, gen, event});
}

void shard::watch_arm(uint32_t slot, uint32_t gen) {
    watch_slot* w = watches_.get(slot);
    if (w == nullptr || w->gen.load(std::memory_order_relaxed) != gen || !w->live) return;
    if (w->events & TERN_FD_READ) wait_for(*w, slot, gen, TERN_FD_READ);
    if (w->events & TERN_FD_WRITE) wait_for(*w, slot, gen, TERN_FD_WRITE);
}

void shard::watch_fired(uint32_t slot, uint32_t gen, uint32_t event, const boost::system::error_code& ec) {
    watch_slot* w = watches_.get(slot);
    if (w == nullptr || w->gen.load(std::memory_order_relaxed) != gen || !w->live) return;
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
        // Re-arming would spin on the same error; tell the operator and stop this event.
        pool_.report("watch of fd " + std::to_string(w->fd) + " on shard " + std::to_string(index_) +
                     " failed: " + ec.message());
        return;
    }
    w->fn(w->ctx, w->fd, event);
    // The callback may have unwatched (and a new watch may even reuse the slot): only
    // re-arm the watch that is still the one this completion belongs to.
    if (w->gen.load(std::memory_order_relaxed) == gen && w->live) wait_for(*w, slot, gen, event);
}

void shard::watch_destroy(uint32_t slot, uint32_t gen) {
    watch_slot* w = watches_.get(slot);
    if (w == nullptr || w->gen.load(std::memory_order_relaxed) != gen || !w->live) return;
    w->live = false;
    w->gen.store(next_gen(gen), std::memory_order_relaxed);
    // release() cancels the pending waits and hands the fd back: the plugin owns it.
    w->sd->release();
    w->sd.reset();
    w->fn = nullptr;
    w->ctx = nullptr;
    w->fd = -1;
    watches_.release(slot);
}

void shard::release_all() {
    watches_.for_each([](watch_slot& w) {
        if (w.sd) {
            w.sd->release();
            w.sd.reset();
        }
        w.live = false;
    });
}

}  // namespace tern::kernel::reactor

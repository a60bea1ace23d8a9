// The reactor as plugins use it: tasks on the right shard, timers, fd watches, and the
// waiting rule of unwatch_fd / timer_destroy from the start-stop thread.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "kernel/reactor/shard_pool.hpp"
#include "support.hpp"

using namespace tern::kernel;
using namespace std::chrono_literals;

namespace {

// Counts events and lets the test wait for a number of them (bounded).
struct events {
    std::mutex mu;
    std::condition_variable cv;
    int count = 0;
    std::vector<uint32_t> shards;

    void hit(uint32_t shard) {
        {
            std::lock_guard lock(mu);
            ++count;
            shards.push_back(shard);
        }
        cv.notify_all();
    }
    bool wait_for(int n, std::chrono::milliseconds t = 5s) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, t, [&] { return count >= n; });
    }
    int get() {
        std::lock_guard lock(mu);
        return count;
    }
};

struct task_ctx {
    reactor::shard_pool* pool;
    events* ev;
    uint32_t next_shard = 0;
};

void record_shard(void* p) {
    auto* c = static_cast<task_ctx*>(p);
    c->ev->hit(c->pool->current_shard());
}

void hop(void* p) {
    auto* c = static_cast<task_ctx*>(p);
    c->ev->hit(c->pool->current_shard());
    c->pool->post(c->next_shard, &record_shard, p);
}

struct pipe_fds {
    int r = -1, w = -1;
    pipe_fds() {
        int fds[2];
        REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
        r = fds[0];
        w = fds[1];
    }
    ~pipe_fds() {
        ::close(r);
        ::close(w);
    }
    void poke() const { REQUIRE(::write(w, "x", 1) == 1); }
};

}  // namespace

TEST_CASE("post runs the task on the shard it names, also from another shard", "[reactor]") {
    reactor::shard_pool pool(3);
    pool.start();
    CHECK(pool.shard_count() == 3);
    CHECK(pool.current_shard() == TERN_NO_SHARD);
    events ev;
    task_ctx c{&pool, &ev};
    for (uint32_t s = 0; s < 3; ++s) REQUIRE(pool.post(s, &record_shard, &c) == TERN_OK);
    REQUIRE(ev.wait_for(3));
    std::sort(ev.shards.begin(), ev.shards.end());
    CHECK(ev.shards == std::vector<uint32_t>{0, 1, 2});

    events ev2;
    task_ctx h{&pool, &ev2, 2};
    REQUIRE(pool.post(0, &hop, &h) == TERN_OK);
    REQUIRE(ev2.wait_for(2));
    CHECK(ev2.shards == std::vector<uint32_t>{0, 2});

    CHECK(pool.post(3, &record_shard, &c) == TERN_INVALID_ARGUMENT);
    CHECK(pool.post(0, nullptr, &c) == TERN_INVALID_ARGUMENT);
    pool.stop();
    CHECK(pool.post(0, &record_shard, &c) == TERN_UNAVAILABLE);
}

TEST_CASE("now_ns is monotonic", "[reactor]") {
    reactor::shard_pool pool(1);
    const uint64_t a = pool.now_ns();
    std::this_thread::sleep_for(1ms);
    CHECK(pool.now_ns() > a);
}

namespace {

struct timer_ctx {
    explicit timer_ctx(reactor::shard_pool* p) : pool(p) {}
    reactor::shard_pool* pool;
    events ev;
    uint64_t timer = 0;
    uint64_t delay = 0;
};

void timer_fired(void* p) {
    auto* t = static_cast<timer_ctx*>(p);
    t->ev.hit(t->pool->current_shard());
}

void arm_on_shard(void* p) {
    auto* t = static_cast<timer_ctx*>(p);
    t->pool->timer_arm(t->timer, t->delay);
}

void arm_then_cancel(void* p) {
    auto* t = static_cast<timer_ctx*>(p);
    t->pool->timer_arm(t->timer, 20'000'000);
    t->pool->timer_cancel(t->timer);
}

void arm_long_then_short(void* p) {
    auto* t = static_cast<timer_ctx*>(p);
    t->pool->timer_arm(t->timer, 10'000'000'000ull);
    t->pool->timer_arm(t->timer, 1'000'000);
}

}  // namespace

TEST_CASE("a timer fires once on its shard, can be cancelled and re-armed", "[reactor][timer]") {
    reactor::shard_pool pool(2);
    pool.start();
    timer_ctx t(&pool);
    REQUIRE(pool.timer_create(1, &timer_fired, &t, &t.timer) == TERN_OK);

    t.delay = 1'000'000;
    REQUIRE(pool.post(1, &arm_on_shard, &t) == TERN_OK);
    REQUIRE(t.ev.wait_for(1));
    CHECK(t.ev.shards == std::vector<uint32_t>{1});

    // reusable: arm again after it fired
    REQUIRE(pool.post(1, &arm_on_shard, &t) == TERN_OK);
    REQUIRE(t.ev.wait_for(2));

    // cancelled before its deadline: never fires
    REQUIRE(pool.post(1, &arm_then_cancel, &t) == TERN_OK);
    std::this_thread::sleep_for(80ms);
    CHECK(t.ev.get() == 2);

    // re-arming replaces the deadline: fires once, at the new one
    REQUIRE(pool.post(1, &arm_long_then_short, &t) == TERN_OK);
    REQUIRE(t.ev.wait_for(3));
    std::this_thread::sleep_for(50ms);
    CHECK(t.ev.get() == 3);

    pool.timer_destroy(t.timer);
    pool.stop();
}

TEST_CASE("a stale timer handle is ignored, even when its slot is reused", "[reactor][timer]") {
    reactor::shard_pool pool(1);
    pool.start();
    timer_ctx first(&pool), second(&pool);
    REQUIRE(pool.timer_create(0, &timer_fired, &first, &first.timer) == TERN_OK);
    pool.timer_destroy(first.timer);
    REQUIRE(pool.timer_create(0, &timer_fired, &second, &second.timer) == TERN_OK);
    CHECK(second.timer != first.timer);

    first.delay = 1'000'000;
    REQUIRE(pool.post(0, &arm_on_shard, &first) == TERN_OK);  // stale: nothing happens
    second.delay = 5'000'000;
    REQUIRE(pool.post(0, &arm_on_shard, &second) == TERN_OK);
    REQUIRE(second.ev.wait_for(1));
    CHECK(first.ev.get() == 0);
    pool.timer_cancel(0);       // a handle that never existed
    pool.timer_destroy(~0ull);  // out of range
    pool.timer_destroy(second.timer);
    pool.stop();
}

TEST_CASE("a timer armed before the shards run fires once they do", "[reactor][timer]") {
    reactor::shard_pool pool(1);
    timer_ctx t(&pool);
    REQUIRE(pool.timer_create(0, &timer_fired, &t, &t.timer) == TERN_OK);
    pool.timer_arm(t.timer, 1'000'000);  // from the start-stop thread, shards not yet running
    pool.start();
    REQUIRE(t.ev.wait_for(1));
    CHECK(t.ev.shards == std::vector<uint32_t>{0});
    pool.timer_destroy(t.timer);
}

namespace {

struct watch_ctx {
    explicit watch_ctx(reactor::shard_pool* p) : pool(p) {}
    reactor::shard_pool* pool;
    events ev;
    uint64_t watch = 0;
    std::atomic<bool> unwatch_inside{false};
    std::atomic<bool> in_callback{false};
    std::atomic<bool> finished{false};
    std::chrono::milliseconds linger{0};
};

void on_readable(void* p, int fd, uint32_t events_mask) {
    auto* w = static_cast<watch_ctx*>(p);
    w->in_callback = true;
    char buf[64];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    if (w->linger.count() > 0) std::this_thread::sleep_for(w->linger);
    if (w->unwatch_inside) w->pool->unwatch_fd(w->watch);
    w->ev.hit(events_mask == TERN_FD_READ ? w->pool->current_shard() : 999);
    w->finished = true;
}

}  // namespace

TEST_CASE("watch_fd calls back on the shard while the fd is readable, until unwatched", "[reactor][watch]") {
    reactor::shard_pool pool(2);
    pool.start();
    pipe_fds p;
    watch_ctx w(&pool);
    REQUIRE(pool.watch_fd(1, p.r, TERN_FD_READ, &on_readable, &w, &w.watch) == TERN_OK);
    p.poke();
    REQUIRE(w.ev.wait_for(1));
    p.poke();
    REQUIRE(w.ev.wait_for(2));
    CHECK(w.ev.shards == std::vector<uint32_t>{1, 1});

    pool.unwatch_fd(w.watch);  // from the start-stop thread: waits for the shard
    p.poke();
    std::this_thread::sleep_for(80ms);
    CHECK(w.ev.get() == 2);
    CHECK(::fcntl(p.r, F_GETFD) != -1);  // the fd stays the caller's, open
    pool.unwatch_fd(w.watch);            // twice: stale, ignored
    pool.stop();
}

TEST_CASE("unwatch_fd from the start-stop thread returns only after a running callback", "[reactor][watch]") {
    reactor::shard_pool pool(1);
    pool.start();
    pipe_fds p;
    watch_ctx w(&pool);
    w.linger = 150ms;
    REQUIRE(pool.watch_fd(0, p.r, TERN_FD_READ, &on_readable, &w, &w.watch) == TERN_OK);
    p.poke();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!w.in_callback && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    REQUIRE(w.in_callback);
    pool.unwatch_fd(w.watch);
    CHECK(w.finished);  // the callback completed before unwatch_fd returned
    pool.stop();
}

TEST_CASE("a watch may unwatch itself from inside its callback", "[reactor][watch]") {
    reactor::shard_pool pool(1);
    pool.start();
    pipe_fds p;
    watch_ctx w(&pool);
    w.unwatch_inside = true;
    REQUIRE(pool.watch_fd(0, p.r, TERN_FD_READ, &on_readable, &w, &w.watch) == TERN_OK);
    p.poke();
    REQUIRE(w.ev.wait_for(1));
    p.poke();
    std::this_thread::sleep_for(80ms);
    CHECK(w.ev.get() == 1);

    // the fd can be watched again afterwards
    watch_ctx again(&pool);
    REQUIRE(pool.watch_fd(0, p.r, TERN_FD_READ, &on_readable, &again, &again.watch) == TERN_OK);
    REQUIRE(again.ev.wait_for(1));  // the byte still waiting in the pipe
    pool.unwatch_fd(again.watch);
    pool.stop();
}

TEST_CASE("watch_fd refuses what it cannot watch", "[reactor][watch]") {
    reactor::shard_pool pool(1);
    pool.start();
    watch_ctx w(&pool);
    uint64_t h = 0;
    CHECK(pool.watch_fd(0, -1, TERN_FD_READ, &on_readable, &w, &h) == TERN_INVALID_ARGUMENT);
    CHECK(pool.watch_fd(1, 0, TERN_FD_READ, &on_readable, &w, &h) == TERN_INVALID_ARGUMENT);
    CHECK(pool.watch_fd(0, 0, 0, &on_readable, &w, &h) == TERN_INVALID_ARGUMENT);
    kt::temp_dir tmp;
    const int file = ::open(tmp.write("f", "x").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(file >= 0);
    CHECK(pool.watch_fd(0, file, TERN_FD_READ, &on_readable, &w, &h) == TERN_UNSUPPORTED);  // always ready
    ::close(file);
    CHECK(pool.watch_fd(0, file, TERN_FD_READ, &on_readable, &w, &h) == TERN_INVALID_ARGUMENT);  // closed
    pipe_fds p;
    REQUIRE(pool.watch_fd(0, p.r, TERN_FD_READ, &on_readable, &w, &h) == TERN_OK);
    uint64_t twice = 0;
    CHECK(pool.watch_fd(0, p.r, TERN_FD_READ, &on_readable, &w, &twice) == TERN_EXISTS);  // one watch per fd and shard
    pool.unwatch_fd(h);
    pool.stop();
}

TEST_CASE("the pool gives watched fds back when it is destroyed", "[reactor][watch]") {
    pipe_fds p;
    {
        reactor::shard_pool pool(1);
        pool.start();
        watch_ctx w(&pool);
        REQUIRE(pool.watch_fd(0, p.r, TERN_FD_READ | TERN_FD_WRITE, &on_readable, &w, &w.watch) == TERN_OK);
        pool.stop();
    }
    CHECK(::fcntl(p.r, F_GETFD) != -1);
}

// The uplink hot path (POST telemetry or attributes with a cached token) allocates nothing
// of the plugin's own and takes no lock. This binary replaces the global operator new and
// interposes pthread_mutex_lock to count both over 10 000 warmed-up requests, with an
// adaptor and a core that allocate nothing themselves (real ones may; the ABI allows it).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "fakes.hpp"
#include "tern/sdk/testing_alloc.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

namespace {

// A reactor whose clock the test sets directly: the SDK's manual_reactor moves its clock
// only through advance(), which takes its queue's lock, and this test counts locks. Its
// queue is a fixed ring behind a spin flag, so a post (a sleeping device's uplink hops to
// its home shard) neither allocates nor locks a mutex here; what a kernel's post costs is
// the kernel's.

struct fake_reactor final : reactor_v1 {
    uint32_t shards = 2;
    uint32_t current = TERN_NO_SHARD;
    uint64_t now = 1'000'000'000'000ull;
    bool refuse_posts = false;
    struct task {
        uint32_t shard;
        tern_task_fn fn;
        void* ctx;
    };
    std::vector<task> ring = std::vector<task>(1u << 16);
    std::size_t head = 0, count = 0;
    std::atomic_flag busy = ATOMIC_FLAG_INIT;  // stop() posts from the test's thread while a runner runs tasks
    void lock() noexcept {
        while (busy.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
    }
    void unlock() noexcept { busy.clear(std::memory_order_release); }
    struct timer {
        uint32_t shard;
        tern_task_fn fn;
        void* ctx;
        uint64_t deadline = 0;
        bool armed = false;
        bool alive = true;
    };
    std::vector<timer> timers;

    uint32_t shard_count() noexcept override { return shards; }
    uint32_t current_shard() noexcept override { return current; }
    uint64_t now_ns() noexcept override { return now; }
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override {
        if (refuse_posts) return TERN_UNAVAILABLE;
        lock();
        const bool full = count == ring.size();
        if (!full) ring[(head + count++) % ring.size()] = task{shard, fn, ctx};
        unlock();
        return full ? TERN_UNAVAILABLE : TERN_OK;
    }
    tern_status watch_fd(uint32_t, int, uint32_t, tern_fd_fn, void*, uint64_t*) noexcept override {
        return TERN_UNSUPPORTED;
    }
    void unwatch_fd(uint64_t) noexcept override {}
    tern_status timer_create(uint32_t shard, tern_task_fn fn, void* ctx, uint64_t* out) noexcept override {
        timers.push_back({shard, fn, ctx});
        *out = timers.size();
        return TERN_OK;
    }
    void timer_arm(uint64_t t, uint64_t delay_ns) noexcept override {
        timers[t - 1].deadline = now + delay_ns;
        timers[t - 1].armed = true;
    }
    void timer_cancel(uint64_t t) noexcept override { timers[t - 1].armed = false; }
    void timer_destroy(uint64_t t) noexcept override {
        timers[t - 1].armed = false;
        timers[t - 1].alive = false;
    }

    // Runs posted tasks (and what they post) until none is left.
    void run() {
        for (int guard = 0; guard < 100000; ++guard) {
            task t{};
            lock();
            const bool empty = count == 0;
            if (!empty) {
                t = ring[head];
                head = (head + 1) % ring.size();
                --count;
            }
            unlock();
            if (empty) break;
            const uint32_t prev = current;
            current = t.shard;
            t.fn(t.ctx);
            current = prev;
        }
    }
    // Moves the clock, firing due timers in deadline order, and runs what they post.
    void advance(uint64_t ns) {
        const uint64_t target = now + ns;
        for (;;) {
            run();
            timer* next = nullptr;
            for (timer& t : timers)
                if (t.alive && t.armed && t.deadline <= target && (next == nullptr || t.deadline < next->deadline))
                    next = &t;
            if (next == nullptr) break;
            now = std::max(now, next->deadline);
            next->armed = false;
            const uint32_t prev = current;
            current = next->shard;
            next->fn(next->ctx);
            current = prev;
        }
        now = target;
        run();
    }
    template <class F>
    void on(uint32_t s, F&& f) {
        const uint32_t prev = current;
        current = s;
        f();
        current = prev;
    }
};

// Decodes every body into one fixed record / attribute, without allocating.
struct static_adaptor final : payload_v1 {
    tern_kv kv{tern_str{"t", 1}, tern_value{}};
    tern_str name() noexcept override { return tern_str{"json", 4}; }
    int32_t content_format() noexcept override { return 50; }
    tern_status decode_telemetry(const tern_payload_context*, tern_bytes, int64_t now, tern_records_sink s, void* x,
                                 tern_error*) noexcept override {
        kv.value.type = TERN_VALUE_INT;
        kv.value.u.i = 1;
        const tern_ts_record r{now, &kv, 1, 0};
        s(x, &r, 1);
        return TERN_OK;
    }
    tern_status decode_attributes(const tern_payload_context*, tern_bytes, tern_kv_sink s, void* x,
                                  tern_error*) noexcept override {
        kv.value.type = TERN_VALUE_INT;
        s(x, &kv, 1);
        return TERN_OK;
    }
    tern_status decode_rpc_reply(const tern_payload_context*, tern_bytes, tern_bytes_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status decode_rpc_call(const tern_payload_context*, tern_bytes, tern_rpc_call_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status decode_claim(const tern_payload_context*, tern_bytes, tern_claim_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status decode_provision(const tern_payload_context*, tern_bytes, tern_provision_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status encode_attribute_update(const tern_payload_context*, const tern_kv*, uint32_t, const tern_str*, uint32_t, tern_bytes_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status encode_attributes(const tern_payload_context*, const tern_kv*, uint32_t, const tern_kv*, uint32_t, tern_bytes_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status encode_rpc_request(const tern_payload_context*, const tern_rpc_request*, tern_bytes_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status encode_rpc_response(const tern_payload_context*, tern_str, tern_str, tern_bytes_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status encode_provision_response(const tern_payload_context*, const tern_provision_result*, tern_bytes_sink, void*, tern_error*) noexcept override { return TERN_UNSUPPORTED; }
};

// Authenticates T1 at once; stores nothing; completes writes later (as a writer thread
// would), from a preallocated list.
struct quiet_core final : core_auth_v1,
                          core_telemetry_v1,
                          core_attributes_v1,
                          core_rpc_v1,
                          core_provisioning_v1,
                          core_ota_v1,
                          core_sessions_v1,
                          core_events_v1 {
    struct pending {
        tern_core_done_fn done;
        void* ctx;
    };
    std::vector<pending> writes;
    long answered = 0;
    quiet_core() { writes.reserve(64); }
    tern_status subscribe(core_listener_v1*, uint64_t* out) noexcept override {
        *out = 1;
        return TERN_OK;
    }
    void close(uint64_t) noexcept override {}
    void psk_key(tern_str, tern_core_psk_key_fn done, void* ctx) noexcept override { done(ctx, TERN_NOT_FOUND, 0, {}); }
    long auth_calls = 0;
    bool psm = false;  // T1's profile names power mode PSM
    void authenticate(tern_credential_kind, tern_str value, tern_core_record_fn done, void* ctx) noexcept override {
        ++auth_calls;
        if (value.size == 4 && std::memcmp(value.data, "NOPE", 4) == 0) {
            done(ctx, TERN_NOT_FOUND, nullptr);
            return;
        }
        tern_device_record info{};
        info.struct_size = sizeof info;
        info.device_id = 1;
        info.profile_id = 1;
        tern_kv mode{tern_str{TERN_OPTION_POWER_MODE, std::strlen(TERN_OPTION_POWER_MODE)}, tern_value{}};
        mode.value.type = TERN_VALUE_STR;
        mode.value.u.s = tern_str{"PSM", 3};
        if (psm) {
            info.profile_options = &mode;
            info.profile_option_count = 1;
        }
        done(ctx, TERN_OK, &info);
    }
    void post_telemetry(uint64_t, const tern_ts_record*, uint32_t, tern_core_done_fn done, void* ctx) noexcept override {
        writes.push_back({done, ctx});
    }
    void post_attributes(uint64_t, tern_attribute_scope, const tern_kv*, uint32_t, tern_core_done_fn done,
                         void* ctx) noexcept override {
        writes.push_back({done, ctx});
    }
    void complete() {
        for (const pending& p : writes) p.done(p.ctx, TERN_OK, tern_str{});
        answered += static_cast<long>(writes.size());
        writes.clear();
    }
    void get_attributes(uint64_t, const tern_key_filter*, const tern_key_filter*, tern_core_attributes_fn, void*) noexcept override {}
    tern_status subscribe_device(uint64_t, uint64_t, uint32_t) noexcept override { return TERN_OK; }
    void unsubscribe_device(uint64_t, uint64_t, uint32_t) noexcept override {}
    void session_event(uint64_t, tern_session_event, tern_str, tern_str) noexcept override {}
    void rpc_status(uint64_t, int64_t, tern_rpc_status, tern_str) noexcept override {}
    void rpc_reply(uint64_t, int64_t, tern_str, tern_core_done_fn, void*) noexcept override {}
    void resend_pending_rpcs(uint64_t) noexcept override {}
    void client_rpc(uint64_t, tern_str, tern_str, int64_t, tern_core_text_fn, void*) noexcept override {}
    void claim(uint64_t, tern_str, int64_t, tern_core_done_fn, void*) noexcept override {}
    void provision(const tern_provision_request*, tern_core_provision_fn, void*) noexcept override {}
    void ota_package(uint64_t, tern_ota_type, tern_core_ota_fn, void*) noexcept override {}
};

// Counts answers only.
struct counting_engine final : coap_engine_v1 {
    long created = 0;
    long limited = 0;       // 4.29 with Max-Age
    long unauthorized = 0;  // 4.01
    tern_status add_resource(const tern_coap_resource*, coap_handler_v1*, uint64_t* out) noexcept override {
        *out = 1;
        return TERN_OK;
    }
    void remove_resource(uint64_t) noexcept override {}
    tern_status respond(uint64_t, const tern_coap_response* r, uint64_t*) noexcept override {
        created += r->code == TERN_COAP_CODE(2, 1);
        limited += r->code == TERN_COAP_CODE(4, 29) && r->max_age >= 1;
        unauthorized += r->code == TERN_COAP_CODE(4, 1);
        return TERN_OK;
    }
    tern_status notify(uint64_t, const tern_coap_response*, uint64_t, uint32_t) noexcept override { return TERN_OK; }
    tern_status end_observation(uint64_t, const tern_coap_response*) noexcept override { return TERN_OK; }
};

}  // namespace

TEST_CASE("hot path: a telemetry or attributes POST with a cached token allocates nothing and locks nothing",
          "[alloc]") {
    fake_reactor reactor;
    counting_engine engine;
    quiet_core core;
    static_adaptor adaptor;
    services w;
    w.reactor = &reactor;
    w.engine = &engine;
    w.core = core_links::of(core);
    w.adaptors = adaptors_of({&adaptor});
    w.transports.push_back({"udp", nullptr});
    settings s = default_settings();
    // The per-device limits are consulted on every request (high enough to let all pass).
    s.device_message_rate = 1000000;
    s.device_datapoint_rate = 1000000;
    service a(s, std::move(w));
    a.start();

    const std::string segs[] = {"api", "v1", "T1", "telemetry", "attributes"};
    const tern_str tele[] = {{"api", 3}, {"v1", 2}, {"T1", 2}, {"telemetry", 9}};
    const tern_str attrs[] = {{"api", 3}, {"v1", 2}, {"T1", 2}, {"attributes", 10}};
    const std::string body = R"({"t":1})";
    tern_coap_request q{};
    q.struct_size = sizeof q;
    q.type = TERN_COAP_CON;
    q.code = TERN_COAP_POST;
    q.observe = -1;
    q.content_format = -1;
    q.accept = -1;
    q.peer.endpoint.family = 4;
    q.peer.endpoint.port = 5683;
    q.transport = tern_str{"udp", 3};
    q.path_count = 4;
    q.payload = tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()};

    auto one = [&](uint64_t i) {
        q.exchange = i;
        q.path = (i % 2 == 0) ? tele : attrs;
        reactor.now += 1000000;  // 1 ms
        reactor.on(0, [&] { a.on_request(&q); });
        // the core answers in batches, as a writer thread does
        if (i % 32 == 0) reactor.on(TERN_NO_SHARD, [&] { core.complete(); });
    };
    for (uint64_t i = 1; i <= 1000; ++i) one(i);  // warm up: cache, context pool
    core.complete();

    sdk::testing::alloc_counter counter;
    for (uint64_t i = 1001; i <= 11000; ++i) one(i);
    core.complete();
    const sdk::testing::alloc_counts n = counter.stop();

    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(engine.created == 11000);
    CHECK(core.answered == 11000);
    // stop() waits for the shutdown tasks it posts: play the shards meanwhile
    std::atomic<bool> done{false};
    std::thread runner([&] {
        while (!done.load()) {
            reactor.run();
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    a.stop();
    done.store(true);
    runner.join();
}

TEST_CASE("hot path: a device over its limit (4.29) and a remembered unknown token (4.01) allocate nothing",
          "[alloc]") {
    fake_reactor reactor;
    counting_engine engine;
    quiet_core core;
    static_adaptor adaptor;
    services w;
    w.reactor = &reactor;
    w.engine = &engine;
    w.core = core_links::of(core);
    w.adaptors = adaptors_of({&adaptor});
    w.transports.push_back({"udp", nullptr});
    settings s = default_settings();
    s.device_message_rate = 1;
    s.device_message_burst = 1;
    service a(s, std::move(w));
    a.start();

    const tern_str tele[] = {{"api", 3}, {"v1", 2}, {"T1", 2}, {"telemetry", 9}};
    const tern_str unknown[] = {{"api", 3}, {"v1", 2}, {"NOPE", 4}, {"telemetry", 9}};
    const std::string body = R"({"t":1})";
    tern_coap_request q{};
    q.struct_size = sizeof q;
    q.type = TERN_COAP_CON;
    q.code = TERN_COAP_POST;
    q.observe = -1;
    q.content_format = -1;
    q.accept = -1;
    q.peer.endpoint.family = 4;
    q.peer.endpoint.port = 5683;
    q.transport = tern_str{"udp", 3};
    q.path_count = 4;
    q.payload = tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
    auto one = [&](uint64_t i, const tern_str* path) {
        q.exchange = i;
        q.path = path;
        reactor.on(0, [&] { a.on_request(&q); });
    };
    // warm up: the token cached (and its one message used), the unknown token remembered
    for (uint64_t i = 1; i <= 10; ++i) one(i, tele);
    for (uint64_t i = 11; i <= 20; ++i) one(i, unknown);
    core.complete();
    const long limited_before = engine.limited, unauthorized_before = engine.unauthorized;
    const long auth_before = core.auth_calls;

    sdk::testing::alloc_counter counter;
    for (uint64_t i = 21; i <= 10020; ++i) one(i, (i % 2 == 0) ? tele : unknown);
    const sdk::testing::alloc_counts n = counter.stop();
    core.complete();

    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(engine.limited - limited_before == 5000);
    CHECK(engine.unauthorized - unauthorized_before == 5000);
    CHECK(core.auth_calls == auth_before);  // neither reached the core
    std::atomic<bool> done{false};
    std::thread runner([&] {
        while (!done.load()) {
            reactor.run();
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    a.stop();
    done.store(true);
    runner.join();
}

namespace {

// PSM as a policy sees it, without allocating: awake for 10 s after an uplink or ACK.
struct psm_policy final : power_policy_v1 {
    long uplinks = 0;
    bool describe(tern_str mode, uint32_t* flags) noexcept override {
        *flags = TERN_POWER_MODE_SLEEPS;
        return mode.size == 3 && std::memcmp(mode.data, "PSM", 3) == 0;
    }
    bool on_event(const tern_power_settings*, tern_power_state* st, tern_power_event e, int64_t now) noexcept override {
        const bool asleep = (st->flags & TERN_POWER_ASLEEP) != 0;
        if (e == TERN_POWER_EVENT_TIMER || e == TERN_POWER_EVENT_UNREACHABLE) {
            st->flags |= TERN_POWER_ASLEEP;
            return false;
        }
        uplinks += e == TERN_POWER_EVENT_UPLINK;
        st->last_activity_ms = now;
        st->wake_check_ms = now + 10000;
        st->flags &= ~uint32_t{TERN_POWER_ASLEEP};
        return asleep;
    }
    tern_power_verdict may_send(const tern_power_settings*, tern_power_state* st, int64_t) noexcept override {
        return (st->flags & TERN_POWER_ASLEEP) != 0 ? TERN_POWER_HOLD : TERN_POWER_SEND;
    }
};

}  // namespace

TEST_CASE("hot path: a PSM device's uplink reaches its policy on its home shard without allocating", "[alloc]") {
    fake_reactor reactor;
    counting_engine engine;
    quiet_core core;
    core.psm = true;
    static_adaptor adaptor;
    psm_policy policy;
    sdk::testing::fake_registry powers;
    powers.provide(TERN_IID_POWER_POLICY_V1, "power", static_cast<power_policy_v1*>(&policy));
    services w;
    w.reactor = &reactor;
    w.engine = &engine;
    w.core = core_links::of(core);
    w.adaptors = adaptors_of({&adaptor});
    w.powers = sdk::power_catalog(powers);
    w.transports.push_back({"udp", nullptr});
    settings s = default_settings();
    s.device_message_rate = 1000000;
    s.device_datapoint_rate = 1000000;
    service a(s, std::move(w));
    a.start();
    REQUIRE(a.home_of(1) == 1);  // requests come on shard 0: every uplink hops

    const tern_str tele[] = {{"api", 3}, {"v1", 2}, {"T1", 2}, {"telemetry", 9}};
    const tern_str observe[] = {{"api", 3}, {"v1", 2}, {"T1", 2}, {"attributes", 10}};
    const std::string body = R"({"t":1})";
    tern_coap_request q{};
    q.struct_size = sizeof q;
    q.type = TERN_COAP_CON;
    q.code = TERN_COAP_POST;
    q.observe = -1;
    q.content_format = -1;
    q.accept = -1;
    q.peer.endpoint.family = 4;
    q.peer.endpoint.port = 5683;
    q.transport = tern_str{"udp", 3};
    q.path_count = 4;
    q.payload = tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
    // The device registers an attribute observation first: it has state at home (the
    // snapshot read never completes here, the state stays).
    q.exchange = 1;
    q.code = TERN_COAP_GET;
    q.observe = 0;
    q.path = observe;
    reactor.on(0, [&] { a.on_request(&q); });
    reactor.run();
    REQUIRE(a.state_of(1) != nullptr);
    q.code = TERN_COAP_POST;
    q.observe = -1;
    q.path = tele;
    auto one = [&](uint64_t i) {
        q.exchange = i;
        reactor.now += 1000000;  // 1 ms
        reactor.on(0, [&] { a.on_request(&q); });
        reactor.run();  // the home shard hears of it
        if (i % 32 == 0) reactor.on(TERN_NO_SHARD, [&] { core.complete(); });
    };
    for (uint64_t i = 2; i <= 1000; ++i) one(i);  // warm up: cache, pools
    core.complete();
    const long uplinks_before = policy.uplinks;

    sdk::testing::alloc_counter counter;
    for (uint64_t i = 1001; i <= 11000; ++i) one(i);
    core.complete();
    const sdk::testing::alloc_counts n = counter.stop();

    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(policy.uplinks - uplinks_before == 10000);
    std::atomic<bool> done{false};
    std::thread runner([&] {
        while (!done.load()) {
            reactor.run();
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    a.stop();
    done.store(true);
    runner.join();
}

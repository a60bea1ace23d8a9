// The resource with real threads: two reactor shards (the SDK's threaded_reactor) and a core
// that answers every lookup and write from a thread of its own, as the embedded core does.
// Many sensors on both shards at once: every message is answered once, lookups come back to
// their shard, contexts return to their pool, stop() finds nothing in flight.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fakes.hpp"
#include "resource.hpp"
#include "tern/sdk/testing_threads.hpp"

using namespace tern;
using namespace tern::efento;
using namespace tern::efento::test;

namespace {

// Answers from its own thread, in order.
struct threaded_core final : core_auth_v1, core_telemetry_v1, core_attributes_v1, core_sessions_v1, core_events_v1 {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> work;
    bool done = false;
    std::thread thread{[this] { run(); }};
    std::atomic<int> lookups{0}, writes{0}, activity{0};
    std::atomic<bool> wrong_thread{false};
    reactor_v1* reactor = nullptr;

    ~threaded_core() {
        {
            std::lock_guard lk(mu);
            done = true;
        }
        cv.notify_all();
        thread.join();
    }
    void run() {
        for (;;) {
            std::function<void()> f;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return done || !work.empty(); });
                if (work.empty()) return;
                f = std::move(work.front());
                work.pop_front();
            }
            f();
        }
    }
    void later(std::function<void()> f) {
        {
            std::lock_guard lk(mu);
            work.push_back(std::move(f));
        }
        cv.notify_one();
    }

    void authenticate(tern_credential_kind, tern_str value, tern_core_record_fn fn, void* ctx) noexcept override {
        ++lookups;
        later([fn, ctx, token = str(value)] {
            if (!token.starts_with("sensor-")) {
                fn(ctx, TERN_NOT_FOUND, nullptr);
                return;
            }
            tern_kv opt{};
            opt.key = sdk::to_str(TERN_OPTION_COAP_DEVICE_TYPE);
            opt.value.type = TERN_VALUE_STR;
            opt.value.u.s = sdk::to_str("EFENTO");
            tern_device_record r{};
            r.struct_size = sizeof r;
            r.device_id = std::stoull(token.substr(7));
            r.profile_id = 1;
            r.profile_name = sdk::to_str("efento");
            r.profile_options = &opt;
            r.profile_option_count = 1;
            fn(ctx, TERN_OK, &r);
        });
    }
    void psk_key(tern_str, tern_core_psk_key_fn fn, void* ctx) noexcept override { fn(ctx, TERN_NOT_FOUND, 0, {}); }
    void post_telemetry(uint64_t, const tern_ts_record* recs, uint32_t n, tern_core_done_fn fn, void* ctx) noexcept override {
        if (reactor->current_shard() == TERN_NO_SHARD) wrong_thread = true;
        if (n == 0 || recs[0].count == 0) wrong_thread = true;  // the views must be readable in the call
        ++writes;
        later([fn, ctx] { fn(ctx, TERN_OK, {}); });
    }
    void post_attributes(uint64_t, tern_attribute_scope, const tern_kv*, uint32_t, tern_core_done_fn fn,
                         void* ctx) noexcept override {
        ++writes;
        later([fn, ctx] { fn(ctx, TERN_OK, {}); });
    }
    void get_attributes(uint64_t, const tern_key_filter*, const tern_key_filter*, tern_core_attributes_fn fn,
                        void* ctx) noexcept override {
        fn(ctx, TERN_NOT_FOUND, nullptr, 0, nullptr, 0);
    }
    void session_event(uint64_t, tern_session_event, tern_str, tern_str) noexcept override { ++activity; }
    tern_status subscribe(core_listener_v1*, uint64_t* out) noexcept override {
        *out = 1;
        return TERN_OK;
    }
    tern_status subscribe_device(uint64_t, uint64_t, uint32_t) noexcept override { return TERN_OK; }
    void unsubscribe_device(uint64_t, uint64_t, uint32_t) noexcept override {}
    void close(uint64_t) noexcept override {}
};

// Counts answers by code from any thread.
struct counting_engine final : coap_engine_v1 {
    std::vector<coap_handler_v1*> handlers;
    std::atomic<int> created{0}, unauthorized{0}, other{0};
    tern_status add_resource(const tern_coap_resource*, coap_handler_v1* h, uint64_t* out) noexcept override {
        handlers.push_back(h);
        *out = handlers.size();
        return TERN_OK;
    }
    void remove_resource(uint64_t) noexcept override {}
    tern_status respond(uint64_t, const tern_coap_response* r, uint64_t*) noexcept override {
        if (r->code == TERN_COAP_CODE(2, 1)) ++created;
        else if (r->code == TERN_COAP_CODE(4, 1)) ++unauthorized;
        else ++other;
        return TERN_OK;
    }
    tern_status notify(uint64_t, const tern_coap_response*, uint64_t, uint32_t) noexcept override { return TERN_NOT_FOUND; }
    tern_status end_observation(uint64_t, const tern_coap_response*) noexcept override { return TERN_NOT_FOUND; }
};

}  // namespace

TEST_CASE("many sensors on two shards with a core answering from its own thread", "[efento][threads]") {
    sdk::testing::fake_host h(settings_schema.keys(), "efento", 2);
    sdk::testing::threaded_reactor reactor(2);
    h.use_reactor(reactor);
    sdk::host sh(&h);
    threaded_core core;
    core.reactor = &reactor;
    counting_engine engine;
    settings s = default_settings();
    s.source_rate = 0;  // strangers are not the point here
    check(s);
    services w;
    w.reactor = &reactor;
    w.engine = &engine;
    w.core = core_links::of(core);
    w.host = &sh;
    w.log = &h.log;
    auto res = std::make_unique<resource>(s, w);
    res->start();

    constexpr int sensors = 40, rounds = 25;
    std::vector<std::string> bodies;
    for (int i = 0; i < sensors; ++i)
        bodies.push_back(measurements(i % 10 == 9 ? "stranger-" + std::to_string(i) : "sensor-" + std::to_string(i + 1)));
    const std::vector<std::string> segs{"efento", "m"};
    std::vector<tern_str> path;
    for (const std::string& p : segs) path.push_back(sdk::to_str(p));
    std::atomic<uint64_t> exchange{1};
    for (int round = 0; round < rounds; ++round) {
        for (uint32_t shard = 0; shard < 2; ++shard) {
            reactor.run_on(shard, [&] {
                for (int i = static_cast<int>(shard); i < sensors; i += 2) {
                    tern_coap_request r{};
                    r.struct_size = sizeof r;
                    r.type = TERN_COAP_CON;
                    r.code = TERN_COAP_POST;
                    r.exchange = exchange++;
                    r.shard = shard;
                    r.observe = r.content_format = r.accept = -1;
                    r.peer.endpoint.family = 4;
                    r.peer.endpoint.addr[0] = 10;
                    r.peer.endpoint.addr[3] = static_cast<uint8_t>(i);
                    r.transport = sdk::to_str("udp");
                    r.path = path.data();
                    r.path_count = 2;
                    r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(bodies[i].data()), bodies[i].size()};
                    engine.handlers[0]->on_request(&r);
                }
            });
        }
    }
    const int total = sensors * rounds;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (engine.created + engine.unauthorized + engine.other < total && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(engine.other == 0);
    CHECK(engine.unauthorized == 4 * rounds);
    CHECK(engine.created == total - 4 * rounds);
    CHECK(core.writes == total - 4 * rounds);
    CHECK(core.activity == total - 4 * rounds);
    CHECK_FALSE(core.wrong_thread);
    // each token looked up until its answer was cached on its shard (concurrent first messages
    // of one sensor may each ask), unknown ones once per shard until remembered
    CHECK(core.lookups >= sensors);
    CHECK(core.lookups <= total);
    const auto t0 = std::chrono::steady_clock::now();
    res->stop();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
    CHECK_FALSE(h.log.has("unanswered"));
    res.reset();
}

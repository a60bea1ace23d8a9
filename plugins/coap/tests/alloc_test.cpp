// The datagram-in → response-out path allocates nothing and takes no lock. This binary
// replaces the global operator new and interposes pthread_mutex_lock (the SDK's
// testing_alloc.hpp) to count both while 10 000 requests go through a warmed-up shard.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "tern/sdk/testing_alloc.hpp"  // replaces operator new, interposes pthread_mutex_lock

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// Answers synchronously from static data: a small body, or a large one (Block2).
class sync_handler final : public tern::coap_handler_v1 {
public:
    engine* eng = nullptr;
    bytes large = bytes(4000, 'L');
    void on_request(const tern_coap_request* r) noexcept override {
        tern_coap_response resp = response(code::content, "hello", TERN_COAP_FORMAT_TEXT);
        if (r->path_count == 1 && r->path[0].size == 5) resp.payload = tern_bytes{large.data(), large.size()};
        eng->respond(r->exchange, &resp, nullptr);
    }
    void on_observation_end(uint64_t, int32_t) noexcept override {}
    void on_notification_result(uint64_t, uint64_t, int32_t) noexcept override {}
};

}  // namespace

TEST_CASE("10 000 requests after warm-up: zero allocations, zero locks", "[alloc][perf]") {
    counting_env env;
    fake_metrics metrics;
    engine_config c = small_config();
    c.dedup_capacity = 1024;
    engine eng(c, env, metrics.host(), 1);
    sync_handler h;
    h.eng = &eng;
    tern_coap_resource d{};
    d.struct_size = sizeof d;
    d.methods = 0x1E;
    uint64_t id = 0;
    d.pattern = "r";
    REQUIRE(eng.add_resource(&d, &h, &id) == TERN_OK);
    d.pattern = "large";
    REQUIRE(eng.add_resource(&d, &h, &id) == TERN_OK);
    eng.add_transport("udp");
    eng.start();

    // The request mix: CON and NON GETs (piggy-backed and NON responses), a duplicate
    // (replayed from the cache), an unknown path (4.04 with a diagnostic), a large body
    // (Block2), a bad option (4.02), a ping (RST).
    std::vector<bytes> kinds;
    kinds.push_back(con(GET, "r", 0).encode());
    kinds.push_back(non(GET, "r", 0).encode());
    kinds.push_back(con(GET, "missing/path", 0).encode());
    kinds.push_back(con(GET, "large", 0).encode());
    kinds.push_back(con(GET, "large", 0).block2(2, 4).encode());
    kinds.push_back(con(GET, "r", 0).option(2049, bytes{1}).encode());
    kinds.push_back(empty_msg(msg_type::con, 0));
    std::vector<tern_peer> peers;
    for (uint8_t p = 0; p < 50; ++p) peers.push_back(peer_v4(p, 5000));

    uint16_t mid = 1;
    auto run = [&](int n) {
        tern_datagram last{};
        for (int i = 0; i < n; ++i) {
            if (i % 13 == 1) {
                eng.on_datagrams(0, 0, &last, 1);  // the client retransmits: a duplicate
                continue;
            }
            bytes& w = kinds[static_cast<std::size_t>(i) % kinds.size()];
            const uint16_t m = mid++;
            w[2] = static_cast<uint8_t>(m >> 8);
            w[3] = static_cast<uint8_t>(m);
            tern_datagram dg{peers[static_cast<std::size_t>(i) % peers.size()], tern_bytes{w.data(), w.size()}};
            eng.on_datagrams(0, 0, &dg, 1);
            last = dg;
            env.now += 100000;  // 0.1 ms per request
            if (i % 1000 == 999) eng.on_timer(0);
        }
    };
    run(3000);  // warm-up: fill the dedup ring and arena once round
    const long sent_before = env.sent;
    tern::sdk::testing::alloc_counter counter;
    run(10000);
    const tern::sdk::testing::alloc_counts n = counter.stop();
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(env.sent - sent_before >= 9000);
    CHECK(metrics.get("coap_duplicates_total") > 0);
    eng.stop();
}

namespace {
// Remembers exchanges; the test answers them as another thread would.
class async_handler final : public tern::coap_handler_v1 {
public:
    uint64_t pending[64] = {};
    int count = 0;
    void on_request(const tern_coap_request* r) noexcept override { pending[count++ % 64] = r->exchange; }
    void on_observation_end(uint64_t, int32_t) noexcept override {}
    void on_notification_result(uint64_t, uint64_t, int32_t) noexcept override {}
};
}  // namespace

TEST_CASE("10 000 responses from another thread through the completion queue: zero allocations",
          "[alloc][perf]") {
    counting_env env;
    engine_config c = small_config();
    engine eng(c, env, nullptr, 1);
    async_handler h;
    tern_coap_resource d{};
    d.struct_size = sizeof d;
    d.methods = 0x1E;
    d.pattern = "a";
    uint64_t id = 0;
    REQUIRE(eng.add_resource(&d, &h, &id) == TERN_OK);
    eng.add_transport("udp");
    eng.start();
    bytes w = con(GET, "a", 0).encode();
    const tern_peer peer = peer_v4(1);
    uint16_t mid = 1;
    auto run = [&](int n) {
        for (int i = 0; i < n; ++i) {
            const uint16_t m = mid++;
            w[2] = static_cast<uint8_t>(m >> 8);
            w[3] = static_cast<uint8_t>(m);
            tern_datagram dg{peer, tern_bytes{w.data(), w.size()}};
            env.shard_of_caller = 0;
            eng.on_datagrams(0, 0, &dg, 1);
            env.shard_of_caller = TERN_NO_SHARD;  // the core's thread answers
            tern_coap_response r = response(code::created, "stored");
            eng.respond(h.pending[(h.count - 1) % 64], &r, nullptr);
            env.shard_of_caller = 0;
            if (env.task != nullptr) {
                tern_task_fn fn = env.task;
                env.task = nullptr;
                fn(env.task_ctx);  // the shard drains
            }
            env.now += 100000;
        }
    };
    run(2000);
    const long sent_before = env.sent;
    tern::sdk::testing::alloc_counter counter;
    run(10000);
    CHECK(counter.stop().allocations == 0);
    CHECK(env.sent - sent_before == 10000);
    eng.stop();
}

namespace {
// Registers one observation and counts what became of its notifications.
class observing_handler final : public tern::coap_handler_v1 {
public:
    engine* eng = nullptr;
    uint64_t obs = 0;
    long timeouts = 0, ends = 0;
    void on_request(const tern_coap_request* r) noexcept override {
        tern_coap_response resp = response(code::content, "v0");
        resp.flags = TERN_COAP_RESPONSE_OBSERVE;
        eng->respond(r->exchange, &resp, &obs);
    }
    void on_observation_end(uint64_t, int32_t) noexcept override { ++ends; }
    void on_notification_result(uint64_t, uint64_t, int32_t result) noexcept override {
        timeouts += result == TERN_COAP_NOTIFY_TIMEOUT ? 1 : 0;
    }
};
}  // namespace

TEST_CASE("a sleeping device's notifications given up with KEEP_ON_TIMEOUT: zero allocations, zero locks",
          "[alloc][perf][power]") {
    counting_env env;
    engine_config c = small_config();
    engine eng(c, env, nullptr, 1);
    observing_handler h;
    h.eng = &eng;
    tern_coap_resource d{};
    d.struct_size = sizeof d;
    d.methods = 0x1E;
    d.flags = TERN_COAP_RESOURCE_OBSERVABLE;
    d.pattern = "obs";
    uint64_t id = 0;
    REQUIRE(eng.add_resource(&d, &h, &id) == TERN_OK);
    eng.add_transport("udp");
    eng.start();
    msg reg = con(GET, "obs", 1);
    reg.observe(0);
    const bytes w = reg.encode();
    tern_datagram dg{peer_v4(1), tern_bytes{w.data(), w.size()}};
    eng.on_datagrams(0, 0, &dg, 1);
    REQUIRE(h.obs != 0);
    // Each round: two notifications (one in flight, one queued), never acknowledged; the
    // clock moves a minute at a time, so each retransmission and the give-up fire.
    auto run = [&](int rounds) {
        for (int i = 0; i < rounds; ++i) {
            tern_coap_response n = response(code::content, "22.5");
            eng.notify(h.obs, &n, 1, TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT);
            eng.notify(h.obs, &n, 2, TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT);
            for (int step = 0; step < 6; ++step) {
                env.now += 60'000'000'000ull;
                eng.on_timer(0);
            }
        }
    };
    run(50);
    tern::sdk::testing::alloc_counter counter;
    run(500);
    const tern::sdk::testing::alloc_counts n = counter.stop();
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(h.timeouts == 2 * 550);
    CHECK(h.ends == 0);
    eng.stop();
}

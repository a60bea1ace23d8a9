// coap_engine_v1 across threads: respond/notify/end_observation from threads that are not
// the owning shard travel through the shard's completion queue (one drain post per burst,
// never lost, in order); ids name their shard; stop refuses further calls.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

struct async_fixture {
    harness h;
    recorder rec;
    explicit async_fixture(engine_config c = small_config(), uint32_t shards = 1) : h(c, shards) {
        h.add("r", rec, 0x1E, TERN_COAP_RESOURCE_OBSERVABLE);
        h.start();
    }
};

}  // namespace

TEST_CASE("respond() from another thread: a burst costs one drain post", "[engine][threads]") {
    async_fixture f;
    for (uint16_t mid = 1; mid <= 40; ++mid) f.h.in(con(GET, "r", mid));
    REQUIRE(f.rec.requests.size() == 40);
    std::thread producer([&] {
        for (std::size_t i = 0; i < f.rec.requests.size(); ++i) {
            const std::string text = "r" + std::to_string(i);
            auto r = response(code::content, text);
            CHECK(f.h.eng->respond(f.rec.requests[i].exchange, &r, nullptr) == TERN_OK);
        }
    });
    producer.join();
    CHECK(f.h.env.posted_count() == 1);
    CHECK(f.h.take().empty());  // nothing happens until the shard drains
    f.h.settle();
    const auto v = f.h.take();
    REQUIRE(v.size() == 40);
    for (std::size_t i = 0; i < v.size(); ++i) {
        CHECK(v[i].type == msg_type::ack);  // still within piggyback_timeout
        CHECK(v[i].mid == i + 1);
        CHECK(v[i].text() == "r" + std::to_string(i));
    }
}

TEST_CASE("a full completion queue overflows without losing or reordering completions",
          "[engine][threads]") {
    engine_config c = small_config();
    c.completion_queue_size = 16;
    async_fixture f(c);
    for (uint16_t mid = 1; mid <= 60; ++mid) f.h.in(con(GET, "r", mid));
    std::thread producer([&] {
        for (std::size_t i = 0; i < 60; ++i) {
            const std::string text(600, static_cast<char>('a' + i % 26));  // > inline capacity
            auto r = response(code::content, text);
            CHECK(f.h.eng->respond(f.rec.requests[i].exchange, &r, nullptr) == TERN_OK);
        }
    });
    producer.join();
    f.h.settle();
    const auto v = f.h.take();
    REQUIRE(v.size() == 60);
    for (std::size_t i = 0; i < 60; ++i) {
        CHECK(v[i].mid == i + 1);
        CHECK(v[i].text() == std::string(600, static_cast<char>('a' + i % 26)));
    }
}

TEST_CASE("two producer threads while the shard drains: everything arrives, each producer in order",
          "[engine][threads]") {
    engine_config c = small_config();
    c.completion_queue_size = 16;
    c.max_exchanges = 256;
    async_fixture f(c);
    for (uint16_t mid = 1; mid <= 200; ++mid) f.h.in(non(GET, "r", mid));
    REQUIRE(f.rec.requests.size() == 200);
    std::atomic<int> done{0};
    auto produce = [&](int which) {
        for (int i = which; i < 200; i += 2) {
            const std::string text = std::to_string(which) + ":" + std::to_string(i);
            auto r = response(code::content, text);
            f.h.eng->respond(f.rec.requests[static_cast<std::size_t>(i)].exchange, &r, nullptr);
        }
        ++done;
    };
    std::thread a(produce, 0), b(produce, 1);
    std::vector<out> got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got.size() < 200 && std::chrono::steady_clock::now() < deadline) {
        f.h.settle();
        for (auto& o : f.h.take()) got.push_back(std::move(o));
    }
    a.join();
    b.join();
    f.h.settle();
    for (auto& o : f.h.take()) got.push_back(std::move(o));
    REQUIRE(got.size() == 200);
    int last[2] = {-1, -1};
    for (const out& o : got) {
        const std::string t = o.text();
        const int who = t[0] - '0';
        const int i = std::stoi(t.substr(2));
        CHECK(i > last[who]);
        last[who] = i;
    }
}

TEST_CASE("an observation registered from another thread: id returned at once, notify queued behind",
          "[engine][threads][rfc7641]") {
    async_fixture f;
    msg m = con(GET, "r", 1);
    m.observe(0);
    f.h.in(m);
    uint64_t obs = 0;
    std::thread producer([&] {
        auto r = response(code::content, "initial");
        r.flags = TERN_COAP_RESPONSE_OBSERVE;
        CHECK(f.h.eng->respond(f.rec.requests[0].exchange, &r, &obs) == TERN_OK);
        auto n = response(code::content, "first");
        CHECK(f.h.eng->notify(obs, &n, 7, 0) == TERN_OK);  // queued behind the registration
    });
    producer.join();
    CHECK(obs != 0);
    f.h.settle();
    const auto first = f.h.take();
    REQUIRE(first.size() == 2);
    CHECK(first[0].uint_opt(opt::observe) == 0u);
    CHECK(first[0].text() == "initial");
    CHECK(first[1].uint_opt(opt::observe) == 1u);
    CHECK(first[1].text() == "first");
    f.h.in(empty_msg(msg_type::ack, first[1].mid));
    CHECK(f.rec.results_of(7) == std::vector<int32_t>{TERN_COAP_NOTIFY_DELIVERED});
    std::thread producer2([&] {
        auto n = response(code::content, "second");
        CHECK(f.h.eng->notify(obs, &n, 8, 0) == TERN_OK);
        CHECK(f.h.eng->end_observation(obs, nullptr) == TERN_OK);
    });
    producer2.join();
    f.h.settle();
    const out n2 = f.h.one();
    CHECK(n2.text() == "second");
    CHECK(f.rec.results_of(8) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});  // ended before its ACK
    CHECK(f.h.census().relations == 0);
}

TEST_CASE("respond() with a body from another thread: released exactly once", "[engine][threads]") {
    async_fixture f;
    f.h.in(con(GET, "r", 1));
    counting_body body(to_bytes("from a thread"));
    std::thread producer([&] {
        auto r = response(code::content);
        r.body = &body;
        CHECK(f.h.eng->respond(f.rec.requests[0].exchange, &r, nullptr) == TERN_OK);
    });
    producer.join();
    CHECK(body.released == 0);
    f.h.settle();
    CHECK(f.h.one().text() == "from a thread");
    CHECK(body.released == 1);
}

TEST_CASE("respond() from another thread for a gone exchange is refused at once", "[engine][threads]") {
    async_fixture f;
    f.h.in(con(GET, "r", 1));
    const uint64_t x = f.rec.requests[0].exchange;
    f.h.advance_ms(11000);  // the exchange timed out
    std::thread producer([&] {
        auto r = response(code::content);
        CHECK(f.h.eng->respond(x, &r, nullptr) == TERN_NOT_FOUND);
        CHECK(f.h.eng->respond(make_id(9, 0, 1), &r, nullptr) == TERN_NOT_FOUND);  // no shard 9
        auto bad = response(1);
        CHECK(f.h.eng->respond(x, &bad, nullptr) == TERN_INVALID_ARGUMENT);
    });
    producer.join();
}

TEST_CASE("ids name their shard: a response from shard 0 reaches an exchange of shard 1",
          "[engine][threads]") {
    async_fixture f(small_config(), 2);
    f.h.in(con(GET, "r", 1), peer_v4(1), 1);
    REQUIRE(f.rec.requests.size() == 1);
    CHECK(f.rec.requests[0].shard == 1);
    const uint64_t x = f.rec.requests[0].exchange;
    CHECK(id_shard(x) == 1);
    f.h.as_shard(0, [&] {
        auto r = response(code::content, "cross");
        CHECK(f.h.eng->respond(x, &r, nullptr) == TERN_OK);
    });
    CHECK(f.h.take().empty());
    f.h.settle();
    const auto v = f.h.env.sent;
    REQUIRE(v.size() == 1);
    CHECK(v[0].shard == 1);  // sent by the owning shard
}

TEST_CASE("after stop() the engine refuses calls and releases bodies", "[engine]") {
    async_fixture f;
    f.h.in(con(GET, "r", 1));
    const uint64_t x = f.rec.requests[0].exchange;
    f.h.eng->stop();
    counting_body body(to_bytes("x"));
    auto r = response(code::content);
    r.body = &body;
    CHECK(f.h.eng->respond(x, &r, nullptr) == TERN_UNAVAILABLE);
    CHECK(body.released == 1);
    CHECK(f.h.eng->notify(x, &r, 0, 0) == TERN_UNAVAILABLE);  // r.body released again (new call)
    CHECK(body.released == 2);
}

TEST_CASE("metrics: every metric registers and the gauges return to zero", "[engine]") {
    harness h;
    recorder rec;
    h.add("r", rec);
    h.start();
    CHECK(h.metrics.registered() > 200);  // requests{method,code} pre-registered
    h.in(con(GET, "r", 1));
    CHECK(h.metrics.get("coap_exchanges") == 1);
    CHECK(h.metrics.get("coap_peers") == 1);
    auto r = response(code::content);
    h.respond(rec.requests[0].exchange, r);
    CHECK(h.metrics.get("coap_exchanges") == 0);
    CHECK(h.metrics.get("coap_handler_latency_seconds") == 1);
}

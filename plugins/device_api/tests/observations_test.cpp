// observations: attribute Observe registration, notifications, merging, replacement.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

// ---- attribute observation -------------------------------------------------------------------------

TEST_CASE("api: attribute Observe: first answer, notifications, merging, delivery", "[api][observe]") {
    fixture f;
    tern_value v{};
    v.type = TERN_VALUE_INT;
    v.u.i = 1;
    f.core.shared["a"] = v;
    f.start();
    const uint64_t x = f.get("/api/v1/T1/attributes", 0, 1);  // the peer is on shard 1, device 1's home is 1
    const auto& first = f.answer(x);
    CHECK(first.code == c205);
    CHECK((first.flags & TERN_COAP_RESPONSE_OBSERVE) != 0);
    CHECK(first.payload == R"({"a":1})");  // flat: every shared attribute
    CHECK(first.format == 50);
    const uint64_t obs = first.observation;
    CHECK(f.core.subs[1] == TERN_SUBSCRIBE_ATTRIBUTES);
    CHECK(has_session_event(f.core, 1, TERN_SESSION_OPEN));

    f.set_shared(1, {{"a", 2}});
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].observation == obs);
    CHECK(f.engine.notes[0].payload == R"({"a":2})");
    CHECK(f.engine.notes[0].flags == TERN_COAP_NOTIFY_MERGEABLE);
    CHECK(f.engine.notes[0].format == 50);
    // a second change while the first is unacknowledged carries both (it may replace a
    // queued one), deletions included
    f.set_shared(1, {{"b", 3}}, {"a"});
    REQUIRE(f.engine.notes.size() == 2);
    CHECK(f.engine.notes[1].payload == R"({"b":3,"deleted":["a"]})");
    f.result(1, obs, f.engine.notes[0].cookie, TERN_COAP_NOTIFY_DELIVERED);
    f.set_shared(1, {{"c", 4}});
    CHECK(f.engine.notes[2].payload == R"({"b":3,"c":4,"deleted":["a"]})");
    f.result(1, obs, f.engine.notes[1].cookie, TERN_COAP_NOTIFY_MERGED);
    f.result(1, obs, f.engine.notes[2].cookie, TERN_COAP_NOTIFY_DELIVERED);
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1)->delta.empty()); });
    f.set_shared(1, {{"d", 5}});
    CHECK(f.engine.notes[3].payload == R"({"d":5})");
    // a delivered CON notification is activity
    CHECK(f.core.count_sessions(TERN_SESSION_ACTIVITY) >= 1);
}

TEST_CASE("api: attribute Observe from another shard than the device's home", "[api][observe]") {
    fixture f;
    f.start();
    const uint64_t obs = f.observe("/api/v1/T1/attributes", 0);  // peer shard 0, home shard 1
    f.set_shared(1, {{"k", 1}});
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].observation == obs);
    f.reactor.on(0, [&] {
        const uint64_t* device = f.a->shard(0).obs_device.find(obs);
        REQUIRE(device != nullptr);
        CHECK(*device == 1);
    });
    f.ended(0, obs, TERN_COAP_END_DEREGISTERED);
    CHECK(f.core.subs[1] == 0);
    CHECK(has_session_event(f.core, 1, TERN_SESSION_CLOSE));
    CHECK(f.a->shard(0).obs_device.find(obs) == nullptr);
}

TEST_CASE("api: a new holder replaces the attribute observation - the old one gets 2.02", "[api][observe]") {
    fixture f;
    f.start();
    const uint64_t old = f.observe("/api/v1/T1/attributes", 1, "\x01", 40000);
    const uint64_t neu = f.observe("/api/v1/T1/attributes", 1, "\x02", 40001);
    REQUIRE(f.engine.ends.size() == 1);
    CHECK(f.engine.ends[0].observation == old);
    CHECK(f.engine.ends[0].code == c202);
    f.set_shared(1, {{"k", 1}});
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].observation == neu);
    CHECK(f.core.count_sessions(TERN_SESSION_OPEN) == 1);
    CHECK(f.core.count_sessions(TERN_SESSION_CLOSE) == 0);
}

TEST_CASE("api: a re-registration by the same holder keeps the session (REPLACED grace)", "[api][observe]") {
    fixture f;
    f.start();
    const uint64_t old = f.observe("/api/v1/T1/attributes", 1);
    f.ended(1, old, TERN_COAP_END_REPLACED);  // the engine ends it before the new GET arrives
    const uint64_t neu = f.observe("/api/v1/T1/attributes", 1);
    CHECK(neu != old);
    CHECK(f.engine.ends.empty());  // no 2.02 to itself
    CHECK(f.core.count_sessions(TERN_SESSION_CLOSE) == 0);
    CHECK(f.core.unsub_calls.empty());
    // REPLACED and nothing follows: closed once the grace is over
    f.ended(1, neu, TERN_COAP_END_REPLACED);
    f.reactor.advance(10001 * ms);
    CHECK(f.core.count_sessions(TERN_SESSION_CLOSE) == 1);
    CHECK(f.core.subs[1] == 0);
}

TEST_CASE("api: Observe=1 gets the plain GET's answer", "[api][observe]") {
    fixture f;
    f.start();
    const uint64_t x = f.get("/api/v1/T1/attributes", 1);
    CHECK(f.answer(x).code == c404);  // no attributes at all: what a plain GET gets
    CHECK((f.answer(x).flags & TERN_COAP_RESPONSE_OBSERVE) == 0);
    CHECK(f.answer(f.get("/api/v1/T1/rpc", 1)).code == c400);
}

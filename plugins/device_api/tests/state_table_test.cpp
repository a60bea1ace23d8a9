// state_table and device events: deleted or changed devices, the bound on device states,
// idle expiry, stop.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

// ---- device events, bounds, lifetime ---------------------------------------------------------------------

TEST_CASE("api: a deleted device loses its observations (final 4.04) and its state", "[api][state]") {
    fixture f;
    f.start();
    const uint64_t a = f.observe("/api/v1/T1/attributes", 1, "\x01");
    const uint64_t r = f.observe("/api/v1/T1/rpc", 1, "\x02");
    CHECK(f.core.count_sessions(TERN_SESSION_OPEN) == 1);  // one session for both
    f.a->on_device_event(1, TERN_DEVICE_DELETED);
    f.reactor.run_pending();
    REQUIRE(f.engine.ends.size() == 2);
    for (const auto& e : f.engine.ends) {
        CHECK((e.observation == a || e.observation == r));
        CHECK(e.code == c404);
    }
    CHECK(f.core.count_sessions(TERN_SESSION_CLOSE) == 1);
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1) == nullptr); });
}

TEST_CASE("api: changed credentials end observations when the device is no longer found", "[api][state]") {
    fixture f;
    f.start();
    f.observe("/api/v1/T1/attributes", 1);
    // the profile changed, the token still works: observations stay, the info is new
    f.core.credentials[{TERN_CREDENTIAL_ACCESS_TOKEN, "T1"}].revision = 2;
    f.a->on_device_event(1, TERN_DEVICE_UPDATED);
    f.reactor.run_pending();
    CHECK(f.engine.ends.empty());
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1)->dev->revision == 2); });
    // a new token: the observer can no longer act as the device
    f.core.credentials.erase({TERN_CREDENTIAL_ACCESS_TOKEN, "T1"});
    f.a->on_device_event(1, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.reactor.run_pending();
    REQUIRE(f.engine.ends.size() == 1);
    CHECK(f.engine.ends[0].code == c401);
    CHECK(f.core.count_sessions(TERN_SESSION_CLOSE) == 1);
}

TEST_CASE("api: max_devices_with_state bounds observing devices - idle states make room", "[api][state]") {
    fixture f;
    f.s.max_devices_with_state = 2;  // one per shard
    fake_device d3;
    d3.id = 3;  // home shard 1, like device 1
    f.core.add("T3", d3);
    f.start();
    const uint64_t o1 = f.observe("/api/v1/T1/attributes", 1);
    const uint64_t x = f.get("/api/v1/T3/attributes", 0, 1, "\x05");
    CHECK(f.answer(x).code == c503);
    f.ended(1, o1, TERN_COAP_END_DEREGISTERED);  // device 1's state is idle now
    f.observe("/api/v1/T3/attributes", 1, "\x06");
    f.reactor.on(1, [&] {
        CHECK(f.a->state_of(1) == nullptr);
        CHECK(f.a->state_of(3) != nullptr);
    });
}

TEST_CASE("api: an idle device state goes after inactivity_timeout", "[api][state]") {
    fixture f;
    f.s.inactivity_timeout_ms = 5000;
    f.start();
    const uint64_t o = f.observe("/api/v1/T1/rpc", 1);
    f.ended(1, o, TERN_COAP_END_DEREGISTERED);
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1) != nullptr); });
    f.reactor.advance(4999 * ms);
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1) != nullptr); });
    f.reactor.advance(2 * ms);
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1) == nullptr); });
}

TEST_CASE("api: an Observe registration whose exchange expired registers nothing", "[api][state]") {
    fixture f;
    f.start();
    f.engine.expired.insert(1);  // the first exchange
    f.get("/api/v1/T1/attributes", 0, 1);
    CHECK(f.engine.live.empty());
    CHECK(f.core.subs[1] == 0);  // subscribed for the registration, then undone
    CHECK(f.core.count_sessions(TERN_SESSION_OPEN) == 0);
}

TEST_CASE("api: stop closes what is open", "[api][state]") {
    fixture f;
    f.start();
    f.observe("/api/v1/T1/rpc", 1);
    f.rpc(1, 4, "m", "");
    f.stop();
    CHECK(f.core.statuses_of(4).back().s == TERN_RPC_TIMEOUT);
    CHECK(f.core.count_sessions(TERN_SESSION_CLOSE) == 1);
    CHECK(f.core.subs[1] == 0);
}

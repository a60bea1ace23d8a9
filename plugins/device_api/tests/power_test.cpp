// Power saving (docs/device-api.md §9): downlinks to a device whose mode sleeps wait while it is
// asleep (attribute changes merged, RPCs in order) and go right after its next uplink; an
// unanswered notification keeps the observations; the bounds of what is held; the ASLEEP
// session event; DRX and devices without a mode unchanged. The policy is the SDK's fake
// (tern/sdk/testing_power.hpp): an unanswered notification puts the device to sleep, an uplink
// or ACK wakes it, may_send holds while it sleeps.
#include <catch2/catch.hpp>

#include <string>

#include "service_fixture.hpp"
#include "tern/sdk/testing_power.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;
using sdk::testing::fake_power_policy;

namespace {

struct state_view {
    std::size_t rpcs = 0;
    bool asleep = false;
    std::size_t update_bytes = 0;
};

// Device 3 (token P3) is PSM, homed on shard 1; its observations live on shard 0, so its
// uplinks from shard 0 reach its policy by a hop.
struct power_fixture : fixture {
    fake_power_policy policy{{"PSM", TERN_POWER_MODE_SLEEPS}, {"E_DRX", TERN_POWER_MODE_SLEEPS}, {"DRX", 0}};
    uint64_t attr_obs = 0, rpc_obs = 0;

    explicit power_fixture(tern_power_mode mode = TERN_POWER_PSM) {
        fake_device d;
        d.id = 3;
        d.power = mode;
        d.psm_ms = 20000;
        core.add("P3", d);
        policies.push_back(&policy);
    }
    void observe_both() {
        attr_obs = observe("/api/v1/P3/attributes", 0, "\x0a");
        rpc_obs = observe("/api/v1/P3/rpc", 0, "\x0b", 40001);
    }
    // Its CON notification n goes unanswered: the engine reports TIMEOUT (the observation stays).
    void unanswered(uint64_t obs, uint64_t cookie) { result(0, obs, cookie, TERN_COAP_NOTIFY_TIMEOUT); }
    void telemetry() { CHECK(answer(post("/api/v1/P3/telemetry", R"({"t":1})", 0)).code == c201); }
    std::size_t notes_on(uint64_t obs) const {
        std::size_t n = 0;
        for (const auto& x : engine.notes) n += x.observation == obs;
        return n;
    }
    state_view state(uint64_t device) const {
        const device_state* st = a->state_of(device);
        REQUIRE(st != nullptr);
        return {st->rpcs.size(), (st->pw().power.flags & TERN_POWER_ASLEEP) != 0, st->delta.bytes()};
    }
    int sessions_of(tern_session_event e) const {
        int n = 0;
        for (const auto& s : core.sessions) n += s.device == 3 && s.event == e;
        return n;
    }
};

}  // namespace

TEST_CASE("power: a PSM device's downlinks wait while it sleeps and go, merged and in order, after its next uplink",
          "[api][power]") {
    power_fixture f;
    f.start();
    f.observe_both();
    CHECK(f.policy.count(TERN_POWER_EVENT_UPLINK) == 2);  // each registration is an uplink
    // awake: sent at once, with KEEP_ON_TIMEOUT
    f.set_shared(3, {{"a", 1}});
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].payload == R"({"a":1})");
    CHECK(f.engine.notes[0].flags == (TERN_COAP_NOTIFY_MERGEABLE | TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT));
    // unanswered: asleep, the observations stay, the core hears ASLEEP once
    f.unanswered(f.attr_obs, f.engine.notes[0].cookie);
    CHECK(f.engine.ends.empty());
    CHECK(f.engine.live.count(f.attr_obs) == 1);
    CHECK(f.sessions_of(TERN_SESSION_ASLEEP) == 1);
    CHECK(f.policy.count(TERN_POWER_EVENT_UNREACHABLE) == 1);

    // while it sleeps: nothing is sent; changes merge (newer wins, every deletion kept)
    f.set_shared(3, {{"a", 2}, {"b", 1}});
    f.set_shared(3, {}, {"b"});
    f.set_shared(3, {{"c", 3}}, {"d"});
    f.set_shared(3, {{"a", 4}}, {"e"});
    f.rpc(3, 11, "first", R"({"n":1})");
    f.rpc(3, 12, "second", R"({"n":2})");
    f.rpc(3, 13, "third", "");
    CHECK(f.engine.notes.size() == 1);
    CHECK(f.sessions_of(TERN_SESSION_ASLEEP) == 1);
    CHECK(f.core.statuses.empty());
    const state_view held = f.state(3);
    CHECK(held.rpcs == 3);
    CHECK(held.asleep);

    // its next uplink (another shard than its home): everything goes, the update first
    const int activity_before = f.sessions_of(TERN_SESSION_ACTIVITY);
    f.telemetry();
    REQUIRE(f.engine.notes.size() == 5);
    CHECK(f.engine.notes[1].observation == f.attr_obs);
    CHECK(f.engine.notes[1].payload == R"({"a":4,"c":3,"deleted":["b","d","e"]})");
    CHECK(f.engine.notes[2].payload == R"({"id":11,"method":"first","params":{"n":1}})");
    CHECK(f.engine.notes[3].payload == R"({"id":12,"method":"second","params":{"n":2}})");
    CHECK(f.engine.notes[4].payload == R"({"id":13,"method":"third","params":null})");
    for (std::size_t i = 2; i < 5; ++i) {
        CHECK(f.engine.notes[i].observation == f.rpc_obs);
        CHECK(f.engine.notes[i].flags == TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT);
    }
    CHECK(f.sessions_of(TERN_SESSION_ACTIVITY) > activity_before);  // awake again for the core
    CHECK(f.engine.ends.empty());
    // acknowledged: delivered, and the policy hears each ACK
    const std::size_t acks = f.policy.count(TERN_POWER_EVENT_ACK);
    f.result(0, f.attr_obs, f.engine.notes[1].cookie, TERN_COAP_NOTIFY_DELIVERED);
    for (int64_t id : {11, 12, 13}) {
        f.result(0, f.rpc_obs, static_cast<uint64_t>(id), TERN_COAP_NOTIFY_DELIVERED);
        REQUIRE(f.core.statuses_of(id).size() == 1);
        CHECK(f.core.statuses_of(id)[0].s == TERN_RPC_DELIVERED);
    }
    CHECK(f.policy.count(TERN_POWER_EVENT_ACK) == acks + 4);
    CHECK(f.state(3).rpcs == 0);
    CHECK(!f.state(3).asleep);
}

TEST_CASE("power: an RPC whose CON goes unanswered is not TIMEOUT: it waits and goes again on wake", "[api][power]") {
    power_fixture f;
    f.start();
    f.observe_both();
    f.rpc(3, 21, "m", "", TERN_RPC_PERSISTENT);
    f.rpc(3, 22, "n", "");
    REQUIRE(f.engine.notes.size() == 2);
    // the engine reports both TIMEOUT (the one in flight and the one queued behind it)
    f.unanswered(f.rpc_obs, 21);
    f.unanswered(f.rpc_obs, 22);
    CHECK(f.engine.ends.empty());
    CHECK(f.core.statuses_of(21).size() == 1);  // SENT only (persistent)
    CHECK(f.core.statuses_of(21)[0].s == TERN_RPC_SENT);
    CHECK(f.core.statuses_of(22).empty());
    CHECK(f.sessions_of(TERN_SESSION_ASLEEP) == 1);
    CHECK(f.state(3).rpcs == 2);
    // a new RPC while asleep waits behind them
    f.rpc(3, 23, "o", "");
    CHECK(f.engine.notes.size() == 2);
    f.telemetry();
    REQUIRE(f.engine.notes.size() == 5);
    CHECK(f.engine.notes[2].cookie == 21);
    CHECK(f.engine.notes[3].cookie == 22);
    CHECK(f.engine.notes[4].cookie == 23);
    CHECK(f.engine.notes[2].observation == f.rpc_obs);  // the same observation
    f.result(0, f.rpc_obs, 21, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(21).back().s == TERN_RPC_DELIVERED);
}

TEST_CASE("power: an RPC that expires while held is never sent (the core ends it EXPIRED)", "[api][power]") {
    power_fixture f;
    f.start();
    f.observe_both();
    f.rpc(3, 1, "warm", "");
    f.unanswered(f.rpc_obs, 1);  // asleep
    f.rpc(3, 31, "short", "", TERN_RPC_PERSISTENT, 5000);
    f.rpc(3, 32, "long", "", TERN_RPC_PERSISTENT, 600000);
    CHECK(f.engine.notes.size() == 1);
    g_wall += 6000;  // 31 expired meanwhile
    f.telemetry();
    REQUIRE(f.engine.notes.size() == 3);
    CHECK(f.engine.notes[1].cookie == 1);
    CHECK(f.engine.notes[2].cookie == 32);
    CHECK(f.core.statuses_of(31).empty());  // nothing said: the core's own expiry decides
    CHECK(f.state(3).rpcs == 2);            // 1 and 32 on their way
}

TEST_CASE("power: past max_pending_rpcs the oldest held RPC ends FAILED, said to the core", "[api][power]") {
    power_fixture f;
    f.s.max_pending_rpcs = 2;
    f.start();
    f.observe_both();
    f.rpc(3, 1, "warm", "");
    f.unanswered(f.rpc_obs, 1);  // asleep, 1 held again
    f.rpc(3, 2, "b", "");        // 2 held
    f.rpc(3, 3, "c", "");        // over: 1 (the oldest held) fails
    REQUIRE(f.core.statuses_of(1).size() == 1);
    CHECK(f.core.statuses_of(1)[0].s == TERN_RPC_FAILED);
    CHECK(f.core.statuses_of(1)[0].error == "more than max_pending_rpcs held while the device sleeps");
    f.rpc(3, 4, "d", "");  // 2 fails
    CHECK(f.core.statuses_of(2).back().s == TERN_RPC_FAILED);
    CHECK(f.state(3).rpcs == 2);
    f.telemetry();
    REQUIRE(f.engine.notes.size() == 3);
    CHECK(f.engine.notes[1].cookie == 3);
    CHECK(f.engine.notes[2].cookie == 4);
}

TEST_CASE("power: a held update past max_pending_update_bytes is replaced by every shared attribute read on wake, "
          "deletions kept",
          "[api][power]") {
    power_fixture f;
    f.s.max_pending_update_bytes = 64;
    f.start();
    f.observe_both();
    f.set_shared(3, {{"a", 1}});
    f.unanswered(f.attr_obs, f.engine.notes[0].cookie);  // asleep
    f.set_shared(3, {}, {"gone"});
    std::vector<std::pair<std::string, int64_t>> many;
    for (int i = 0; i < 10; ++i) many.emplace_back("key_number_" + std::to_string(i), i);
    f.set_shared(3, many);  // 10 x (12 + 8) bytes > 64: the values are dropped
    f.set_shared(3, {{"later", 7}}, {"gone_too"});
    CHECK(f.engine.notes.size() == 1);
    CHECK(f.state(3).update_bytes <= 64);
    // what the core holds now (what the read on wake returns)
    tern_value one{}, seven{};
    one.type = seven.type = TERN_VALUE_INT;
    one.u.i = 1;
    seven.u.i = 7;
    f.core.shared = {{"a", one}, {"later", seven}};
    const std::size_t reads = f.core.reads.size();
    f.telemetry();
    CHECK(f.core.reads.size() == reads + 1);
    REQUIRE(f.engine.notes.size() == 2);
    CHECK(f.engine.notes[1].payload == R"({"a":1,"later":7,"deleted":["gone","gone_too"]})");
}

TEST_CASE("power: the policy's sleep timer puts the device to sleep, ASLEEP once per transition", "[api][power]") {
    power_fixture f;
    // A PSM-like model: awake for psm_activity_timer after an uplink or ACK.
    f.policy.on_event_do = [](const tern_power_settings& s, tern_power_state& st, tern_power_event e, int64_t now) {
        const bool asleep = (st.flags & TERN_POWER_ASLEEP) != 0;
        if (e == TERN_POWER_EVENT_TIMER) {
            if (now >= st.wake_check_ms) {
                st.flags |= TERN_POWER_ASLEEP;
                st.wake_check_ms = 0;
            }
            return false;
        }
        if (e == TERN_POWER_EVENT_UNREACHABLE) {
            st.flags |= TERN_POWER_ASLEEP;
            return false;
        }
        st.last_activity_ms = now;
        st.wake_check_ms = now + s.psm_activity_timer_ms;
        st.flags &= ~uint32_t{TERN_POWER_ASLEEP};
        return asleep;
    };
    f.start();
    f.observe_both();
    g_wall += 20000;
    f.reactor.advance(20000 * ms);
    CHECK(f.policy.count(TERN_POWER_EVENT_TIMER) == 1);
    CHECK(f.sessions_of(TERN_SESSION_ASLEEP) == 1);
    CHECK(f.state(3).asleep);
    f.rpc(3, 41, "m", "");
    CHECK(f.engine.notes.empty());
    // uplinks move the timer: no sleep 20 s after the first of two uplinks 10 s apart
    f.telemetry();
    CHECK(f.engine.notes.size() == 1);
    g_wall += 10000;
    f.reactor.advance(10000 * ms);
    f.telemetry();
    g_wall += 15000;
    f.reactor.advance(15000 * ms);
    CHECK(!f.state(3).asleep);
    g_wall += 5000;
    f.reactor.advance(5000 * ms);
    CHECK(f.state(3).asleep);
    CHECK(f.sessions_of(TERN_SESSION_ASLEEP) == 2);
}

// eDRX: outside its paging window exactly one downlink is let through; the policy records that
// in its state. The device API asks before each downlink, so the one that goes is the oldest.
struct one_through final : sdk::testing::forwarding_power_policy {
    using forwarding_power_policy::forwarding_power_policy;
    tern_power_verdict may_send(const tern_power_settings*, tern_power_state* st, int64_t) noexcept override {
        if ((st->flags & TERN_POWER_ASLEEP) == 0) return TERN_POWER_SEND;
        if (st->policy_word != 0) return TERN_POWER_HOLD;
        st->policy_word = 1;
        return TERN_POWER_SEND;
    }
};

TEST_CASE("power: eDRX outside its window lets one downlink through, the oldest held", "[api][power]") {
    power_fixture f(TERN_POWER_EDRX);
    one_through edrx(f.policy);
    f.policies = {&edrx};
    f.start();
    f.observe_both();
    f.rpc(3, 1, "warm", "");
    f.unanswered(f.rpc_obs, 1);  // asleep: 1 held again
    CHECK(f.engine.notes.size() == 1);
    f.rpc(3, 2, "b", "");  // the one downlink: the oldest held (1) goes
    f.rpc(3, 3, "c", "");
    REQUIRE(f.engine.notes.size() == 2);
    CHECK(f.engine.notes[1].cookie == 1);
    CHECK(f.state(3).rpcs == 3);
    f.telemetry();  // awake: the rest in order
    REQUIRE(f.engine.notes.size() == 4);
    CHECK(f.engine.notes[2].cookie == 2);
    CHECK(f.engine.notes[3].cookie == 3);
}

TEST_CASE("power: DRX devices and devices without a mode are unchanged", "[api][power]") {
    power_fixture f(TERN_POWER_DRX);
    f.start();
    f.observe_both();
    f.rpc(3, 5, "m", "");
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].flags == 0);  // no KEEP_ON_TIMEOUT: an unanswered CON ends the observations
    CHECK(f.policy.count(TERN_POWER_EVENT_UPLINK) == 0);  // uplinks need no hop
    f.result(0, f.rpc_obs, 5, TERN_COAP_NOTIFY_TIMEOUT);
    CHECK(f.core.statuses_of(5).back().s == TERN_RPC_TIMEOUT);
    CHECK(f.sessions_of(TERN_SESSION_ASLEEP) == 0);
    // device 1 has no mode: the policy is never asked
    const std::size_t calls = f.policy.calls().size();
    f.observe("/api/v1/T1/rpc", 1);
    f.rpc(1, 6, "m", "");
    CHECK(f.engine.notes.back().flags == 0);
    CHECK(f.policy.calls().size() == calls);
}

TEST_CASE("power: a mode no policy decides leaves the device always reachable", "[api][power]") {
    power_fixture f;
    fake_device v;
    v.id = 5;
    v.power_name = "CLASS_B";
    f.core.add("V5", v);
    f.start();
    const uint64_t obs = f.observe("/api/v1/V5/rpc", 1);
    f.rpc(5, 1, "m", "");
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].observation == obs);
    CHECK(f.engine.notes[0].flags == 0);
    CHECK(f.policy.calls().empty());
}

TEST_CASE("power: gauges by state, what is held, and the wake-to-delivery latency", "[api][power]") {
    sdk::testing::fake_host fh;
    const sdk::host h(&fh);
    power_fixture f;
    f.host = &h;
    f.start();
    const auto value = [&](const char* name, const char* labels = "") { return fh.metrics.value(name, labels); };
    f.observe_both();
    CHECK(value("device_api_power_devices", "state=\"awake\"") == 1);
    f.set_shared(3, {{"a", 1}});
    f.unanswered(f.attr_obs, f.engine.notes[0].cookie);
    CHECK(value("device_api_power_devices", "state=\"awake\"") == 0);
    CHECK(value("device_api_power_devices", "state=\"asleep\"") == 1);
    CHECK(value("device_api_held_updates") == 1);  // the unanswered update waits
    f.set_shared(3, {{"a", 2}});
    f.rpc(3, 1, "m", "");
    f.rpc(3, 2, "n", "");
    CHECK(value("device_api_held_rpcs") == 2);
    CHECK(value("device_api_held_updates") == 1);
    CHECK(value("device_api_held_total", "kind=\"attributes\"") == 1);
    CHECK(value("device_api_held_total", "kind=\"rpc\"") == 2);
    f.telemetry();  // wakes: all three go
    CHECK(value("device_api_power_devices", "state=\"awake\"") == 1);
    CHECK(value("device_api_held_rpcs") == 0);
    CHECK(value("device_api_held_updates") == 0);
    f.reactor.advance(500 * ms);
    f.result(0, f.attr_obs, f.engine.notes[1].cookie, TERN_COAP_NOTIFY_DELIVERED);
    f.result(0, f.rpc_obs, 1, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(fh.metrics.observations("device_api_wake_delivery_seconds") == 0);  // RPC 2 still on its way
    f.reactor.advance(1000 * ms);
    f.result(0, f.rpc_obs, 2, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(fh.metrics.observations("device_api_wake_delivery_seconds") == 1);
    CHECK(fh.metrics.sum("device_api_wake_delivery_seconds") == Approx(1.5));
    f.stop();
    CHECK(value("device_api_power_devices", "state=\"awake\"") == 0);
}

TEST_CASE("power: the acknowledgement window still reports TIMEOUT once, the RPC held after it is delivered on wake",
          "[api][power]") {
    power_fixture f;
    f.start();
    f.observe_both();
    f.rpc(3, 51, "m", "", TERN_RPC_PERSISTENT);
    REQUIRE(f.engine.notes.size() == 1);
    f.reactor.advance(20000 * ms);  // the device's PSM timer: the window (unchanged) passes
    REQUIRE(f.core.statuses_of(51).size() == 2);
    CHECK(f.core.statuses_of(51)[1].s == TERN_RPC_TIMEOUT);
    f.unanswered(f.rpc_obs, 51);  // then the engine gives up: asleep, the RPC waits
    CHECK(f.engine.ends.empty());
    f.telemetry();
    REQUIRE(f.engine.notes.size() == 2);
    CHECK(f.engine.notes[1].cookie == 51);
    CHECK(f.core.statuses_of(51).back().s == TERN_RPC_SENT);  // sent again (persistent)
    f.reactor.advance(20000 * ms);  // its new window passes too: TIMEOUT is not told twice
    int timeouts = 0;
    for (const auto& x : f.core.statuses_of(51)) timeouts += x.s == TERN_RPC_TIMEOUT;
    CHECK(timeouts == 1);
    f.result(0, f.rpc_obs, 51, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(51).back().s == TERN_RPC_DELIVERED);
    CHECK(f.state(3).rpcs == 0);
    // a one-shot RPC the window ended TIMEOUT is over for its caller: not delivered later
    f.rpc(3, 52, "once", "");
    f.reactor.advance(20000 * ms);
    CHECK(f.core.statuses_of(52).back().s == TERN_RPC_TIMEOUT);
    f.unanswered(f.rpc_obs, 52);
    CHECK(f.state(3).rpcs == 0);
    CHECK(f.state(3).asleep);  // unanswered all the same
    const std::size_t notes = f.engine.notes.size();
    f.telemetry();
    CHECK(f.engine.notes.size() == notes);
    CHECK(f.core.statuses_of(52).size() == 1);
}

// Power-saving devices as the core sees them: the state the session events tell (ASLEEP,
// ACTIVITY), the settings resolved device > profile > the power plugin's default, the RPCs
// waiting for a sleeping device, and their expiry while it sleeps.
#include <thread>

#include "admin_fixture.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {

core_metrics metrics;

void ignore(void*, tern_status, tern_str) {}

struct power_fixture {
    temp_dir dir;
    core_settings settings = settings_for(dir);
    embedded_core core{metrics, {}};
    recording_listener listener;
    device dev;

    // writer_delay_us: how long the writer waits for company before a commit (a slow commit).
    explicit power_fixture(int64_t writer_delay_us = 500) {
        settings.writer.max_delay_us = writer_delay_us;
        core.start(settings);
        core.set_listener(&listener);
        dev = add_device(core, "sleepy", token("sleepy-token"));
    }
    ~power_fixture() { core.set_listener(nullptr); }

    void event(tern_session_event e) { core.session_event(dev.id, e, to_str("coap"), to_str("127.0.0.1:5683")); }
    device_power_status status() {
        auto r = await<device>([&](callback<device> cb) { core.get_device("sleepy", cb); });
        REQUIRE(r.ok());
        REQUIRE(r.value.power_status.has_value());
        return *r.value.power_status;
    }
    rpc_record send(const std::string& method, int64_t timeout_ms, bool persistent = true) {
        rpc_request_spec s;
        s.device = "sleepy";
        s.method = method;
        s.timeout_ms = timeout_ms;
        s.persistent = persistent;
        s.wait = false;
        auto r = await<rpc_record>([&](callback<rpc_record> cb) { core.send_rpc(s, cb); });
        REQUIRE(r.ok());
        return r.value;
    }
    rpc_record rpc(int64_t id) {
        auto r = await<rpc_record>([&](callback<rpc_record> cb) { core.get_rpc("sleepy", id, cb); });
        REQUIRE(r.ok());
        return r.value;
    }
    size_t rpcs_seen() { return listener.locked([&] { return listener.rpcs.size(); }); }
};

}  // namespace

TEST_CASE("power: ASLEEP marks a device asleep since then, its next ACTIVITY or OPEN wakes it", "[power]") {
    power_fixture f;
    auto s = f.status();
    CHECK(s.asleep_since_ts == 0);
    CHECK_FALSE(s.seen_since_start);  // no traffic yet: unknown
    CHECK(s.last_activity_ts == 0);

    const int64_t before = now_ms();
    f.event(TERN_SESSION_ACTIVITY);
    s = f.status();
    CHECK(s.seen_since_start);
    CHECK(s.asleep_since_ts == 0);
    CHECK(s.last_activity_ts >= before);

    std::this_thread::sleep_for(20ms);
    const int64_t slept = now_ms();
    f.event(TERN_SESSION_ASLEEP);
    s = f.status();
    CHECK(s.asleep_since_ts >= slept);
    CHECK(f.core.stats().devices_asleep == 1);
    const int64_t since = s.asleep_since_ts;
    std::this_thread::sleep_for(20ms);
    f.event(TERN_SESSION_ASLEEP);  // a repeated report keeps the first time
    CHECK(f.status().asleep_since_ts == since);
    f.event(TERN_SESSION_CLOSE);  // a session that ends does not wake it
    CHECK(f.status().asleep_since_ts == since);

    f.event(TERN_SESSION_ACTIVITY);
    s = f.status();
    CHECK(s.asleep_since_ts == 0);
    CHECK(s.last_activity_ts >= since);
    CHECK(f.core.stats().devices_asleep == 0);

    f.event(TERN_SESSION_ASLEEP);
    f.event(TERN_SESSION_OPEN);  // an Observe registration is an uplink
    CHECK(f.status().asleep_since_ts == 0);
}

TEST_CASE("power: session events the core does not know change nothing", "[power]") {
    power_fixture f;
    f.event(static_cast<tern_session_event>(99));
    f.event(static_cast<tern_session_event>(0));
    auto s = f.status();
    CHECK_FALSE(s.seen_since_start);
    CHECK(s.asleep_since_ts == 0);
    CHECK(f.core.stats().sessions == 0);
    f.event(TERN_SESSION_ASLEEP);
    f.event(static_cast<tern_session_event>(-1));
    CHECK(f.status().asleep_since_ts != 0);
}

TEST_CASE("power: a deleted device's sleep is forgotten", "[power]") {
    power_fixture f;
    f.event(TERN_SESSION_ASLEEP);
    CHECK(f.core.stats().devices_asleep == 1);
    auto del = await<none>([&](callback<none> cb) { f.core.delete_device("sleepy", cb); });
    REQUIRE(del.ok());
    CHECK(f.core.stats().devices_asleep == 0);
}

TEST_CASE("power: after a restart the state is unknown until the device talks, its stored last activity stays", "[power]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    uint64_t id = 0;
    int64_t active = 0;
    {
        embedded_core core(metrics, {});
        core.start(s);
        id = add_device(core, "d").id;
        active = now_ms();
        core.session_event(id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("a"));
        core.session_event(id, TERN_SESSION_ASLEEP, to_str("coap"), to_str("a"));
        core.stop();  // writes lastActivityTime
    }
    std::this_thread::sleep_for(5ms);
    embedded_core core(metrics, {});
    core.start(s);
    auto r = await<device>([&](callback<device> cb) { core.get_device("d", cb); });
    REQUIRE(r.ok());
    const device_power_status& ps = *r.value.power_status;
    CHECK_FALSE(ps.seen_since_start);
    CHECK(ps.asleep_since_ts == 0);
    CHECK(ps.last_activity_ts >= active);
    core.session_event(id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("a"));
    r = await<device>([&](callback<device> cb) { core.get_device("d", cb); });
    CHECK(r.value.power_status->seen_since_start);
}

TEST_CASE("power: settings resolve per field, device before profile, 0 left to the power plugin", "[power]") {
    power_fixture f;
    profile_spec p;
    p.name = "nbiot";
    p.power_mode = TERN_POWER_EDRX;
    p.psm_activity_timer = 30000;
    p.paging_transmission_window = 10000;
    REQUIRE(await<profile>([&](callback<profile> cb) { f.core.create_profile(p, cb); }).ok());
    device_spec d;
    d.name = "sleepy";
    d.profile = "nbiot";
    d.power_mode = TERN_POWER_PSM;
    d.psm_activity_timer = 1500;
    auto u = await<device>([&](callback<device> cb) { f.core.update_device(d, cb); });
    REQUIRE(u.ok());
    CHECK(u.value.power.mode == TERN_POWER_PSM);
    CHECK(u.value.power.psm_activity_timer == 1500);
    CHECK(u.value.power.paging_transmission_window == 0);
    CHECK(u.value.profile_power.mode == TERN_POWER_EDRX);
    CHECK(u.value.profile_power.paging_transmission_window == 10000);
    CHECK(u.value.profile_power.edrx_cycle == 0);
}

TEST_CASE("power: the RPCs waiting for a device, by state, with the oldest expiration", "[power][rpc]") {
    power_fixture f;
    CHECK(f.status().rpcs.queued + f.status().rpcs.sent == 0);
    CHECK(f.status().rpcs.oldest_expiration_ts == 0);
    const rpc_record a = f.send("first", 60000);
    std::this_thread::sleep_for(5ms);
    const rpc_record b = f.send("second", 120000);
    f.send("plain", 90000, /*persistent=*/false);
    auto s = f.status();
    CHECK(s.rpcs.queued == 3);
    CHECK(s.rpcs.persistent == 2);
    CHECK(s.rpcs.oldest_expiration_ts == a.expiration_ts);

    f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
    REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == 3; }));
    f.core.rpc_status(f.dev.id, a.id, TERN_RPC_SENT, {});
    f.core.rpc_status(f.dev.id, b.id, TERN_RPC_DELIVERED, {});
    s = f.status();
    CHECK(s.rpcs.queued == 1);
    CHECK(s.rpcs.sent == 1);
    CHECK(s.rpcs.delivered == 1);
    f.core.rpc_reply(f.dev.id, b.id, to_str("{}"), &ignore, nullptr);
    f.core.rpc_status(f.dev.id, a.id, TERN_RPC_FAILED, to_str("more than max_pending_rpcs held while the device sleeps"));
    s = f.status();
    CHECK(s.rpcs.delivered == 0);
    CHECK(s.rpcs.sent == 0);
    CHECK(s.rpcs.queued == 1);
    CHECK(s.rpcs.persistent == 0);
    // The transport's reason stays with the failed RPC.
    flush_wait(f.core);
    const rpc_record failed = f.rpc(a.id);
    CHECK(failed.status == TERN_RPC_FAILED);
    CHECK(failed.error == "more than max_pending_rpcs held while the device sleeps");
    auto list = await<std::vector<rpc_record>>([&](auto cb) { f.core.list_rpcs("sleepy", 10, cb); });
    REQUIRE(list.ok());
    bool found = false;
    for (const rpc_record& r : list.value)
        if (r.id == a.id) found = r.error == failed.error && r.status == TERN_RPC_FAILED;
    CHECK(found);
}

TEST_CASE("power: an RPC a transport ends is read with its end and reason at once, before the write is committed",
          "[power][rpc]") {
    power_fixture f(300000);  // every commit waits 300 ms for company
    f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
    const rpc_record r = f.send("held", 60000);
    REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == 1; }));
    f.core.rpc_status(f.dev.id, r.id, TERN_RPC_SENT, {});
    f.core.rpc_status(f.dev.id, r.id, TERN_RPC_FAILED, to_str("more than max_pending_rpcs held while the device sleeps"));
    const rpc_record now = f.rpc(r.id);
    CHECK(now.status == TERN_RPC_FAILED);
    CHECK(now.error == "more than max_pending_rpcs held while the device sleeps");
    CHECK(f.status().rpcs.sent == 0);
    // a late reply changes nothing, before and after the write
    f.core.rpc_reply(f.dev.id, r.id, to_str("{\"late\":1}"), &ignore, nullptr);
    CHECK(f.rpc(r.id).status == TERN_RPC_FAILED);
    flush_wait(f.core);
    const rpc_record stored = f.rpc(r.id);
    CHECK(stored.status == TERN_RPC_FAILED);
    CHECK(stored.error == "more than max_pending_rpcs held while the device sleeps");
    CHECK(stored.result.empty());
    CHECK(f.core.stats().pending_rpcs == 0);
}

TEST_CASE("power: a persistent RPC that expires while the device sleeps ends EXPIRED and never goes out after", "[power][rpc]") {
    power_fixture f;
    f.event(TERN_SESSION_ACTIVITY);
    f.event(TERN_SESSION_ASLEEP);
    SECTION("queued: the device never subscribed") {
        const rpc_record r = f.send("setTimer", 300);
        CHECK(f.status().rpcs.queued == 1);
        std::this_thread::sleep_for(600ms);
        // ended by the core's own timer, no read or transport needed
        CHECK(f.status().rpcs.queued == 0);
        flush_wait(f.core);
        const rpc_record got = f.rpc(r.id);
        CHECK(got.status == TERN_RPC_EXPIRED);
        CHECK(got.error == "not delivered before the expiration time");
        // the device wakes and subscribes: nothing goes out
        f.event(TERN_SESSION_ACTIVITY);
        f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
        f.core.resend_pending_rpcs(f.dev.id);
        std::this_thread::sleep_for(200ms);
        CHECK(f.rpcs_seen() == 0);
    }
    SECTION("sent to the sleeping device, held by its transport") {
        f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
        const rpc_record r = f.send("setTimer", 300);
        REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == 1; }));
        f.core.rpc_status(f.dev.id, r.id, TERN_RPC_SENT, {});
        CHECK(f.status().rpcs.sent == 1);
        std::this_thread::sleep_for(600ms);
        CHECK(f.status().rpcs.sent == 0);
        flush_wait(f.core);
        CHECK(f.rpc(r.id).status == TERN_RPC_EXPIRED);
        // the wake asks for the pending RPCs again: the expired one is not among them, and a
        // late report from the transport changes nothing
        f.event(TERN_SESSION_ACTIVITY);
        f.core.resend_pending_rpcs(f.dev.id);
        f.core.rpc_status(f.dev.id, r.id, TERN_RPC_DELIVERED, {});
        std::this_thread::sleep_for(200ms);
        CHECK(f.rpcs_seen() == 1);
        flush_wait(f.core);
        CHECK(f.rpc(r.id).status == TERN_RPC_EXPIRED);
    }
}

TEST_CASE("power: the admin API's device carries the resolved settings, the state and the pending RPCs", "[power][admin]") {
    admin_fixture f;
    auto str = [](const rapidjson::Value& o, const char* k) {
        const rapidjson::Value* v = json::member(o, k);
        return v != nullptr && v->IsString() ? std::string(v->GetString()) : std::string("<not a string>");
    };
    REQUIRE(f.call("POST", "/api/profiles", R"({"name":"nb","power":{"mode":"E_DRX","pagingTransmissionWindow":10000}})")
                .status == 201);
    auto created = f.call("POST", "/api/devices", R"({"name":"m","profile":"nb","power":{"psmActivityTimer":1500}})");
    REQUIRE(created.status == 201);
    const rapidjson::Value& cp = created.json["power"];
    CHECK(str(cp, "mode") == "NONE");  // the device's own, as PATCH takes it
    CHECK(cp["psmActivityTimer"].GetInt64() == 1500);
    const rapidjson::Value& res = cp["resolved"];
    CHECK(str(res["mode"], "value") == "E_DRX");
    CHECK(str(res["mode"], "from") == "profile");
    CHECK(res["psmActivityTimer"]["value"].GetInt64() == 1500);
    CHECK(str(res["psmActivityTimer"], "from") == "device");
    CHECK(res["edrxCycle"]["value"].IsNull());
    CHECK(str(res["edrxCycle"], "from") == "default");
    CHECK(res["pagingTransmissionWindow"]["value"].GetInt64() == 10000);
    CHECK(str(res["pagingTransmissionWindow"], "from") == "profile");
    CHECK(json::member(cp, "state") == nullptr);  // state and RPCs: when one device is read

    auto shown = f.call("GET", "/api/devices/m");
    REQUIRE(shown.status == 200);
    CHECK(str(shown.json["power"], "state") == "unknown");
    CHECK(shown.json["power"]["asleepSince"].IsNull());
    CHECK(shown.json["power"]["pendingRpcs"]["count"].GetInt64() == 0);

    const uint64_t id = created.json["id"].GetUint64();
    f.core.session_event(id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("a"));
    f.core.session_event(id, TERN_SESSION_ASLEEP, to_str("coap"), to_str("a"));
    REQUIRE(f.call("POST", "/api/devices/m/rpc", R"({"method":"x","persistent":true,"timeout":60000})").status == 202);
    shown = f.call("GET", "/api/devices/m");
    const rapidjson::Value& p = shown.json["power"];
    CHECK(str(p, "state") == "asleep");
    CHECK(p["asleepSince"].GetInt64() > 0);
    CHECK(p["lastActivityTime"].GetInt64() > 0);
    CHECK(p["pendingRpcs"]["count"].GetInt64() == 1);
    CHECK(p["pendingRpcs"]["queued"].GetInt64() == 1);
    CHECK(p["pendingRpcs"]["persistent"].GetInt64() == 1);
    CHECK(p["pendingRpcs"]["oldestExpiration"].GetInt64() > now_ms());
    CHECK(f.call("GET", "/api/info").json["devicesAsleep"].GetInt64() == 1);

    // PATCH takes the GET's power back unchanged (the extra members are not settings)
    REQUIRE(f.call("PATCH", "/api/devices/m", "{\"power\":" + json::compact(shown.json["power"]) + "}").status == 200);
    f.core.session_event(id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("a"));
    CHECK(str(f.call("GET", "/api/devices/m").json["power"], "state") == "awake");
}

// The `tern device|attr|telemetry|rpc|profile|ota|client-rpc` commands, run() against a
// live admin API, the way the kernel calls them (an instance that was never started).
#include <fstream>
#include <thread>

#include "cli_fixture.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {

void ignore(void*, tern_status, tern_str) {}

}  // namespace

TEST_CASE("cli: the words it owns", "[cli]") {
    cli tool{[] { return cli_settings{}; }};
    CHECK(tern::sdk::to_sv(tool.commands()) == "device|attr|telemetry|rpc|profile|ota|client-rpc");
    CHECK(tern::sdk::to_sv(tool.summaries()).find("device: ") == 0);
}

TEST_CASE("cli: device add, list, show, update, delete", "[cli]") {
    cli_fixture f;
    auto add = f.run({"device", "add", "thermo-1", "--token", "tok-1"});
    INFO(add.err);
    REQUIRE(add.rc == 0);
    CHECK_THAT(add.out, Catch::Contains("name: thermo-1"));
    CHECK_THAT(add.out, Catch::Contains("ACCESS_TOKEN tok-1"));

    const std::string pem = f.dir.file("dev.pem");
    std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
    REQUIRE(f.run({"profile", "add", "sensors"}).rc == 0);
    auto x = f.run({"device", "add", "cam", "--x509", pem, "--profile", "sensors", "--json"});
    REQUIRE(x.rc == 0);
    auto xj = f.json_of(x);
    CHECK(std::string(xj["credentials"]["type"].GetString()) == "X509_CERTIFICATE");
    CHECK(std::string(xj["profile"].GetString()) == "sensors");
    auto psk = f.run({"device", "add", "psk-dev", "--psk-identity", "id7", "--psk-key", "a1b2"});
    REQUIRE(psk.rc == 0);
    CHECK_THAT(psk.out, Catch::Contains("PSK identity id7"));

    auto list = f.run({"device", "list"});
    REQUIRE(list.rc == 0);
    CHECK_THAT(list.out, Catch::StartsWith("NAME"));
    CHECK_THAT(list.out, Catch::Contains("thermo-1"));
    CHECK_THAT(list.out, Catch::Contains("token tok-1"));
    CHECK_THAT(list.out, Catch::Contains("cam"));
    auto lj = f.json_of(f.run({"device", "list", "--json", "--profile", "sensors"}));
    REQUIRE(lj["devices"].Size() == 1);

    auto show = f.run({"device", "show", "thermo-1"});
    REQUIRE(show.rc == 0);
    CHECK_THAT(show.out, Catch::Contains("profile: default"));

    auto upd = f.run({"device", "update", "thermo-1", "--power-mode", "PSM", "--psm-activity-timer", "20000"});
    REQUIRE(upd.rc == 0);
    CHECK_THAT(upd.out, Catch::Contains("power mode: PSM (device)"));
    CHECK_THAT(upd.out, Catch::Contains("psm activity timer: 20s (device)"));
    REQUIRE(f.run({"device", "credentials", "thermo-1", "--token", "tok-2"}).rc == 0);
    CHECK(authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, "tok-2").name == "thermo-1");

    auto missing = f.run({"device", "show", "nope"});
    CHECK(missing.rc == 1);
    CHECK_THAT(missing.err, Catch::Contains("no device named 'nope'"));
    CHECK_THAT(missing.err, Catch::Contains("404"));
    CHECK(f.run({"device", "add", "thermo-1"}).rc == 1);  // exists

    auto usage = f.run({"device", "add"});
    CHECK(usage.rc == 64);
    CHECK_THAT(usage.err, Catch::Contains("usage:"));
    CHECK(f.run({"device", "add", "x", "--colour", "red"}).rc == 64);
    CHECK(f.run({"device", "frobnicate"}).rc == 64);
    CHECK(f.run({"device"}).rc == 64);
    auto help = f.run({"device", "--help"});
    CHECK(help.rc == 0);
    CHECK_THAT(help.out, Catch::Contains("tern device add NAME"));

    REQUIRE(f.run({"device", "delete", "cam"}).rc == 0);
    CHECK(f.run({"device", "show", "cam"}).rc == 1);
}

TEST_CASE("cli: power-saving timers are durations, on devices and profiles", "[cli][power]") {
    cli_fixture f;
    auto p = f.run({"profile", "add", "nb", "--power-mode", "E_DRX", "--paging-transmission-window", "10s",
                    "--edrx-cycle", "81000", "--json"});
    INFO(p.err);
    REQUIRE(p.rc == 0);
    auto pj = f.json_of(p);
    CHECK(pj["power"]["pagingTransmissionWindow"].GetInt64() == 10000);
    CHECK(pj["power"]["edrxCycle"].GetInt64() == 81000);
    auto pu = f.run({"profile", "update", "nb", "--psm-activity-timer", "2m", "--paging-window", "500ms"});
    REQUIRE(pu.rc == 0);
    CHECK_THAT(pu.out, Catch::Contains("power: E_DRX, psm activity timer 2m, edrx cycle 81s, paging window 500ms"));

    REQUIRE(f.run({"device", "add", "m", "--profile", "nb", "--psm-activity-timer", "1h"}).rc == 0);
    auto d = await<device>([&](auto cb) { f.core.get_device("m", cb); });
    CHECK(d.value.power.psm_activity_timer == 3600000);
    REQUIRE(f.run({"device", "update", "m", "--power-mode", "PSM", "--psm-activity-timer", "1500ms"}).rc == 0);
    d = await<device>([&](auto cb) { f.core.get_device("m", cb); });
    CHECK(d.value.power.mode == TERN_POWER_PSM);
    CHECK(d.value.power.psm_activity_timer == 1500);
    REQUIRE(f.run({"device", "update", "m", "--psm-activity-timer", "0"}).rc == 0);  // back to the profile's

    for (const char* bad : {"ten", "10x", "-5s", "1.5s", "s", "", "99999999999999999999"}) {
        INFO(bad);
        auto r = f.run({"device", "update", "m", std::string("--psm-activity-timer=") + bad});
        CHECK(r.rc == 64);
        CHECK_THAT(r.err, Catch::Contains("--psm-activity-timer"));
        if (*bad != '\0') CHECK_THAT(r.err, Catch::Contains("must be a duration (10s, 500ms, 2m, 1h, or plain ms)"));
    }
    auto bad = f.run({"profile", "update", "nb", "--paging-transmission-window", "3d"});
    CHECK(bad.rc == 64);
    CHECK_THAT(bad.err, Catch::Contains("--paging-window"));
    CHECK(f.run({"device", "update", "m", "--edrx-cycle", "9223372036854775807h"}).rc == 64);
    auto help = f.run({"device", "update", "--help"});
    CHECK_THAT(help.out, Catch::Contains("10s, 500ms, 2m, 1h or plain ms"));
    CHECK_THAT(help.out, Catch::Contains("--paging-transmission-window"));
}

TEST_CASE("cli: device show prints the power settings and where each comes from, the state and the pending RPCs",
          "[cli][power]") {
    cli_fixture f;
    REQUIRE(f.run({"profile", "add", "nb", "--power-mode", "PSM", "--psm-activity-timer", "30s"}).rc == 0);
    REQUIRE(f.run({"device", "add", "plain"}).rc == 0);
    auto plain = f.run({"device", "show", "plain"});
    REQUIRE(plain.rc == 0);
    CHECK_THAT(plain.out, Catch::Contains("power mode: none"));
    CHECK_THAT(plain.out, Catch::Contains("power state: unknown"));
    CHECK_THAT(plain.out, Catch::Contains("last activity: -"));
    CHECK_THAT(plain.out, Catch::Contains("pending rpcs: 0"));

    REQUIRE(f.run({"device", "add", "m", "--profile", "nb", "--paging-window", "5s"}).rc == 0);
    auto show = f.run({"device", "show", "m"});
    REQUIRE(show.rc == 0);
    CHECK_THAT(show.out, Catch::Contains("power mode: PSM (profile)"));
    CHECK_THAT(show.out, Catch::Contains("psm activity timer: 30s (profile)"));
    CHECK_THAT(show.out, Catch::Contains("edrx cycle: default (the power plugin's)"));
    CHECK_THAT(show.out, Catch::Contains("paging window: 5s (device)"));

    const device d = await<device>([&](auto cb) { f.core.get_device("m", cb); }).value;
    f.core.session_event(d.id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("a"));
    CHECK_THAT(f.run({"device", "show", "m"}).out, Catch::Contains("power state: awake"));
    f.core.session_event(d.id, TERN_SESSION_ASLEEP, to_str("coap"), to_str("a"));
    REQUIRE(f.run({"rpc", "m", "configure", "--persistent", "--timeout", "60000"}).rc == 0);
    show = f.run({"device", "show", "m"});
    CHECK_THAT(show.out, Catch::Contains("power state: asleep since 20"));
    CHECK_THAT(show.out, Catch::Contains("(an uplink or an acknowledged notification)"));
    CHECK_THAT(show.out, Catch::Contains("pending rpcs: 1 (1 queued, 0 sent, 0 delivered and waiting for the reply; "
                                         "1 persistent), oldest expires 20"));
    auto j = f.json_of(f.run({"device", "show", "m", "--json"}));
    CHECK(std::string(j["power"]["state"].GetString()) == "asleep");
}

TEST_CASE("cli: attr set and get", "[cli]") {
    cli_fixture f;
    REQUIRE(f.run({"device", "add", "a"}).rc == 0);
    auto set = f.run({"attr", "set", "a", "--shared", "mode=eco", "--shared", "limit=42", "--shared", "cfg={\"x\":1}",
                      "--server", "note=\"42\""});
    INFO(set.err);
    REQUIRE(set.rc == 0);
    CHECK_THAT(set.out, Catch::Contains("set 3 shared and 1 server"));
    auto get = f.run({"attr", "get", "a"});
    REQUIRE(get.rc == 0);
    CHECK_THAT(get.out, Catch::Contains("shared  mode"));
    CHECK_THAT(get.out, Catch::Contains("\"eco\""));
    auto j = f.json_of(f.run({"attr", "get", "a", "--scope", "shared", "--keys", "limit,cfg", "--json"}));
    REQUIRE(j["shared"].Size() == 2);
    CHECK(std::string(j["shared"][0]["key"].GetString()) == "cfg");
    CHECK(j["shared"][0]["value"]["x"].GetInt() == 1);
    CHECK(j["shared"][1]["value"].GetInt() == 42);  // typed, not text
    auto server = f.json_of(f.run({"attr", "get", "a", "--scope", "server", "--json"}));
    CHECK(std::string(server["server"][0]["value"].GetString()) == "42");  // quoted: text
    REQUIRE(f.run({"attr", "delete", "a", "--shared", "mode"}).rc == 0);
    CHECK(f.json_of(f.run({"attr", "get", "a", "--scope", "shared", "--json"}))["shared"].Size() == 2);
    CHECK(f.run({"attr", "set", "a", "--shared", "novalue"}).rc == 64);
    CHECK(f.run({"attr", "set", "a"}).rc == 64);
}

TEST_CASE("cli: telemetry", "[cli]") {
    cli_fixture f;
    const device d = add_device(f.core, "t");
    const int64_t now = now_ms();
    for (int i = 0; i < 3; ++i) {
        tern_value v{};
        v.type = TERN_VALUE_INT;
        v.u.i = i;
        tern_kv kv{to_str("count"), v};
        tern_ts_record r{now - (2 - i) * 60000, &kv, 1, 0};
        done_wait w;
        f.core.post_telemetry(d.id, &r, 1, &done_wait::fn, &w);
        REQUIRE(w.get().first == TERN_OK);
    }
    auto latest = f.run({"telemetry", "t", "--latest"});
    REQUIRE(latest.rc == 0);
    CHECK_THAT(latest.out, Catch::Contains("count"));
    auto j = f.json_of(f.run({"telemetry", "t", "--json"}));
    CHECK(j["count"]["value"].GetInt() == 2);
    auto since = f.json_of(f.run({"telemetry", "t", "--key", "count", "--since", "90s", "--json"}));
    REQUIRE(since["count"].Size() == 2);  // the last minute and a half: two points
    auto range = f.run({"telemetry", "t", "--since", "1h", "--asc"});
    REQUIRE(range.rc == 0);
    CHECK_THAT(range.out, Catch::Contains("KEY"));
    CHECK(f.run({"telemetry", "t", "--since", "last tuesday"}).rc == 64);
    CHECK(f.run({"telemetry"}).rc == 64);
}

TEST_CASE("cli: rpc", "[cli]") {
    cli_fixture f;
    const device d = add_device(f.core, "r");
    SECTION("two-way, answered") {
        f.core.subscribe(d.id, TERN_SUBSCRIBE_RPC);
        f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
            f.core.rpc_reply(c.device, c.id, to_str("{\"echo\":" + (c.params.empty() ? std::string("null") : c.params) + "}"),
                             &ignore, nullptr);
        };
        auto r = f.run({"rpc", "r", "setLed", "{\"on\":true}"});
        INFO(r.err);
        REQUIRE(r.rc == 0);
        CHECK_THAT(r.out, Catch::Contains("SUCCESSFUL"));
        CHECK_THAT(r.out, Catch::Contains("result: {\"echo\":{\"on\":true}}"));
        auto j = f.json_of(f.run({"rpc", "r", "get", "--json"}));
        CHECK(std::string(j["status"].GetString()) == "SUCCESSFUL");
        auto got = f.run({"rpc", "r", "--get", "1"});
        REQUIRE(got.rc == 0);
        CHECK_THAT(got.out, Catch::Contains("rpc 1 setLed: SUCCESSFUL"));
        auto list = f.run({"rpc", "r", "--list"});
        CHECK_THAT(list.out, Catch::Contains("setLed"));
    }
    SECTION("one-way, delivered") {
        f.core.subscribe(d.id, TERN_SUBSCRIBE_RPC);
        f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
            f.core.rpc_status(c.device, c.id, TERN_RPC_DELIVERED, {});
        };
        CHECK(f.run({"rpc", "r", "reboot", "--oneway"}).rc == 0);
    }
    SECTION("nobody listening: exit 1 with the state") {
        auto r = f.run({"rpc", "r", "ping", "--timeout", "200"});
        CHECK(r.rc == 1);
        CHECK_THAT(r.out, Catch::Contains("EXPIRED"));
    }
    SECTION("persistent: queued") {
        auto r = f.run({"rpc", "r", "configure", "--persistent", "--timeout", "60000"});
        CHECK(r.rc == 0);
        CHECK_THAT(r.out, Catch::Contains("queued as rpc 1"));
    }
    SECTION("ended FAILED by the transport: the reason is shown") {
        REQUIRE(f.run({"rpc", "r", "configure", "--persistent", "--timeout", "60000"}).rc == 0);
        f.core.rpc_status(d.id, 1, TERN_RPC_FAILED, to_str("more than max_pending_rpcs held while the device sleeps"));
        auto got = f.run({"rpc", "r", "--get", "1"});
        REQUIRE(got.rc == 0);
        CHECK_THAT(got.out, Catch::StartsWith("rpc 1 configure: FAILED\nexpires: 20"));
        CHECK_THAT(got.out, Catch::Contains("error: more than max_pending_rpcs held while the device sleeps"));
        auto list = f.run({"rpc", "r", "--list"});
        CHECK_THAT(list.out, Catch::Contains("RESULT OR ERROR"));
        CHECK_THAT(list.out, Catch::Contains("error: more than max_pending_rpcs held while the device sleeps"));
    }
    SECTION("usage") {
        CHECK(f.run({"rpc", "r"}).rc == 64);
        CHECK(f.run({"rpc", "r", "m", "{not json"}).rc == 64);
        CHECK(f.run({"rpc", "r", "m", "--timeout", "soon"}).rc == 64);
    }
}

TEST_CASE("cli: profile add with provisioning, list, show", "[cli]") {
    cli_fixture f;
    auto add = f.run({"profile", "add", "fleet", "--provision-key", "pk", "--provision-secret", "ps", "--strategy",
                      "pre-provisioned", "--power-mode", "PSM", "--psm-activity-timer", "15000"});
    INFO(add.err);
    REQUIRE(add.rc == 0);
    CHECK_THAT(add.out, Catch::Contains("provisioning: pre-provisioned key pk secret ps"));
    auto p = await<profile>([&](auto cb) { f.core.get_profile("fleet", cb); });
    REQUIRE(p.ok());
    CHECK(p.value.strategy == provision_strategy::pre_provisioned);
    CHECK(p.value.power.psm_activity_timer == 15000);
    auto list = f.run({"profile", "list"});
    CHECK_THAT(list.out, Catch::Contains("fleet"));
    CHECK_THAT(list.out, Catch::Contains("default"));
    auto schema = f.dir.file("t.proto");
    std::ofstream(schema) << "syntax = \"proto3\"; message T { int32 t = 1; }";
    auto upd = f.run({"profile", "update", "fleet", "--payload", "PROTOBUF", "--telemetry-schema", schema, "--json"});
    REQUIRE(upd.rc == 0);
    CHECK(std::string(f.json_of(upd)["payload"].GetString()) == "PROTOBUF");
    CHECK(f.run({"profile", "add", "bad", "--strategy", "sometimes", "--provision-key", "k", "--provision-secret", "s"}).rc == 1);
    CHECK(f.run({"profile", "add", "fleet"}).rc == 1);
    REQUIRE(f.run({"profile", "delete", "fleet"}).rc == 0);
}

TEST_CASE("cli: ota upload, assign to a device and a profile, unassign", "[cli]") {
    cli_fixture f;
    REQUIRE(f.run({"device", "add", "d"}).rc == 0);
    const std::string image = f.dir.file("fw-1.0.bin");
    std::ofstream(image, std::ios::binary) << "binary image bytes";
    auto up = f.run({"ota", "upload", image, "--title", "fw", "--version", "1.0", "--json"});
    INFO(up.err);
    REQUIRE(up.rc == 0);
    auto uj = f.json_of(up);
    const std::string id = std::to_string(uj["id"].GetInt64());
    CHECK(std::string(uj["fileName"].GetString()) == "fw-1.0.bin");
    CHECK(uj["size"].GetInt() == 18);
    auto list = f.run({"ota", "list"});
    CHECK_THAT(list.out, Catch::Contains("firmware"));
    CHECK_THAT(list.out, Catch::Contains("SHA256"));

    REQUIRE(f.run({"ota", "assign", "d", id}).rc == 0);
    auto attrs = f.json_of(f.run({"attr", "get", "d", "--scope", "shared", "--keys", "fw_title,fw_version", "--json"}));
    REQUIRE(attrs["shared"].Size() == 2);
    REQUIRE(f.run({"ota", "unassign", "d"}).rc == 0);
    CHECK(f.json_of(f.run({"attr", "get", "d", "--scope", "shared", "--json"}))["shared"].Size() == 0);
    auto prof = f.run({"ota", "assign", "--profile", "default", id});
    REQUIRE(prof.rc == 0);
    CHECK_THAT(prof.out, Catch::Contains("to profile default"));
    CHECK(f.json_of(f.run({"attr", "get", "d", "--scope", "shared", "--json"}))["shared"].Size() == 5);
    REQUIRE(f.run({"ota", "unassign", "--profile", "default"}).rc == 0);
    REQUIRE(f.run({"ota", "delete", id}).rc == 0);

    CHECK(f.run({"ota", "upload", image, "--title", "fw"}).rc == 64);
    CHECK(f.run({"ota", "upload", f.dir.file("missing.bin"), "--title", "fw", "--version", "2"}).rc == 1);
    CHECK(f.run({"ota", "assign", "d", "999"}).rc == 1);
}

TEST_CASE("cli: client-rpc list, reply, config", "[cli]") {
    cli_fixture f;
    const device d = add_device(f.core, "c");
    text_wait w;
    auto fut = w.future();
    f.core.client_rpc(d.id, to_str("getWeather"), to_str("{}"), 10000, &text_wait::fn, &w);
    auto list = f.run({"client-rpc", "list", "--json"});
    REQUIRE(list.rc == 0);
    auto j = f.json_of(list);
    REQUIRE(j["calls"].Size() == 1);
    const std::string id = std::to_string(j["calls"][0]["id"].GetUint64());
    REQUIRE(f.run({"client-rpc", "reply", id, "{\"t\":1}"}).rc == 0);
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    CHECK(fut.get().second == "{\"t\":1}");
    CHECK(f.run({"client-rpc", "reply", id, "{}"}).rc == 1);
    auto cfg = f.run({"client-rpc", "config", "--builtin", "off"});
    REQUIRE(cfg.rc == 0);
    CHECK_THAT(cfg.out, Catch::Contains("built-in answers: off"));
    CHECK(f.run({"client-rpc", "config", "--queue", "maybe"}).rc == 64);
}

TEST_CASE("cli: finds the server through the key and address files beside the database", "[cli]") {
    cli_fixture f;
    {
        std::ofstream(admin_key_path(f.settings.database)) << admin_fixture::key << "\n";
        std::ofstream(admin_addr_path(f.settings.database)) << "127.0.0.1:" << f.server->port() << "\n";
    }
    f.cs.admin_key.clear();
    f.cs.admin_bind = "127.0.0.1:0";
    auto r = f.run({"device", "list"});
    INFO(r.err);
    CHECK(r.rc == 0);

    f.cs.admin_key = "wrong";
    auto denied = f.run({"device", "list"});
    CHECK(denied.rc == 1);
    CHECK_THAT(denied.err, Catch::Contains("401"));
}

TEST_CASE("cli: a server that is not running is a clear failure", "[cli]") {
    temp_dir d;
    cli_settings s;
    s.database = d.file("tern.db");
    s.admin_bind = "127.0.0.1:1";
    s.admin_key = "k";
    cli tool{[&] { return s; }};
    run_result r;
    std::vector<std::string> args = {"device", "list"};
    std::vector<tern_str> argv;
    for (auto& a : args) argv.push_back(to_str(a));
    r.rc = tool.run(2, argv.data(), [](void* c, tern_str t) { static_cast<run_result*>(c)->out.append(t.data, t.size); },
                    [](void* c, tern_str t) { static_cast<run_result*>(c)->err.append(t.data, t.size); }, &r);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("cannot connect"));

    s.admin_key.clear();  // and no key file
    r = run_result{};
    r.rc = tool.run(2, argv.data(), [](void* c, tern_str t) { static_cast<run_result*>(c)->out.append(t.data, t.size); },
                    [](void* c, tern_str t) { static_cast<run_result*>(c)->err.append(t.data, t.size); }, &r);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("no admin key"));
}

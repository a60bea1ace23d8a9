// The store: schema migration, devices/profiles/credentials, authentication and its
// cache, telemetry, attributes, and group commit.
#include <sqlite3.h>

#include <atomic>
#include <set>
#include <thread>

#include "crypto.hpp"
#include "schema.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
core_metrics metrics;

int user_version(const std::string& path) {
    auto c = db::connection::open(path, false, true);
    auto q = c.query("PRAGMA user_version");
    REQUIRE(q->step());
    return static_cast<int>(q->get_int(0));
}

std::vector<profile> profiles(embedded_core& c) {
    auto r = await<std::vector<profile>>([&](auto cb) { c.list_profiles(cb); });
    REQUIRE(r.ok());
    return r.value;
}
}  // namespace

TEST_CASE("a new database gets the schema and the default profile, a reopened one keeps its data", "[store]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    {
        embedded_core core(metrics, {});
        core.start(s);
        auto ps = profiles(core);
        REQUIRE(ps.size() == 1);
        CHECK(ps[0].name == "default");
        CHECK(ps[0].transport_type == TERN_TRANSPORT_DEFAULT);
        CHECK(ps[0].payload_type == TERN_PAYLOAD_JSON);
        CHECK(ps[0].strategy == provision_strategy::disabled);
        add_device(core, "dev-1", token("tok-1"));
        core.stop();
    }
    CHECK(user_version(s.database) == schema_version);
    {
        auto c = db::connection::open(s.database, false, true);
        auto q = c.query("PRAGMA journal_mode");
        REQUIRE(q->step());
        CHECK(q->get_text(0) == "wal");
    }
    embedded_core again(metrics, {});
    again.start(s);
    CHECK(profiles(again).size() == 1);
    auto d = await<device>([&](auto cb) { again.get_device("dev-1", cb); });
    REQUIRE(d.ok());
    CHECK(d.value.cred->id == "tok-1");
    CHECK(authenticate(again, TERN_CREDENTIAL_ACCESS_TOKEN, "tok-1").name == "dev-1");
}

TEST_CASE("a database from a newer build is refused", "[store]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    {
        embedded_core core(metrics, {});
        core.start(s);
    }
    {
        auto c = db::connection::open(s.database, false, false);
        c.exec("PRAGMA user_version = 99");
    }
    embedded_core core(metrics, {});
    REQUIRE_THROWS_WITH(core.start(s), Catch::Contains("newer"));
    CHECK_FALSE(core.running());
}

TEST_CASE("profiles: create, update, delete, unique names and provision keys", "[store]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));

    profile_spec p;
    p.name = "sensors";
    p.transport_type = TERN_TRANSPORT_COAP;
    p.payload_type = TERN_PAYLOAD_PROTOBUF;
    p.strategy = provision_strategy::allow_create;
    p.provision_key = "key-1";
    p.provision_secret = "secret-1";
    p.power_mode = TERN_POWER_PSM;
    p.psm_activity_timer = 20000;
    p.schemas[0] = "syntax = \"proto3\"; message T { int32 t = 1; }";
    auto r = await<profile>([&](auto cb) { core.create_profile(p, cb); });
    REQUIRE(r.ok());
    CHECK(r.value.id > 1);
    CHECK(r.value.transport_type == TERN_TRANSPORT_COAP);
    CHECK(r.value.payload_type == TERN_PAYLOAD_PROTOBUF);
    CHECK(r.value.power.psm_activity_timer == 20000);

    CHECK(await<profile>([&](auto cb) { core.create_profile(p, cb); }).status == TERN_EXISTS);

    profile_spec same_key;
    same_key.name = "other";
    same_key.provision_key = "key-1";
    same_key.provision_secret = "x";
    same_key.strategy = provision_strategy::pre_provisioned;
    auto dup = await<profile>([&](auto cb) { core.create_profile(same_key, cb); });
    CHECK(dup.status == TERN_EXISTS);
    CHECK_THAT(dup.message, Catch::Contains("sensors"));

    profile_spec no_key;
    no_key.name = "nokey";
    no_key.strategy = provision_strategy::allow_create;
    CHECK(await<profile>([&](auto cb) { core.create_profile(no_key, cb); }).status == TERN_INVALID_ARGUMENT);

    profile_spec empty;
    CHECK(await<profile>([&](auto cb) { core.create_profile(empty, cb); }).status == TERN_INVALID_ARGUMENT);

    profile_spec upd;
    upd.name = "sensors";
    upd.new_name = "meters";
    upd.payload_type = TERN_PAYLOAD_JSON;
    auto u = await<profile>([&](auto cb) { core.update_profile(upd, cb); });
    REQUIRE(u.ok());
    CHECK(u.value.name == "meters");
    CHECK(u.value.payload_type == TERN_PAYLOAD_JSON);
    CHECK(u.value.transport_type == TERN_TRANSPORT_COAP);  // untouched
    CHECK(u.value.revision > r.value.revision);

    add_device(core, "m1", {}, std::string("meters"));
    auto in_use = await<none>([&](auto cb) { core.delete_profile("meters", cb); });
    CHECK(in_use.status == TERN_EXISTS);
    CHECK(await<none>([&](auto cb) { core.delete_profile("default", cb); }).status == TERN_EXISTS);
    CHECK(await<none>([&](auto cb) { core.delete_device("m1", cb); }).ok());
    CHECK(await<none>([&](auto cb) { core.delete_profile("meters", cb); }).ok());
    CHECK(await<profile>([&](auto cb) { core.get_profile("meters", cb); }).status == TERN_NOT_FOUND);
}

TEST_CASE("devices: create, update, list, delete, names and credentials are unique", "[store]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));

    device d1 = add_device(core, "d1");
    REQUIRE(d1.cred);
    CHECK(d1.cred->kind == TERN_CREDENTIAL_ACCESS_TOKEN);
    CHECK(d1.cred->id.size() == 20);  // generated, as ThingsBoard does
    CHECK(d1.profile_name == "default");

    device_spec again;
    again.name = "d1";
    CHECK(await<device>([&](auto cb) { core.create_device(again, cb); }).status == TERN_EXISTS);

    device_spec bad_profile;
    bad_profile.name = "d2";
    bad_profile.profile = "nope";
    CHECK(await<device>([&](auto cb) { core.create_device(bad_profile, cb); }).status == TERN_NOT_FOUND);

    device_spec same_token;
    same_token.name = "d2";
    same_token.cred = token(d1.cred->id);
    auto st = await<device>([&](auto cb) { core.create_device(same_token, cb); });
    CHECK(st.status == TERN_EXISTS);
    CHECK_THAT(st.message, Catch::Contains("d1"));

    device_spec bad_token;
    bad_token.name = "d2";
    bad_token.cred = token("has space");
    CHECK(await<device>([&](auto cb) { core.create_device(bad_token, cb); }).status == TERN_INVALID_ARGUMENT);

    add_device(core, "d2", token("t2"));
    add_device(core, "d3", token("t3"));

    device_spec upd;
    upd.name = "d2";
    upd.new_name = "d2-renamed";
    upd.label = "kitchen";
    upd.power_mode = TERN_POWER_EDRX;
    upd.edrx_cycle = 81000;
    auto u = await<device>([&](auto cb) { core.update_device(upd, cb); });
    REQUIRE(u.ok());
    CHECK(u.value.name == "d2-renamed");
    CHECK(u.value.label == "kitchen");
    CHECK(u.value.power.mode == TERN_POWER_EDRX);
    CHECK(u.value.cred->id == "t2");

    device_spec clash;
    clash.name = "d3";
    clash.new_name = "d1";
    CHECK(await<device>([&](auto cb) { core.update_device(clash, cb); }).status == TERN_EXISTS);

    auto all = await<std::vector<device>>([&](auto cb) { core.list_devices("", 0, 0, cb); });
    REQUIRE(all.ok());
    REQUIRE(all.value.size() == 3);
    CHECK(all.value[0].name == "d1");  // ordered by name
    auto page = await<std::vector<device>>([&](auto cb) { core.list_devices("", 1, 1, cb); });
    REQUIRE(page.value.size() == 1);
    CHECK(page.value[0].name == "d2-renamed");
    CHECK(await<std::vector<device>>([&](auto cb) { core.list_devices("nope", 0, 0, cb); }).status == TERN_NOT_FOUND);

    CHECK(await<none>([&](auto cb) { core.delete_device("d3", cb); }).ok());
    CHECK(await<device>([&](auto cb) { core.get_device("d3", cb); }).status == TERN_NOT_FOUND);
    CHECK(await<none>([&](auto cb) { core.delete_device("d3", cb); }).status == TERN_NOT_FOUND);
    // the token is free again
    add_device(core, "d3-new", token("t3"));
}

TEST_CASE("authentication by token, X.509 hash and PSK identity, with cache invalidation", "[store][auth]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));
    recording_listener listener;
    core.set_listener(&listener);

    const device tok = add_device(core, "tok", token("secret-token"));
    auto a = authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "secret-token");
    REQUIRE(a.status == TERN_OK);
    CHECK(a.id == tok.id);
    CHECK(a.name == "tok");
    CHECK(a.profile == "default");
    CHECK(a.revision > 0);
    CHECK(a.info.transport_type == TERN_TRANSPORT_DEFAULT);
    CHECK(a.info.payload_type == TERN_PAYLOAD_JSON);
    const auto before = core.stats();
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "secret-token").status == TERN_OK);
    CHECK(core.stats().auth_cache_hits == before.auth_cache_hits + 1);
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "wrong").status == TERN_NOT_FOUND);
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "").status == TERN_NOT_FOUND);

    SECTION("X.509: the id is SHA3-256 of the Base64 text, the value is that text") {
        const std::string pem =
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFAKE\nQ0VSVElGSUNBVEU=\n-----END CERTIFICATE-----\n";
        credential_input c;
        c.kind = TERN_CREDENTIAL_X509;
        c.certificate = pem;
        const device x = add_device(core, "x", c);
        const std::string b64 = "MIIBszCCAVmgAwIBAgIUFAKEQ0VSVElGSUNBVEU=";
        CHECK(x.cred->value == b64);
        CHECK(x.cred->id == sha3_256_hex(b64));
        auto ax = authenticate(core, TERN_CREDENTIAL_X509, sha3_256_hex(b64));
        REQUIRE(ax.status == TERN_OK);
        CHECK(ax.name == "x");
        CHECK(ax.credential == b64);
        CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, sha3_256_hex(b64)).status == TERN_NOT_FOUND);
    }

    SECTION("PSK: the id is the identity, the value the key") {
        credential_input c;
        c.kind = TERN_CREDENTIAL_PSK;
        c.psk_identity = "sensor-7";
        c.psk_key = std::string("\x01\x02\x00\xff", 4);
        add_device(core, "psk", c);
        auto ap = authenticate(core, TERN_CREDENTIAL_PSK, "sensor-7");
        REQUIRE(ap.status == TERN_OK);
        CHECK(ap.name == "psk");
        CHECK(ap.credential == std::string("\x01\x02\x00\xff", 4));
    }

    SECTION("new credentials: the old ones stop working at once and the listener hears it") {
        device_spec u;
        u.name = "tok";
        u.cred = token("new-token");
        REQUIRE(await<device>([&](auto cb) { core.update_device(u, cb); }).ok());
        CHECK(listener.wait_for([&] {
            for (auto& [d, e] : listener.events)
                if (d == tok.id && e == TERN_DEVICE_CREDENTIALS_CHANGED) return true;
            return false;
        }));
        CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "secret-token").status == TERN_NOT_FOUND);
        auto n = authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "new-token");
        CHECK(n.status == TERN_OK);
        CHECK(n.revision > a.revision);
    }

    SECTION("rename and profile change: UPDATED, and the cache shows the new state") {
        device_spec u;
        u.name = "tok";
        u.new_name = "tok2";
        REQUIRE(await<device>([&](auto cb) { core.update_device(u, cb); }).ok());
        CHECK(listener.wait_for([&] { return !listener.events.empty() && listener.events.back().second == TERN_DEVICE_UPDATED; }));
        CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "secret-token").name == "tok2");
    }

    SECTION("deletion: DELETED, and the token is unknown") {
        REQUIRE(await<none>([&](auto cb) { core.delete_device("tok", cb); }).ok());
        CHECK(listener.wait_for([&] { return !listener.events.empty() && listener.events.back() == std::make_pair(tok.id, int32_t(TERN_DEVICE_DELETED)); }));
        CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "secret-token").status == TERN_NOT_FOUND);
    }

    SECTION("profile settings resolve: device value, else profile value, else 0; schemas become options") {
        profile_spec p;
        p.name = "psm";
        p.transport_type = TERN_TRANSPORT_COAP;
        p.payload_type = TERN_PAYLOAD_PROTOBUF;
        p.power_mode = TERN_POWER_PSM;
        p.psm_activity_timer = 30000;
        p.paging_transmission_window = 7000;
        p.schemas[0] = "telemetry proto";
        p.schemas[3] = "rpc response proto";
        REQUIRE(await<profile>([&](auto cb) { core.create_profile(p, cb); }).ok());
        device_spec d;
        d.name = "sleepy";
        d.profile = "psm";
        d.cred = token("sleepy-token");
        d.psm_activity_timer = 5000;
        REQUIRE(await<device>([&](auto cb) { core.create_device(d, cb); }).ok());
        auto s = authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "sleepy-token");
        REQUIRE(s.status == TERN_OK);
        CHECK(s.info.power_mode == TERN_POWER_PSM);
        CHECK(s.info.psm_activity_timer_ms == 5000);           // device
        CHECK(s.info.paging_transmission_window_ms == 7000);   // profile
        CHECK(s.info.edrx_cycle_ms == 0);                      // nobody: the device API's default
        CHECK(s.info.transport_type == TERN_TRANSPORT_COAP);
        CHECK(s.info.payload_type == TERN_PAYLOAD_PROTOBUF);
        CHECK(s.options == std::vector<std::pair<std::string, std::string>>{
                               {"telemetry_schema", "telemetry proto"}, {"rpc_response_schema", "rpc response proto"}});

        // A profile change reaches every device of the profile.
        profile_spec up;
        up.name = "psm";
        up.power_mode = TERN_POWER_DRX;
        REQUIRE(await<profile>([&](auto cb) { core.update_profile(up, cb); }).ok());
        CHECK(listener.wait_for([&] { return !listener.events.empty() && listener.events.back().second == TERN_DEVICE_UPDATED; }));
        auto s2 = authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "sleepy-token");
        CHECK(s2.info.power_mode == TERN_POWER_DRX);
        CHECK(s2.revision > s.revision);
    }
    core.set_listener(nullptr);
}

TEST_CASE("the authentication cache keeps at most credential_cache_size entries, least recently used out",
          "[store][auth]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.credential_cache_size = 2;
    embedded_core core(metrics, {});
    core.start(s);
    for (const char* n : {"a", "b", "c"}) add_device(core, n, token(std::string("token-") + n));
    auto misses = [&] { return core.stats().auth_cache_misses; };
    for (const char* t : {"token-a", "token-b", "token-c"})
        REQUIRE(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, t).status == TERN_OK);
    CHECK(core.stats().auth_cache_entries == 2);
    // b and c are cached, a was the least recently used
    const uint64_t m = misses();
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "token-c").status == TERN_OK);
    CHECK(misses() == m);
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "token-a").status == TERN_OK);
    CHECK(misses() == m + 1);  // read again; b (now least recent) made room
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "token-b").status == TERN_OK);
    CHECK(misses() == m + 2);
    CHECK(core.stats().auth_cache_entries == 2);
    // a deleted device leaves the cache at once
    REQUIRE(await<none>([&](auto cb) { core.delete_device("b", cb); }).ok());
    CHECK(core.stats().auth_cache_entries == 1);
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "token-b").status == TERN_NOT_FOUND);

    SECTION("size 0: no cache") {
        core.stop();
        s.credential_cache_size = 0;
        core.start(s);
        CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "token-a").status == TERN_OK);
        CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "token-a").status == TERN_OK);
        CHECK(core.stats().auth_cache_entries == 0);
    }
}

TEST_CASE("telemetry: typed values round-trip, latest and ranged reads", "[store][telemetry]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));
    const device d = add_device(core, "t");

    auto post = [&](int64_t ts, std::vector<tern_kv> kvs) {
        tern_ts_record rec{ts, kvs.data(), static_cast<uint32_t>(kvs.size()), 0};
        done_wait w;
        core.post_telemetry(d.id, &rec, 1, &done_wait::fn, &w);
        return w.get().first;
    };
    auto kv_of = [](const char* k, tern_value v) { return tern_kv{to_str(k), v}; };
    tern_value b{}, i{}, f{}, s{}, j{}, n{};
    b.type = TERN_VALUE_BOOL;
    b.u.b = 1;
    i.type = TERN_VALUE_INT;
    i.u.i = -42;
    f.type = TERN_VALUE_DOUBLE;
    f.u.d = 42.0;
    s.type = TERN_VALUE_STR;
    s.u.s = to_str("hello");
    j.type = TERN_VALUE_JSON;
    j.u.s = to_str("{\"a\":[1,2]}");
    n.type = TERN_VALUE_NULL;
    REQUIRE(post(1000, {kv_of("on", b), kv_of("temp", i), kv_of("hum", f), kv_of("name", s), kv_of("cfg", j),
                        kv_of("gone", n)}) == TERN_OK);
    i.u.i = 7;
    REQUIRE(post(2000, {kv_of("temp", i)}) == TERN_OK);
    i.u.i = 8;
    REQUIRE(post(3000, {kv_of("temp", i)}) == TERN_OK);
    i.u.i = 1;
    REQUIRE(post(1500, {kv_of("temp", i)}) == TERN_OK);  // late: history, not latest
    REQUIRE(post(4000, {}) == TERN_OK);                    // nothing to store is fine

    auto latest = await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry("t", {}, cb); });
    REQUIRE(latest.ok());
    REQUIRE(latest.value.size() == 5);  // null dropped
    std::map<std::string, ts_latest> by;
    for (auto& l : latest.value) by[l.key] = l;
    CHECK(by["on"].v == value::of_bool(true));
    CHECK(by["hum"].v == value::of_double(42.0));
    CHECK(by["hum"].v.type == TERN_VALUE_DOUBLE);  // 42.0 stays a double
    CHECK(by["name"].v == value::of_str("hello"));
    CHECK(by["cfg"].v == value::of_json("{\"a\":[1,2]}"));
    CHECK(by["temp"].v == value::of_int(8));
    CHECK(by["temp"].ts == 3000);

    auto only = await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry("t", {"temp", "on"}, cb); });
    CHECK(only.value.size() == 2);

    auto range = await<std::map<std::string, std::vector<ts_point>>>(
        [&](auto cb) { core.telemetry_range("t", {"temp"}, 1000, 3000, 100, false, cb); });
    REQUIRE(range.ok());
    const auto& pts = range.value["temp"];
    REQUIRE(pts.size() == 4);
    CHECK(pts[0].ts == 1000);
    CHECK(pts[0].v == value::of_int(-42));
    CHECK(pts[1].ts == 1500);
    CHECK(pts[3].ts == 3000);

    auto desc = await<std::map<std::string, std::vector<ts_point>>>(
        [&](auto cb) { core.telemetry_range("t", {"temp"}, 1200, 5000, 2, true, cb); });
    REQUIRE(desc.value["temp"].size() == 2);
    CHECK(desc.value["temp"][0].ts == 3000);
    CHECK(desc.value["temp"][1].ts == 2000);

    auto all = await<std::map<std::string, std::vector<ts_point>>>(
        [&](auto cb) { core.telemetry_range("t", {}, 0, INT64_MAX, 100, true, cb); });
    CHECK(all.value.size() == 5);

    CHECK(await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry("nope", {}, cb); }).status == TERN_NOT_FOUND);

    // Telemetry for a deleted device is refused, not stored as an orphan.
    REQUIRE(await<none>([&](auto cb) { core.delete_device("t", cb); }).ok());
    CHECK(post(5000, {kv_of("temp", i)}) == TERN_NOT_FOUND);
}

TEST_CASE("attributes by scope, shared changes reach subscribed devices only", "[store][attributes]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));
    recording_listener listener;
    core.set_listener(&listener);
    const device d = add_device(core, "a");
    const device quiet = add_device(core, "quiet");

    tern_kv client[2] = {{to_str("fw"), {}}, {to_str("n"), {}}};
    client[0].value.type = TERN_VALUE_STR;
    client[0].value.u.s = to_str("1.0");
    client[1].value.type = TERN_VALUE_INT;
    client[1].value.u.i = 3;
    done_wait w;
    core.post_attributes(d.id, TERN_SCOPE_CLIENT, client, 2, &done_wait::fn, &w);
    REQUIRE(w.get().first == TERN_OK);

    core.subscribe(d.id, TERN_SUBSCRIBE_ATTRIBUTES);
    REQUIRE(await<none>([&](auto cb) {
                core.set_attributes("a", TERN_SCOPE_SHARED, {make_kv("mode", value::of_str("eco")), make_kv("limit", value::of_double(2.5))}, cb);
            }).ok());
    REQUIRE(await<none>([&](auto cb) { core.set_attributes("a", TERN_SCOPE_SERVER, {make_kv("secret", value::of_int(1))}, cb); }).ok());
    REQUIRE(await<none>([&](auto cb) { core.set_attributes("quiet", TERN_SCOPE_SHARED, {make_kv("x", value::of_int(1))}, cb); }).ok());
    REQUIRE(listener.wait_for([&] { return listener.attrs.size() >= 1; }));
    REQUIRE(await<none>([&](auto cb) { core.delete_attributes("a", TERN_SCOPE_SHARED, {"limit", "absent"}, cb); }).ok());
    REQUIRE(listener.wait_for([&] { return listener.attrs.size() >= 2; }));
    flush_wait(core);
    listener.locked([&] {
        REQUIRE(listener.attrs.size() == 2);  // not the server attribute, not the unsubscribed device
        CHECK(listener.attrs[0].device == d.id);
        CHECK(listener.attrs[0].updated.size() == 2);
        CHECK(listener.attrs[0].updated[0].key == "mode");
        CHECK(listener.attrs[1].deleted == std::vector<std::string>{"limit"});
        return 0;
    });
    (void)quiet;

    // core_v1 reads: client and shared, by filter
    struct attr_wait {
        std::promise<std::pair<std::vector<std::string>, std::vector<std::string>>> p;
        static void fn(void* ctx, tern_status s, const tern_kv* c, uint32_t cn, const tern_kv* sh, uint32_t sn) {
            std::vector<std::string> a, b;
            if (s != TERN_OK) a.push_back("status " + std::to_string(s));  // checked on the main thread
            for (uint32_t i = 0; i < cn; ++i) a.emplace_back(tern::sdk::to_sv(c[i].key));
            for (uint32_t i = 0; i < sn; ++i) b.emplace_back(tern::sdk::to_sv(sh[i].key));
            static_cast<attr_wait*>(ctx)->p.set_value({a, b});
        }
    };
    auto get = [&](const tern_key_filter* c, const tern_key_filter* s) {
        attr_wait aw;
        auto f = aw.p.get_future();
        core.get_attributes(d.id, c, s, &attr_wait::fn, &aw);
        REQUIRE(f.wait_for(deadline) == std::future_status::ready);
        return f.get();
    };
    tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    tern_key_filter nothing{TERN_KEYS_NONE, 0, nullptr};
    tern_str wanted[2] = {to_str("n"), to_str("missing")};
    tern_key_filter listed{TERN_KEYS_LISTED, 2, wanted};
    auto both = get(&all, &all);
    CHECK(both.first == std::vector<std::string>{"fw", "n"});
    CHECK(both.second == std::vector<std::string>{"mode"});
    auto some = get(&listed, &nothing);
    CHECK(some.first == std::vector<std::string>{"n"});
    CHECK(some.second.empty());
    auto none_at_all = get(nullptr, nullptr);
    CHECK(none_at_all.first.empty());
    CHECK(none_at_all.second.empty());

    auto admin = await<attribute_set>([&](auto cb) {
        core.read_attributes("a", (1u << TERN_SCOPE_SHARED) | (1u << TERN_SCOPE_SERVER), {}, cb);
    });
    REQUIRE(admin.ok());
    CHECK(admin.value.client.empty());
    REQUIRE(admin.value.shared.size() == 1);
    CHECK(admin.value.shared[0].last_update_ts > 0);
    REQUIRE(admin.value.server.size() == 1);
    CHECK(admin.value.server[0].v == value::of_int(1));

    core.unsubscribe(d.id, TERN_SUBSCRIBE_ATTRIBUTES);
    REQUIRE(await<none>([&](auto cb) { core.set_attributes("a", TERN_SCOPE_SHARED, {make_kv("mode", value::of_str("x"))}, cb); }).ok());
    CHECK(listener.locked([&] { return listener.attrs.size(); }) == 2);
    CHECK(await<none>([&](auto cb) { core.set_attributes("nope", TERN_SCOPE_SHARED, {make_kv("k", value::of_int(1))}, cb); }).status ==
          TERN_NOT_FOUND);
    core.set_listener(nullptr);
}

TEST_CASE("group commit: many threads' writes share transactions, done means committed", "[store][group-commit]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.writer.max_delay_us = 2000;
    embedded_core core(metrics, {});
    core.start(s);
    std::vector<uint64_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(add_device(core, "g" + std::to_string(i)).id);

    // A connection of our own, used only in completions (the writer thread): it sees only
    // what is committed.
    auto check = db::connection::open(s.database, false, true);
    std::atomic<int> done{0}, visible{0}, failed{0};
    struct ctx_t {
        db::connection* check;
        std::atomic<int>* done;
        std::atomic<int>* visible;
        std::atomic<int>* failed;
        uint64_t device;
        int64_t ts;
    };
    constexpr int threads = 4, per_thread = 300;
    std::vector<std::unique_ptr<ctx_t>> ctxs(threads * per_thread);
    std::vector<std::thread> ts;
    const auto before = core.stats().writer;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            for (int k = 0; k < per_thread; ++k) {
                const int n = t * per_thread + k;
                auto& c = ctxs[n];
                c = std::make_unique<ctx_t>(ctx_t{&check, &done, &visible, &failed, ids[n % ids.size()], 100000 + n});
                tern_value v{};
                v.type = TERN_VALUE_INT;
                v.u.i = n;
                tern_kv kv{to_str("n"), v};
                tern_ts_record rec{c->ts, &kv, 1, 0};
                core.post_telemetry(c->device, &rec, 1, [](void* p, tern_status st, tern_str) {
                    auto* c = static_cast<ctx_t*>(p);
                    if (st != TERN_OK) {
                        c->failed->fetch_add(1);
                    } else {
                        auto q = c->check->query("SELECT count(*) FROM ts_kv WHERE device_id = ? AND ts = ?");
                        q->bind_id(1, c->device).bind(2, c->ts);
                        if (q->step() && q->get_int(0) == 1) c->visible->fetch_add(1);
                    }
                    c->done->fetch_add(1);
                }, c.get());
            }
        });
    }
    for (auto& t : ts) t.join();
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (done.load() < threads * per_thread && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    REQUIRE(done.load() == threads * per_thread);
    CHECK(failed.load() == 0);
    CHECK(visible.load() == threads * per_thread);
    const auto after = core.stats().writer;
    const uint64_t ops = after.ops - before.ops, commits = after.commits - before.commits;
    CHECK(ops == uint64_t(threads * per_thread));
    CHECK(commits < ops);
    CHECK(after.max_batch > 1);
}

TEST_CASE("a full write queue refuses at once with TERN_BUSY", "[store][group-commit]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.writer.queue_capacity = 4;
    s.writer.max_delay_us = 0;
    embedded_core core(metrics, {});
    core.start(s);
    const device d = add_device(core, "busy");

    // Hold the writer in a completion until the queue is full.
    std::promise<void> release;
    auto released = release.get_future().share();
    std::promise<void> holding;
    core.flush([&, released] {
        holding.set_value();
        released.wait_for(deadline);
    });
    REQUIRE(holding.get_future().wait_for(deadline) == std::future_status::ready);
    tern_value v{};
    v.type = TERN_VALUE_INT;
    tern_kv kv{to_str("x"), v};
    tern_ts_record rec{1, &kv, 1, 0};
    std::vector<std::unique_ptr<done_wait>> waits;
    for (int i = 0; i < 4; ++i) {
        waits.push_back(std::make_unique<done_wait>());
        core.post_telemetry(d.id, &rec, 1, &done_wait::fn, waits.back().get());
    }
    done_wait refused;
    core.post_telemetry(d.id, &rec, 1, &done_wait::fn, &refused);
    CHECK(refused.get().first == TERN_BUSY);  // already completed, synchronously
    release.set_value();
    for (auto& w : waits) CHECK(w->get().first == TERN_OK);
    CHECK(core.stats().writer.rejected >= 1);
}

TEST_CASE("calls on a stopped core complete with TERN_UNAVAILABLE", "[store]") {
    embedded_core core(metrics, {});
    done_wait w;
    core.post_telemetry(1, nullptr, 0, &done_wait::fn, &w);
    CHECK(w.get().first == TERN_UNAVAILABLE);
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "x").status == TERN_UNAVAILABLE);
    CHECK(await<device>([&](auto cb) { core.get_device("x", cb); }).status == TERN_UNAVAILABLE);
}

TEST_CASE("sessions: several per device, addresses other than IPv4, a limit on the list", "[store][sessions]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.activity_flush_interval_ms = 0;
    embedded_core core(metrics, {});
    core.start(s);
    const device d = add_device(core, "multi");
    const std::pair<const char*, const char*> opened[] = {
        {"udp", "10.0.0.1:5000"}, {"udp", "[::1]:5683"}, {"dtls", "10.0.0.1:5000"}, {"udp", "010.0.0.1:5000"},
        {"udp", "10.0.0.1:05000"}};
    for (const auto& [tr, ad] : opened) core.session_event(d.id, TERN_SESSION_OPEN, to_str(tr), to_str(ad));
    core.session_event(d.id, TERN_SESSION_OPEN, to_str("udp"), to_str("10.0.0.1:5000"));  // the same one again
    CHECK(core.stats().sessions == 5);
    auto listed = [&](size_t limit) {
        std::set<std::pair<std::string, std::string>> out;
        for (const session_info& x : await<std::vector<session_info>>([&](auto cb) { core.list_sessions(limit, cb); }).value) {
            CHECK(x.device_name == "multi");
            out.emplace(x.transport, x.address);
        }
        return out;
    };
    std::set<std::pair<std::string, std::string>> all;
    for (const auto& [tr, ad] : opened) all.emplace(tr, ad);
    CHECK(listed(1000) == all);  // shown as reported
    CHECK(listed(2).size() == 2);
    for (const auto& [tr, ad] : opened) {
        core.session_event(d.id, TERN_SESSION_CLOSE, to_str(tr), to_str(ad));
        all.erase({tr, ad});
        CHECK(listed(1000) == all);
    }
    CHECK(core.stats().sessions == 0);
    core.session_event(d.id, TERN_SESSION_CLOSE, to_str("udp"), to_str("10.0.0.1:5000"));  // closed already
    CHECK(core.stats().sessions == 0);
    core.stop();
}

TEST_CASE("sessions: live list, and activity times written at most once per interval", "[store][sessions]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.activity_flush_interval_ms = 100;
    embedded_core core(metrics, {});
    core.start(s);
    const device d = add_device(core, "s");
    core.session_event(d.id, TERN_SESSION_OPEN, to_str("udp"), to_str("10.0.0.1:5000"));
    for (int i = 0; i < 1000; ++i)  // a busy device: one write per interval, not per message
        core.session_event(d.id, TERN_SESSION_ACTIVITY, to_str("udp"), to_str("10.0.0.1:5000"));
    const auto before = core.stats().writer.ops;
    auto sessions = await<std::vector<session_info>>([&](auto cb) { core.list_sessions(1000, cb); });
    REQUIRE(sessions.value.size() == 1);
    CHECK(sessions.value[0].device_name == "s");
    CHECK(sessions.value[0].address == "10.0.0.1:5000");
    CHECK(sessions.value[0].last_activity_ts >= sessions.value[0].opened_ts);

    auto server_attrs = [&] {
        auto r = await<attribute_set>([&](auto cb) { core.read_attributes("s", 1u << TERN_SCOPE_SERVER, {}, cb); });
        std::map<std::string, value> m;
        for (auto& a : r.value.server) m[a.key] = a.v;
        return m;
    };
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (server_attrs().count("lastActivityTime") == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(20ms);
    auto attrs = server_attrs();
    CHECK(attrs.count("lastActivityTime") == 1);
    CHECK(attrs.count("lastConnectTime") == 1);
    CHECK(core.stats().writer.ops - before < 10);

    core.session_event(d.id, TERN_SESSION_CLOSE, to_str("udp"), to_str("10.0.0.1:5000"));
    CHECK(await<std::vector<session_info>>([&](auto cb) { core.list_sessions(1000, cb); }).value.empty());
    core.stop();  // flushes what is pending
    embedded_core again(metrics, {});
    again.start(s);
    auto r = await<attribute_set>([&](auto cb) { again.read_attributes("s", 1u << TERN_SCOPE_SERVER, {"lastDisconnectTime"}, cb); });
    CHECK(r.value.server.size() == 1);
}

TEST_CASE("WAL checkpoints run beside the writer: commits fill the WAL, the checkpoint thread empties it", "[store][checkpoint]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.checkpoint_interval_ms = 20;
    embedded_core core(metrics, {});
    core.start(s);
    const uint64_t id = add_device(core, "wal").id;
    // The writer's own connection never checkpoints now (autocheckpoint 0), so only the
    // thread can move these pages from the WAL into the database file.
    auto db_size = [&] { return std::filesystem::file_size(s.database); };
    const auto before = db_size();
    std::atomic<int> done{0};
    constexpr int n = 3000;
    for (int k = 0; k < n; ++k) {
        tern_value v{};
        v.type = TERN_VALUE_INT;
        v.u.i = k;
        tern_kv kv{to_str("k"), v};
        tern_ts_record rec{1000000 + k, &kv, 1, 0};
        core.post_telemetry(id, &rec, 1, [](void* p, tern_status, tern_str) {
            static_cast<std::atomic<int>*>(p)->fetch_add(1);
        }, &done);
    }
    const auto until = std::chrono::steady_clock::now() + deadline;
    while ((done.load() < n || db_size() <= before) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(10ms);
    REQUIRE(done.load() == n);
    CHECK(db_size() > before);  // copied into the database file without any commit waiting
    core.stop();
}


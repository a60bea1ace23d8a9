// The admin HTTP API over real HTTP on loopback: authorisation, every route, errors.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "admin_fixture.hpp"
#include "crypto.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
std::string str(const rapidjson::Value& v, const char* k) {
    REQUIRE(v.HasMember(k));
    REQUIRE(v[k].IsString());
    return v[k].GetString();
}
void ignore(void*, tern_status, tern_str) {}
}  // namespace

TEST_CASE("admin: every request needs the bearer key", "[admin]") {
    admin_fixture f;
    CHECK(f.call("GET", "/api/info", {}, "").status == 401);
    CHECK(f.call("GET", "/api/info", {}, "wrong").status == 401);
    auto unauth = f.call("POST", "/api/devices", "{\"name\":\"x\"}", "wrong");
    CHECK(unauth.status == 401);
    CHECK_THAT(str(unauth.json, "error"), Catch::Contains("bearer"));
    auto ok = f.call("GET", "/api/info");
    CHECK(ok.status == 200);
    CHECK(str(ok.json, "plugin") == "core_embedded");
    CHECK(ok.json["writer"]["commits"].IsUint64());
    // the device was not created by the unauthorised request
    CHECK(f.call("GET", "/api/devices/x").status == 404);
    CHECK(f.call("GET", "/api/nope").status == 404);
    CHECK(f.call("GET", "/elsewhere").status == 404);
}

TEST_CASE("admin: the key file is made once, private, and read back", "[admin]") {
    temp_dir d;
    const std::string path = d.file("tern.db.admin-key");
    bool created = false;
    const std::string k1 = load_or_create_admin_key(path, created);
    CHECK(created);
    CHECK(k1.size() == 32);
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string k2 = load_or_create_admin_key(path, created);
    CHECK_FALSE(created);
    CHECK(k2 == k1);
    CHECK(read_admin_key(d.file("missing")).empty());
}

TEST_CASE("admin: devices", "[admin]") {
    admin_fixture f;
    auto created = f.call("POST", "/api/devices", R"({"name":"dev 1","token":"tok-1","label":"lab"})");
    REQUIRE(created.status == 201);
    CHECK(str(created.json, "name") == "dev 1");
    CHECK(str(created.json, "profile") == "default");
    CHECK(str(created.json["credentials"], "type") == "ACCESS_TOKEN");
    CHECK(str(created.json["credentials"], "token") == "tok-1");
    CHECK(f.call("POST", "/api/devices", R"({"name":"dev 1"})").status == 409);
    CHECK(f.call("POST", "/api/devices", R"({"name":"x","token":"tok-1"})").status == 409);
    CHECK(f.call("POST", "/api/devices", R"({"name":"x","profile":"nope"})").status == 404);
    CHECK(f.call("POST", "/api/devices", R"({"name":)").status == 400);
    CHECK(f.call("POST", "/api/devices", R"([1])").status == 400);
    CHECK(f.call("POST", "/api/devices", R"({"label":"no name"})").status == 400);
    CHECK(f.call("POST", "/api/devices", R"({"name":7})").status == 400);
    CHECK(f.call("POST", "/api/devices", R"({"name":"x","token":"a","x509":"b"})").status == 400);
    CHECK(f.call("POST", "/api/devices", R"({"name":"x","power":{"mode":"SLEEPY"}})").status == 400);

    auto gen = f.call("POST", "/api/devices",
                      R"({"name":"psm","power":{"mode":"PSM","psmActivityTimer":30000}})");
    REQUIRE(gen.status == 201);
    CHECK(str(gen.json["credentials"], "token").size() == 20);
    CHECK(str(gen.json["power"], "mode") == "PSM");

    auto shown = f.call("GET", "/api/devices/dev%201");  // names are percent-decoded
    REQUIRE(shown.status == 200);
    CHECK(str(shown.json, "label") == "lab");
    CHECK(f.call("GET", "/api/devices/unknown").status == 404);

    auto list = f.call("GET", "/api/devices");
    REQUIRE(list.status == 200);
    CHECK(list.json["devices"].Size() == 2);
    CHECK(f.call("GET", "/api/devices?limit=1").json["devices"].Size() == 1);
    CHECK(f.call("GET", "/api/devices?limit=x").status == 400);

    auto renamed = f.call("PATCH", "/api/devices/dev%201", R"({"name":"dev-1"})");
    REQUIRE(renamed.status == 200);
    CHECK(str(renamed.json, "name") == "dev-1");

    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
    auto x = f.call("PUT", "/api/devices/dev-1/credentials", "{\"x509\":\"" + std::string("-----BEGIN CERTIFICATE-----\\nMIIBAAAA\\n-----END CERTIFICATE-----\\n") + "\"}");
    REQUIRE(x.status == 200);
    CHECK(str(x.json["credentials"], "type") == "X509_CERTIFICATE");
    CHECK(str(x.json["credentials"], "sha3") == sha3_256_hex("MIIBAAAA"));
    (void)pem;
    auto psk = f.call("PUT", "/api/devices/dev-1/credentials", R"({"pskIdentity":"id-1","pskKey":"00ff10"})");
    REQUIRE(psk.status == 200);
    CHECK(str(psk.json["credentials"], "identity") == "id-1");
    CHECK(str(psk.json["credentials"], "key") == "00ff10");
    CHECK(f.call("PUT", "/api/devices/dev-1/credentials", R"({"pskIdentity":"id-1","pskKey":"zz"})").status == 400);
    auto fresh = f.call("PUT", "/api/devices/dev-1/credentials", "");  // no body: a new generated token
    REQUIRE(fresh.status == 200);
    CHECK(str(fresh.json["credentials"], "type") == "ACCESS_TOKEN");

    auto del = f.call("DELETE", "/api/devices/dev-1");
    CHECK(del.status == 200);
    CHECK(f.call("DELETE", "/api/devices/dev-1").status == 404);
}

TEST_CASE("admin: profiles", "[admin]") {
    admin_fixture f;
    auto p = f.call("POST", "/api/profiles",
                    R"({"name":"nb","transport":"COAP","payload":"PROTOBUF",
                        "provision":{"strategy":"allow-create","key":"k1","secret":"s1"},
                        "power":{"mode":"E_DRX","edrxCycle":81000,"pagingTransmissionWindow":10000},
                        "schemas":{"telemetry":"syntax = \"proto3\";"}})");
    REQUIRE(p.status == 201);
    CHECK(str(p.json, "transport") == "COAP");
    CHECK(str(p.json, "payload") == "PROTOBUF");
    CHECK(str(p.json["provision"], "strategy") == "allow-create");
    CHECK(str(p.json["provision"], "key") == "k1");
    CHECK(str(p.json["power"], "mode") == "E_DRX");
    CHECK(str(p.json["schemas"], "telemetry") == "syntax = \"proto3\";");
    CHECK(f.call("POST", "/api/profiles", R"({"name":"nb"})").status == 409);
    CHECK(f.call("POST", "/api/profiles", R"({"name":"x","provision":{"strategy":"sometimes"}})").status == 400);
    CHECK(f.call("POST", "/api/profiles", R"({"name":"x","provision":{"strategy":"allow-create"}})").status == 400);
    CHECK(f.call("POST", "/api/profiles", R"({"name":"x","transport":"CARRIER_PIGEON"})").status == 400);

    auto upd = f.call("PATCH", "/api/profiles/nb", R"({"provision":{"strategy":"pre-provisioned"}})");
    REQUIRE(upd.status == 200);
    CHECK(str(upd.json["provision"], "strategy") == "pre-provisioned");
    CHECK(f.call("GET", "/api/profiles/nb").status == 200);
    CHECK(f.call("GET", "/api/profiles/zz").status == 404);
    CHECK(f.call("GET", "/api/profiles").json["profiles"].Size() == 2);

    REQUIRE(f.call("POST", "/api/devices", R"({"name":"d","profile":"nb"})").status == 201);
    CHECK(f.call("DELETE", "/api/profiles/nb").status == 409);
    CHECK(f.call("DELETE", "/api/profiles/default").status == 409);
    CHECK(f.call("DELETE", "/api/devices/d").status == 200);
    CHECK(f.call("DELETE", "/api/profiles/nb").status == 200);
}

TEST_CASE("admin: attributes", "[admin]") {
    admin_fixture f;
    auto d = f.call("POST", "/api/devices", R"({"name":"a"})");
    const uint64_t id = d.json["id"].GetUint64();
    f.core.subscribe(id, TERN_SUBSCRIBE_ATTRIBUTES);

    CHECK(f.call("POST", "/api/devices/a/attributes/shared", R"({"mode":"eco","n":3,"r":2.5,"on":true,"cfg":{"x":[1]}})").status == 200);
    CHECK(f.call("POST", "/api/devices/a/attributes/server", R"({"secret":1})").status == 200);
    CHECK(f.call("POST", "/api/devices/a/attributes/client", R"({"x":1})").status == 400);
    CHECK(f.call("POST", "/api/devices/a/attributes/shared", R"({"x":null})").status == 400);
    CHECK(f.call("POST", "/api/devices/a/attributes/shared", R"({})").status == 400);
    CHECK(f.call("POST", "/api/devices/a/attributes/everywhere", R"({"x":1})").status == 404);
    CHECK(f.call("POST", "/api/devices/nope/attributes/shared", R"({"x":1})").status == 404);

    REQUIRE(f.listener.wait_for([&] { return f.listener.attrs.size() == 1; }));
    f.listener.locked([&] {
        auto& u = f.listener.attrs[0];
        CHECK(u.device == id);
        REQUIRE(u.updated.size() == 5);
        std::map<std::string, value> m;
        for (auto& x : u.updated) m[x.key] = x.v;
        CHECK(m["mode"] == value::of_str("eco"));
        CHECK(m["n"] == value::of_int(3));
        CHECK(m["r"] == value::of_double(2.5));
        CHECK(m["on"] == value::of_bool(true));
        CHECK(m["cfg"] == value::of_json("{\"x\":[1]}"));
        return 0;
    });

    auto all = f.call("GET", "/api/devices/a/attributes");
    REQUIRE(all.status == 200);
    CHECK(all.json["client"].Size() == 0);
    CHECK(all.json["shared"].Size() == 5);
    CHECK(all.json["server"].Size() == 1);
    CHECK(all.json["shared"][0]["lastUpdateTs"].GetInt64() > 0);
    auto some = f.call("GET", "/api/devices/a/attributes?scope=shared&keys=cfg,n");
    REQUIRE(some.status == 200);
    CHECK_FALSE(some.json.HasMember("server"));
    REQUIRE(some.json["shared"].Size() == 2);
    CHECK(some.json["shared"][0]["value"]["x"][0].GetInt() == 1);  // JSON values stay JSON
    CHECK(f.call("GET", "/api/devices/a/attributes?scope=bogus").status == 404);

    CHECK(f.call("DELETE", "/api/devices/a/attributes/shared?keys=mode,n").status == 200);
    REQUIRE(f.listener.wait_for([&] { return f.listener.attrs.size() == 2; }));
    CHECK(f.listener.locked([&] { return f.listener.attrs[1].deleted; }) == std::vector<std::string>{"mode", "n"});
    CHECK(f.call("DELETE", "/api/devices/a/attributes/shared").status == 400);
    CHECK(f.call("GET", "/api/devices/a/attributes?scope=shared").json["shared"].Size() == 3);
}

TEST_CASE("admin: telemetry", "[admin]") {
    admin_fixture f;
    const uint64_t id = f.call("POST", "/api/devices", R"({"name":"t"})").json["id"].GetUint64();
    for (int64_t ts : {1000, 2000, 3000}) {
        tern_value v{};
        v.type = TERN_VALUE_DOUBLE;
        v.u.d = static_cast<double>(ts) / 100;
        tern_kv kv{to_str("temp"), v};
        tern_ts_record r{ts, &kv, 1, 0};
        done_wait w;
        f.core.post_telemetry(id, &r, 1, &done_wait::fn, &w);
        REQUIRE(w.get().first == TERN_OK);
    }
    auto latest = f.call("GET", "/api/devices/t/telemetry/latest");
    REQUIRE(latest.status == 200);
    CHECK(latest.json["temp"]["ts"].GetInt64() == 3000);
    CHECK(latest.json["temp"]["value"].GetDouble() == 30.0);
    auto range = f.call("GET", "/api/devices/t/telemetry?keys=temp&startTs=1500&order=asc");
    REQUIRE(range.status == 200);
    REQUIRE(range.json["temp"].Size() == 2);
    CHECK(range.json["temp"][0]["ts"].GetInt64() == 2000);
    CHECK(f.call("GET", "/api/devices/t/telemetry?limit=1").json["temp"][0]["ts"].GetInt64() == 3000);
    CHECK(f.call("GET", "/api/devices/t/telemetry?limit=0").status == 400);
    CHECK(f.call("GET", "/api/devices/t/telemetry?order=sideways").status == 400);
    CHECK(f.call("GET", "/api/devices/t/telemetry?startTs=yesterday").status == 400);
    CHECK(f.call("GET", "/api/devices/zz/telemetry/latest").status == 404);
}

TEST_CASE("admin: server-side RPC, answered without holding a thread per request", "[admin][rpc]") {
    admin_fixture f;
    const uint64_t id = f.call("POST", "/api/devices", R"({"name":"r"})").json["id"].GetUint64();

    SECTION("two-way: the device's answer") {
        f.core.subscribe(id, TERN_SUBSCRIBE_RPC);
        f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
            f.core.rpc_status(c.device, c.id, TERN_RPC_DELIVERED, {});
            f.core.rpc_reply(c.device, c.id, to_str("{\"gpio\":4,\"value\":1}"), &ignore, nullptr);
        };
        auto r = f.call("POST", "/api/devices/r/rpc", R"({"method":"getGpio","params":{"pin":4},"timeout":5000})");
        REQUIRE(r.status == 200);
        CHECK(str(r.json, "status") == "SUCCESSFUL");
        CHECK(r.json["result"]["value"].GetInt() == 1);
        CHECK(r.json["params"]["pin"].GetInt() == 4);
        const int64_t rpc_id = r.json["id"].GetInt64();
        auto st = f.call("GET", "/api/devices/r/rpc/" + std::to_string(rpc_id));
        REQUIRE(st.status == 200);
        CHECK(str(st.json, "status") == "SUCCESSFUL");
        CHECK(f.call("GET", "/api/devices/r/rpc").json["rpcs"].Size() == 1);
    }
    SECTION("nobody listening: 504 with the state at expiration, while other requests are served") {
        // Catch's assertions belong to the main thread: the waiting request only records.
        http_result slow_result;
        std::thread slow([&] {
            http_call c;
            c.port = f.server->port();
            c.method = "POST";
            c.target = "/api/devices/r/rpc";
            c.bearer = admin_fixture::key;
            c.body = R"({"method":"x","timeout":1500})";
            slow_result = http_request_sync(c);
        });
        std::this_thread::sleep_for(100ms);
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(f.call("GET", "/api/info").status == 200);
        CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
        slow.join();
        CHECK(slow_result.status == 504);
        CHECK_THAT(slow_result.body, Catch::Contains("\"status\":\"EXPIRED\""));
    }
    SECTION("persistent: 202 at once, QUEUED") {
        auto r = f.call("POST", "/api/devices/r/rpc", R"({"method":"later","persistent":true,"timeout":60000})");
        REQUIRE(r.status == 202);
        CHECK(str(r.json, "status") == "QUEUED");
        CHECK(r.json["persistent"].GetBool());
    }
    SECTION("a transport failure: 502") {
        f.core.subscribe(id, TERN_SUBSCRIBE_RPC);
        f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
            f.core.rpc_status(c.device, c.id, TERN_RPC_FAILED, to_str("cannot convert"));
        };
        auto r = f.call("POST", "/api/devices/r/rpc", R"({"method":"x","oneway":true})");
        CHECK(r.status == 502);
        CHECK(str(r.json, "error") == "cannot convert");  // the RPC's own error field
    }
    SECTION("bad requests") {
        CHECK(f.call("POST", "/api/devices/r/rpc", R"({"params":{}})").status == 400);
        CHECK(f.call("POST", "/api/devices/r/rpc", R"({"method":"x","timeout":-1})").status == 400);
        CHECK(f.call("POST", "/api/devices/nope/rpc", R"({"method":"x"})").status == 404);
        CHECK(f.call("GET", "/api/devices/r/rpc/abc").status == 400);
        CHECK(f.call("GET", "/api/devices/r/rpc/77").status == 404);
    }
}

TEST_CASE("admin: claims", "[admin][claim]") {
    admin_fixture f;
    const uint64_t id = f.call("POST", "/api/devices", R"({"name":"c"})").json["id"].GetUint64();
    CHECK(f.call("POST", "/api/devices/c/claim", R"({"secretKey":"k"})").status == 404);
    done_wait w;
    f.core.claim(id, to_str("k"), 60000, &done_wait::fn, &w);
    REQUIRE(w.get().first == TERN_OK);
    CHECK(f.call("POST", "/api/devices/c/claim", R"({"secretKey":"wrong"})").status == 400);
    auto ok = f.call("POST", "/api/devices/c/claim", R"({"secretKey":"k","owner":"bob"})");
    REQUIRE(ok.status == 200);
    CHECK(str(ok.json["claim"], "claimedBy") == "bob");
    CHECK(f.call("POST", "/api/devices/c/claim", R"({"secretKey":"k"})").status == 409);
    CHECK(f.call("DELETE", "/api/devices/c/claim").status == 200);
    CHECK(f.call("DELETE", "/api/devices/c/claim").status == 404);
    done_wait w2;
    f.core.claim(id, to_str("k"), 1, &done_wait::fn, &w2);
    REQUIRE(w2.get().first == TERN_OK);
    std::this_thread::sleep_for(20ms);
    CHECK(f.call("POST", "/api/devices/c/claim", R"({"secretKey":"k"})").status == 410);
}

TEST_CASE("admin: OTA packages", "[admin][ota]") {
    admin_fixture f(4096);
    const std::string image = f.dir.file("image.bin");
    std::ofstream(image, std::ios::binary) << std::string(3000, 'x');
    auto up = f.call("POST", "/api/ota?title=fw&version=1.0&tag=stable&type=firmware", {}, admin_fixture::key, image);
    REQUIRE(up.status == 201);
    const int64_t pkg = up.json["id"].GetInt64();
    CHECK(up.json["size"].GetInt() == 3000);
    CHECK(str(up.json, "checksumAlgorithm") == "SHA256");
    CHECK(str(up.json, "tag") == "stable");
    CHECK(f.call("POST", "/api/ota?title=fw&version=1.0", {}, admin_fixture::key, image).status == 409);
    CHECK(f.call("POST", "/api/ota?version=2", {}, admin_fixture::key, image).status == 400);
    CHECK(f.call("POST", "/api/ota?title=fw&version=3&type=hardware", {}, admin_fixture::key, image).status == 400);
    const std::string big = f.dir.file("big.bin");
    std::ofstream(big, std::ios::binary) << std::string(5000, 'y');
    CHECK(f.call("POST", "/api/ota?title=fw&version=9", {}, admin_fixture::key, big).status == 413);
    size_t parts = 0;
    for (auto& e : std::filesystem::directory_iterator(f.core.ota_dir()))
        if (e.path().extension() == ".part") ++parts;
    CHECK(parts == 0);  // refused uploads leave nothing

    // A URL-only package: no body at all (devices get 4.04 for it; docs/device-api.md §6).
    auto by_url = f.call("POST", "/api/ota?title=fw&version=url-1&url=https%3A%2F%2Fexample.com%2Ffw.bin");
    CHECK(by_url.status == 201);
    CHECK(str(by_url.json, "url") == "https://example.com/fw.bin");
    CHECK(f.call("POST", "/api/ota?title=fw&version=2.0").status == 400);  // neither bytes nor url

    CHECK(f.call("GET", "/api/ota").json["packages"].Size() == 2);
    CHECK(f.call("GET", "/api/ota/" + std::to_string(pkg)).status == 200);
    CHECK(f.call("GET", "/api/ota/999").status == 404);
    CHECK(f.call("GET", "/api/ota/x").status == 400);

    REQUIRE(f.call("POST", "/api/devices", R"({"name":"d"})").status == 201);
    CHECK(f.call("PUT", "/api/devices/d/ota/firmware", "{\"package\":" + std::to_string(pkg) + "}").status == 200);
    CHECK(f.call("PUT", "/api/devices/d/ota/software", "{\"package\":" + std::to_string(pkg) + "}").status == 400);
    CHECK(f.call("PUT", "/api/devices/d/ota/firmware", "{}").status == 400);
    CHECK(f.call("PUT", "/api/devices/d/ota/bios", "{\"package\":1}").status == 404);
    auto attrs = f.call("GET", "/api/devices/d/attributes?scope=shared&keys=fw_title,fw_tag");
    REQUIRE(attrs.json["shared"].Size() == 2);
    CHECK(f.call("DELETE", "/api/ota/" + std::to_string(pkg)).status == 409);
    CHECK(f.call("DELETE", "/api/devices/d/ota/firmware").status == 200);
    CHECK(f.call("GET", "/api/devices/d/attributes?scope=shared").json["shared"].Size() == 0);
    CHECK(f.call("PUT", "/api/profiles/default/ota/firmware", "{\"package\":" + std::to_string(pkg) + "}").status == 200);
    CHECK(f.call("GET", "/api/devices/d/attributes?scope=shared").json["shared"].Size() == 6);
    CHECK(f.call("DELETE", "/api/profiles/default/ota/firmware").status == 200);
    CHECK(f.call("DELETE", "/api/ota/" + std::to_string(pkg)).status == 200);
    CHECK(f.call("GET", "/api/ota").json["packages"].Size() == 1);  // the URL-only one
}

TEST_CASE("admin: client-side RPC queue and its configuration", "[admin][client-rpc]") {
    admin_fixture f;
    const uint64_t id = f.call("POST", "/api/devices", R"({"name":"c"})").json["id"].GetUint64();
    text_wait w;
    auto fut = w.future();
    f.core.client_rpc(id, to_str("getWeather"), to_str("{\"city\":\"Oslo\"}"), 5000, &text_wait::fn, &w);
    auto list = f.call("GET", "/api/client-rpc");
    REQUIRE(list.status == 200);
    REQUIRE(list.json["calls"].Size() == 1);
    const auto& call = list.json["calls"][0];
    CHECK(str(call, "device") == "c");
    CHECK(str(call, "method") == "getWeather");
    CHECK(str(call["params"], "city") == "Oslo");
    const std::string cid = std::to_string(call["id"].GetUint64());
    CHECK(f.call("POST", "/api/client-rpc/" + cid + "/reply", R"({"temp": -3})").status == 200);
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    CHECK(fut.get().second == "{\"temp\":-3}");
    CHECK(f.call("POST", "/api/client-rpc/" + cid + "/reply", R"({})").status == 404);
    CHECK(f.call("POST", "/api/client-rpc/x/reply", R"({})").status == 400);
    CHECK(f.call("POST", "/api/client-rpc/1/reply", R"({bad)").status == 400);

    auto cfg = f.call("GET", "/api/client-rpc/config");
    CHECK(cfg.json["builtin"].GetBool());
    CHECK(cfg.json["queue"].GetBool());
    auto off = f.call("PUT", "/api/client-rpc/config", R"({"builtin":false})");
    CHECK_FALSE(off.json["builtin"].GetBool());
    CHECK_FALSE(f.core.get_client_rpc_config().builtin);
    CHECK(f.call("PUT", "/api/client-rpc/config", R"({"queue":"yes"})").status == 400);
}

TEST_CASE("admin: live sessions", "[admin]") {
    admin_fixture f;
    const uint64_t id = f.call("POST", "/api/devices", R"({"name":"s"})").json["id"].GetUint64();
    f.core.session_event(id, TERN_SESSION_OPEN, to_str("udp"), to_str("127.0.0.1:40000"));
    f.core.session_event(id, TERN_SESSION_ACTIVITY, to_str("udp"), to_str("127.0.0.1:40000"));
    auto s = f.call("GET", "/api/sessions");
    REQUIRE(s.status == 200);
    REQUIRE(s.json["sessions"].Size() == 1);
    CHECK(str(s.json["sessions"][0], "device") == "s");
    CHECK(str(s.json["sessions"][0], "transport") == "udp");
    CHECK(str(s.json["sessions"][0], "address") == "127.0.0.1:40000");
    CHECK(s.json["total"].GetUint64() == 1);
    CHECK(f.call("GET", "/api/sessions?limit=1").json["sessions"].Size() == 1);
    CHECK(f.call("GET", "/api/sessions?limit=0").status == 400);
    f.core.session_event(id, TERN_SESSION_CLOSE, to_str("udp"), to_str("127.0.0.1:40000"));
    CHECK(f.call("GET", "/api/sessions").json["sessions"].Size() == 0);
}

TEST_CASE("admin: oversized JSON bodies get 413", "[admin]") {
    admin_fixture f(1 << 20, 1024);
    CHECK(f.call("POST", "/api/devices", "{\"name\":\"" + std::string(5000, 'n') + "\"}").status == 413);
    CHECK(f.call("GET", "/api/info").status == 200);  // the server is fine
}

// The api driven through its ABI faces (coap_handler_v1, core_listener_v1) with a fake
// engine, core and reactor and the real JSON adaptor: authentication and its caches,
// uplinks, and the home-shard state (observations, merged attribute deltas, RPC states,
// sessions, activity, device events).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include "adaptor.hpp"
#include "fakes.hpp"
#include "tern/credential_id/credential_id.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

namespace {

constexpr uint8_t c201 = TERN_COAP_CODE(2, 1);
constexpr uint8_t c202 = TERN_COAP_CODE(2, 2);
constexpr uint8_t c203 = TERN_COAP_CODE(2, 3);
constexpr uint8_t c205 = TERN_COAP_CODE(2, 5);
constexpr uint8_t c400 = TERN_COAP_CODE(4, 0);
constexpr uint8_t c401 = TERN_COAP_CODE(4, 1);
constexpr uint8_t c404 = TERN_COAP_CODE(4, 4);
constexpr uint8_t c413 = TERN_COAP_CODE(4, 13);
constexpr uint8_t c429 = TERN_COAP_CODE(4, 29);
constexpr uint8_t c500 = TERN_COAP_CODE(5, 0);
constexpr uint8_t c503 = TERN_COAP_CODE(5, 3);
constexpr uint64_t ms = 1000000;

int64_t g_wall = 1700000000000;
int64_t test_wall() { return g_wall; }

struct req {
    uint8_t method = TERN_COAP_POST;
    std::string path;
    std::string payload;
    int32_t observe = -1;
    int32_t format = -1;
    uint8_t type = TERN_COAP_CON;
    std::string token = "\x01";
    uint32_t shard = 0;
    uint16_t port = 40000;
    uint8_t host = 1;  // the peer is 127.0.0.<host>
    uint64_t session = 0;
    std::string transport = "udp";
    std::vector<std::string> query;
};

// A device 1 (token T1) and a device 2 (token T2), both JSON.
struct fixture {
    fake_reactor reactor;
    fake_engine engine;
    fake_core core;
    fake_transport dtls;
    json::adaptor json{json::options{}};
    json::adaptor proto_stand_in{json::options{}};  // answers to the name "json": only its role matters
    settings s = default_settings();
    std::unique_ptr<service> a;
    uint64_t next_exchange = 1;

    fixture() {
        fake_device d1;
        d1.id = 1;
        core.add("T1", d1);
        fake_device d2;
        d2.id = 2;
        core.add("T2", d2);
        g_wall = 1700000000000;
    }
    ~fixture() { stop(); }

    // stop() waits for the tasks it posts: a runner thread plays the shards meanwhile.
    void stop() {
        if (!a) return;
        std::atomic<bool> done{false};
        std::thread runner([&] {
            while (!done.load()) {
                reactor.run();
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        });
        a->stop();
        done.store(true);
        runner.join();
        a.reset();
    }

    void start(payload_v1* protobuf = nullptr) {
        services w;
        w.reactor = &reactor;
        w.engine = &engine;
        w.core = &core;
        w.adaptors.set(TERN_PAYLOAD_JSON, &json);
        w.adaptors.set(TERN_PAYLOAD_PROTOBUF, protobuf);
        w.transports.push_back({"udp", nullptr});
        w.transports.push_back({"dtls", &dtls});
        w.wall_ms = &test_wall;
        a = std::make_unique<service>(s, std::move(w));
        a->start();
    }

    uint64_t send(const req& r) {
        std::vector<std::string> segs;
        std::string_view p = r.path;
        if (!p.empty() && p.front() == '/') p.remove_prefix(1);
        while (true) {
            const auto slash = p.find('/');
            segs.emplace_back(p.substr(0, slash));
            if (slash == std::string_view::npos) break;
            p.remove_prefix(slash + 1);
        }
        std::vector<tern_str> path, query;
        for (const auto& x : segs) path.push_back(tern_str{x.data(), x.size()});
        for (const auto& x : r.query) query.push_back(tern_str{x.data(), x.size()});
        tern_coap_request q{};
        q.struct_size = sizeof q;
        q.type = r.type;
        q.code = r.method;
        q.exchange = next_exchange++;
        q.shard = r.shard;
        q.observe = r.observe;
        q.content_format = r.format;
        q.accept = -1;
        q.token = tern_bytes{reinterpret_cast<const uint8_t*>(r.token.data()), r.token.size()};
        q.peer.endpoint.family = 4;
        q.peer.endpoint.port = r.port;
        q.peer.endpoint.addr[0] = 127;
        q.peer.endpoint.addr[3] = r.host;
        q.peer.session = r.session;
        q.transport = tern_str{r.transport.data(), r.transport.size()};
        q.path = path.data();
        q.path_count = static_cast<uint32_t>(path.size());
        q.query = query.data();
        q.query_count = static_cast<uint32_t>(query.size());
        q.payload = tern_bytes{reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size()};
        reactor.on(r.shard, [&] { a->on_request(&q); });
        reactor.run();
        return q.exchange;
    }
    uint64_t post(const std::string& path, const std::string& payload, uint32_t shard = 0) {
        req r;
        r.path = path;
        r.payload = payload;
        r.shard = shard;
        return send(r);
    }
    uint64_t get(const std::string& path, int32_t observe = -1, uint32_t shard = 0, std::string token = "\x01",
                 uint16_t port = 40000) {
        req r;
        r.method = TERN_COAP_GET;
        r.path = path;
        r.observe = observe;
        r.shard = shard;
        r.token = std::move(token);
        r.port = port;
        return send(r);
    }
    const fake_engine::response& answer(uint64_t exchange) {
        const fake_engine::response* r = engine.find(exchange);
        REQUIRE(r != nullptr);
        return *r;
    }
    // engine callbacks come on the observation's shard
    void result(uint32_t shard, uint64_t obs, uint64_t cookie, int32_t res) {
        reactor.on(shard, [&] { a->on_notification_result(obs, cookie, res); });
        reactor.run();
    }
    void ended(uint32_t shard, uint64_t obs, int32_t reason) {
        engine.live.erase(obs);
        reactor.on(shard, [&] { a->on_observation_end(obs, reason); });
        reactor.run();
    }
    void set_shared(uint64_t device, std::vector<std::pair<std::string, int64_t>> values,
                    std::vector<std::string> deleted = {}) {
        std::vector<tern_kv> kv;
        for (auto& [k, v] : values) {
            tern_value x{};
            x.type = TERN_VALUE_INT;
            x.u.i = v;
            kv.push_back(tern_kv{tern_str{k.data(), k.size()}, x});
        }
        std::vector<tern_str> del;
        for (auto& k : deleted) del.push_back(tern_str{k.data(), k.size()});
        a->on_attributes_updated(device, kv.data(), static_cast<uint32_t>(kv.size()), del.data(),
                                 static_cast<uint32_t>(del.size()));
        reactor.run();
    }
    void rpc(uint64_t device, int64_t id, const std::string& method, const std::string& params,
             uint32_t flags = 0, int64_t expires_in_ms = 60000) {
        tern_rpc_request r{};
        r.struct_size = sizeof r;
        r.flags = flags;
        r.id = id;
        r.method = tern_str{method.data(), method.size()};
        r.params = tern_str{params.data(), params.size()};
        r.expiration_ms = g_wall + expires_in_ms;
        a->on_rpc_request(device, &r);
        reactor.run();
    }
    // Registers an attribute (or RPC) observation; returns the engine's observation id.
    uint64_t observe(const std::string& path, uint32_t shard = 0, std::string token = "\x01", uint16_t port = 40000) {
        const uint64_t x = get(path, 0, shard, std::move(token), port);
        const fake_engine::response& r = answer(x);
        REQUIRE(r.observation != 0);
        return r.observation;
    }
};

bool has_session_event(const fake_core& c, uint64_t device, tern_session_event e) {
    for (const auto& s : c.sessions)
        if (s.device == device && s.event == e) return true;
    return false;
}

}  // namespace

// ---- uplinks and authentication --------------------------------------------------------------------

TEST_CASE("api: telemetry POST is stored and answered 2.01 - the token is cached per shard", "[api]") {
    fixture f;
    f.start();
    const uint64_t x = f.post("/api/v1/T1/telemetry", R"({"temperature":42,"on":true})");
    CHECK(f.answer(x).code == c201);
    CHECK(f.answer(x).payload.empty());
    CHECK(f.answer(x).format == -1);  // 2.01 carries no Content-Format (spec §1.4)
    REQUIRE(f.core.telemetry_posts.size() == 1);
    CHECK(f.core.telemetry_posts[0].device == 1);
    CHECK(f.core.telemetry_posts[0].records[0].at("temperature") == "42");
    CHECK(f.core.auth_calls == 1);
    f.post("/api/v1/T1/telemetry", R"({"t":1})");
    CHECK(f.core.auth_calls == 1);  // cached on shard 0
    f.post("/api/v1/T1/telemetry", R"({"t":1})", 1);
    CHECK(f.core.auth_calls == 2);  // shard 1 has its own cache
    CHECK(f.core.telemetry_posts.size() == 3);
}

TEST_CASE("api: telemetry edge payloads", "[api]") {
    fixture f;
    f.start();
    // `[]`: only the empty ACK (spec §1.3)
    const uint64_t empty = f.post("/api/v1/T1/telemetry", "[]");
    CHECK((f.answer(empty).flags & TERN_COAP_RESPONSE_SILENT) != 0);
    // `{}`: accepted, nothing to store
    const uint64_t obj = f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.answer(obj).code == c201);
    CHECK(f.core.telemetry_posts.empty());
    // bad JSON: 4.00 with the adaptor's reason
    const uint64_t bad = f.post("/api/v1/T1/telemetry", "{\"a\":");
    CHECK(f.answer(bad).code == c400);
    CHECK_FALSE(f.answer(bad).payload.empty());
    // not an object or array
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", "42")).code == c400);
}

TEST_CASE("api: unknown tokens, missing tokens, unknown features", "[api]") {
    fixture f;
    f.start();
    const uint64_t x = f.post("/api/v1/NOPE/telemetry", "{}");
    CHECK(f.answer(x).code == c401);
    CHECK(f.answer(x).payload == "unknown access token");
    // token-less X.509 form without a DTLS identity
    CHECK(f.answer(f.post("/api/v1/telemetry", "{}")).code == c401);
    CHECK(f.answer(f.post("/api/v1/T1/nothing", "{}")).code == c400);
    CHECK(f.core.auth_calls == 1);  // shape errors never reach the core
}

TEST_CASE("api: a body over max_payload_size gets 4.13 with Size1", "[api]") {
    fixture f;
    f.s.max_payload_size = 100;
    f.start();
    const uint64_t x = f.post("/api/v1/T1/telemetry", "{\"a\":1}" + std::string(94, ' '));
    const auto& r = f.answer(x);
    CHECK(r.code == c413);
    REQUIRE(r.options.size() == 1);
    CHECK(r.options[0].first == TERN_COAP_OPT_SIZE1);
    CHECK(r.options[0].second == std::string("\x64", 1));
    CHECK_FALSE(r.payload.empty());
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", "{\"a\":1}" + std::string(93, ' '))).code == c201);
}

TEST_CASE("api: profile checks of spec §1.3", "[api]") {
    fixture f;
    fake_device none;
    none.id = 10;
    none.profile_id = 0;
    f.core.add("NOPROFILE", none);
    fake_device mqtt;
    mqtt.id = 11;
    mqtt.transport = TERN_TRANSPORT_MQTT;
    f.core.add("MQTT", mqtt);
    fake_device efento;
    efento.id = 12;
    efento.transport = TERN_TRANSPORT_COAP;
    efento.coap_type = TERN_COAP_DEVICE_EFENTO;
    f.core.add("EFENTO", efento);
    f.start();
    CHECK(f.answer(f.post("/api/v1/NOPROFILE/telemetry", "{}")).code == c401);
    CHECK(f.answer(f.post("/api/v1/MQTT/telemetry", "{}")).code == c500);
    CHECK(f.answer(f.post("/api/v1/EFENTO/telemetry", "{}")).code == c400);
    // backend failure during authentication: 5.00
    f.core.auth_status = TERN_UNAVAILABLE;
    CHECK(f.answer(f.post("/api/v1/T2/telemetry", "{}")).code == c500);
}

TEST_CASE("api: authentication completing on another thread continues on the request's shard", "[api]") {
    fixture f;
    f.start();
    f.core.defer = true;
    const uint64_t x = f.post("/api/v1/T1/attributes", R"({"fw":"1.2"})", 1);
    CHECK(f.engine.find(x) == nullptr);
    f.reactor.current = TERN_NO_SHARD;  // the core's thread
    f.core.run_deferred();              // authentication: posts back to shard 1
    f.reactor.run();
    f.core.run_deferred();  // the attribute write
    CHECK(f.answer(x).code == c201);
    REQUIRE(f.core.attribute_posts.size() == 1);
    CHECK(f.core.attribute_posts[0].second.at("fw") == "1.200000");  // typed as a double (spec §2.2)
    CHECK(f.a->shard(1).tokens.size() == 1);
}

TEST_CASE("api: credential changes and deletions drop cached tokens on every shard", "[api]") {
    fixture f;
    f.start();
    f.post("/api/v1/T1/telemetry", "{}", 0);
    f.post("/api/v1/T1/telemetry", "{}", 1);
    CHECK(f.core.auth_calls == 2);
    f.a->on_device_event(1, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.reactor.run();
    CHECK(f.a->shard(0).tokens.size() == 0);
    CHECK(f.a->shard(1).tokens.size() == 0);
    f.post("/api/v1/T1/telemetry", "{}", 0);
    CHECK(f.core.auth_calls == 3);
}

TEST_CASE("api: an authentication that raced with an invalidation is used once, not cached", "[api]") {
    fixture f;
    f.start();
    f.core.defer = true;
    const uint64_t x = f.post("/api/v1/T1/telemetry", R"({"a":1})", 0);
    f.a->on_device_event(1, TERN_DEVICE_UPDATED);
    f.reactor.run();
    f.core.run_deferred();
    f.reactor.run();
    f.core.run_deferred();
    CHECK(f.answer(x).code == c201);
    CHECK(f.a->shard(0).tokens.size() == 0);
}

TEST_CASE("api: the auth cache is bounded (LRU) and expires", "[api]") {
    fixture f;
    f.s.auth_cache_size = 2;  // one per shard
    f.s.auth_cache_ttl_ms = 1000;
    f.start();
    f.post("/api/v1/T1/telemetry", "{}");
    f.post("/api/v1/T2/telemetry", "{}");  // evicts T1
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.auth_calls == 3);
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.auth_calls == 3);
    f.reactor.advance(1001 * ms);
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.auth_calls == 4);
}

TEST_CASE("api: activity is reported for uplinks at most once per report_timeout", "[api]") {
    fixture f;
    f.start();
    f.post("/api/v1/T1/telemetry", "{}");
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.count_sessions(TERN_SESSION_ACTIVITY) == 1);
    CHECK(f.core.sessions[0].address == "127.0.0.1:40000");
    CHECK(f.core.sessions[0].transport == "udp");
    f.reactor.advance(3000 * ms);
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.count_sessions(TERN_SESSION_ACTIVITY) == 2);
    // a refused request is no activity
    f.post("/api/v1/NOPE/telemetry", "{}");
    CHECK(f.core.count_sessions(TERN_SESSION_ACTIVITY) == 2);
}

TEST_CASE("api: GET attributes with key lists (spec §2.4)", "[api]") {
    fixture f;
    tern_value v{};
    v.type = TERN_VALUE_INT;
    v.u.i = 5;
    f.core.shared["s1"] = v;
    f.core.client["c1"] = v;
    f.start();
    const uint64_t all = f.get("/api/v1/T1/attributes");
    CHECK(f.answer(all).code == c205);
    CHECK(f.answer(all).payload == R"({"client":{"c1":5},"shared":{"s1":5}})");
    CHECK(f.answer(all).format == 50);
    REQUIRE(f.core.reads.size() == 1);
    CHECK(f.core.reads[0].client_sel == TERN_KEYS_ALL);
    CHECK(f.core.reads[0].shared_sel == TERN_KEYS_ALL);

    req r;
    r.method = TERN_COAP_GET;
    r.path = "/api/v1/T1/attributes";
    r.query = {"sharedKeys=s1,zz"};
    r.format = 0;  // echoed back (spec §1.4)
    const uint64_t shared_only = f.send(r);
    CHECK(f.answer(shared_only).payload == R"({"shared":{"s1":5}})");
    CHECK(f.answer(shared_only).format == 0);
    CHECK(f.core.reads[1].client_sel == -1);  // no client filter: that scope is not read
    CHECK(f.core.reads[1].shared_keys == std::vector<std::string>{"s1", "zz"});

    r.query = {"clientKeys=nothing"};
    CHECK(f.answer(f.send(r)).code == c404);
}

TEST_CASE("api: RPC replies and client-side RPC", "[api]") {
    fixture f;
    f.start();
    const uint64_t x = f.post("/api/v1/T1/rpc/5", R"({"ok":true})");
    CHECK(f.answer(x).code == c201);
    REQUIRE(f.core.replies.size() == 1);
    CHECK(std::get<1>(f.core.replies[0]) == 5);
    CHECK(std::get<2>(f.core.replies[0]) == R"({"ok":true})");
    // a reply to an RPC the core no longer knows is still acknowledged
    f.core.reply_status = TERN_NOT_FOUND;
    CHECK(f.answer(f.post("/api/v1/T1/rpc/6", "{}")).code == c201);
    // not an object on a JSON profile: 5.00 (spec §1.3)
    CHECK(f.answer(f.post("/api/v1/T1/rpc/7", "[1]")).code == c500);

    // client-side: rpc/abc is a call too
    const uint64_t call = f.post("/api/v1/T1/rpc/abc", R"({"method":"getTime","params":{"a":1}})");
    REQUIRE(f.core.client_calls.size() == 1);
    CHECK(f.core.client_calls[0].method == "getTime");
    CHECK(f.core.client_calls[0].params == R"({"a":1})");
    CHECK(f.core.client_calls[0].timeout == 10000);
    f.core.client_calls[0].done(f.core.client_calls[0].ctx, TERN_OK, tern_str{"{\"time\":1}", 10});
    CHECK(f.answer(call).code == c205);
    CHECK(f.answer(call).payload == R"({"time":1})");
    CHECK(f.answer(call).format == 50);
    // no answer in time: no response at all
    const uint64_t late = f.post("/api/v1/T1/rpc", R"({"method":"x"})");
    f.core.client_calls[1].done(f.core.client_calls[1].ctx, TERN_TIMEOUT, tern_str{});
    CHECK((f.answer(late).flags & TERN_COAP_RESPONSE_SILENT) != 0);
    // missing method: 5.00 on a JSON profile
    CHECK(f.answer(f.post("/api/v1/T1/rpc", R"({"params":1})")).code == c500);
}

TEST_CASE("api: claim", "[api]") {
    fixture f;
    f.start();
    CHECK(f.answer(f.post("/api/v1/T1/claim", R"({"secretKey":"s","durationMs":5})")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/claim", "")).code == c201);
    REQUIRE(f.core.claims.size() == 2);
    CHECK(std::get<1>(f.core.claims[0]) == "s");
    CHECK(std::get<2>(f.core.claims[0]) == 5);
    CHECK(std::get<1>(f.core.claims[1]).empty());
    CHECK(f.answer(f.post("/api/v1/T1/claim", "[]")).code == c400);
}

TEST_CASE("api: provisioning needs no credentials and answers with the codec's body", "[api]") {
    fixture f;
    f.start();
    const uint64_t x = f.post("/api/v1/provision",
                              R"({"deviceName":"new","provisionDeviceKey":"k","provisionDeviceSecret":"s"})");
    CHECK(f.answer(x).code == c201);
    CHECK(f.answer(x).payload ==
          R"({"credentialsValue":"NEW_TOKEN","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})");
    CHECK(f.core.auth_calls == 0);
    f.core.provision_result = TERN_PROVISION_NOT_FOUND;
    const uint64_t nf = f.post("/api/v1/anything/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"x"})");
    CHECK(f.answer(nf).code == c400);
    CHECK(f.answer(nf).payload == R"({"errorMsg":"Provision data was not found!","status":"NOT_FOUND"})");
    // missing key: the JSON codec refuses; no protobuf: 4.00 with a reason
    const uint64_t bad = f.post("/api/v1/provision", R"({"deviceName":"x"})");
    CHECK(f.answer(bad).code == c400);
    CHECK_FALSE(f.answer(bad).payload.empty());
    CHECK(f.core.provisions.size() == 2);
}

TEST_CASE("api: OTA downloads (spec §6, §0.5)", "[api]") {
    char path[] = "/tmp/device_api_fw_XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    std::string image;
    for (int i = 0; i < 2500; ++i) image.push_back(static_cast<char>(i % 251));
    REQUIRE(write(fd, image.data(), image.size()) == static_cast<ssize_t>(image.size()));
    close(fd);

    fixture f;
    f.core.packages[1].path = path;
    f.core.packages[2].url = "https://example.com/fw.bin";
    f.start();
    const uint64_t whole = f.get("/fw/T1");
    CHECK(f.answer(whole).code == c205);
    CHECK(f.answer(whole).format == -1);
    CHECK(f.answer(whole).payload == image);

    req r;
    r.method = TERN_COAP_GET;
    r.path = "/api/v1/T1/firmware";
    r.query = {"title=fw", "version=1.0", "size=1000", "chunk=2"};
    CHECK(f.answer(f.send(r)).payload == image.substr(2000));
    r.query = {"size=1000", "chunk=3"};
    const uint64_t past = f.send(r);
    CHECK(f.answer(past).code == c205);  // past the end: 2.05, empty
    CHECK(f.answer(past).payload.empty());
    r.query = {"title=other"};
    CHECK(f.answer(f.send(r)).code == c400);
    r.query = {"version=2.0"};
    CHECK(f.answer(f.send(r)).code == c400);
    r.query = {"size=abc"};
    CHECK(f.answer(f.send(r)).code == c500);  // Integer.parseInt fails: 5.00
    r.query = {"chunk=-1", "size=10"};
    CHECK(f.answer(f.send(r)).code == c400);
    CHECK(f.answer(f.get("/sw/T1")).payload == image);
    CHECK(f.answer(f.get("/fw/T2")).code == c404);  // URL-only
    fake_device d3;
    d3.id = 3;
    f.core.add("T3", d3);
    CHECK(f.answer(f.get("/fw/T3")).code == c404);  // nothing assigned
    CHECK(f.answer(f.get("/fw/NOPE")).code == c401);
    unlink(path);
}

// ---- X.509 / PSK over DTLS --------------------------------------------------------------------

TEST_CASE("api: an X.509 DTLS session authenticates token-less paths", "[api][x509]") {
    fixture f;
    const std::string der = "\x30\x82\x01\x0a-not-really-der";
    const std::string text = credential_id::x509_text(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    fake_device cam;
    cam.id = 20;
    cam.credential_value = text;
    f.core.credentials[{TERN_CREDENTIAL_X509, credential_id::x509_id(text)}] = cam;
    f.dtls.certs[77] = der;
    f.start();
    req r;
    r.path = "/api/v1/telemetry";
    r.payload = R"({"a":1})";
    r.transport = "dtls";
    r.session = 77;
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.core.telemetry_posts.back().device == 20);
    // cached per session: no second peer_auth or lookup; the token, if any, is ignored
    r.path = "/api/v1/IGNORED/telemetry";
    r.port = 40001;  // a new address, same session (spec §0.4)
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.core.telemetry_posts.back().device == 20);
    CHECK(f.dtls.calls == 1);
    CHECK(f.core.auth_calls == 1);
    // the identity is forgotten after dtls_session_inactivity_timeout without requests
    f.reactor.advance(86400000 * ms);
    r.path = "/api/v1/telemetry";
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.dtls.calls == 2);
}

TEST_CASE("api: an X.509 hash whose stored certificate differs falls back to the token", "[api][x509]") {
    fixture f;
    const std::string der = "leaf";
    const std::string text = credential_id::x509_text(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    fake_device cam;
    cam.id = 21;
    cam.credential_value = "SOMETHING ELSE";
    f.core.credentials[{TERN_CREDENTIAL_X509, credential_id::x509_id(text)}] = cam;
    f.dtls.certs[5] = der;
    f.start();
    req r;
    r.transport = "dtls";
    r.session = 5;
    r.path = "/api/v1/telemetry";
    r.payload = "{}";
    CHECK(f.answer(f.send(r)).code == c401);
    r.path = "/api/v1/T1/telemetry";
    CHECK(f.answer(f.send(r)).code == c201);
    // no certificate (one-way DTLS): token paths as usual
    r.session = 6;
    CHECK(f.answer(f.send(r)).code == c201);
}

// A client chain for session 40, leaf first, and how the core knows its certificates.
struct chain_fixture : fixture {
    std::vector<std::string> der{"leaf-der", "intermediate-der", "root-der"};
    static std::string text_of(const std::string& der) {
        return credential_id::x509_text(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    }
    std::string hash_of(std::size_t i) const { return credential_id::x509_id(text_of(der[i])); }
    // Certificate i registered as device id; stored is the credential value kept for it.
    void register_cert(std::size_t i, uint64_t id, std::string stored = {}) {
        fake_device d;
        d.id = id;
        d.credential_value = stored.empty() ? text_of(der[i]) : std::move(stored);
        core.credentials[{TERN_CREDENTIAL_X509, hash_of(i)}] = d;
    }
    uint64_t telemetry(const std::string& path = "/api/v1/telemetry") {
        req r;
        r.path = path;
        r.payload = R"({"t":1})";
        r.transport = "dtls";
        r.session = 40;
        return send(r);
    }
    void start_chain() {
        dtls.chains[40] = der;
        start();
    }
};

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a registered leaf is the device, the chain is not walked further",
                 "[api][x509]") {
    register_cert(0, 50);
    register_cert(1, 51);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 50);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0)});
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: only the intermediate registered identifies its device",
                 "[api][x509]") {
    register_cert(1, 51);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    // leaf first, then the intermediate; the root is never asked
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
    // bound to the session: later requests ask neither the transport nor the core
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(dtls.calls == 1);
    CHECK(core.auth_calls == 2);
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: the root alone registered is found last", "[api][x509]") {
    register_cert(2, 52);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 52);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1), hash_of(2)});
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: no certificate registered leaves the token to decide",
                 "[api][x509]") {
    start_chain();
    CHECK(answer(telemetry()).code == c401);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1), hash_of(2)});
    CHECK(answer(telemetry("/api/v1/T1/telemetry")).code == c201);
    CHECK(core.telemetry_posts.back().device == 1);
    // the miss is remembered for the session: no second walk
    CHECK(answer(telemetry()).code == c401);
    CHECK(dtls.calls == 1);
    CHECK(core.auth_calls == 4);  // three certificates, one token
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a miss lasts the session until a credential changes",
                 "[api][x509][security]") {
    start_chain();
    CHECK(answer(telemetry()).code == c401);
    // well past auth_cache_ttl, within the DTLS session's lifetime: still no second walk
    reactor.advance(600000 * ms);
    CHECK(answer(telemetry()).code == c401);
    CHECK(core.auth_calls == 3);
    // the intermediate is registered now: the core announces the new credential, and the
    // session's next request walks again and finds it
    register_cert(1, 51);
    a->on_device_event(51, TERN_DEVICE_CREDENTIALS_CHANGED);
    reactor.run();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(core.auth_calls == 5);
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a leaf hash with another stored text passes to the intermediate",
                 "[api][x509]") {
    register_cert(0, 50, "SOMETHING ELSE");
    register_cert(1, 51);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a core error stops the walk with 5.00 (busy: 5.03) and nothing is kept",
                 "[api][x509]") {
    register_cert(1, 51);
    start_chain();
    SECTION("on the leaf: the intermediate is not asked") {
        core.failing[hash_of(0)] = TERN_UNAVAILABLE;
        CHECK(answer(telemetry()).code == c500);
        CHECK(core.auth_values == std::vector<std::string>{hash_of(0)});
    }
    SECTION("on the intermediate, after the leaf missed") {
        core.failing[hash_of(1)] = TERN_BUSY;
        const auto& r = answer(telemetry());
        CHECK(r.code == c503);  // busy: 5.03 with Max-Age, so the device backs off
        CHECK(r.max_age == 5);
        CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
    }
    CHECK(core.telemetry_posts.empty());
    // nothing was cached for the session: the next request walks again and succeeds
    core.failing.clear();
    core.auth_values.clear();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
    CHECK(dtls.calls == 2);
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: at most 16 certificates are looked up", "[api][x509]") {
    der.clear();
    for (int i = 0; i < 20; ++i) der.push_back("cert-" + std::to_string(i));
    register_cert(16, 66);  // the 17th: past the bound
    start_chain();
    CHECK(answer(telemetry()).code == c401);
    CHECK(core.auth_calls == 16);
    CHECK(core.auth_values.back() == hash_of(15));
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: an invalidation during the walk answers but does not bind",
                 "[api][x509]") {
    register_cert(1, 51);
    start_chain();
    core.defer = true;
    const uint64_t x = telemetry();
    core.run_deferred();  // the leaf misses: the intermediate is asked
    reactor.run();
    a->on_device_event(51, TERN_DEVICE_CREDENTIALS_CHANGED);
    reactor.run();
    core.run_deferred();  // the intermediate's device
    reactor.run();
    core.run_deferred();  // the telemetry write
    CHECK(answer(x).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(a->shard(0).sessions.size() == 0);
    core.defer = false;
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(dtls.calls == 2);
}

TEST_CASE("api: a PSK session authenticates by its identity", "[api][x509]") {
    fixture f;
    fake_device p;
    p.id = 30;
    f.core.credentials[{TERN_CREDENTIAL_PSK, "sensor-7"}] = p;
    f.dtls.psk[9] = "sensor-7";
    f.start();
    req r;
    r.transport = "dtls";
    r.session = 9;
    r.path = "/api/v1/attributes";
    r.payload = R"({"x":1})";
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.core.attribute_posts.back().first == 30);
}

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
    f.reactor.on(0, [&] { CHECK(f.a->shard(0).obs_device.at(obs) == 1); });
    f.ended(0, obs, TERN_COAP_END_DEREGISTERED);
    CHECK(f.core.subs[1] == 0);
    CHECK(has_session_event(f.core, 1, TERN_SESSION_CLOSE));
    CHECK(f.a->shard(0).obs_device.count(obs) == 0);
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

// ---- RPC observation ---------------------------------------------------------------------------------

TEST_CASE("api: RPC Observe, delivery and status reporting (spec §4.1)", "[api][rpc]") {
    fixture f;
    f.start();
    const uint64_t x = f.get("/api/v1/T1/rpc", 0, 1);
    CHECK(f.answer(x).code == c203);
    CHECK(f.answer(x).payload.empty());
    const uint64_t obs = f.answer(x).observation;
    CHECK(f.core.subs[1] == TERN_SUBSCRIBE_RPC);

    f.rpc(1, 7, "setGpio", R"({"pin":4})", TERN_RPC_PERSISTENT);
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].payload == R"({"id":7,"method":"setGpio","params":{"pin":4}})");
    CHECK(f.engine.notes[0].cookie == 7);
    CHECK(f.engine.notes[0].flags == 0);  // never mergeable
    REQUIRE(f.core.statuses_of(7).size() == 1);
    CHECK(f.core.statuses_of(7)[0].s == TERN_RPC_SENT);  // persistent, CON
    // the core sends it again (a resend) while it is on its way: not twice
    f.rpc(1, 7, "setGpio", R"({"pin":4})", TERN_RPC_PERSISTENT);
    CHECK(f.engine.notes.size() == 1);
    f.result(1, obs, 7, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(7).back().s == TERN_RPC_DELIVERED);

    // not persistent: no SENT; not acknowledged in time: TIMEOUT; a late ACK still DELIVERED
    f.rpc(1, 8, "reboot", "");
    CHECK(f.engine.notes.back().payload == R"({"id":8,"method":"reboot","params":null})");
    CHECK(f.core.statuses_of(8).empty());
    f.reactor.advance(10000 * ms);
    REQUIRE(f.core.statuses_of(8).size() == 1);
    CHECK(f.core.statuses_of(8)[0].s == TERN_RPC_TIMEOUT);
    f.result(1, obs, 8, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(8).back().s == TERN_RPC_DELIVERED);

    // queued RPCs of an observation that ends are TIMEOUT (never silently lost)
    f.rpc(1, 9, "a", "");
    f.ended(1, obs, TERN_COAP_END_RESET);
    CHECK(f.core.statuses_of(9).back().s == TERN_RPC_TIMEOUT);
    CHECK(f.core.subs[1] == 0);
    // no observation: an RPC arriving now is TIMEOUT at once
    f.rpc(1, 10, "b", "");
    CHECK(f.core.statuses_of(10).back().s == TERN_RPC_TIMEOUT);
}

TEST_CASE("api: RPCs in flight move to the new RPC observation of another holder", "[api][rpc]") {
    fixture f;
    f.start();
    const uint64_t old = f.observe("/api/v1/T1/rpc", 1, "\x01", 40000);
    f.rpc(1, 3, "m", "");
    REQUIRE(f.engine.notes.size() == 1);
    const uint64_t neu = f.observe("/api/v1/T1/rpc", 1, "\x02", 40001);
    CHECK(f.engine.ends.back().observation == old);
    CHECK(f.engine.ends.back().code == c202);
    REQUIRE(f.engine.notes.size() == 2);
    CHECK(f.engine.notes[1].observation == neu);
    CHECK(f.engine.notes[1].cookie == 3);
    CHECK(f.core.resends == std::vector<uint64_t>{1});  // already subscribed: resend instead
    // the old relation's result for it no longer counts
    f.result(1, old, 3, TERN_COAP_NOTIFY_DROPPED);
    CHECK(f.core.statuses_of(3).empty());
    f.result(1, neu, 3, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(3).back().s == TERN_RPC_DELIVERED);
}

TEST_CASE("api: an RPC the adaptor cannot encode fails and ends the RPC observation", "[api][rpc]") {
    // A profile adaptor that refuses RPC requests (a protobuf schema mismatch).
    struct refusing final : payload_v1 {
        json::adaptor inner{json::options{}};
        tern_str name() noexcept override { return tern_str{"protobuf", 8}; }
        int32_t content_format() noexcept override { return 42; }
        tern_status decode_telemetry(const tern_payload_context* c, tern_bytes b, int64_t n, tern_records_sink s,
                                     void* x, tern_error* e) noexcept override {
            return inner.decode_telemetry(c, b, n, s, x, e);
        }
        tern_status decode_attributes(const tern_payload_context* c, tern_bytes b, tern_kv_sink s, void* x,
                                      tern_error* e) noexcept override {
            return inner.decode_attributes(c, b, s, x, e);
        }
        tern_status decode_rpc_reply(const tern_payload_context* c, tern_bytes b, tern_bytes_sink s, void* x,
                                     tern_error* e) noexcept override {
            return inner.decode_rpc_reply(c, b, s, x, e);
        }
        tern_status decode_rpc_call(const tern_payload_context* c, tern_bytes b, tern_rpc_call_sink s, void* x,
                                    tern_error* e) noexcept override {
            return inner.decode_rpc_call(c, b, s, x, e);
        }
        tern_status decode_claim(const tern_payload_context* c, tern_bytes b, tern_claim_sink s, void* x,
                                 tern_error* e) noexcept override {
            return inner.decode_claim(c, b, s, x, e);
        }
        tern_status decode_provision(const tern_payload_context* c, tern_bytes b, tern_provision_sink s, void* x,
                                     tern_error* e) noexcept override {
            return inner.decode_provision(c, b, s, x, e);
        }
        tern_status encode_attribute_update(const tern_payload_context* c, const tern_kv* u, uint32_t nu,
                                            const tern_str* d, uint32_t nd, tern_bytes_sink s, void* x,
                                            tern_error* e) noexcept override {
            return inner.encode_attribute_update(c, u, nu, d, nd, s, x, e);
        }
        tern_status encode_attributes(const tern_payload_context* c, const tern_kv* a, uint32_t na, const tern_kv* b,
                                      uint32_t nb, tern_bytes_sink s, void* x, tern_error* e) noexcept override {
            return inner.encode_attributes(c, a, na, b, nb, s, x, e);
        }
        tern_status encode_rpc_request(const tern_payload_context*, const tern_rpc_request*, tern_bytes_sink, void*,
                                       tern_error* e) noexcept override {
            sdk::set_error(e, "schema mismatch");
            return TERN_INVALID_ARGUMENT;
        }
        tern_status encode_rpc_response(const tern_payload_context* c, tern_str r, tern_str er, tern_bytes_sink s,
                                        void* x, tern_error* e) noexcept override {
            return inner.encode_rpc_response(c, r, er, s, x, e);
        }
        tern_status encode_provision_response(const tern_payload_context* c, const tern_provision_result* r,
                                              tern_bytes_sink s, void* x, tern_error* e) noexcept override {
            return inner.encode_provision_response(c, r, s, x, e);
        }
    } proto;
    fixture f;
    fake_device p;
    p.id = 5;
    p.payload = TERN_PAYLOAD_PROTOBUF;
    f.core.add("P5", p);
    f.start(&proto);
    const uint64_t x = f.get("/api/v1/P5/rpc", 0, 1);
    const uint64_t obs = f.answer(x).observation;
    f.rpc(5, 1, "m", R"({"a":1})");
    REQUIRE(f.core.statuses_of(1).size() == 1);
    CHECK(f.core.statuses_of(1)[0].s == TERN_RPC_FAILED);
    CHECK(f.core.statuses_of(1)[0].error == "Failed to convert device RPC command to CoAP msg");
    REQUIRE(f.engine.ends.size() == 1);
    CHECK(f.engine.ends[0].observation == obs);
    CHECK(f.engine.ends[0].code == c500);
    CHECK(f.core.subs[5] == 0);
    // protobuf profiles: notifications and answers are octet-stream (spec §1.4)
    const uint64_t a = f.observe("/api/v1/P5/attributes", 1, "\x09");
    (void)a;
    CHECK(f.engine.responses.back().format == 42);
}

// ---- device events, bounds, lifetime ---------------------------------------------------------------------

TEST_CASE("api: a deleted device loses its observations (final 4.04) and its state", "[api][state]") {
    fixture f;
    f.start();
    const uint64_t a = f.observe("/api/v1/T1/attributes", 1, "\x01");
    const uint64_t r = f.observe("/api/v1/T1/rpc", 1, "\x02");
    CHECK(f.core.count_sessions(TERN_SESSION_OPEN) == 1);  // one session for both
    f.a->on_device_event(1, TERN_DEVICE_DELETED);
    f.reactor.run();
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
    f.reactor.run();
    CHECK(f.engine.ends.empty());
    f.reactor.on(1, [&] { CHECK(f.a->state_of(1)->dev->revision == 2); });
    // a new token: the observer can no longer act as the device
    f.core.credentials.erase({TERN_CREDENTIAL_ACCESS_TOKEN, "T1"});
    f.a->on_device_event(1, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.reactor.run();
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

// ---- rate limits, the negative token cache, a busy core ---------------------------------------

namespace {
uint64_t post_from(fixture& f, const std::string& path, const std::string& payload, uint8_t host) {
    req r;
    r.path = path;
    r.payload = payload;
    r.host = host;
    return f.send(r);
}
constexpr uint64_t second = 1000 * ms;
}  // namespace

TEST_CASE("api: a device over its message limit gets 4.29 with Max-Age, nothing stored, and recovers",
          "[api][security]") {
    fixture f;
    f.s.device_message_rate = 2;
    f.s.device_message_burst = 3;
    f.start();
    for (int i = 0; i < 3; ++i) CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c201);
    const auto& r = f.answer(f.post("/api/v1/T1/attributes", R"({"a":1})"));
    CHECK(r.code == c429);
    CHECK(r.max_age == 1);
    CHECK(r.payload == "device message rate limit exceeded");
    CHECK(f.core.telemetry_posts.size() == 3);
    CHECK(f.core.attribute_posts.empty());
    // another device is not affected
    CHECK(f.answer(f.post("/api/v1/T2/telemetry", R"({"a":1})")).code == c201);
    // half a second later one message (2/s) is there again
    f.reactor.now += second / 2;
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c429);
    f.reactor.now += 10 * second;  // refills to the burst, not beyond
    for (int i = 0; i < 3; ++i) CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c429);
    CHECK(f.core.auth_calls == 2);  // limited requests never reached the core either
}

TEST_CASE("api: the data point limit refuses a whole message, a message larger than the burst passes once",
          "[api][security]") {
    fixture f;
    f.s.device_datapoint_rate = 10;
    f.s.device_datapoint_burst = 10;
    f.start();
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8})")).code == c201);
    const auto& r = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1,"b":2,"c":3})"));
    CHECK(r.code == c429);  // 2 left, 3 asked
    CHECK(r.max_age == 1);
    CHECK(f.core.telemetry_posts.size() == 1);
    f.reactor.now += 2 * second;
    std::string big = "{";
    for (int i = 0; i < 30; ++i) big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    big += "}";
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", big)).code == c201);  // 30 on a full bucket of 10
    const auto& after = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})"));
    CHECK(after.code == c429);
    CHECK(after.max_age == 3);  // 20 in debt, 1 needed: 2.1 s
    CHECK(f.core.telemetry_posts.size() == 2);
}

TEST_CASE("api: a device profile overrides the limits through its options", "[api][security]") {
    fixture f;
    fake_device strict;
    strict.id = 20;
    strict.options = {{"device_message_rate", 1}, {"device_message_burst", 1}, {"unrelated", 5}};
    f.core.add("STRICT", strict);
    fake_device free_dev;
    free_dev.id = 21;
    free_dev.options = {{"device_message_rate", 0}};  // 0: no limit for this profile
    f.core.add("FREE", free_dev);
    f.s.device_message_rate = 5;
    f.s.device_message_burst = 5;
    f.start();
    CHECK(f.answer(f.post("/api/v1/STRICT/telemetry", "{\"a\":1}")).code == c201);
    CHECK(f.answer(f.post("/api/v1/STRICT/telemetry", "{\"a\":1}")).code == c429);
    for (int i = 0; i < 20; ++i) CHECK(f.answer(f.post("/api/v1/FREE/telemetry", "{\"a\":1}")).code == c201);
    for (int i = 0; i < 5; ++i) CHECK(f.answer(f.post("/api/v1/T1/telemetry", "{\"a\":1}")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", "{\"a\":1}")).code == c429);
}

TEST_CASE("api: an unknown token is remembered for unknown_token_cache_ttl, a credential change forgets it",
          "[api][security]") {
    fixture f;
    f.s.unknown_token_cache_ttl_ms = 5000;
    f.s.source_rate = 0;
    f.start();
    for (int i = 0; i < 10; ++i) {
        const auto& r = f.answer(f.post("/api/v1/NOPE/telemetry", "{}"));
        CHECK(r.code == c401);
        CHECK(r.payload == "unknown access token");
    }
    CHECK(f.core.auth_calls == 1);
    CHECK(f.a->shard(0).unknown.size() == 1);
    f.reactor.now += 5001 * ms;
    CHECK(f.answer(f.post("/api/v1/NOPE/telemetry", "{}")).code == c401);
    CHECK(f.core.auth_calls == 2);  // expired: asked again
    // the token is created: the core says credentials changed, the next request finds it
    fake_device d;
    d.id = 30;
    f.core.add("NOPE", d);
    f.a->on_device_event(30, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.reactor.run();
    CHECK(f.a->shard(0).unknown.size() == 0);
    CHECK(f.answer(f.post("/api/v1/NOPE/telemetry", "{}")).code == c201);
    CHECK(f.core.auth_calls == 3);
}

TEST_CASE("api: the negative cache is bounded, least recently used first", "[api][security]") {
    fixture f;
    f.s.unknown_token_cache_size = 4;  // 2 per shard
    f.s.source_rate = 0;
    f.start();
    for (const char* t : {"U1", "U2", "U3"}) f.post(std::string("/api/v1/") + t + "/telemetry", "{}");
    CHECK(f.a->shard(0).unknown.size() == 2);
    CHECK(f.core.auth_calls == 3);
    f.post("/api/v1/U3/telemetry", "{}");  // kept
    CHECK(f.core.auth_calls == 3);
    f.post("/api/v1/U1/telemetry", "{}");  // evicted first
    CHECK(f.core.auth_calls == 4);
}

TEST_CASE("api: unauthenticated work is limited per source address, valid tokens give their share back",
          "[api][security]") {
    fixture f;
    f.s.source_rate = 1;
    f.s.source_burst = 2;
    f.start();
    // valid tokens (cache misses) are refunded: they never use up the address's budget
    for (int i = 0; i < 3; ++i) {
        f.a->on_device_event(1, TERN_DEVICE_UPDATED);  // drops T1 from the caches
        f.reactor.run();
        CHECK(f.answer(post_from(f, "/api/v1/T1/telemetry", "{}", 9)).code == c201);
    }
    CHECK(f.answer(post_from(f, "/api/v1/BAD1/telemetry", "{}", 9)).code == c401);
    CHECK(f.answer(post_from(f, "/api/v1/BAD2/telemetry", "{}", 9)).code == c401);
    const int calls = f.core.auth_calls;
    const auto& r = f.answer(post_from(f, "/api/v1/BAD3/telemetry", "{}", 9));
    CHECK(r.code == c429);
    CHECK(r.max_age == 1);
    CHECK(f.core.auth_calls == calls);  // the core was not asked
    // a cached device from the same address is still served; another address is not limited
    CHECK(f.answer(post_from(f, "/api/v1/T1/telemetry", "{}", 9)).code == c201);
    CHECK(f.answer(post_from(f, "/api/v1/BAD3/telemetry", "{}", 10)).code == c401);
    // provisioning shares the budget of its address
    CHECK(f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11)).code == c201);
    CHECK(f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11)).code == c201);
    const auto& p = f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11));
    CHECK(p.code == c429);
    CHECK(p.payload == "too many provisioning requests from this address");
    CHECK(f.core.provisions.size() == 2);
    f.reactor.now += second;
    CHECK(f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11)).code == c201);
}

TEST_CASE("api: a busy core is answered 5.03 with Max-Age busy_max_age", "[api][security]") {
    fixture f;
    f.s.busy_max_age_s = 7;
    f.start();
    f.core.write_status = TERN_BUSY;
    const auto& r = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})"));
    CHECK(r.code == c503);
    CHECK(r.max_age == 7);
    f.core.write_status = TERN_IO;
    const auto& e = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})"));
    CHECK(e.code == c500);
    CHECK(e.max_age == -1);
    f.core.auth_status = TERN_BUSY;
    const auto& a = f.answer(f.post("/api/v1/T2/telemetry", R"({"a":1})"));
    CHECK(a.code == c503);
    CHECK(a.max_age == 7);
}

TEST_CASE("api: requests for a token already being looked up wait for that answer (one core call)",
          "[api][security]") {
    fixture f;
    f.start();
    f.core.defer = true;
    const uint64_t a = f.post("/api/v1/NOPE/telemetry", "{}");
    const uint64_t b = f.post("/api/v1/NOPE/telemetry", "{}");
    const uint64_t c = f.post("/api/v1/T1/telemetry", R"({"a":1})");
    const uint64_t d = f.post("/api/v1/T1/attributes", R"({"b":2})");
    CHECK(f.core.auth_calls == 2);  // NOPE once, T1 once
    f.core.run_deferred();
    f.reactor.run();
    f.core.run_deferred();  // the writes
    CHECK(f.answer(a).code == c401);
    CHECK(f.answer(b).code == c401);
    CHECK(f.answer(c).code == c201);
    CHECK(f.answer(d).code == c201);
    CHECK(f.core.telemetry_posts.size() == 1);
    CHECK(f.core.attribute_posts.size() == 1);
    CHECK(f.a->shard(0).token_lookups.empty());
    // a core error reaches the waiters too
    f.core.failing["BUSY"] = TERN_BUSY;
    const uint64_t e = f.post("/api/v1/BUSY/telemetry", "{}");
    const uint64_t g = f.post("/api/v1/BUSY/telemetry", "{}");
    f.core.run_deferred();
    f.reactor.run();
    CHECK(f.answer(e).code == c503);
    CHECK(f.answer(g).code == c503);
    CHECK(f.core.auth_calls == 3);
}

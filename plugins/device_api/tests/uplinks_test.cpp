// uplinks: telemetry, attributes, GET attributes, RPC replies and client-side RPCs, claims,
// provisioning and OTA downloads; the profile checks, activity and the body size limit.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

// ---- uplinks and authentication --------------------------------------------------------------------

TEST_CASE("api: telemetry POST is stored and answered 2.01 - the token is cached per shard", "[api]") {
    fixture f;
    f.start();
    const uint64_t x = f.post("/api/v1/T1/telemetry", R"({"temperature":42,"on":true})");
    CHECK(f.answer(x).code == c201);
    CHECK(f.answer(x).payload.empty());
    CHECK(f.answer(x).format == -1);  // 2.01 carries no Content-Format (docs/device-api.md §1.4)
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
    // `[]`: only the empty ACK (docs/device-api.md §1.3)
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

TEST_CASE("api: profile checks of docs/device-api.md §1.3", "[api]") {
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
    f.core.auth_status = TERN_INTERNAL;
    CHECK(f.answer(f.post("/api/v1/T2/telemetry", "{}")).code == c500);
    // a core that cannot be reached (a remote core's link is down) or answers too late: 5.03
    // with Max-Age, so the device comes back later
    for (const tern_status st : {TERN_UNAVAILABLE, TERN_TIMEOUT}) {
        f.core.auth_status = st;
        const auto& r = f.answer(f.post("/api/v1/T2/telemetry", "{}"));
        CHECK(r.code == c503);
        CHECK(r.max_age == 5);
    }
}

TEST_CASE("api: a protobuf device without the protobuf adaptor gets 5.00 with the reason, OTA aside", "[api]") {
    // Its profile was saved while the adaptor ran; the server restarted without it.
    fixture f;
    fake_device p;
    p.id = 5;
    p.payload = TERN_PAYLOAD_PROTOBUF;
    f.core.add("P5", p);
    f.start();
    for (const char* path : {"/api/v1/P5/telemetry", "/api/v1/P5/attributes", "/api/v1/P5/rpc"}) {
        INFO(path);
        const uint64_t x = f.post(path, "\x0a\x00");
        CHECK(f.answer(x).code == c500);
        CHECK(f.answer(x).payload ==
              "payload type PROTOBUF needs the payload adaptor \"protobuf\", which is not loaded (add "
              "[plugins.protobuf] to the manifest)");
    }
    CHECK(f.core.telemetry_posts.empty());
    // A JSON device of the same server is served.
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"t":1})")).code == c201);
}

TEST_CASE("api: the adaptor is chosen by payload type through the catalog, and the context carries profile.revision",
          "[api]") {
    renamed_adaptor pb("protobuf");
    fixture f;
    fake_device with;  // a core of ABI 1.2: the profile's own revision among the options
    with.id = 5;
    with.revision = 900;
    with.payload = TERN_PAYLOAD_PROTOBUF;
    with.options = {{TERN_OPTION_PROFILE_REVISION, 17}, {"device_message_rate", 100}};
    f.core.add("P5", with);
    fake_device without;  // an older core: the record's revision
    without.id = 6;
    without.revision = 901;
    without.payload = TERN_PAYLOAD_PROTOBUF;
    f.core.add("P6", without);
    f.start(&pb);
    CHECK(f.answer(f.post("/api/v1/P5/telemetry", R"({"t":1})")).code == c201);
    CHECK(f.answer(f.post("/api/v1/P6/telemetry", R"({"t":2})")).code == c201);
    // JSON devices do not reach it.
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"t":3})")).code == c201);
    REQUIRE(pb.contexts.size() == 2);
    CHECK(pb.contexts[0].revision == 17);
    CHECK(pb.contexts[0].profile_id == 1);
    // profile.revision is in the context, not among the profile's own options.
    CHECK(pb.contexts[0].option_keys == std::vector<std::string>{"device_message_rate"});
    CHECK(pb.contexts[1].revision == 901);
    CHECK(f.core.telemetry_posts.size() == 3);
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

TEST_CASE("api: GET attributes with key lists (docs/device-api.md §2.4)", "[api]") {
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
    r.format = 0;  // echoed back (docs/device-api.md §1.4)
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
    // not an object on a JSON profile: 5.00 (docs/device-api.md §1.3)
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

TEST_CASE("api: OTA downloads (docs/device-api.md §6, §0.5)", "[api]") {
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

// Decoding: each uplink kind against the profile's schemas or the fixed messages, and the
// refusals (4.00) of bodies that do not parse, are too big or too deep, and of broken schemas.
#include <catch2/catch.hpp>

#include "support.hpp"

using namespace protobuf_test;

namespace {

constexpr const char* ts_values_schema = R"(syntax = "proto3";
package tele;
message Values {
  double temp = 1;
  int64 count = 2;
  string status = 3;
}
message Reading {
  int64 ts = 1;
  Values values = 2;
}
)";

}  // namespace

TEST_CASE("decode telemetry: ThingsBoard's default schema when the profile has none", "[decode]") {
    adaptor a(options{});
    profile p(7, 1);
    builder b(schema_kind::telemetry, "");
    b.m().GetReflection()->SetDouble(&b.m(), field(b.m(), "temperature"), 42.5);
    gp::Message* inner = b.m().GetReflection()->MutableMessage(&b.m(), field(b.m(), "innerObject"));
    inner->GetReflection()->SetString(inner, field(*inner, "key1"), "v");
    const std::string body = b.bytes();

    received r;
    tern_error err{};
    REQUIRE(a.decode_telemetry(&p.ctx, bytes_of(body), 1234, &received::on_records, &r, &err) == TERN_OK);
    CHECK(r.calls == 1);
    REQUIRE(r.records.size() == 1);
    CHECK(r.ts[0] == 1234);
    CHECK(r.records[0]["temperature"] == "d:42.500000");
    CHECK(r.records[0].count("humidity") == 0);  // an unset optional field is left out
    CHECK(r.records[0].count("innerObject") == 1);
}

TEST_CASE("decode telemetry: a root with ts and values carries the device's time", "[decode]") {
    adaptor a(options{});
    profile p(8, 1, {{"telemetry_schema", ts_values_schema}});
    builder b(schema_kind::telemetry, ts_values_schema);
    b.m().GetReflection()->SetInt64(&b.m(), field(b.m(), "ts"), 1700000000123);
    gp::Message* v = b.m().GetReflection()->MutableMessage(&b.m(), field(b.m(), "values"));
    v->GetReflection()->SetDouble(v, field(*v, "temp"), 21.5);
    v->GetReflection()->SetInt64(v, field(*v, "count"), 5);
    const std::string body = b.bytes();

    received r;
    tern_error err{};
    REQUIRE(a.decode_telemetry(&p.ctx, bytes_of(body), 1, &received::on_records, &r, &err) == TERN_OK);
    REQUIRE(r.records.size() == 1);
    CHECK(r.ts[0] == 1700000000123);
    CHECK(r.records[0]["temp"] == "d:21.500000");
    CHECK(r.records[0]["count"] == "i:5");
    CHECK(r.records[0].count("status") == 1);  // proto3 plain fields: default values included
}

TEST_CASE("decode attributes and an RPC reply against custom schemas", "[decode]") {
    adaptor a(options{});
    const std::string attrs = "syntax = \"proto3\";\nmessage A { string fw = 1; bool on = 2; }\n";
    const std::string reply = "syntax = \"proto3\";\nmessage R { string result = 1; int32 code = 2; }\n";
    profile p(9, 3, {{"attributes_schema", attrs}, {"rpc_response_schema", reply}});

    builder ab(schema_kind::attributes, attrs);
    ab.m().GetReflection()->SetString(&ab.m(), field(ab.m(), "fw"), "1.2");
    ab.m().GetReflection()->SetBool(&ab.m(), field(ab.m(), "on"), true);
    received r;
    tern_error err{};
    REQUIRE(a.decode_attributes(&p.ctx, bytes_of(ab.bytes()), &received::on_kvs, &r, &err) == TERN_OK);
    CHECK(r.values["fw"] == "d:1.200000");  // type casting, as for JSON
    CHECK(r.values["on"] == "b:1");

    builder rb(schema_kind::rpc_response, reply);
    rb.m().GetReflection()->SetString(&rb.m(), field(rb.m(), "result"), "done");
    received rr;
    REQUIRE(a.decode_rpc_reply(&p.ctx, bytes_of(rb.bytes()), &received::on_bytes, &rr, &err) == TERN_OK);
    CHECK(rr.bytes == R"({"result":"done","code":0})");
}

TEST_CASE("decode: bodies that do not parse, too big or too deep get 4.00 and no sink call", "[decode]") {
    options o;
    o.max_message_size = 64;
    o.max_depth = 4;
    adaptor a(o);
    const std::string deep = "syntax = \"proto3\";\nmessage N { N next = 1; int32 v = 2; }\n";
    profile p(10, 1, {{"telemetry_schema", deep}});
    received r;
    tern_error err{};

    const std::string garbage = "\xff\xff\xff";
    CHECK(a.decode_telemetry(&p.ctx, bytes_of(garbage), 1, &received::on_records, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(error_of(err) == "the body does not parse as telemetry.N");

    const std::string big(65, '\0');
    CHECK(a.decode_telemetry(&p.ctx, bytes_of(big), 1, &received::on_records, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(error_of(err) == "the body is 65 bytes, more than max_message_size (64)");

    // next { next { next { next { next {} } } } }: five levels below the root
    std::string nested;
    for (int i = 0; i < 6; ++i) nested = std::string("\x0a") + static_cast<char>(nested.size()) + nested;
    CHECK(a.decode_telemetry(&p.ctx, bytes_of(nested), 1, &received::on_records, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(error_of(err) == "the body does not parse as telemetry.N");
    std::string shallow;
    for (int i = 0; i < 3; ++i) shallow = std::string("\x0a") + static_cast<char>(shallow.size()) + shallow;
    CHECK(a.decode_telemetry(&p.ctx, bytes_of(shallow), 1, &received::on_records, &r, &err) == TERN_OK);
    CHECK(r.calls == 1);
}

TEST_CASE("decode: a profile whose stored schema is broken refuses its messages with the reason", "[decode]") {
    adaptor a(options{});
    profile p(11, 1, {{"telemetry_schema", "syntax = \"proto3\";\nmessage M {\n  option x = 1;\n}"}});
    received r;
    tern_error err{};
    CHECK(a.decode_telemetry(&p.ctx, bytes_of(""), 1, &received::on_records, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(error_of(err) == "telemetry schema, line 3, column 3: options are not allowed");
    // the other kinds of the profile still work
    CHECK(a.decode_attributes(&p.ctx, bytes_of(""), &received::on_kvs, &r, &err) == TERN_OK);
    CHECK(r.calls == 1);
}

TEST_CASE("decode_rpc_call: transportapi.RpcRequest, params JSON as it is, other text as a string", "[decode]") {
    adaptor a(options{});
    profile p(12, 1);
    auto call = [&](std::string_view method, std::string_view params) {
        builder b(fixed_messages::get().rpc_request());
        b.m().GetReflection()->SetString(&b.m(), field(b.m(), "method"), std::string(method));
        b.m().GetReflection()->SetString(&b.m(), field(b.m(), "params"), std::string(params));
        received r;
        tern_error err{};
        REQUIRE(a.decode_rpc_call(&p.ctx, bytes_of(b.bytes()), &received::on_rpc, &r, &err) == TERN_OK);
        CHECK(r.method == method);
        return r.params;
    };
    CHECK(call("getTime", R"({"a":1})") == R"({"a":1})");
    CHECK(call("getTime", "42") == "42");
    CHECK(call("getTime", "") == "null");
    CHECK(call("echo", "hello \"you\"") == R"("hello \"you\"")");
    CHECK(call("echo", "{broken") == R"("{broken")");
}

TEST_CASE("decode_claim: transportapi.ClaimDevice, an empty body claims with no secret", "[decode]") {
    adaptor a(options{});
    received r;
    tern_error err{};
    REQUIRE(a.decode_claim(nullptr, bytes_of(""), &received::on_claim, &r, &err) == TERN_OK);
    CHECK(r.secret.empty());
    CHECK(r.duration == 0);

    builder b(fixed_messages::get().claim());
    b.m().GetReflection()->SetString(&b.m(), field(b.m(), "secretKey"), "s3cret");
    b.m().GetReflection()->SetInt64(&b.m(), field(b.m(), "durationMs"), 60000);
    received r2;
    REQUIRE(a.decode_claim(nullptr, bytes_of(b.bytes()), &received::on_claim, &r2, &err) == TERN_OK);
    CHECK(r2.secret == "s3cret");
    CHECK(r2.duration == 60000);
}

namespace {

struct provision_seen {
    int calls = 0;
    int32_t type = -1;
    std::string name, key, secret, token, hash, client_id, username, password;
    int32_t gateway = -1;
    static void on(void* c, const tern_provision_request* r) {
        auto* s = static_cast<provision_seen*>(c);
        ++s->calls;
        s->type = r->credentials_type;
        s->name = sv(r->device_name);
        s->key = sv(r->provision_key);
        s->secret = sv(r->provision_secret);
        s->token = sv(r->token);
        s->hash = sv(r->hash);
        s->client_id = sv(r->client_id);
        s->username = sv(r->username);
        s->password = sv(r->password);
        s->gateway = r->gateway;
    }
};

}  // namespace

TEST_CASE("decode_provision: transport.ProvisionDeviceRequestMsg into the neutral request", "[decode][provision]") {
    adaptor a(options{});
    builder b(fixed_messages::get().provision_request());
    gp::Message& m = b.m();
    const gp::Reflection& r = *m.GetReflection();
    r.SetString(&m, field(m, "deviceName"), "sensor-1");
    r.SetEnumValue(&m, field(m, "credentialsType"), 2);  // MQTT_BASIC
    gp::Message* keys = r.MutableMessage(&m, field(m, "provisionDeviceCredentialsMsg"));
    keys->GetReflection()->SetString(keys, field(*keys, "provisionDeviceKey"), "pk");
    keys->GetReflection()->SetString(keys, field(*keys, "provisionDeviceSecret"), "ps");
    gp::Message* data = r.MutableMessage(&m, field(m, "credentialsDataProto"));
    gp::Message* basic = data->GetReflection()->MutableMessage(data, field(*data, "validateBasicMqttCredRequestMsg"));
    basic->GetReflection()->SetString(basic, field(*basic, "clientId"), "cid");
    basic->GetReflection()->SetString(basic, field(*basic, "userName"), "user");
    basic->GetReflection()->SetString(basic, field(*basic, "password"), "pw");
    r.SetBool(&m, field(m, "gateway"), true);

    provision_seen s;
    tern_error err{};
    REQUIRE(a.decode_provision(nullptr, bytes_of(b.bytes()), &provision_seen::on, &s, &err) == TERN_OK);
    CHECK(s.calls == 1);
    CHECK(s.type == TERN_CREDENTIAL_MQTT_BASIC);
    CHECK(s.name == "sensor-1");
    CHECK(s.key == "pk");
    CHECK(s.secret == "ps");
    CHECK(s.client_id == "cid");
    CHECK(s.username == "user");
    CHECK(s.password == "pw");
    CHECK(s.token.empty());
    CHECK(s.gateway == 1);

    builder t(fixed_messages::get().provision_request());
    gp::Message* d2 = t.m().GetReflection()->MutableMessage(&t.m(), field(t.m(), "credentialsDataProto"));
    gp::Message* tok = d2->GetReflection()->MutableMessage(d2, field(*d2, "validateDeviceTokenRequestMsg"));
    tok->GetReflection()->SetString(tok, field(*tok, "token"), "tkn");
    provision_seen s2;
    REQUIRE(a.decode_provision(nullptr, bytes_of(t.bytes()), &provision_seen::on, &s2, &err) == TERN_OK);
    CHECK(s2.type == TERN_CREDENTIAL_ACCESS_TOKEN);
    CHECK(s2.token == "tkn");
    CHECK(s2.gateway == 0);

    // A JSON body is not a protobuf message: device_api tries JSON first.
    const std::string json = R"({"deviceName":"x","provisionDeviceKey":"k"})";
    provision_seen s3;
    CHECK(a.decode_provision(nullptr, bytes_of(json), &provision_seen::on, &s3, &err) == TERN_INVALID_ARGUMENT);
    CHECK(s3.calls == 0);
}

// Encoding: every downlink decoded back with the fixed pool (compiled from the same .proto
// text ThingsBoard firmware uses) and its fields checked; the wire writer's field numbers
// against that pool; server-side RPC merged into the profile's RPC request schema.
#include <catch2/catch.hpp>

#include "support.hpp"

using namespace protobuf_test;

namespace {

tern_kv kv_int(const char* k, int64_t v) {
    tern_kv kv{};
    kv.key = tern::sdk::to_str(k);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = v;
    return kv;
}
tern_kv kv_double(const char* k, double v) {
    tern_kv kv = kv_int(k, 0);
    kv.value.type = TERN_VALUE_DOUBLE;
    kv.value.u.d = v;
    return kv;
}
tern_kv kv_bool(const char* k, bool v) {
    tern_kv kv = kv_int(k, 0);
    kv.value.type = TERN_VALUE_BOOL;
    kv.value.u.b = v ? 1 : 0;
    return kv;
}
tern_kv kv_text(const char* k, const char* v, tern_value_type t = TERN_VALUE_STR) {
    tern_kv kv = kv_int(k, 0);
    kv.value.type = t;
    kv.value.u.s = tern::sdk::to_str(v);
    return kv;
}

// "key=TYPE:value" of one TsKvProto.
std::string show_ts_kv(const gp::Message& ts_kv) {
    const gp::Message& kv = ts_kv.GetReflection()->GetMessage(ts_kv, field(ts_kv, "kv"));
    const gp::Reflection& r = *kv.GetReflection();
    const std::string type = r.GetEnum(kv, field(kv, "type"))->name();
    std::string value;
    if (type == "BOOLEAN_V") value = r.GetBool(kv, field(kv, "bool_v")) ? "true" : "false";
    else if (type == "LONG_V") value = std::to_string(r.GetInt64(kv, field(kv, "long_v")));
    else if (type == "DOUBLE_V") value = std::to_string(r.GetDouble(kv, field(kv, "double_v")));
    else if (type == "STRING_V") value = r.GetString(kv, field(kv, "string_v"));
    else value = r.GetString(kv, field(kv, "json_v"));
    const int64_t ts = ts_kv.GetReflection()->GetInt64(ts_kv, field(ts_kv, "ts"));
    return r.GetString(kv, field(kv, "key")) + "=" + type + ":" + value + "@" + std::to_string(ts);
}

std::vector<std::string> list(const gp::Message& m, const char* name) {
    std::vector<std::string> out;
    const gp::Reflection& r = *m.GetReflection();
    for (int i = 0; i < r.FieldSize(m, field(m, name)); ++i)
        out.push_back(show_ts_kv(r.GetRepeatedMessage(m, field(m, name), i)));
    return out;
}

}  // namespace

TEST_CASE("encode_attribute_update: AttributeUpdateNotificationMsg with each value kind", "[encode]") {
    adaptor a(options{});
    const tern_kv updated[] = {kv_int("n", -7), kv_double("d", 1.5), kv_bool("b", true), kv_bool("off", false),
                               kv_text("s", "text"), kv_text("j", R"({"x":1})", TERN_VALUE_JSON)};
    const tern_str deleted[] = {tern::sdk::to_str("gone")};
    received r;
    tern_error err{};
    REQUIRE(a.encode_attribute_update(nullptr, updated, 6, deleted, 1, &received::on_bytes, &r, &err) == TERN_OK);
    auto m = parse_fixed("transport.AttributeUpdateNotificationMsg", r.bytes);
    CHECK(list(*m, "sharedUpdated") == std::vector<std::string>{
                                           "n=LONG_V:-7@0", "d=DOUBLE_V:1.500000@0", "b=BOOLEAN_V:true@0",
                                           "off=BOOLEAN_V:false@0", "s=STRING_V:text@0", R"(j=JSON_V:{"x":1}@0)"});
    REQUIRE(m->GetReflection()->FieldSize(*m, field(*m, "sharedDeleted")) == 1);
    CHECK(m->GetReflection()->GetRepeatedString(*m, field(*m, "sharedDeleted"), 0) == "gone");
    // byte for byte what protobuf's own serialiser writes for the same message
    CHECK(m->SerializeAsString() == r.bytes);

    received empty;
    REQUIRE(a.encode_attribute_update(nullptr, nullptr, 0, nullptr, 0, &received::on_bytes, &empty, &err) == TERN_OK);
    CHECK(empty.calls == 1);
    CHECK(empty.bytes.empty());
}

TEST_CASE("encode_attributes: GetAttributeResponseMsg with client and shared lists", "[encode]") {
    adaptor a(options{});
    const tern_kv client[] = {kv_text("fw", "1.0")};
    const tern_kv shared[] = {kv_int("interval", 30), kv_double("zero", 0.0)};
    received r;
    tern_error err{};
    REQUIRE(a.encode_attributes(nullptr, client, 1, shared, 2, &received::on_bytes, &r, &err) == TERN_OK);
    auto m = parse_fixed("transport.GetAttributeResponseMsg", r.bytes);
    CHECK(list(*m, "clientAttributeList") == std::vector<std::string>{"fw=STRING_V:1.0@0"});
    CHECK(list(*m, "sharedAttributeList") ==
          std::vector<std::string>{"interval=LONG_V:30@0", "zero=DOUBLE_V:0.000000@0"});
    CHECK(m->GetReflection()->GetInt32(*m, field(*m, "requestId")) == 0);
    CHECK(m->SerializeAsString() == r.bytes);
}

TEST_CASE("encode_rpc_response: ToServerRpcResponseMsg with the reply or the error", "[encode]") {
    adaptor a(options{});
    received r;
    tern_error err{};
    REQUIRE(a.encode_rpc_response(nullptr, tern::sdk::to_str(R"({"time":1})"), {}, &received::on_bytes, &r, &err) ==
            TERN_OK);
    auto m = parse_fixed("transport.ToServerRpcResponseMsg", r.bytes);
    CHECK(m->GetReflection()->GetString(*m, field(*m, "payload")) == R"({"time":1})");
    CHECK(m->GetReflection()->GetString(*m, field(*m, "error")).empty());

    received e;
    REQUIRE(a.encode_rpc_response(nullptr, {}, tern::sdk::to_str("timeout"), &received::on_bytes, &e, &err) == TERN_OK);
    auto me = parse_fixed("transport.ToServerRpcResponseMsg", e.bytes);
    CHECK(me->GetReflection()->GetString(*me, field(*me, "error")) == "timeout");
}

TEST_CASE("encode_provision_response: ProvisionDeviceResponseMsg for each outcome", "[encode][provision]") {
    adaptor a(options{});
    tern_error err{};
    auto encode = [&](tern_provision_result res) {
        res.struct_size = sizeof res;
        received r;
        REQUIRE(a.encode_provision_response(nullptr, &res, &received::on_bytes, &r, &err) == TERN_OK);
        return parse_fixed("transport.ProvisionDeviceResponseMsg", r.bytes);
    };
    tern_provision_result ok{};
    ok.status = TERN_PROVISION_SUCCESS;
    ok.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
    ok.credentials_value = tern::sdk::to_str("tok123");
    auto m = encode(ok);
    CHECK(m->GetReflection()->GetEnum(*m, field(*m, "status"))->name() == "SUCCESS");
    CHECK(m->GetReflection()->GetEnum(*m, field(*m, "credentialsType"))->name() == "ACCESS_TOKEN");
    CHECK(m->GetReflection()->GetString(*m, field(*m, "credentialsValue")) == "tok123");

    tern_provision_result basic{};
    basic.status = TERN_PROVISION_SUCCESS;
    basic.credentials_type = TERN_CREDENTIAL_MQTT_BASIC;
    basic.client_id = tern::sdk::to_str("c");
    basic.password = tern::sdk::to_str("p\"w");
    m = encode(basic);
    CHECK(m->GetReflection()->GetEnum(*m, field(*m, "credentialsType"))->name() == "MQTT_BASIC");
    CHECK(m->GetReflection()->GetString(*m, field(*m, "credentialsValue")) ==
          R"({"clientId":"c","userName":null,"password":"p\"w"})");

    tern_provision_result missing{};
    missing.status = TERN_PROVISION_NOT_FOUND;
    m = encode(missing);
    CHECK(m->GetReflection()->GetEnum(*m, field(*m, "status"))->name() == "NOT_FOUND");
    tern_provision_result failed{};
    failed.status = TERN_PROVISION_FAILURE;
    m = encode(failed);
    CHECK(m->GetReflection()->GetEnum(*m, field(*m, "status"))->name() == "FAILURE");
}

TEST_CASE("encode_rpc_request: merged into the profile's RPC request root, unknown fields ignored", "[encode]") {
    adaptor a(options{});
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.id = 17;
    rpc.method = tern::sdk::to_str("setMode");
    rpc.params = tern::sdk::to_str(R"("eco")");
    tern_error err{};

    profile defaults(20, 1);
    received r;
    REQUIRE(a.encode_rpc_request(&defaults.ctx, &rpc, &received::on_bytes, &r, &err) == TERN_OK);
    builder d(schema_kind::rpc_request, "");
    REQUIRE(d.m().ParseFromString(r.bytes));
    CHECK(d.m().GetReflection()->GetString(d.m(), field(d.m(), "method")) == "setMode");
    CHECK(d.m().GetReflection()->GetInt32(d.m(), field(d.m(), "requestId")) == 17);
    CHECK(d.m().GetReflection()->GetString(d.m(), field(d.m(), "params")) == "eco");

    const std::string custom = R"(syntax = "proto3";
message Params { int32 level = 1; }
message Cmd { string method = 1; int64 requestId = 2; Params params = 3; }
)";
    profile p(21, 1, {{"rpc_request_schema", custom}});
    rpc.params = tern::sdk::to_str(R"({"level":3,"extra":true})");
    received c;
    REQUIRE(a.encode_rpc_request(&p.ctx, &rpc, &received::on_bytes, &c, &err) == TERN_OK);
    builder cm(schema_kind::rpc_request, custom);
    REQUIRE(cm.m().ParseFromString(c.bytes));
    const gp::Message& params = cm.m().GetReflection()->GetMessage(cm.m(), field(cm.m(), "params"));
    CHECK(params.GetReflection()->GetInt32(params, field(params, "level")) == 3);

    // object params cannot become the default schema's string field
    received bad;
    CHECK(a.encode_rpc_request(&defaults.ctx, &rpc, &received::on_bytes, &bad, &err) == TERN_INVALID_ARGUMENT);
    CHECK(error_of(err).rfind("the RPC does not convert to rpc.RpcRequestMsg", 0) == 0);
    CHECK(bad.calls == 0);
}

TEST_CASE("encode_rpc_request: numbers and booleans fill string fields as their text, as protobuf-java does", "[encode]") {
    adaptor a(options{});
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.id = 17;
    rpc.method = tern::sdk::to_str("set");
    tern_error err{};
    auto params_of = [&](const char* params) {
        profile defaults(30, 1);
        rpc.params = tern::sdk::to_str(params);
        received r;
        REQUIRE(a.encode_rpc_request(&defaults.ctx, &rpc, &received::on_bytes, &r, &err) == TERN_OK);
        builder d(schema_kind::rpc_request, "");
        REQUIRE(d.m().ParseFromString(r.bytes));
        return d.m().GetReflection()->GetString(d.m(), field(d.m(), "params"));
    };
    CHECK(params_of("42") == "42");
    CHECK(params_of("-1.50") == "-1.50");  // the text as written
    CHECK(params_of("true") == "true");
    CHECK(params_of("null").empty());

    const std::string custom = R"(syntax = "proto3";
message Params {
  string label = 1;
  bool on = 2;
  repeated string tags = 3;
  map<string, string> extra = 4;
  int32 level = 5;
}
message Cmd { string method = 1; string requestId = 2; Params params = 3; }
)";
    profile p(31, 1, {{"rpc_request_schema", custom}});
    rpc.params = tern::sdk::to_str(R"({"label":7,"on":"true","tags":[1,"b",false],"extra":{"k":2.5},"level":"3"})");
    received c;
    REQUIRE(a.encode_rpc_request(&p.ctx, &rpc, &received::on_bytes, &c, &err) == TERN_OK);
    builder cm(schema_kind::rpc_request, custom);
    REQUIRE(cm.m().ParseFromString(c.bytes));
    CHECK(cm.m().GetReflection()->GetString(cm.m(), field(cm.m(), "requestId")) == "17");
    const gp::Message& q = cm.m().GetReflection()->GetMessage(cm.m(), field(cm.m(), "params"));
    const gp::Reflection& r = *q.GetReflection();
    CHECK(r.GetString(q, field(q, "label")) == "7");
    CHECK(r.GetBool(q, field(q, "on")));
    REQUIRE(r.FieldSize(q, field(q, "tags")) == 3);
    CHECK(r.GetRepeatedString(q, field(q, "tags"), 0) == "1");
    CHECK(r.GetRepeatedString(q, field(q, "tags"), 2) == "false");
    CHECK(r.GetInt32(q, field(q, "level")) == 3);
    CHECK(q.ShortDebugString().find(R"(value: "2.5")") != std::string::npos);
}

TEST_CASE("fixed messages: the wire writer's field numbers are those of the compiled text", "[encode]") {
    const auto& f = fixed_messages::get();
    const auto* kv = f.find("transport.KeyValueProto");
    CHECK(kv->FindFieldByName("key")->number() == 1);
    CHECK(kv->FindFieldByName("type")->number() == 2);
    CHECK(kv->FindFieldByName("bool_v")->number() == 3);
    CHECK(kv->FindFieldByName("long_v")->number() == 4);
    CHECK(kv->FindFieldByName("double_v")->number() == 5);
    CHECK(kv->FindFieldByName("string_v")->number() == 6);
    CHECK(kv->FindFieldByName("json_v")->number() == 7);
    const auto* type = f.pool().FindEnumTypeByName("transport.KeyValueType");
    CHECK(type->FindValueByName("JSON_V")->number() == 4);
    CHECK(f.find("transport.TsKvProto")->FindFieldByName("kv")->number() == 2);
    CHECK(f.find("transport.AttributeUpdateNotificationMsg")->FindFieldByName("sharedDeleted")->number() == 2);
    CHECK(f.find("transport.GetAttributeResponseMsg")->FindFieldByName("sharedAttributeList")->number() == 3);
    CHECK(f.find("transport.ToServerRpcResponseMsg")->FindFieldByName("error")->number() == 3);
    CHECK(f.find("transport.ProvisionDeviceResponseMsg")->FindFieldByName("credentialsValue")->number() == 3);
    CHECK(f.pool().FindEnumTypeByName("transport.ResponseStatus")->FindValueByName("NOT_FOUND")->number() ==
          TERN_PROVISION_NOT_FOUND);
}

// Decoders: telemetry shapes (§2.1), attributes (§2.3), RPC reply and call (§4), claim and
// provisioning requests (§5).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support.hpp"

using namespace tern::json;
using namespace tern::json::test;

namespace {

constexpr int64_t now = 1700000000000;

std::vector<kv_copy> kvs(std::initializer_list<kv_copy> l) { return l; }

}  // namespace

TEST_CASE("telemetry: an object is one record at the server's time", "[telemetry]") {
    adaptor a(options{});
    const auto r = telemetry(a, R"({"temperature":42,"on":true,"mode":"auto","cfg":{"a":[1]}})", now);
    REQUIRE(r.ok());
    CHECK(r.sink_calls == 1);
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].ts == now);
    CHECK(r.records[0].values == kvs({{"temperature", "int:42"},
                                      {"on", "bool:true"},
                                      {"mode", "string:auto"},
                                      {"cfg", R"(json:{"a":[1]})"}}));
}

TEST_CASE("telemetry: ts and values together carry the device's time", "[telemetry]") {
    adaptor a(options{});
    auto r = telemetry(a, R"({"ts":1451649600512,"values":{"a":1,"b":"x"}})", now);
    REQUIRE(r.ok());
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].ts == 1451649600512);
    CHECK(r.records[0].values == kvs({{"a", "int:1"}, {"b", "string:x"}}));

    // a numeric string, other keys ignored, getAsLong's conversions
    r = telemetry(a, R"({"ts":"1451649600512","values":{"a":1},"other":5})", now);
    REQUIRE(r.ok());
    CHECK(r.records[0].ts == 1451649600512);
    CHECK(r.records[0].values == kvs({{"a", "int:1"}}));
    CHECK(telemetry(a, R"({"ts":1.5e12,"values":{}})").records.at(0).ts == 1500000000000);
    CHECK(telemetry(a, R"({"ts":1451649600512.9,"values":{}})").records.at(0).ts == 1451649600512);
    CHECK(telemetry(a, R"({"ts":[7],"values":{}})").records.at(0).ts == 7);

    // only one of the two keys: an ordinary object, ts is a telemetry key
    r = telemetry(a, R"({"ts":1451649600512,"a":1})", now);
    REQUIRE(r.ok());
    CHECK(r.records[0].ts == now);
    CHECK(r.records[0].values == kvs({{"ts", "int:1451649600512"}, {"a", "int:1"}}));
    r = telemetry(a, R"({"values":{"a":1}})", now);
    REQUIRE(r.ok());
    CHECK(r.records[0].values == kvs({{"values", R"(json:{"a":1})"}}));
}

TEST_CASE("telemetry: bad ts or values are refused", "[telemetry]") {
    adaptor a(options{});
    const char* bad_values[] = {R"({"ts":1,"values":5})", R"({"ts":1,"values":[{"a":1}]})",
                                R"({"ts":1,"values":null})", R"({"ts":1,"values":"x"})"};
    for (const char* body : bad_values) {
        INFO(body);
        const auto r = telemetry(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == "telemetry 'values' must be a JSON object");
        CHECK(r.sink_calls == 0);
    }
    const char* bad_ts[] = {R"({"ts":"abc","values":{}})", R"({"ts":"1.5e12","values":{}})",
                            R"({"ts":true,"values":{}})", R"({"ts":null,"values":{}})",
                            R"({"ts":{},"values":{}})", R"({"ts":[1,2],"values":{}})"};
    for (const char* body : bad_ts) {
        INFO(body);
        const auto r = telemetry(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == "telemetry 'ts' must be a number of milliseconds since the epoch");
    }
}

TEST_CASE("telemetry: an array holds one record per object", "[telemetry]") {
    adaptor a(options{});
    auto r = telemetry(a, R"([{"a":1},{"ts":5,"values":{"b":2.5}},{}])", now);
    REQUIRE(r.ok());
    CHECK(r.sink_calls == 1);
    REQUIRE(r.records.size() == 3);
    CHECK(r.records[0].ts == now);
    CHECK(r.records[0].values == kvs({{"a", "int:1"}}));
    CHECK(r.records[1].ts == 5);
    CHECK(r.records[1].values == kvs({{"b", "double:2.5"}}));
    CHECK(r.records[2].ts == now);
    CHECK(r.records[2].values.empty());

    r = telemetry(a, R"([{"a":1},5])");
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error == "telemetry array element 1 is not a JSON object");
    r = telemetry(a, R"([null])");
    CHECK(r.error == "telemetry array element 0 is not a JSON object");
}

TEST_CASE("telemetry: [] is no record and {} one empty record", "[telemetry]") {
    adaptor a(options{});
    auto r = telemetry(a, "[]");
    REQUIRE(r.ok());
    CHECK(r.sink_calls == 1);
    CHECK(r.records.empty());
    r = telemetry(a, "{}", now);
    REQUIRE(r.ok());
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].ts == now);
    CHECK(r.records[0].values.empty());
    // all values null: still a record, without values
    r = telemetry(a, R"({"a":null})", now);
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].values.empty());
}

TEST_CASE("telemetry: other shapes are refused", "[telemetry]") {
    adaptor a(options{});
    const std::pair<const char*, const char*> cases[] = {
        {"", "telemetry must be a JSON object or array (the body is empty)"},
        {"  \n", "telemetry must be a JSON object or array (the body is empty)"},
        {"// nothing", "telemetry must be a JSON object or array (the body is empty)"},
        {"42", "telemetry must be a JSON object or array"},
        {"\"text\"", "telemetry must be a JSON object or array"},
        {"null", "telemetry must be a JSON object or array"},
        {"true", "telemetry must be a JSON object or array"},
        {"unquoted", "telemetry must be a JSON object or array"},
    };
    for (const auto& [body, why] : cases) {
        INFO(body);
        const auto r = telemetry(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == why);
        CHECK(r.sink_calls == 0);
    }
    const auto r = telemetry(a, "{\"a\":");
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error.rfind("invalid JSON: ", 0) == 0);
}

TEST_CASE("telemetry: null values are dropped, repeated keys keep the last value", "[telemetry]") {
    adaptor a(options{});
    auto r = telemetry(a, R"({"a":null,"b":1,"c":2,"b":3,"c":null})", now);
    REQUIRE(r.ok());
    CHECK(r.records.at(0).values == kvs({{"b", "int:3"}}));
    r = telemetry(a, R"({"ts":1,"values":{"x":1},"ts":2})", now);
    CHECK(r.records.at(0).ts == 2);
}

TEST_CASE("telemetry: lenient firmware payloads", "[telemetry][lenient]") {
    adaptor a(options{});
    const auto r = telemetry(a, "{temperature:25, mode:auto, level='3.5'; # sensor 1\n ok=>TRUE}", now);
    REQUIRE(r.ok());
    CHECK(r.records.at(0).values ==
          kvs({{"temperature", "int:25"}, {"mode", "string:auto"}, {"level", "double:3.5"}, {"ok", "bool:true"}}));
    options strict;
    strict.lenient = false;
    adaptor b(strict);
    CHECK(telemetry(b, "{temperature:25}").status == TERN_INVALID_ARGUMENT);
}

TEST_CASE("telemetry: value errors name the key", "[telemetry]") {
    options o;
    o.type_cast_enabled = false;
    o.max_string_value_length = 3;
    adaptor a(o);
    auto r = telemetry(a, R"({"ok":1,"big":12345678901234567890})");
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error.rfind("value of 'big' is out of range (12345678901234567890)", 0) == 0);
    r = telemetry(a, R"([{"ok":1},{"ts":1,"values":{"s":"long"}}])");
    CHECK(r.error == "value of 's' is 4 characters long, more than max_string_value_length 3");
    CHECK(r.sink_calls == 0);
}

TEST_CASE("attributes: an object of typed values", "[attributes]") {
    adaptor a(options{});
    auto r = attributes(a, R"({"fw":"1.0","count":"10","ts":5,"cfg":[1,2],"gone":null})");
    REQUIRE(r.ok());
    CHECK(r.sink_calls == 1);
    CHECK(r.values == kvs({{"fw", "double:1.0"}, {"count", "int:10"}, {"ts", "int:5"}, {"cfg", "json:[1,2]"}}));
    r = attributes(a, "{}");
    REQUIRE(r.ok());
    CHECK(r.values.empty());
    for (const char* body : {"[{\"a\":1}]", "42", "", "null", "\"x\""}) {
        INFO(body);
        r = attributes(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == "attributes must be a JSON object");
    }
}

TEST_CASE("RPC reply: a JSON object, re-serialised compactly", "[rpc]") {
    adaptor a(options{});
    auto r = rpc_reply(a, R"({ "result" : "ok", "value" : 1.50 })");
    REQUIRE(r.ok());
    CHECK(r.text == R"({"result":"ok","value":1.50})");
    r = rpc_reply(a, "{result:ok}");
    CHECK(r.text == R"({"result":"ok"})");
    for (const char* body : {"[1]", "42", "\"ok\"", "", "null"}) {
        INFO(body);
        r = rpc_reply(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == "the RPC reply must be a JSON object");
        CHECK(r.sink_calls == 0);
    }
}

TEST_CASE("RPC call: method required, params any JSON or null", "[rpc]") {
    adaptor a(options{});
    auto r = rpc_call(a, R"({"method":"getTime","params":{"tz":"UTC", "n":[1, 2]}})");
    REQUIRE(r.ok());
    CHECK(r.method == "getTime");
    CHECK(r.params == R"({"tz":"UTC","n":[1,2]})");
    r = rpc_call(a, R"({"method":"getTime"})");
    REQUIRE(r.ok());
    CHECK(r.params == "null");
    CHECK(rpc_call(a, R"({"method":"m","params":null})").params == "null");
    CHECK(rpc_call(a, R"({"method":"m","params":"x"})").params == R"("x")");
    CHECK(rpc_call(a, R"({"method":"m","params":5})").params == "5");
    CHECK(rpc_call(a, "{method:reboot, params:{delay:5}}").params == R"({"delay":5})");
    // getAsString: numbers and booleans as their text
    CHECK(rpc_call(a, R"({"method":42})").method == "42");

    r = rpc_call(a, R"({"params":{}})");
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error == "the RPC request has no 'method'");
    for (const char* body : {R"({"method":null})", R"({"method":{}})", R"({"method":["a","b"]})"}) {
        INFO(body);
        r = rpc_call(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == "the RPC 'method' must be a string");
    }
    r = rpc_call(a, R"(["getTime"])");
    CHECK(r.error == "the RPC request must be a JSON object");
    CHECK(r.sink_calls == 0);
}

TEST_CASE("claim: an optional object with secretKey and durationMs", "[claim]") {
    adaptor a(options{});
    auto r = claim(a, "");
    REQUIRE(r.ok());
    CHECK(r.sink_calls == 1);
    CHECK(r.secret.empty());
    CHECK(r.duration == 0);
    r = claim(a, R"({"secretKey":"value","durationMs":60000})");
    REQUIRE(r.ok());
    CHECK(r.secret == "value");
    CHECK(r.duration == 60000);
    r = claim(a, "{}");
    REQUIRE(r.ok());
    CHECK(r.secret.empty());
    CHECK(r.duration == 0);
    CHECK(claim(a, R"({"durationMs":"60000"})").duration == 60000);
    CHECK(claim(a, R"({"durationMs":6e4})").duration == 60000);
    CHECK(claim(a, R"({"secretKey":12})").secret == "12");

    CHECK(claim(a, "  ").error == "the claim body must be a JSON object");
    CHECK(claim(a, "[1]").error == "the claim body must be a JSON object");
    CHECK(claim(a, R"({"secretKey":null})").error == "claim 'secretKey' must be a string");
    CHECK(claim(a, R"({"durationMs":"soon"})").error == "claim 'durationMs' must be a number of milliseconds");
    CHECK(claim(a, "{").error.rfind("invalid JSON: ", 0) == 0);
}

TEST_CASE("provision: the request fields of §5.2", "[provision]") {
    adaptor a(options{});
    auto r = provision(a, R"({"deviceName":"dev-1","provisionDeviceKey":"k","provisionDeviceSecret":"s"})");
    REQUIRE(r.ok());
    CHECK(r.sink_calls == 1);
    CHECK(r.type == TERN_CREDENTIAL_ACCESS_TOKEN);
    CHECK(r.device_name == "dev-1");
    CHECK(r.key == "k");
    CHECK(r.secret == "s");
    CHECK(r.token.empty());
    CHECK(r.gateway == 0);

    r = provision(a, R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":"ACCESS_TOKEN",
                         "token":"tok","gateway":true})");
    REQUIRE(r.ok());
    CHECK(r.device_name.empty());
    CHECK(r.token == "tok");
    CHECK(r.gateway == 1);

    r = provision(a, R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":"MQTT_BASIC",
                         "clientId":"c","username":"u","password":"p"})");
    REQUIRE(r.ok());
    CHECK(r.type == TERN_CREDENTIAL_MQTT_BASIC);
    CHECK(r.client_id == "c");
    CHECK(r.username == "u");
    CHECK(r.password == "p");

    r = provision(a, R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":"X509_CERTIFICATE",
                         "hash":"MIIB...=="})");
    REQUIRE(r.ok());
    CHECK(r.type == TERN_CREDENTIAL_X509);
    CHECK(r.hash == "MIIB...==");

    r = provision(a, R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":"LWM2M_CREDENTIALS"})");
    REQUIRE(r.ok());
    CHECK(r.type == TERN_CREDENTIAL_LWM2M);

    // Boolean.parseBoolean: "true" in any case, nothing else
    CHECK(provision(a, R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","gateway":"TRUE"})").gateway == 1);
    CHECK(provision(a, R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","gateway":1})").gateway == 0);
    // present but empty is not missing: the core answers NOT_FOUND for it
    CHECK(provision(a, R"({"provisionDeviceKey":"","provisionDeviceSecret":""})").ok());
}

TEST_CASE("provision: what is refused", "[provision]") {
    adaptor a(options{});
    const std::pair<const char*, const char*> cases[] = {
        {R"({"provisionDeviceSecret":"s"})", "the provisioning request has no 'provisionDeviceKey'"},
        {R"({"provisionDeviceKey":"k"})", "the provisioning request has no 'provisionDeviceSecret'"},
        {R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":"PSK"})",
         "unknown provisioning credentialsType 'PSK'"},
        {R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":"access_token"})",
         "unknown provisioning credentialsType 'access_token'"},
        {R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":""})",
         "unknown provisioning credentialsType ''"},
        {R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","credentialsType":null})",
         "provisioning 'credentialsType' must be a string"},
        {R"({"provisionDeviceKey":null,"provisionDeviceSecret":"s"})", "provisioning 'provisionDeviceKey' must be a string"},
        {R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s","gateway":null})",
         "provisioning 'gateway' must be a boolean"},
        {"[]", "the provisioning request must be a JSON object"},
        {"", "the provisioning request must be a JSON object"},
    };
    for (const auto& [body, why] : cases) {
        INFO(body);
        const auto r = provision(a, body);
        CHECK(r.status == TERN_INVALID_ARGUMENT);
        CHECK(r.error == why);
        CHECK(r.sink_calls == 0);
    }
    // protobuf bytes fail as JSON, so the device API can try protobuf next (§5.2)
    const char proto[] = "\x0a\x05" "dev-1\x1a\x06\x0a\x01k\x12\x01s";
    CHECK(provision(a, std::string_view(proto, sizeof proto - 1)).status == TERN_INVALID_ARGUMENT);
}

TEST_CASE("a sink may call back into the adaptor on the same thread", "[reentrancy]") {
    adaptor a(options{});
    struct state {
        adaptor* a;
        std::string outer_key;
        std::string inner;
    } st{&a, {}, {}};
    tern_error err{};
    const auto s = a.decode_attributes(
        nullptr, bytes(R"({"outer":"value"})"),
        [](void* ctx, const tern_kv* kvs, uint32_t) {
            auto& st = *static_cast<state*>(ctx);
            st.inner = rpc_reply(*st.a, R"({"inner":"other"})").text;
            st.outer_key = text(kvs[0].key) + "=" + text(kvs[0].value.u.s);  // still intact
        },
        &st, &err);
    REQUIRE(s == TERN_OK);
    CHECK(st.inner == R"({"inner":"other"})");
    CHECK(st.outer_key == "outer=value");
}

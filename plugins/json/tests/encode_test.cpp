// Encoders: attribute notifications (§3.1, §3.2), the GET attributes answer (§2.4), RPC
// notifications and answers (§3.2, §4.2), provisioning answers (§5.2). Exact bytes.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "support.hpp"

using namespace tern::json;
using namespace tern::json::test;
using tern::payload_v1;

namespace {

std::string update(payload_v1& p, const std::vector<tern_kv>& kvs, const std::vector<tern_str>& deleted = {}) {
    text_result r;
    tern_error err{};
    r.status = p.encode_attribute_update(nullptr, kvs.data(), static_cast<uint32_t>(kvs.size()), deleted.data(),
                                         static_cast<uint32_t>(deleted.size()), text_sink, &r, &err);
    REQUIRE(r.status == TERN_OK);
    CHECK(r.sink_calls == 1);
    return r.text;
}

std::string get_answer(payload_v1& p, const std::vector<tern_kv>& client, const std::vector<tern_kv>& shared) {
    text_result r;
    tern_error err{};
    r.status = p.encode_attributes(nullptr, client.data(), static_cast<uint32_t>(client.size()), shared.data(),
                                   static_cast<uint32_t>(shared.size()), text_sink, &r, &err);
    REQUIRE(r.status == TERN_OK);
    return r.text;
}

std::string rpc_request(payload_v1& p, int64_t id, std::string_view method, std::string_view params) {
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.id = id;
    rpc.method = str(method);
    rpc.params = str(params);
    text_result r;
    tern_error err{};
    r.status = p.encode_rpc_request(nullptr, &rpc, text_sink, &r, &err);
    REQUIRE(r.status == TERN_OK);
    return r.text;
}

std::string rpc_response(payload_v1& p, std::string_view reply, std::string_view error) {
    text_result r;
    tern_error err{};
    r.status = p.encode_rpc_response(nullptr, str(reply), str(error), text_sink, &r, &err);
    REQUIRE(r.status == TERN_OK);
    return r.text;
}

text_result provision_answer(payload_v1& p, tern_provision_status status, tern_credential_kind type,
                             std::string_view value = {}, std::string_view client_id = {},
                             std::string_view username = {}, std::string_view password = {}) {
    tern_provision_result res{};
    res.struct_size = sizeof res;
    res.status = status;
    res.credentials_type = type;
    res.credentials_value = str(value);
    res.client_id = str(client_id);
    res.username = str(username);
    res.password = str(password);
    text_result r;
    tern_error err{};
    r.status = p.encode_provision_response(nullptr, &res, text_sink, &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

}  // namespace

TEST_CASE("content format and name", "[encode]") {
    adaptor a(options{});
    CHECK(a.content_format() == 50);
    CHECK(text(a.name()) == "json");
}

TEST_CASE("attribute notifications: changed keys flat, deletions under \"deleted\"", "[encode]") {
    adaptor a(options{});
    CHECK(update(a, {kv_str("sharedStr", "v"), kv_int("x", 1)}) == R"({"sharedStr":"v","x":1})");
    CHECK(update(a, {}, {str("sharedJson")}) == R"({"deleted":["sharedJson"]})");
    CHECK(update(a, {kv_bool("on", true)}, {str("a"), str("b")}) == R"({"on":true,"deleted":["a","b"]})");
    // the initial Observe response: every shared attribute, {} when none
    CHECK(update(a, {}) == "{}");
}

TEST_CASE("values render with their type, doubles as Java prints them", "[encode]") {
    adaptor a(options{});
    CHECK(update(a, {kv_double("d", 42.0), kv_double("e", 0.1), kv_double("f", 1e-5), kv_double("g", 1e7),
                     kv_double("h", -0.0), kv_double("i", 23.5)}) ==
          R"({"d":42.0,"e":0.1,"f":1.0E-5,"g":1.0E7,"h":-0.0,"i":23.5})");
    CHECK(update(a, {kv_int("min", INT64_MIN), kv_bool("no", false)}) == R"({"min":-9223372036854775808,"no":false})");
    tern_kv null_kv{};
    null_kv.key = str("n");
    tern_kv blob{};
    blob.key = str("b");
    blob.value.type = TERN_VALUE_BYTES;
    const uint8_t raw[] = {0xDE, 0xAD, 0xBE, 0xEF};
    blob.value.u.bytes = tern_bytes{raw, sizeof raw};
    CHECK(update(a, {null_kv, blob}) == R"({"n":null,"b":"3q2+7w=="})");
}

TEST_CASE("JSON values are embedded as compact JSON", "[encode]") {
    adaptor a(options{});
    CHECK(update(a, {kv_json("j", R"({ "a" : [1, 2.50], "b" : {} })")}) == R"({"j":{"a":[1,2.50],"b":{}}})");
    CHECK(update(a, {kv_json("j", "[]")}) == R"({"j":[]})");
    // what does not parse is still delivered, as a string
    CHECK(update(a, {kv_json("j", "{broken")}) == R"({"j":"{broken"})");
    CHECK(update(a, {kv_json("j", "")}) == R"({"j":null})");
}

TEST_CASE("strings are escaped as Gson escapes them", "[encode]") {
    adaptor a(options{});
    CHECK(update(a, {kv_str("k\"ey", "a\"b\\c\n\t\x01/\xE2\x80\xA8<>&='")}) ==
          R"({"k\"ey":"a\"b\\c\n\t\u0001/\u2028<>&='"})");
    // text that is not UTF-8 is repaired rather than passed on
    CHECK(update(a, {kv_str("s", "x\xFFy")}) == "{\"s\":\"x\xEF\xBF\xBDy\"}");
}

TEST_CASE("a repeated key keeps its first place and its last value", "[encode]") {
    adaptor a(options{});
    CHECK(update(a, {kv_int("a", 1), kv_int("b", 2), kv_int("a", 3)}) == R"({"a":3,"b":2})");
    // an attribute named "deleted" gives way to the deletions, as JsonObject.add does
    CHECK(update(a, {kv_int("deleted", 1), kv_int("x", 2)}, {str("y")}) == R"({"deleted":["y"],"x":2})");
}

TEST_CASE("GET attributes answer: client and shared sections, empty ones omitted", "[encode]") {
    adaptor a(options{});
    CHECK(get_answer(a, {kv_int("a", 1)}, {kv_str("b", "x")}) == R"({"client":{"a":1},"shared":{"b":"x"}})");
    CHECK(get_answer(a, {kv_int("a", 1)}, {}) == R"({"client":{"a":1}})");
    CHECK(get_answer(a, {}, {kv_json("c", "{\"z\":true}")}) == R"({"shared":{"c":{"z":true}}})");
    CHECK(get_answer(a, {}, {}) == "{}");
}

TEST_CASE("RPC notification: id, method and params as JSON", "[encode][rpc]") {
    adaptor a(options{});
    CHECK(rpc_request(a, 1, "setGpio", R"({"pin": 1, "value": true})") ==
          R"({"id":1,"method":"setGpio","params":{"pin":1,"value":true}})");
    CHECK(rpc_request(a, 42, "reboot", "") == R"({"id":42,"method":"reboot","params":null})");
    CHECK(rpc_request(a, 2, "m", "42") == R"({"id":2,"method":"m","params":42})");
    CHECK(rpc_request(a, 3, "m", R"("text")") == R"({"id":3,"method":"m","params":"text"})");
    // parsed leniently as ThingsBoard does; what still fails to parse goes as a string
    CHECK(rpc_request(a, 4, "m", "abc") == R"({"id":4,"method":"m","params":"abc"})");
    CHECK(rpc_request(a, 5, "m", "{not json") == R"({"id":5,"method":"m","params":"{not json"})");
    CHECK(rpc_request(a, 6, "m\"q", "{a:1}") == R"({"id":6,"method":"m\"q","params":{"a":1}})");
}

TEST_CASE("RPC notification from an older, shorter tern_rpc_request", "[encode][rpc]") {
    adaptor a(options{});
    tern_rpc_request rpc{};
    rpc.struct_size = offsetof(tern_rpc_request, params);  // a record that ends before params
    rpc.id = 9;
    rpc.method = str("m");
    rpc.params = str("{\"ignored\":1}");
    text_result r;
    tern_error err{};
    REQUIRE(a.encode_rpc_request(nullptr, &rpc, text_sink, &r, &err) == TERN_OK);
    CHECK(r.text == R"({"id":9,"method":"m","params":null})");
}

TEST_CASE("client RPC answer: the reply as JSON, or the error", "[encode][rpc]") {
    adaptor a(options{});
    CHECK(rpc_response(a, R"({"time": 1700000000})", "") == R"({"time":1700000000})");
    CHECK(rpc_response(a, "42", "") == "42");
    CHECK(rpc_response(a, R"("ok")", "") == R"("ok")");
    CHECK(rpc_response(a, "[1, 2]", "") == "[1,2]");
    CHECK(rpc_response(a, "", "") == "null");
    CHECK(rpc_response(a, "{unterminated", "") == R"("{unterminated")");
    CHECK(rpc_response(a, R"({"ignored":1})", "timeout") == R"({"error":"timeout"})");
    CHECK(rpc_response(a, "", "no \"rule\"") == R"({"error":"no \"rule\""})");
}

TEST_CASE("provisioning answers are ThingsBoard's exact texts", "[encode][provision]") {
    adaptor a(options{});
    CHECK(provision_answer(a, TERN_PROVISION_SUCCESS, TERN_CREDENTIAL_ACCESS_TOKEN, "tok123").text ==
          R"({"credentialsValue":"tok123","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})");
    CHECK(provision_answer(a, TERN_PROVISION_SUCCESS, TERN_CREDENTIAL_X509, "-----BEGIN CERT-----\nMIIB").text ==
          R"({"credentialsValue":"-----BEGIN CERT-----\nMIIB","credentialsType":"X509_CERTIFICATE","status":"SUCCESS"})");
    CHECK(provision_answer(a, TERN_PROVISION_SUCCESS, TERN_CREDENTIAL_MQTT_BASIC, {}, "c", "u", "p").text ==
          R"({"credentialsValue":{"clientId":"c","userName":"u","password":"p"},"credentialsType":"MQTT_BASIC","status":"SUCCESS"})");
    CHECK(provision_answer(a, TERN_PROVISION_SUCCESS, TERN_CREDENTIAL_MQTT_BASIC, {}, {}, "u").text ==
          R"({"credentialsValue":{"clientId":null,"userName":"u","password":null},"credentialsType":"MQTT_BASIC","status":"SUCCESS"})");
    CHECK(provision_answer(a, TERN_PROVISION_SUCCESS, TERN_CREDENTIAL_LWM2M).text ==
          R"({"credentialsType":"LWM2M_CREDENTIALS","status":"SUCCESS"})");
    CHECK(provision_answer(a, TERN_PROVISION_NOT_FOUND, TERN_CREDENTIAL_ACCESS_TOKEN).text ==
          R"({"errorMsg":"Provision data was not found!","status":"NOT_FOUND"})");
    CHECK(provision_answer(a, TERN_PROVISION_FAILURE, TERN_CREDENTIAL_ACCESS_TOKEN).text ==
          R"({"errorMsg":"Failed to provision device!","status":"FAILURE"})");

    auto r = provision_answer(a, TERN_PROVISION_SUCCESS, TERN_CREDENTIAL_PSK, "id");
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error == "credentials of kind 2 cannot be provisioned");
    r = provision_answer(a, TERN_PROVISION_UNKNOWN, TERN_CREDENTIAL_ACCESS_TOKEN);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.sink_calls == 0);
}

TEST_CASE("encoders refuse what they cannot write", "[encode]") {
    adaptor a(options{});
    tern_kv odd{};
    odd.key = str("k");
    odd.value.type = 99;
    text_result r;
    tern_error err{};
    CHECK(a.encode_attribute_update(nullptr, &odd, 1, nullptr, 0, text_sink, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(std::string(err.msg) == "value of unknown type 99");
    CHECK(r.sink_calls == 0);
    CHECK(a.encode_attribute_update(nullptr, nullptr, 1, nullptr, 0, text_sink, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(a.encode_rpc_request(nullptr, nullptr, text_sink, &r, &err) == TERN_INVALID_ARGUMENT);
    CHECK(a.encode_rpc_response(nullptr, str("1"), {}, nullptr, nullptr, &err) == TERN_INVALID_ARGUMENT);
}

// Profile schemas: ThingsBoard's defaults, the rules of docs/device-api.md §8 (each refusal
// with its line and column), and what a compiled schema holds.
#include <catch2/catch.hpp>

#include <string>

#include "fixed_messages.hpp"
#include "schema.hpp"

namespace {

using namespace tern::protobuf;

// The refusal of compiling text as a telemetry schema ("" when it compiles).
std::string refusal(std::string_view text, schema_limits lim = {}) {
    std::string err;
    auto s = compile_schema(schema_kind::telemetry, text, lim, err);
    return s ? std::string() : err;
}

}  // namespace

TEST_CASE("defaults: each kind's default schema is ThingsBoard's, compiled once", "[schema]") {
    const auto& t = default_schema(schema_kind::telemetry);
    REQUIRE(t);
    CHECK(t->root_name == "telemetry.SensorDataReading");
    REQUIRE(t->root_type->field_count() == 3);
    CHECK(t->root_type->FindFieldByName("temperature")->number() == 1);
    CHECK(t->root_type->FindFieldByName("temperature")->has_presence());
    const auto* inner = t->root_type->FindFieldByName("innerObject");
    REQUIRE(inner->message_type() != nullptr);
    CHECK(inner->message_type()->full_name() == "telemetry.SensorDataReading.InnerObject");
    CHECK(inner->message_type()->FindFieldByName("key4")->type() == google::protobuf::FieldDescriptor::TYPE_INT32);
    CHECK(default_schema(schema_kind::attributes)->root_name == "attributes.SensorConfiguration");
    CHECK(default_schema(schema_kind::rpc_request)->root_name == "rpc.RpcRequestMsg");
    CHECK(default_schema(schema_kind::rpc_response)->root_name == "rpc.RpcResponseMsg");
    CHECK(default_schema(schema_kind::rpc_request)->root_type->FindFieldByName("requestId")->number() == 2);

    std::string err;
    CHECK(compile_schema(schema_kind::telemetry, "", {}, err) == t);  // empty text: the shared one
    CHECK(&default_schema(schema_kind::telemetry) == &t);
}

TEST_CASE("schema: the last top-level message is the root, no package gives the kind's", "[schema]") {
    std::string err;
    auto s = compile_schema(schema_kind::attributes, R"(syntax = "proto3";
message First { int32 a = 1; }
enum Mode { OFF = 0; ON = 1; }
message Root {
  First first = 1;
  Mode mode = 2;
  repeated string tags = 3;
  map<string, int64> counts = 4;
  oneof choice { string s = 5; double d = 6; }
  message Nested { optional bool flag = 1; }
  Nested nested = 7;
}
)", {}, err);
    REQUIRE(s);
    CHECK(err.empty());
    CHECK(s->root_name == "attributes.Root");
    CHECK(s->root != nullptr);
    CHECK(s->root->GetDescriptor() == s->root_type);

    auto rpc = compile_schema(schema_kind::rpc_request, "syntax = \"proto3\"; message M { string method = 1; }", {}, err);
    REQUIRE(rpc);
    CHECK(rpc->root_name == "rpc_request.M");
}

TEST_CASE("schema: two schemas may declare the same names (each has its own pool)", "[schema]") {
    std::string err;
    const char* text = "syntax = \"proto3\"; package p; message M { int32 a = 1; }";
    auto a = compile_schema(schema_kind::telemetry, text, {}, err);
    auto b = compile_schema(schema_kind::telemetry, text, {}, err);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->root_type != b->root_type);
}

TEST_CASE("schema rules: each refusal names the kind, the line and the column", "[schema]") {
    CHECK(refusal("message M { int32 a = 1; }") ==
          "telemetry schema, line 1, column 1: the schema must start with syntax = \"proto3\";");
    CHECK(refusal("syntax = \"proto2\";\nmessage M { optional int32 a = 1; }") ==
          "telemetry schema, line 1, column 10: only proto3 is accepted, not \"proto2\"");
    CHECK(refusal("syntax = \"proto3\";\nimport \"other.proto\";\nmessage M {}") ==
          "telemetry schema, line 2, column 1: imports are not allowed");
    CHECK(refusal("syntax = \"proto3\";\noption java_package = \"x\";\nmessage M {}") ==
          "telemetry schema, line 2, column 1: options are not allowed");
    CHECK(refusal("syntax = \"proto3\";\n\nmessage M {\n  option deprecated = true;\n}") ==
          "telemetry schema, line 4, column 3: options are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  int32 a = 1 [deprecated = true];\n}") ==
          "telemetry schema, line 3, column 15: options are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  int32 a = 1 [default = 5];\n}") ==
          "telemetry schema, line 3, column 16: default values are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nenum E {\n  option allow_alias = true;\n  A = 0;\n}\nmessage M {}") ==
          "telemetry schema, line 3, column 3: options are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nenum E {\n  A = 0 [deprecated = true];\n}\nmessage M {}") ==
          "telemetry schema, line 3, column 9: options are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  oneof o {\n    option x = 1;\n    int32 a = 1;\n  }\n}") ==
          "telemetry schema, line 4, column 5: options are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  extensions 100 to 200;\n}") ==
          "telemetry schema, line 3, column 3: extensions are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {}\nextend M {\n  int32 x = 100;\n}") ==
          "telemetry schema, line 3, column 1: extend is not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  reserved 2, 3;\n}") ==
          "telemetry schema, line 3, column 3: reserved is not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  required int32 a = 1;\n}") ==
          "telemetry schema, line 3, column 3: required fields are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  repeated group G = 1 { int32 a = 2; }\n}") ==
          "telemetry schema, line 3, column 12: groups are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {}\nservice S {\n  rpc Get(M) returns (M);\n}") ==
          "telemetry schema, line 3, column 1: services are not allowed");
    CHECK(refusal("syntax = \"proto3\";\nenum E { A = 0; }\n") ==
          "telemetry schema, line 1, column 1: the schema declares no message (its last top-level message is the root)");
    CHECK(refusal("") .empty());  // empty: the default
    CHECK(refusal("   \n") == "telemetry schema, line 2, column 1: the schema is empty");
}

TEST_CASE("schema rules: the words are refused as statements only, not as names", "[schema]") {
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  string option = 1;\n  int32 group = 2;\n"
                  "  optional string reserved = 3;\n  repeated bool required = 4;\n}\n")
              .empty());
    CHECK(refusal("syntax = \"proto3\";\n// option x = 1; import \"y\"; [default = 2]\nmessage M { string s = 1; }\n")
              .empty());
}

TEST_CASE("schema rules: syntax and type errors from the parser and the pool keep their place", "[schema]") {
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  int32 a = ;\n}") ==
          "telemetry schema, line 3, column 13: Expected field number.");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  Unknown a = 1;\n}") ==
          "telemetry schema, line 3, column 3: \"Unknown\" is not defined.");
    CHECK(refusal("syntax = \"proto3\";\nmessage M {\n  int32 a = 1;\n  int32 b = 1;\n}").find("line 4") !=
          std::string::npos);
    CHECK(refusal("syntax = \"proto3\";\nmessage M { string s = 1; }\nmessage \"x").find("telemetry schema, line 3") == 0);
}

TEST_CASE("schema bounds: max_schema_size and max_depth", "[schema]") {
    const std::string text = "syntax = \"proto3\";\nmessage M { int32 a = 1; }\n";
    CHECK(refusal(text, {.max_schema_size = 10, .max_depth = 32}) ==
          "telemetry schema: the text is " + std::to_string(text.size()) + " bytes, more than max_schema_size (10)");
    const std::string deep =
        "syntax = \"proto3\";\nmessage A {\n message B {\n  message C { int32 x = 1; }\n }\n}\n";
    CHECK(refusal(deep, {.max_schema_size = 65536, .max_depth = 3}).empty());
    CHECK(refusal(deep, {.max_schema_size = 65536, .max_depth = 2}) ==
          "telemetry schema, line 4, column 13: declarations nest deeper than max_depth (2)");
}

TEST_CASE("fixed messages: ThingsBoard's transport and transportapi messages compile", "[fixed]") {
    const auto& f = fixed_messages::get();
    const auto* kv = f.find("transport.KeyValueProto");
    REQUIRE(kv != nullptr);
    CHECK(kv->FindFieldByName("json_v")->number() == 7);
    CHECK(f.find("transport.TsKvProto")->FindFieldByName("version")->has_presence());
    CHECK(f.find("transport.GetAttributeResponseMsg")->FindFieldByName("sharedStateMsg")->number() == 6);
    CHECK(f.rpc_request().GetDescriptor()->full_name() == "transportapi.RpcRequest");
    CHECK(f.claim().GetDescriptor()->FindFieldByName("durationMs")->number() == 2);
    CHECK(f.provision_request().GetDescriptor()->FindFieldByName("credentialsDataProto")->number() == 4);
}

// The message walk: what a protobuf message becomes in ThingsBoard's path (the message printed
// by protobuf's JSON printer with default values, then typed by the JSON rules), checked key by
// key against hand-written expectations. The messages come from .proto text compiled here and
// reach the walk through their wire bytes, as a device's would.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include "message_walk.hpp"
#include "tern/sdk/testing_alloc.hpp"
#include "tern/tb_number/number.hpp"

namespace pb = google::protobuf;
using namespace tern::protobuf;

namespace {

class no_errors : public pb::io::ErrorCollector {
public:
    void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
        FAIL("line " << line + 1 << " column " << column + 1 << ": " << message);
    }
};

// A .proto text compiled into its own pool; messages of its types from text format.
class schema {
public:
    explicit schema(std::string_view proto) {
        pb::io::ArrayInputStream in(proto.data(), static_cast<int>(proto.size()));
        no_errors errors;
        pb::io::Tokenizer tokens(&in, &errors);
        pb::compiler::Parser parser;
        parser.RecordErrorsTo(&errors);
        pb::FileDescriptorProto file;
        REQUIRE(parser.Parse(&tokens, &file));
        file.set_name("test.proto");
        REQUIRE(pool_.BuildFile(file) != nullptr);
    }

    // A message of type `type` given in text format, through its wire bytes.
    std::unique_ptr<pb::Message> message(const char* type, const std::string& text) {
        std::unique_ptr<pb::Message> built(prototype(type).New());
        REQUIRE(pb::TextFormat::ParseFromString(text, built.get()));
        return bytes(type, built->SerializeAsString());
    }

    // A message of type `type` parsed from wire bytes.
    std::unique_ptr<pb::Message> bytes(const char* type, const std::string& wire) {
        std::unique_ptr<pb::Message> m(prototype(type).New());
        REQUIRE(m->ParseFromString(wire));
        return m;
    }

private:
    const pb::Message& prototype(const char* type) {
        const pb::Descriptor* d = pool_.FindMessageTypeByName(std::string("t.") + type);
        REQUIRE(d != nullptr);
        return *factory_.GetPrototype(d);
    }

    pb::DescriptorPool pool_;
    pb::DynamicMessageFactory factory_{&pool_};
};

// "key=type:value" in the walk's order; doubles in Java's spelling.
std::string describe(const tern_kv& kv) {
    std::string s(kv.key.data, kv.key.size);
    s += '=';
    const tern_value& v = kv.value;
    switch (v.type) {
        case TERN_VALUE_BOOL: return s + (v.u.b ? "bool:true" : "bool:false");
        case TERN_VALUE_INT: return s + "int:" + std::to_string(v.u.i);
        case TERN_VALUE_DOUBLE: s += "double:"; tern::tb::append_java_double(s, v.u.d); return s;
        case TERN_VALUE_STR: return s + "str:" + std::string(v.u.s.data == nullptr ? "" : v.u.s.data, v.u.s.size);
        case TERN_VALUE_JSON: return s + "json:" + std::string(v.u.s.data, v.u.s.size);
        default: return s + "?";
    }
}

std::vector<std::string> describe(std::span<const tern_kv> kvs) {
    std::vector<std::string> out;
    for (const auto& kv : kvs) out.push_back(describe(kv));
    return out;
}

using strings = std::vector<std::string>;

// The attribute key/values of m, or {"error: ..."}.
strings attributes(const pb::Message& m, const walk_limits& lim = {}) {
    std::string err;
    walk_output& out = thread_walk_output();
    if (!attribute_values(m, lim, out, err)) return {"error: " + err};
    return describe(out.values());
}

// The one value of a message with one field.
std::string one(const pb::Message& m, const walk_limits& lim = {}) {
    const strings s = attributes(m, lim);
    REQUIRE(s.size() == 1);
    return s[0];
}

constexpr std::string_view kinds_proto = R"(
syntax = "proto3";
package t;
enum Color { RED = 0; GREEN = 1; }
message Inner { int32 a = 1; }
message Presence {
  int32 plain_int = 1;
  optional int32 opt_int = 2;
  Inner inner = 3;
  oneof choice { string one_a = 4; int32 one_b = 5; }
  repeated int32 list = 6;
  map<string, int32> dict = 7;
  string text = 8;
}
message Scalars {
  int32 i32 = 1; sint32 s32 = 2; sfixed32 sf32 = 3; uint32 u32 = 4; fixed32 f32 = 5;
  int64 i64 = 6; sint64 s64 = 7; sfixed64 sf64 = 8; uint64 u64 = 9; fixed64 f64 = 10;
  bool flag = 11; float fl = 12; double db = 13; string s = 14; bytes b = 15; Color color = 16;
}
message D { double d = 1; }
message F { float f = 1; }
message S { string s = 1; }
message B { bytes b = 1; }
message E { Color c = 1; repeated Color cs = 2; }
message Order { int32 snake_case_b = 2; int32 a = 1; Order2 n = 3; }
message Order2 { int32 z = 2; int32 y = 1; }
)";

}  // namespace

TEST_CASE("protobuf: the walk prints fields with defaults, leaves out unset ones with presence", "[walk]") {
    schema s(kinds_proto);
    CHECK(attributes(*s.message("Presence", "")) ==
          strings{"plainInt=int:0", "list=json:[]", "dict=json:{}", "text=str:"});
    CHECK(attributes(*s.message("Presence", "opt_int: 0 one_b: 0 inner {}")) ==
          strings{"plainInt=int:0", "optInt=int:0", "inner=json:{\"a\":0}", "oneB=int:0", "list=json:[]",
                  "dict=json:{}", "text=str:"});
    CHECK(attributes(*s.message("Presence", "one_a: \"x\" list: [1, 2] dict { key: \"k\" value: 3 }")) ==
          strings{"plainInt=int:0", "oneA=str:x", "list=json:[1,2]", "dict=json:{\"k\":3}", "text=str:"});
}

TEST_CASE("protobuf: fields come in field-number order under their json names", "[walk]") {
    schema s(kinds_proto);
    CHECK(attributes(*s.message("Order", "snake_case_b: 2 n {}")) ==
          strings{"a=int:0", "snakeCaseB=int:2", "n=json:{\"y\":0,\"z\":0}"});
}

TEST_CASE("protobuf: every scalar type is typed as the printed JSON would be", "[walk]") {
    schema s(kinds_proto);
    const std::string text =
        "i32: -5 s32: -7 sf32: 8 u32: 4294967295 f32: 1 i64: -9223372036854775808 s64: 5 sf64: 6 "
        "u64: 18446744073709551615 f64: 9223372036854775807 flag: true fl: 0.1 db: 22 s: \"42\" "
        "b: \"\\001\\002\\003\" color: GREEN";
    const auto m = s.message("Scalars", text);
    CHECK(attributes(*m) == strings{"i32=int:-5", "s32=int:-7", "sf32=int:8", "u32=int:4294967295", "f32=int:1",
                                    "i64=int:-9223372036854775808", "s64=int:5", "sf64=int:6",
                                    "u64=str:18446744073709551615", "f64=int:9223372036854775807",
                                    "flag=bool:true", "fl=double:0.1", "db=double:22.0", "s=int:42",
                                    "b=str:AQID", "color=str:GREEN"});
    walk_limits no_cast;
    no_cast.type_cast_enabled = false;
    CHECK(attributes(*m, no_cast) ==
          strings{"i32=int:-5", "s32=int:-7", "sf32=int:8", "u32=int:4294967295", "f32=int:1",
                  "i64=str:-9223372036854775808", "s64=str:5", "sf64=str:6", "u64=str:18446744073709551615",
                  "f64=str:9223372036854775807", "flag=bool:true", "fl=double:0.1", "db=double:22.0", "s=str:42",
                  "b=str:AQID", "color=str:GREEN"});
}

TEST_CASE("protobuf: doubles and floats are typed from Java's spelling of them", "[walk]") {
    schema s(kinds_proto);
    walk_limits no_cast;
    no_cast.type_cast_enabled = false;
    CHECK(one(*s.message("D", "d: 21.5")) == "d=double:21.5");
    CHECK(one(*s.message("D", "d: 22")) == "d=double:22.0");
    CHECK(one(*s.message("D", "d: 1e7")) == "d=int:10000000");  // "1.0E7" has no fraction
    CHECK(one(*s.message("D", "d: 1e20")) == "d=str:100000000000000000000");
    CHECK(one(*s.message("D", "d: 1e20"), no_cast) ==
          "error: value of 'd' is out of range (1.0E20): integers beyond 64 bits and numbers with more than 16 "
          "decimals need type_cast_enabled");
    CHECK(one(*s.message("D", "d: 1e-5")) == "d=double:1.0E-5");
    CHECK(one(*s.message("D", "d: 1e-17")) == "d=str:0.000000000000000010");
    CHECK(one(*s.message("D", "d: -0.0")) == "d=double:0.0");
    CHECK(one(*s.message("D", "d: nan")) == "d=str:NaN");
    CHECK(one(*s.message("D", "d: inf")) == "d=str:Infinity");
    CHECK(one(*s.message("D", "d: -inf")) == "d=str:-Infinity");
    CHECK(one(*s.message("D", "d: 1.7976931348623157e308")) ==
          "error: value of 'd' (1.7976931348623157E308) would be stored as a string of 309 characters, more "
          "than max_number_text_length 64");
    walk_limits wide;
    wide.max_number_text_length = 400;
    CHECK(one(*s.message("D", "d: 1.7976931348623157e308"), wide) == "d=str:17976931348623157" + std::string(292, '0'));

    CHECK(one(*s.message("F", "f: 0.1")) == "f=double:0.1");  // the float's digits, not 0.10000000149011612
    CHECK(one(*s.message("F", "f: 16777216")) == "f=int:16777216");
    CHECK(one(*s.message("F", "f: 1e10")) == "f=int:10000000000");
    CHECK(one(*s.message("F", "f: 3.4028235e38")) == "f=str:340282350000000000000000000000000000000");
    CHECK(one(*s.message("F", "f: nan")) == "f=str:NaN");
}

TEST_CASE("protobuf: strings and bytes are cast as JSON strings are", "[walk]") {
    schema s(kinds_proto);
    walk_limits no_cast;
    no_cast.type_cast_enabled = false;
    CHECK(one(*s.message("S", "s: \"42\"")) == "s=int:42");
    CHECK(one(*s.message("S", "s: \"-1.50\"")) == "s=double:-1.5");
    CHECK(one(*s.message("S", "s: \"12345678901234567890\"")) == "s=str:12345678901234567890");
    CHECK(one(*s.message("S", "s: \"1e3\"")) == "s=str:1e3");
    CHECK(one(*s.message("S", "s: \"42\""), no_cast) == "s=str:42");
    CHECK(one(*s.message("B", "b: \"\\001\\002\"")) == "b=str:AQI=");
    CHECK(one(*s.message("B", "b: \"\\327\\155\\370\"")) == "b=int:1234");  // Base64 "1234"
    CHECK(one(*s.message("B", "b: \"\\327\\155\\370\""), no_cast) == "b=str:1234");
}

TEST_CASE("protobuf: enums print their names; an unknown value prints its number", "[walk]") {
    schema s(kinds_proto);
    // c = 7 and cs = [7, GREEN], unknown to the schema (proto3 enums are open).
    const auto m = s.bytes("E", std::string("\x08\x07\x10\x07\x10\x01", 6));
    CHECK(attributes(*m) == strings{"c=int:7", "cs=json:[7,\"GREEN\"]"});
    CHECK(attributes(*s.message("E", "c: GREEN")) == strings{"c=str:GREEN", "cs=json:[]"});
}

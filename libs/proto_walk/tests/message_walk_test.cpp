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

#include "tern/proto_walk/message_walk.hpp"
#include "tern/sdk/testing_alloc.hpp"
#include "tern/tb_number/number.hpp"

namespace pb = google::protobuf;
using namespace tern::proto_walk;

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

TEST_CASE("walk: the walk prints fields with defaults, leaves out unset ones with presence", "[walk]") {
    schema s(kinds_proto);
    CHECK(attributes(*s.message("Presence", "")) ==
          strings{"plainInt=int:0", "list=json:[]", "dict=json:{}", "text=str:"});
    CHECK(attributes(*s.message("Presence", "opt_int: 0 one_b: 0 inner {}")) ==
          strings{"plainInt=int:0", "optInt=int:0", "inner=json:{\"a\":0}", "oneB=int:0", "list=json:[]",
                  "dict=json:{}", "text=str:"});
    CHECK(attributes(*s.message("Presence", "one_a: \"x\" list: [1, 2] dict { key: \"k\" value: 3 }")) ==
          strings{"plainInt=int:0", "oneA=str:x", "list=json:[1,2]", "dict=json:{\"k\":3}", "text=str:"});
}

TEST_CASE("walk: fields come in field-number order under their json names", "[walk]") {
    schema s(kinds_proto);
    CHECK(attributes(*s.message("Order", "snake_case_b: 2 n {}")) ==
          strings{"a=int:0", "snakeCaseB=int:2", "n=json:{\"y\":0,\"z\":0}"});
}

TEST_CASE("walk: every scalar type is typed as the printed JSON would be", "[walk]") {
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

TEST_CASE("walk: doubles and floats are typed from Java's spelling of them", "[walk]") {
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
    // Java 17 writes an integral float from its exact digits: 8.7525504E7, not the shortest 8.75255E7
    CHECK(one(*s.message("F", "f: 87525504")) == "f=int:87525504");
    CHECK(one(*s.message("D", "d: 4.73e21")) == "d=str:4729999999999999000000");  // halfway: not 4.73E21
    CHECK(one(*s.message("F", "f: 3.4028235e38")) == "f=str:340282350000000000000000000000000000000");
    CHECK(one(*s.message("F", "f: nan")) == "f=str:NaN");
}

TEST_CASE("walk: strings and bytes are cast as JSON strings are", "[walk]") {
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

TEST_CASE("walk: enums print their names, an unknown value its number", "[walk]") {
    schema s(kinds_proto);
    // c = 7 and cs = [7, GREEN], unknown to the schema (proto3 enums are open).
    const auto m = s.bytes("E", std::string("\x08\x07\x10\x07\x10\x01", 6));
    CHECK(attributes(*m) == strings{"c=int:7", "cs=json:[7,\"GREEN\"]"});
    CHECK(attributes(*s.message("E", "c: GREEN")) == strings{"c=str:GREEN", "cs=json:[]"});
}

namespace {

constexpr std::string_view nested_proto = R"(
syntax = "proto3";
package t;
enum Color { RED = 0; GREEN = 1; }
message Leaf { int64 big = 1; double d = 2; Color c = 3; bytes raw = 4; string s = 5; uint64 u = 6; float f = 7; }
message Holder {
  Leaf leaf = 1;
  repeated Leaf leaves = 2;
  map<int32, Leaf> by_id = 3;
  map<bool, string> flags = 4;
  repeated string names = 5;
  repeated double nums = 6;
}
message Dict { map<string, int32> dict = 1; }
message Node { Node child = 1; int32 v = 2; }
message Big { string s = 1; repeated Leaf leaves = 2; }
)";

constexpr std::string_view ts_proto = R"(
syntax = "proto3";
package t;
message Values { double temperature = 1; int64 count = 2; Inner inner = 3; }
message Inner { bool ok = 1; }
message TsRoot { int64 ts = 1; Values values = 2; }
message TsMap { int64 ts = 1; map<string, double> values = 2; }
message TsList { int64 ts = 1; repeated int32 values = 2; }
message TsText { string ts = 1; Values values = 2; }
message TsDouble { double ts = 1; Values values = 2; }
message TsOptional { optional int64 ts = 1; Values values = 2; }
message TsRepeated { repeated uint64 ts = 1; Values values = 2; }
)";

struct record_view {
    int64_t ts;
    strings values;
};

// The telemetry records of m at now 1000, or one record at -1 holding {"error: ..."}.
std::vector<record_view> telemetry(const pb::Message& m, const walk_limits& lim = {}) {
    std::string err;
    walk_output& out = thread_walk_output();
    if (!telemetry_records(m, 1000, lim, out, err)) return {{-1, {"error: " + err}}};
    std::vector<record_view> records;
    for (const auto& r : out.records()) records.push_back({r.ts, describe(std::span(r.values, r.count))});
    return records;
}

std::string json_of(const pb::Message& m, const walk_limits& lim = {}) {
    std::string err;
    walk_output& out = thread_walk_output();
    if (!message_json(m, lim, out, err)) return "error: " + err;
    return std::string(out.json());
}

}  // namespace

TEST_CASE("walk: messages, lists and maps are JSON values holding the printer's text", "[walk]") {
    schema s(nested_proto);
    const auto m = s.message("Holder",
                             "leaf { big: 123 d: 22 c: GREEN raw: \"\\001\" s: \"a\\\"<\\n\" u: 18446744073709551615 f: 0.1 } "
                             "by_id { key: 5 value { } } by_id { key: -1 value { d: 1e7 } } "
                             "flags { key: true value: \"x\" } names: \"a\" names: \"b\" nums: 1e7 nums: 0.5 "
                             "nums: nan");
    const std::string empty_leaf = R"({"big":"0","d":0.0,"c":"RED","raw":"","s":"","u":"0","f":0.0})";
    CHECK(attributes(*m) ==
          strings{R"(leaf=json:{"big":"123","d":22.0,"c":"GREEN","raw":"AQ==","s":"a\"<\n","u":"18446744073709551615","f":0.1})",
                  "leaves=json:[]",
                  R"(byId=json:{"5":)" + empty_leaf +
                      R"(,"-1":{"big":"0","d":1.0E7,"c":"RED","raw":"","s":"","u":"0","f":0.0}})",
                  R"(flags=json:{"true":"x"})", R"(names=json:["a","b"])", R"(nums=json:[1.0E7,0.5,"NaN"])"});
}

TEST_CASE("walk: a map's repeated key keeps its first place and its last value", "[walk]") {
    schema s(nested_proto);
    // Two messages' bytes one after the other: the map gets every entry, in that order.
    const std::string wire = s.message("Dict", "dict { key: \"a\" value: 1 } dict { key: \"b\" value: 2 }")->SerializeAsString() +
                             s.message("Dict", "dict { key: \"a\" value: 3 }")->SerializeAsString();
    CHECK(attributes(*s.bytes("Dict", wire)) == strings{R"(dict=json:{"a":3,"b":2})"});

    // Past 16 entries the duplicates are found by sorting: same result.
    std::string many;
    for (int i = 0; i < 40; ++i) many += "dict { key: \"k" + std::to_string(i % 20) + "\" value: " + std::to_string(i) + " } ";
    std::string want = "dict=json:{";
    for (int i = 0; i < 20; ++i) want += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":" + std::to_string(i + 20);
    want += "}";
    std::string wire_many;
    for (int i = 0; i < 40; ++i)
        wire_many += s.message("Dict", "dict { key: \"k" + std::to_string(i % 20) + "\" value: " + std::to_string(i) + " }")
                         ->SerializeAsString();
    CHECK(attributes(*s.bytes("Dict", wire_many)) == strings{want});
}

TEST_CASE("walk: a root with ts and values is one record at the device's time", "[walk][ts]") {
    schema s(ts_proto);
    auto r = telemetry(*s.message("TsRoot", "ts: 1700000000000 values { temperature: 21.5 count: 3 inner { ok: true } }"));
    REQUIRE(r.size() == 1);
    CHECK(r[0].ts == 1700000000000);
    CHECK(r[0].values == strings{"temperature=double:21.5", "count=int:3", R"(inner=json:{"ok":true})"});

    // values unset: not printed, so no ts rule; ts is a value like any other.
    r = telemetry(*s.message("TsRoot", "ts: 5"));
    REQUIRE(r.size() == 1);
    CHECK(r[0].ts == 1000);
    CHECK(r[0].values == strings{"ts=int:5"});

    // values a map: its entries; an empty map is an empty object, still a record at ts.
    r = telemetry(*s.message("TsMap", "ts: 7 values { key: \"t\" value: 1e7 } values { key: \"h\" value: 0.5 }"));
    REQUIRE(r.size() == 1);
    CHECK(r[0].ts == 7);
    CHECK(r[0].values == strings{"t=int:10000000", "h=double:0.5"});
    r = telemetry(*s.message("TsMap", "ts: 7"));
    REQUIRE(r.size() == 1);
    CHECK((r[0].ts == 7 && r[0].values.empty()));

    // ts read as Gson's getAsLong reads the printed value
    CHECK(telemetry(*s.message("TsText", "ts: \"123\" values {}"))[0].ts == 123);
    CHECK(telemetry(*s.message("TsDouble", "ts: 1.7e12 values {}"))[0].ts == 1700000000000);
    CHECK(telemetry(*s.message("TsRepeated", "ts: 9 values {}"))[0].ts == 9);  // a list of one
    CHECK(telemetry(*s.message("TsOptional", "values { count: 1 }"))[0].values ==
          strings{R"(values=json:{"temperature":0.0,"count":"1"})"});  // no ts printed, no ts rule

    const std::string bad_ts = "error: telemetry 'ts' must be a number of milliseconds since the epoch";
    CHECK(telemetry(*s.message("TsText", "ts: \"abc\" values {}"))[0].values == strings{bad_ts});
    CHECK(telemetry(*s.message("TsRepeated", "ts: 1 ts: 2 values {}"))[0].values == strings{bad_ts});
    CHECK(telemetry(*s.message("TsRepeated", "ts: 18446744073709551615 values {}"))[0].values == strings{bad_ts});
    CHECK(telemetry(*s.message("TsList", "ts: 1 values: 2"))[0].values ==
          strings{"error: telemetry 'values' must be a JSON object"});
    CHECK(thread_walk_output().refusal() == walk_refusal::other);
}

TEST_CASE("walk: message_json is the whole message as the printer prints it, compact", "[walk]") {
    schema s(nested_proto);
    CHECK(json_of(*s.message("Holder", "leaf { big: -1 } names: \"x\" flags { key: false value: \"\" }")) ==
          R"({"leaf":{"big":"-1","d":0.0,"c":"RED","raw":"","s":"","u":"0","f":0.0},"leaves":[],"byId":{},)"
          R"("flags":{"false":""},"names":["x"],"nums":[]})");
    CHECK(json_of(*s.message("Node", "")) == R"({"v":0})");
}

TEST_CASE("walk: the walk's bounds refuse with a reason naming the key", "[walk][limits]") {
    schema s(nested_proto);
    walk_limits small;
    small.max_decoded_size = 100;
    CHECK(attributes(*s.message("Big", "s: \"" + std::string(200, 'x') + "\""), small) ==
          strings{"error: the message's keys and values decode to more than max_decoded_size (100 bytes) at 's'; "
                  "nothing of it was stored"});
    CHECK(thread_walk_output().refusal() == walk_refusal::decoded_size);

    // A few bytes of empty messages print many defaults: the text is bounded while it is built.
    std::string empties;
    for (int i = 0; i < 1000; ++i) empties += "leaves {} ";
    const auto expanding = s.message("Big", empties);
    CHECK(expanding->ByteSizeLong() < 3000);
    CHECK(attributes(*expanding, small) ==
          strings{"error: the message's keys and values decode to more than max_decoded_size (100 bytes) at "
                  "'leaves'; nothing of it was stored"});
    CHECK(json_of(*expanding, small) ==
          "error: the message re-serialises to more than max_decoded_size (100 bytes) at 'leaves'");
    walk_limits none;
    none.max_decoded_size = 0;
    CHECK(attributes(*expanding, none).size() == 2);

    // Nesting: the root is depth 0, each message inside one more.
    const auto deep = s.message("Node", "child { child { child { child { v: 1 } } } }");
    walk_limits shallow;
    shallow.max_depth = 3;
    CHECK(attributes(*deep, shallow) == strings{"error: value of 'child' nests messages deeper than max_depth (3)"});
    CHECK(thread_walk_output().refusal() == walk_refusal::depth);
    CHECK(json_of(*deep, shallow) == "error: value of 'child' nests messages deeper than max_depth (3)");
    shallow.max_depth = 4;
    CHECK(attributes(*deep, shallow) ==
          strings{R"(child=json:{"child":{"child":{"child":{"v":1},"v":0},"v":0},"v":0})", "v=int:0"});

    schema k(kinds_proto);
    CHECK(one(*k.message("D", "d: 1e70")) ==
          "error: value of 'd' (1.0E70) would be stored as a string of 71 characters, more than "
          "max_number_text_length 64");
    CHECK(thread_walk_output().refusal() == walk_refusal::number_text);
}

TEST_CASE("walk: a warm walk allocates nothing and takes no lock", "[walk][alloc]") {
    schema s(nested_proto);
    schema t(ts_proto);
    const auto holder = s.message("Holder", "leaf { big: 5 s: \"x\" raw: \"\\001\" } by_id { key: 1 value {} } names: \"n\" "
                                            "nums: 1.5 flags { key: true value: \"42\" }");
    const auto ts = t.message("TsMap", "ts: 7 values { key: \"t\" value: 21.5 } values { key: \"h\" value: 1e20 }");
    std::string err;
    walk_output& out = thread_walk_output();
    const walk_limits lim;
    auto walk_all = [&] {
        REQUIRE(attribute_values(*holder, lim, out, err));
        REQUIRE(telemetry_records(*ts, 1, lim, out, err));
        REQUIRE(message_json(*holder, lim, out, err));
    };
    for (int i = 0; i < 3; ++i) walk_all();
    err.reserve(256);
    tern::sdk::testing::alloc_counter c;
    for (int i = 0; i < 100; ++i) walk_all();
    const auto n = c.stop();
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
}

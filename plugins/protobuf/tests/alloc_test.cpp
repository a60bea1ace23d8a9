// The uplink hot path allocates nothing and takes no lock once warm: decode_telemetry and
// decode_attributes with a profile's own schema (nested message, repeated field, enum, a
// 64-bit integer, ts + values), 10 000 times each. This binary replaces the global operator
// new and interposes pthread_mutex_lock to count both. The one known cost: a string value
// longer than 15 bytes takes one allocation (protobuf keeps its characters on the heap even
// for a message on an arena, parse.hpp), counted exactly below.
#include <catch2/catch.hpp>

#include "support.hpp"
#include "tern/sdk/testing_alloc.hpp"

using namespace protobuf_test;

namespace {

constexpr const char* telemetry_schema = R"(syntax = "proto3";
package plant;
enum Mode { OFF = 0; AUTO = 1; }
message Values {
  double temperature = 1;
  int64 counter = 2;
  string state = 3;
  Mode mode = 4;
  repeated int32 samples = 5;
  message Inner { bool ok = 1; float level = 2; }
  Inner inner = 6;
}
message Reading {
  int64 ts = 1;
  Values values = 2;
}
)";

constexpr const char* attributes_schema = R"(syntax = "proto3";
message Config { string firmware = 1; int32 interval = 2; optional bool eco = 3; }
)";

void count_records(void* c, const tern_ts_record* r, uint32_t n) {
    *static_cast<uint64_t*>(c) += n != 0 ? r[0].count : 0;
}
void count_kvs(void* c, const tern_kv*, uint32_t n) { *static_cast<uint64_t*>(c) += n; }

}  // namespace

TEST_CASE("alloc: a warm decode with a profile's own schema allocates nothing and locks nothing", "[alloc]") {
    adaptor a(options{});
    profile p(42, 3, {{"telemetry_schema", telemetry_schema}, {"attributes_schema", attributes_schema}});

    builder t(schema_kind::telemetry, telemetry_schema);
    const gp::Reflection& r = *t.m().GetReflection();
    r.SetInt64(&t.m(), field(t.m(), "ts"), 1700000000000);
    gp::Message* v = r.MutableMessage(&t.m(), field(t.m(), "values"));
    const gp::Reflection& vr = *v->GetReflection();
    vr.SetDouble(v, field(*v, "temperature"), 21.75);
    vr.SetInt64(v, field(*v, "counter"), 123456789012345);
    vr.SetString(v, field(*v, "state"), "running");
    vr.SetEnumValue(v, field(*v, "mode"), 1);
    for (int i = 0; i < 8; ++i) vr.AddInt32(v, field(*v, "samples"), i * 100);
    gp::Message* inner = vr.MutableMessage(v, field(*v, "inner"));
    inner->GetReflection()->SetBool(inner, field(*inner, "ok"), true);
    const std::string telemetry = t.bytes();

    builder at(schema_kind::attributes, attributes_schema);
    at.m().GetReflection()->SetString(&at.m(), field(at.m(), "firmware"), "2.4.1-b2026");
    at.m().GetReflection()->SetInt32(&at.m(), field(at.m(), "interval"), 30);
    const std::string attributes = at.bytes();

    uint64_t seen = 0;
    tern_error err{};
    auto once = [&] {
        REQUIRE(a.decode_telemetry(&p.ctx, bytes_of(telemetry), 1, &count_records, &seen, &err) == TERN_OK);
        REQUIRE(a.decode_attributes(&p.ctx, bytes_of(attributes), &count_kvs, &seen, &err) == TERN_OK);
    };
    for (int i = 0; i < 100; ++i) once();  // compiles, grows the thread's buffers

    tern::sdk::testing::alloc_counter c;
    for (int i = 0; i < 10000; ++i) {
        if (a.decode_telemetry(&p.ctx, bytes_of(telemetry), 1, &count_records, &seen, &err) != TERN_OK) break;
        if (a.decode_attributes(&p.ctx, bytes_of(attributes), &count_kvs, &seen, &err) != TERN_OK) break;
    }
    const auto n = c.stop();
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(seen > 10100 * 7);  // every decode reached its sink

    // One string of 16 bytes: one allocation per message, nothing else.
    at.m().GetReflection()->SetString(&at.m(), field(at.m(), "firmware"), "2.4.1-build-2026");
    const std::string longer = at.bytes();
    for (int i = 0; i < 100; ++i) a.decode_attributes(&p.ctx, bytes_of(longer), &count_kvs, &seen, &err);
    tern::sdk::testing::alloc_counter c2;
    for (int i = 0; i < 1000; ++i) a.decode_attributes(&p.ctx, bytes_of(longer), &count_kvs, &seen, &err);
    const auto n2 = c2.stop();
    CHECK(n2.allocations == 1000);
    CHECK(n2.locks == 0);
}

TEST_CASE("alloc: the thread's arena block grows to the largest message, then a warm decode allocates nothing", "[alloc]") {
    adaptor a(options{});
    const char* schema = "syntax = \"proto3\";\nmessage Big { repeated int32 v = 1; }\n";
    profile p(43, 1, {{"attributes_schema", schema}});
    builder b(schema_kind::attributes, schema);
    for (int i = 0; i < 12000; ++i) b.m().GetReflection()->AddInt32(&b.m(), field(b.m(), "v"), i % 100);
    const std::string body = b.bytes();  // 12 KB on the wire, 48 KB of ints on the arena
    REQUIRE(body.size() < 65536);
    uint64_t seen = 0;
    tern_error err{};
    for (int i = 0; i < 3; ++i) REQUIRE(a.decode_attributes(&p.ctx, bytes_of(body), &count_kvs, &seen, &err) == TERN_OK);

    tern::sdk::testing::alloc_counter c;
    for (int i = 0; i < 100; ++i) a.decode_attributes(&p.ctx, bytes_of(body), &count_kvs, &seen, &err);
    const auto n = c.stop();
    CHECK(n.allocations == 0);
    CHECK(seen == 103);
}

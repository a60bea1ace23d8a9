// Spec §1.2: the path grammar under /api/v1, table-driven.
#include <catch2/catch.hpp>

#include "path.hpp"
#include "support.hpp"

using namespace tern::device_api;
using tern::device_api::test::segments;

namespace {

struct row {
    const char* path;
    feature what;
    const char* token;  // nullptr: none
    bool has_id;
    int32_t id;
};

}  // namespace

TEST_CASE("path grammar: every example of docs/device-api.md §1.2", "[path]") {
    const row rows[] = {
        {"/api/v1/TOKEN/telemetry", feature::telemetry, "TOKEN", false, 0},
        {"/api/v1/TOKEN/attributes", feature::attributes, "TOKEN", false, 0},
        {"/api/v1/TOKEN/attributes/updates", feature::attributes, "TOKEN", false, 0},
        {"/api/v1/TOKEN/rpc", feature::rpc, "TOKEN", false, 0},
        {"/api/v1/TOKEN/rpc/42", feature::rpc, "TOKEN", true, 42},
        {"/api/v1/TOKEN/claim", feature::claim, "TOKEN", false, 0},
        {"/api/v1/provision", feature::provision, nullptr, false, 0},
        {"/api/v1/anything/provision", feature::provision, "anything", false, 0},
        // X.509 forms without a token
        {"/api/v1/telemetry", feature::telemetry, nullptr, false, 0},
        {"/api/v1/attributes", feature::attributes, nullptr, false, 0},
        {"/api/v1/rpc", feature::rpc, nullptr, false, 0},
        {"/api/v1/claim", feature::claim, nullptr, false, 0},
        // n == 4 with an all-digit last segment: feature is segment 2 (token-less rpc/{id});
        // the token rule still sees segment 2, unused when X.509 resolved the device
        {"/api/v1/rpc/7", feature::rpc, "rpc", true, 7},
        // Tern's OTA forms (docs/device-api.md §0.5)
        {"/api/v1/TOKEN/firmware", feature::firmware, "TOKEN", false, 0},
        {"/api/v1/TOKEN/software", feature::software, "TOKEN", false, 0},
        {"/api/v1/firmware", feature::firmware, nullptr, false, 0},
        {"/api/v1/software", feature::software, nullptr, false, 0},
    };
    for (const row& r : rows) {
        INFO(r.path);
        const segments s = segments::of_path(r.path);
        const api_path p = parse_api_path(s.views);
        CHECK(p.what == r.what);
        if (r.token == nullptr) {
            CHECK_FALSE(p.token.has_value());
        } else {
            REQUIRE(p.token.has_value());
            CHECK(*p.token == r.token);
        }
        CHECK(p.rpc_id.has_value() == r.has_id);
        if (r.has_id) CHECK(*p.rpc_id == r.id);
    }
}

TEST_CASE("path grammar: feature names are case-insensitive", "[path]") {
    for (const char* p : {"/api/v1/T/TELEMETRY", "/api/v1/T/Telemetry", "/api/v1/T/tElEmEtRy"}) {
        INFO(p);
        CHECK(parse_api_path(segments::of_path(p).views).what == feature::telemetry);
    }
    CHECK(parse_api_path(segments::of_path("/api/v1/T/Attributes").views).what == feature::attributes);
    CHECK(parse_api_path(segments::of_path("/api/v1/T/RPC/3").views).what == feature::rpc);
    CHECK(parse_api_path(segments::of_path("/api/v1/PROVISION").views).what == feature::provision);
    CHECK(parse_api_path(segments::of_path("/api/v1/Claim").views).what == feature::claim);
}

TEST_CASE("path grammar: unknown features and short paths", "[path]") {
    CHECK(parse_api_path(segments::of_path("/api/v1").views).what == feature::none);
    CHECK(parse_api_path(segments::of_path("/api/v1/TOKEN").views).what == feature::none);
    CHECK(parse_api_path(segments::of_path("/api/v1/TOKEN/telemetryx").views).what == feature::none);
    CHECK(parse_api_path(segments::of_path("/api/v1/TOKEN/").views).what == feature::none);
    // n == 4, last all digits: segment 2 names the feature, and a token is not one
    CHECK(parse_api_path(segments::of_path("/api/v1/TOKEN/123").views).what == feature::none);
    // non-ASCII look-alikes are not features
    CHECK(feature_of("telemetr\xc3\xbd") == feature::none);
}

TEST_CASE("path grammar: the n == 4 digits rule", "[path]") {
    // digits only: "+7", "-7" and "" are not numeric, so segment 3 names the feature
    CHECK(parse_api_path(segments::of_path("/api/v1/rpc/+7").views).what == feature::none);
    CHECK(parse_api_path(segments::of_path("/api/v1/rpc/-7").views).what == feature::none);
    // five segments: segment 3 always
    const api_path p = parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/123").views);
    CHECK(p.what == feature::rpc);
    CHECK(*p.rpc_id == 123);
}

TEST_CASE("path grammar: RPC ids as Integer.parseInt reads them", "[path]") {
    // rpc/abc is a client-side RPC: no id
    CHECK_FALSE(parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/abc").views).rpc_id.has_value());
    // segment 3 when n == 4: "rpc" is no number
    CHECK_FALSE(parse_api_path(segments::of_path("/api/v1/TOKEN/rpc").views).rpc_id.has_value());
    CHECK(*parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/-5").views).rpc_id == -5);
    CHECK(*parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/+5").views).rpc_id == 5);
    CHECK(*parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/007").views).rpc_id == 7);
    CHECK_FALSE(parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/2147483648").views).rpc_id.has_value());
    // extra segments after the id do not matter
    CHECK(*parse_api_path(segments::of_path("/api/v1/TOKEN/rpc/9/x").views).rpc_id == 9);
}

TEST_CASE("parse_java_int", "[path]") {
    CHECK(parse_java_int("0") == 0);
    CHECK(parse_java_int("2147483647") == INT32_MAX);
    CHECK(parse_java_int("-2147483648") == INT32_MIN);
    CHECK_FALSE(parse_java_int("2147483648"));
    CHECK_FALSE(parse_java_int("-2147483649"));
    CHECK_FALSE(parse_java_int("99999999999999999999999"));
    CHECK_FALSE(parse_java_int(""));
    CHECK_FALSE(parse_java_int("-"));
    CHECK_FALSE(parse_java_int("+"));
    CHECK_FALSE(parse_java_int("1.5"));
    CHECK_FALSE(parse_java_int(" 1"));
    CHECK_FALSE(parse_java_int("0x10"));
    CHECK(all_digits("0123"));
    CHECK_FALSE(all_digits(""));
    CHECK_FALSE(all_digits("1a"));
}

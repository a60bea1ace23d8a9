// Spec §1.3: method x feature x Observe, decided before authentication.
#include <catch2/catch.hpp>

#include "route.hpp"
#include "support.hpp"

using namespace tern::device_api;
using tern::device_api::test::segments;

namespace {

constexpr uint8_t GET = TERN_COAP_GET;
constexpr uint8_t POST = TERN_COAP_POST;
constexpr uint8_t PUT = TERN_COAP_PUT;

classified of(const char* path, uint8_t method, int32_t observe = -1) {
    return classify(segments::of_path(path).views, method, observe);
}

struct ok_row {
    const char* path;
    uint8_t method;
    int32_t observe;
    action what;
};

struct err_row {
    const char* path;
    uint8_t method;
    int32_t observe;
    uint8_t code;
};

}  // namespace

TEST_CASE("routing: accepted requests", "[route]") {
    const ok_row rows[] = {
        {"/api/v1/T/telemetry", POST, -1, action::telemetry},
        {"/api/v1/T/attributes", POST, -1, action::attributes_post},
        {"/api/v1/T/attributes", GET, -1, action::attributes_get},
        {"/api/v1/T/attributes", GET, 0, action::attributes_observe},
        {"/api/v1/T/attributes/updates", GET, 0, action::attributes_observe},
        // Observe=1 on attributes: the plain GET's answer (docs/device-api.md §0.3)
        {"/api/v1/T/attributes", GET, 1, action::attributes_get},
        // any other feature observed (except telemetry and rpc) is an attribute subscription
        {"/api/v1/T/claim", GET, 0, action::attributes_observe},
        {"/api/v1/T/provision", GET, 0, action::attributes_observe},
        {"/api/v1/T/rpc", GET, 0, action::rpc_observe},
        {"/api/v1/T/rpc", POST, -1, action::rpc_call},
        {"/api/v1/T/rpc/abc", POST, -1, action::rpc_call},
        {"/api/v1/T/rpc/5", POST, -1, action::rpc_reply},
        {"/api/v1/rpc/5", POST, -1, action::rpc_reply},
        {"/api/v1/T/claim", POST, -1, action::claim},
        {"/api/v1/provision", POST, -1, action::provision},
        {"/api/v1/x/provision", POST, -1, action::provision},
        {"/api/v1/T/firmware", GET, -1, action::ota},
        {"/api/v1/T/software", GET, 0, action::ota},
        {"/api/v1/firmware", GET, -1, action::ota},
        {"/fw/T", GET, -1, action::ota},
        {"/sw/T", GET, -1, action::ota},
        // an Observe value other than 0/1 counts as none
        {"/api/v1/T/attributes", GET, 5, action::attributes_get},
    };
    for (const ok_row& r : rows) {
        INFO(r.path << " method " << int(r.method) << " observe " << r.observe);
        const classified c = of(r.path, r.method, r.observe);
        CHECK(c.error == 0);
        CHECK(c.r.what == r.what);
    }
}

TEST_CASE("routing: refusals before authentication", "[route]") {
    const err_row rows[] = {
        {"/api/v1", POST, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T", POST, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/nothing", POST, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/nothing", GET, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/telemetry", GET, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/telemetry", GET, 0, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/rpc", GET, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/rpc", GET, 1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/claim", GET, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/provision", GET, -1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/claim", GET, 1, TERN_COAP_CODE(4, 0)},
        {"/api/v1/T/firmware", POST, -1, TERN_COAP_CODE(4, 5)},
        {"/api/v1/T/telemetry", PUT, -1, TERN_COAP_CODE(4, 5)},
        // /fw and /sw: exactly two segments, else 4.01 (docs/device-api.md §6)
        {"/fw", GET, -1, TERN_COAP_CODE(4, 1)},
        {"/fw/T/x", GET, -1, TERN_COAP_CODE(4, 1)},
        {"/sw/T/x/y", GET, -1, TERN_COAP_CODE(4, 1)},
        {"/fw/T", POST, -1, TERN_COAP_CODE(4, 5)},
    };
    for (const err_row& r : rows) {
        INFO(r.path << " method " << int(r.method) << " observe " << r.observe);
        const classified c = of(r.path, r.method, r.observe);
        CHECK(int(c.error) == int(r.code));
        CHECK_FALSE(c.reason.empty());
    }
}

TEST_CASE("routing: tokens and OTA kinds", "[route]") {
    CHECK(*of("/api/v1/ABC/telemetry", POST).r.token == "ABC");
    CHECK_FALSE(of("/api/v1/telemetry", POST).r.token.has_value());
    const classified fw = of("/fw/XYZ", GET);
    CHECK(*fw.r.token == "XYZ");
    CHECK(fw.r.ota == TERN_OTA_FIRMWARE);
    CHECK_FALSE(fw.r.api);
    CHECK(of("/sw/XYZ", GET).r.ota == TERN_OTA_SOFTWARE);
    CHECK(of("/api/v1/T/software", GET).r.ota == TERN_OTA_SOFTWARE);
    CHECK(of("/api/v1/T/software", GET).r.api);
    CHECK(of("/api/v1/T/rpc/77", POST).r.rpc_id == 77);
    CHECK(of("/api/v1/T/telemetry", POST).kind == action::telemetry);
    CHECK(of("/api/v1/T/telemetry", GET).kind == action::telemetry);
}

// tern/sdk/record.hpp: growable records read by the struct_size rule, and interfaces.hpp's
// ids bound to the ABI's interface types.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>

#include "tern/abi/coap.h"
#include "tern/sdk/interfaces.hpp"
#include "tern/sdk/record.hpp"

namespace {

// A record as 1.0 wrote it, and as a later minor grew it.
struct rec_v1 {
    uint32_t struct_size;
    uint32_t a;
    uint64_t b;
};
struct rec_v2 {
    uint32_t struct_size;
    uint32_t a;
    uint64_t b;
    uint64_t c;  // new: zero means "as before"
};

}  // namespace

TEST_CASE("read_record: an older writer's record reads with the new fields zero", "[record]") {
    rec_v2 buf;
    std::memset(&buf, 0xAB, sizeof buf);  // bytes past the older record: must not be read
    rec_v1 old{sizeof(rec_v1), 7, 9};
    std::memcpy(&buf, &old, sizeof old);
    const rec_v2 r = tern::sdk::read_record(&buf);
    CHECK(r.struct_size == sizeof(rec_v1));
    CHECK(r.a == 7);
    CHECK(r.b == 9);
    CHECK(r.c == 0);
    CHECK(tern::sdk::record_has(r, offsetof(rec_v2, b) + sizeof r.b));
    CHECK_FALSE(tern::sdk::record_has(r, offsetof(rec_v2, c) + sizeof r.c));
}

TEST_CASE("read_record: a newer writer's record is cut to what this plugin knows", "[record]") {
    rec_v2 newer{sizeof(rec_v2), 1, 2, 3};
    const rec_v1 r = tern::sdk::read_record(reinterpret_cast<const rec_v1*>(&newer));
    CHECK(r.struct_size == sizeof(rec_v1));
    CHECK(r.a == 1);
    CHECK(r.b == 2);
}

TEST_CASE("read_record: null and too small records read as all zero with struct_size 0", "[record]") {
    const rec_v2 none = tern::sdk::read_record<rec_v2>(nullptr);
    CHECK(none.struct_size == 0);
    CHECK(none.a == 0);
    CHECK(none.c == 0);

    rec_v2 tiny{2, 5, 6, 7};  // smaller than struct_size itself
    const rec_v2 t = tern::sdk::read_record(&tiny);
    CHECK(t.struct_size == 0);
    CHECK(t.a == 0);

    rec_v2 half{offsetof(rec_v2, b), 5, 6, 7};
    const rec_v2 h = tern::sdk::read_record(&half, offsetof(rec_v2, c));  // the caller needs b
    CHECK(h.struct_size == 0);
    CHECK(h.a == 0);
    const rec_v2 h2 = tern::sdk::read_record(&half);  // without the minimum: a only
    CHECK(h2.struct_size == offsetof(rec_v2, b));
    CHECK(h2.a == 5);
    CHECK(h2.b == 0);
}

TEST_CASE("read_record: an ABI record", "[record]") {
    tern_coap_response resp{};
    resp.struct_size = sizeof resp;
    resp.code = TERN_COAP_CODE(2, 5);
    resp.max_age = 60;
    const tern_coap_response r = tern::sdk::read_record(&resp, offsetof(tern_coap_response, payload));
    CHECK(r.struct_size == sizeof resp);
    CHECK(r.code == TERN_COAP_CODE(2, 5));
    CHECK(r.max_age == 60);
}

namespace acme {
struct meter_v1 {
    virtual int read() noexcept = 0;

protected:
    ~meter_v1() = default;
};
}  // namespace acme
TERN_SDK_INTERFACE(acme::meter_v1, "acme.meter/1")

TEST_CASE("iid_of: every ABI interface published by id has it bound", "[iid]") {
    using tern::sdk::iid_v;
    STATIC_REQUIRE(iid_v<tern::transport_v1> == TERN_IID_TRANSPORT_V1);
    STATIC_REQUIRE(iid_v<tern::coap_engine_v1> == TERN_IID_COAP_ENGINE_V1);
    STATIC_REQUIRE(iid_v<tern::core_v1> == TERN_IID_CORE_V1);
    STATIC_REQUIRE(iid_v<tern::payload_v1> == TERN_IID_PAYLOAD_V1);
    STATIC_REQUIRE(iid_v<tern::payload_v2> == TERN_IID_PAYLOAD_V2);  // ABI 1.2
    STATIC_REQUIRE(iid_v<tern::cli_v1> == TERN_IID_CLI_V1);
    STATIC_REQUIRE(iid_v<tern::log_v1> == TERN_IID_LOG_V1);
    STATIC_REQUIRE(iid_v<tern::reactor_v1> == TERN_IID_REACTOR_V1);
    STATIC_REQUIRE(iid_v<tern::registry_v1> == TERN_IID_REGISTRY_V1);
    STATIC_REQUIRE(iid_v<tern::metrics_v1> == TERN_IID_METRICS_V1);
    STATIC_REQUIRE(iid_v<tern::config_v1> == TERN_IID_CONFIG_V1);
    STATIC_REQUIRE(iid_v<acme::meter_v1> == "acme.meter/1");
    STATIC_REQUIRE(tern::sdk::bound_interface<acme::meter_v1>);
    STATIC_REQUIRE_FALSE(tern::sdk::bound_interface<tern::coap_handler_v1>);  // no id: passed, not found
}

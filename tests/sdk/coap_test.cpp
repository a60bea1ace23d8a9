// tern/sdk/coap.hpp: the helpers resource plugins build responses and read options with.
#include <catch2/catch.hpp>

#include <string>

#include "tern/sdk/coap.hpp"

namespace coap = tern::sdk::coap;

TEST_CASE("coap: query_value returns the last name=value, skipping elements without '='", "[coap]") {
    const tern_str q[] = {tern::sdk::to_str("a=1"), tern::sdk::to_str("b"), tern::sdk::to_str("a=2"),
                          tern::sdk::to_str("ab=3"), tern::sdk::to_str("c=")};
    tern_coap_request r{};
    r.struct_size = sizeof r;
    r.query = q;
    r.query_count = 5;
    CHECK(coap::query_value(r, "a") == "2");
    CHECK(coap::query_value(r, "ab") == "3");
    CHECK(coap::query_value(r, "c") == "");
    CHECK_FALSE(coap::query_value(r, "b").has_value());
    CHECK_FALSE(coap::query_value(r, "z").has_value());
}

TEST_CASE("coap: code text, responses and option integers", "[coap]") {
    char buf[5];
    CHECK(coap::code_text(coap::code(2, 5), buf) == "2.05");
    CHECK(coap::code_text(coap::code(4, 13), buf) == "4.13");
    const tern_coap_response t = coap::text_response(coap::code(4, 0), "bad");
    CHECK(t.struct_size == sizeof t);
    CHECK(t.content_format == TERN_COAP_FORMAT_TEXT);
    CHECK(t.max_age == -1);
    CHECK(tern::sdk::as_text(t.payload) == "bad");
    const uint8_t v[] = {0x01, 0x02};
    CHECK(coap::option_uint(tern_bytes{v, 2}) == 0x0102);
    CHECK(coap::option_uint(tern_bytes{nullptr, 0}) == 0);
}

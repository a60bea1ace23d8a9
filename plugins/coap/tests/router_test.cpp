// Routing (literal > {capture} > ** per segment), 4.04/4.05 diagnostics, the single
// Uri-Path split of device-api §1.1, and /.well-known/core (RFC 6690).
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// Each resource answers with its own name so a test sees which one matched.
struct named : recorder {
    named(harness& h, std::string n) : name(std::move(n)) {
        on_req = [&h, this](const tern_coap_request& r) {
            auto resp = response(code::content, name);
            h.eng->respond(r.exchange, &resp, nullptr);
        };
    }
    std::string name;
};

std::string get(harness& h, std::string_view path, uint16_t mid, uint8_t method = GET) {
    h.in(con(method, path, mid));
    const out o = h.one();
    if (o.code != code::content) {
        char c[8];
        std::snprintf(c, sizeof c, "%u.%02u", o.code >> 5, o.code & 31);
        return std::string(c) + " " + o.text();
    }
    return o.text();
}

}  // namespace

TEST_CASE("router: literal beats capture beats wildcard, segment by segment", "[router]") {
    harness h;
    named a(h, "lit"), b(h, "cap"), c(h, "wild"), d(h, "deep"), e(h, "root");
    h.add("api/v1/telemetry", a);
    h.add("api/v1/{token}", b);
    h.add("api/**", c);
    h.add("api/{x}/{token}/deep", d);
    h.add("", e);
    h.start();
    CHECK(get(h, "api/v1/telemetry", 1) == "lit");
    CHECK(get(h, "api/v1/abc", 2) == "cap");
    CHECK(get(h, "api/v2/abc", 3) == "wild");
    CHECK(get(h, "api", 4) == "wild");  // ** matches zero segments
    // Backtracking: the literal branch "v1" has no ".../deep", the capture branch has.
    CHECK(get(h, "api/v1/abc/deep", 5) == "deep");
    CHECK(get(h, "api/v1/abc/other", 6) == "wild");
    CHECK(get(h, "", 7) == "root");
}

TEST_CASE("router: captures are handed to the handler in order", "[router]") {
    harness h;
    recorder rec;
    h.add("/dev/{id}/item/{n}", rec);
    h.start();
    h.in(con(GET, "dev/42/item/7", 1));
    REQUIRE(rec.requests.size() == 1);
    CHECK(rec.requests[0].captures == std::vector<std::string>{"42", "7"});
    CHECK(rec.requests[0].path == std::vector<std::string>{"dev", "42", "item", "7"});
    CHECK(rec.requests[0].transport == "udp");
}

TEST_CASE("router: 4.04 and 4.05 carry diagnostics", "[router][rfc7252]") {
    harness h;
    named a(h, "a");
    h.add("a/b", a, TERN_COAP_METHOD_BIT(TERN_COAP_GET) | TERN_COAP_METHOD_BIT(TERN_COAP_POST));
    h.start();
    CHECK(get(h, "x/y", 1) == "4.04 no resource at /x/y");
    CHECK(get(h, "", 2) == "4.04 no resource at /");
    CHECK(get(h, "a/b", 3, DELETE_) == "4.05 method not allowed; allowed: GET, POST");
    CHECK(get(h, "a/b", 4, 9) == "4.05 method not allowed; allowed: GET, POST");  // unknown method
    CHECK(get(h, "a/b", 5) == "a");
}

TEST_CASE("device-api 1.1: one Uri-Path option holding '/' is split", "[router]") {
    harness h;
    recorder rec;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::created);
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("api/v1/{token}/telemetry", rec);
    h.start();
    msg m = con(POST, "", 1);
    m.option(opt::uri_path, to_bytes("/api/v1/TOKEN/telemetry"));
    h.in(m);
    CHECK(h.one().code == code::created);
    REQUIRE(rec.requests.size() == 1);
    CHECK(rec.requests[0].captures == std::vector<std::string>{"TOKEN"});
    // Without the leading '/', and with a trailing one (dropped, like Java's split).
    msg m2 = con(POST, "", 2);
    m2.option(opt::uri_path, to_bytes("api/v1/T2/telemetry/"));
    h.in(m2);
    CHECK(h.one().code == code::created);
    CHECK(rec.requests.back().path == std::vector<std::string>{"api", "v1", "T2", "telemetry"});
}

TEST_CASE("device-api 1.1: split_single_uri_path = false keeps the option whole", "[router]") {
    engine_config c = small_config();
    c.split_single_uri_path = false;
    harness h(c);
    recorder rec;
    h.add("api/v1/{token}/telemetry", rec);
    h.start();
    msg m = con(POST, "", 1);
    m.option(opt::uri_path, to_bytes("/api/v1/TOKEN/telemetry"));
    h.in(m);
    CHECK(h.one().code == code::not_found);
}

TEST_CASE("add_resource validates patterns and refuses ambiguous ones", "[router]") {
    harness h;
    recorder rec;
    CHECK(h.add("a/{x}", rec) != 0);
    CHECK(h.add("a/{y}", rec) == 0);  // same shape as a/{x}
    tern_coap_resource d{};
    d.struct_size = sizeof d;
    d.methods = 2;
    uint64_t id = 0;
    for (const char* bad : {"a/**/b", "a//b", "a/{x", "a/x*", "a/{}"}) {
        d.pattern = bad;
        CHECK(h.eng->add_resource(&d, &rec, &id) == TERN_INVALID_ARGUMENT);
    }
    d.pattern = "a/{x}";
    CHECK(h.eng->add_resource(&d, &rec, &id) == TERN_EXISTS);
    CHECK(h.eng->add_resource(nullptr, &rec, &id) == TERN_INVALID_ARGUMENT);
}

TEST_CASE("router: a resource accepting no method answers every method 4.05", "[router]") {
    harness h;
    recorder rec;
    h.add("node", rec, 0);
    h.start();
    h.in(con(GET, "node", 1));
    const out o = h.one();
    CHECK(o.code == code::method_not_allowed);
    CHECK(o.text() == "method not allowed; allowed: none");
    CHECK(rec.requests.empty());
}

TEST_CASE("router: a removed resource is no longer routed and its requests are dropped", "[router]") {
    harness h;
    recorder rec;
    const uint64_t id = h.add("gone", rec);
    h.start();
    h.in(con(GET, "gone", 1));
    REQUIRE(rec.requests.size() == 1);
    h.eng->remove_resource(id);
    auto r = response(code::content);
    CHECK(h.respond(rec.requests[0].exchange, r) == TERN_NOT_FOUND);
    h.in(con(GET, "gone", 2));
    CHECK(h.take().back().code == code::not_found);
}

TEST_CASE("RFC 6690: /.well-known/core lists the resources in link format", "[router][rfc6690]") {
    harness h;
    recorder rec;
    h.add("sensors/temp", rec, 2, TERN_COAP_RESOURCE_OBSERVABLE, "rt=\"temperature-c\";if=\"sensor\"");
    h.add("api/v1/{token}/telemetry", rec, 4);
    h.add("api/v1/{token}/rpc", rec, 6, TERN_COAP_RESOURCE_OBSERVABLE);
    h.add("fw/**", rec, 2, 0, "ct=42");
    h.add("secret", rec, 2, TERN_COAP_RESOURCE_HIDDEN);
    h.start();
    h.in(con(GET, ".well-known/core", 1));
    const out o = h.one();
    CHECK(o.code == code::content);
    CHECK(o.uint_opt(opt::content_format) == uint64_t{TERN_COAP_FORMAT_LINK});
    CHECK(o.text() ==
          "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\";obs,</api/v1>;obs,</fw>;ct=42");

    SECTION("RFC 6690 4.1: filtering by attribute, by href prefix, by presence") {
        h.in(con(GET, ".well-known/core", 2).query("rt=temperature-c"));
        CHECK(h.one().text() == "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\";obs");
        h.in(con(GET, ".well-known/core", 3).query("rt=temp*"));
        CHECK(h.one().text() == "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\";obs");
        h.in(con(GET, ".well-known/core", 4).query("href=/api*"));
        CHECK(h.one().text() == "</api/v1>;obs");
        h.in(con(GET, ".well-known/core", 5).query("ct=42"));
        CHECK(h.one().text() == "</fw>;ct=42");
        h.in(con(GET, ".well-known/core", 6).query("obs"));
        CHECK(h.one().text() == "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\";obs,</api/v1>;obs");
        h.in(con(GET, ".well-known/core", 7).query("rt=nothing"));
        const out none = h.one();
        CHECK(none.code == code::content);
        CHECK(none.payload.empty());
    }
    SECTION("only GET") {
        h.in(con(POST, ".well-known/core", 8));
        const out p = h.one();
        CHECK(p.code == code::method_not_allowed);
        CHECK(p.text() == "method not allowed; allowed: GET");
    }
}

TEST_CASE("RFC 6690 + RFC 7959: a long /.well-known/core goes block-wise", "[router][rfc6690][rfc7959]") {
    engine_config c = small_config();
    c.max_message_size = 64;
    c.preferred_block_size = 64;
    harness h(c);
    recorder rec;
    std::vector<std::string> names;
    for (int i = 0; i < 10; ++i) names.push_back("resource-number-" + std::to_string(i));
    for (const auto& n : names) h.add(n, rec);
    h.start();
    std::string doc;
    for (uint32_t num = 0;; ++num) {
        h.in(con(GET, ".well-known/core", static_cast<uint16_t>(num + 1)).block2(num, 2));
        const out o = h.one();
        REQUIRE(o.code == code::content);
        const auto b = o.block_opt(opt::block2);
        REQUIRE(b);
        CHECK(b->num == num);
        doc += o.text();
        if (!b->more) break;
    }
    CHECK(doc.find("</resource-number-9>") != std::string::npos);
    CHECK(doc.size() > 64);
}

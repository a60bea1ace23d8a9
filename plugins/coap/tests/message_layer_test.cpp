// RFC 7252 §4 (messages, reliability, deduplication) and §5.4 (option handling) as the
// engine's message layer implements them.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// A resource at /r answering every request synchronously with 2.05 "hello".
struct sync_fixture {
    harness h;
    recorder rec;
    sync_fixture() {
        rec.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::content, "hello", TERN_COAP_FORMAT_TEXT);
            CHECK(h.eng->respond(r.exchange, &resp, nullptr) == TERN_OK);
        };
        h.add("r", rec);
        h.start();
    }
};

}  // namespace

TEST_CASE("RFC 7252 4.3: an Empty CON (CoAP ping) is answered with RST", "[rfc7252][message]") {
    sync_fixture f;
    f.h.in(empty_msg(msg_type::con, 0x1234));
    const out o = f.h.one();
    CHECK(o.type == msg_type::rst);
    CHECK(o.code == 0);
    CHECK(o.mid == 0x1234);
    CHECK(o.raw.size() == 4);
    CHECK(f.rec.requests.empty());
}

TEST_CASE("RFC 7252 4.2: a malformed CON is rejected with an RST carrying its MID", "[rfc7252][message]") {
    sync_fixture f;
    // TKL 9 is a message format error (§3).
    f.h.in(bytes{0x49, 0x01, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    const out o = f.h.one();
    CHECK(o.type == msg_type::rst);
    CHECK(o.mid == 0xBEEF);
    CHECK(f.h.metrics.dropped("malformed_con") == 1);
    // An option running past the end is malformed too.
    f.h.in(bytes{0x40, 0x01, 0x00, 0x07, 0xB5, 'a'});
    CHECK(f.h.one().type == msg_type::rst);
}

TEST_CASE("RFC 7252 4.3: a malformed NON, ACK or RST is silently ignored", "[rfc7252][message]") {
    sync_fixture f;
    f.h.in(bytes{0x59, 0x01, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // NON, TKL 9
    f.h.in(bytes{0x69, 0x00, 0x00, 0x02, 1});                          // ACK, TKL 9
    f.h.in(bytes{0x50, 0x01, 0x00, 0x03, 0xFF});                       // NON, empty payload marker
    CHECK(f.h.take().empty());
    CHECK(f.h.metrics.dropped("malformed") == 3);
}

TEST_CASE("RFC 7252 3: too short or bad version datagrams are ignored and counted", "[rfc7252][message]") {
    sync_fixture f;
    f.h.in(bytes{0x40, 0x01});
    f.h.in(bytes{0x80, 0x01, 0x00, 0x01});  // version 2
    CHECK(f.h.take().empty());
    CHECK(f.h.metrics.dropped("too_short") == 1);
    CHECK(f.h.metrics.dropped("bad_version") == 1);
}

TEST_CASE("RFC 7252 4.3: an Empty NON is a format error and is ignored", "[rfc7252][message]") {
    sync_fixture f;
    f.h.in(empty_msg(msg_type::non, 9));
    CHECK(f.h.take().empty());
}

TEST_CASE("RFC 7252 4.2: a response code in a CON is rejected with RST, in a NON ignored",
          "[rfc7252][message]") {
    sync_fixture f;
    msg m = con(code::content, "r", 77);
    f.h.in(m);
    const out o = f.h.one();
    CHECK(o.type == msg_type::rst);
    CHECK(o.mid == 77);
    m.type = msg_type::non;
    f.h.in(m);
    CHECK(f.h.take().empty());
    // A request code riding in an ACK is no request.
    m = con(GET, "r", 78);
    m.type = msg_type::ack;
    f.h.in(m);
    CHECK(f.h.take().empty());
    CHECK(f.rec.requests.empty());
    CHECK(f.h.metrics.dropped("unexpected_message") == 3);
}

TEST_CASE("RFC 7252 5.2.1: a synchronous answer is piggy-backed in the ACK", "[rfc7252][message]") {
    sync_fixture f;
    msg m = con(GET, "r", 0x0102);
    m.token = {1, 2, 3, 4};
    f.h.in(m);
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.code == code::content);
    CHECK(o.mid == 0x0102);
    CHECK(o.token == bytes{1, 2, 3, 4});
    CHECK(o.uint_opt(opt::content_format) == 0u);
    CHECK(o.text() == "hello");
    CHECK(f.h.metrics.get("coap_requests_total", "method=\"GET\",code=\"2.05\"") == 1);
}

TEST_CASE("RFC 7252 5.4.1: an unrecognised critical option gets 4.02 naming it", "[rfc7252][options]") {
    sync_fixture f;
    f.h.in(con(GET, "r", 5).option(2049, to_bytes("x")));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.code == code::bad_option);
    CHECK(o.text() == "unsupported critical option 2049");
    CHECK_FALSE(o.has(opt::content_format));
    CHECK(f.rec.requests.empty());
}

TEST_CASE("RFC 7252 5.4.1: an unrecognised elective option is ignored", "[rfc7252][options]") {
    sync_fixture f;
    f.h.in(con(GET, "r", 5).option(2050, to_bytes("x")));
    CHECK(f.h.one().code == code::content);
    REQUIRE(f.rec.requests.size() == 1);
    // The handler still sees every option in wire order.
    CHECK(f.rec.requests[0].option_numbers == std::vector<uint16_t>{opt::uri_path, 2050});
}

TEST_CASE("RFC 7252 5.4.3: a critical option with an invalid length gets 4.02", "[rfc7252][options]") {
    sync_fixture f;
    f.h.in(con(GET, "r", 5).option(opt::if_none_match, to_bytes("x")));
    const out o = f.h.one();
    CHECK(o.code == code::bad_option);
    CHECK(o.text() == "invalid critical option 5 (If-None-Match)");
    // A repeated non-repeatable critical option (§5.4.5) likewise.
    f.h.in(con(GET, "r", 6).option_uint(opt::accept, 50).option_uint(opt::accept, 0));
    CHECK(f.h.one().code == code::bad_option);
    // An elective option out of range is treated as absent: Content-Format of 3 bytes.
    f.h.in(con(GET, "r", 7).option(opt::content_format, bytes{1, 2, 3}));
    CHECK(f.h.one().code == code::content);
    CHECK(f.rec.requests.back().content_format == -1);
}

TEST_CASE("RFC 8613 / 9177: known but unimplemented critical options get 4.02", "[rfc7252][options]") {
    sync_fixture f;
    f.h.in(con(GET, "r", 5).option(opt::oscore, bytes{}));
    CHECK(f.h.one().code == code::bad_option);
}

TEST_CASE("RFC 7252 5.10.2: Proxy-Uri gets 5.05 Proxying Not Supported", "[rfc7252][options]") {
    sync_fixture f;
    f.h.in(con(GET, "r", 5).option(opt::proxy_uri, to_bytes("coap://x/")));
    const out o = f.h.one();
    CHECK(o.code == make_code(5, 5));
    CHECK(o.text() == "proxying not supported");
}

TEST_CASE("RFC 7252 5.4: more options than the engine accepts get 4.02 too many options",
          "[rfc7252][options]") {
    sync_fixture f;
    msg m = con(GET, "r", 5);
    m.token = {9, 9};
    for (int i = 0; i < 70; ++i) m.query("q");
    f.h.in(m);
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.code == code::bad_option);
    CHECK(o.token == bytes{9, 9});
    CHECK(o.text() == "too many options");
}

TEST_CASE("RFC 7252 4.5: a duplicate CON gets the very same piggy-backed response",
          "[rfc7252][dedup]") {
    sync_fixture f;
    const msg m = con(GET, "r", 0x4242);
    f.h.in(m);
    const out first = f.h.one();
    f.h.advance_ms(2500);
    f.h.in(m);
    const out again = f.h.one();
    CHECK(again.raw == first.raw);
    CHECK(f.rec.requests.size() == 1);
    CHECK(f.h.metrics.get("coap_duplicates_total") == 1);
    // The same MID from another peer is another request.
    f.h.in(m, peer_v4(2));
    CHECK(f.h.one().code == code::content);
    CHECK(f.rec.requests.size() == 2);
}

TEST_CASE("RFC 7252 4.5: engine errors are replayed to duplicates too", "[rfc7252][dedup]") {
    sync_fixture f;
    const msg m = con(GET, "nothing-here", 3);
    f.h.in(m);
    const out first = f.h.one();
    CHECK(first.code == code::not_found);
    f.h.in(m);
    CHECK(f.h.one().raw == first.raw);
}

TEST_CASE("RFC 7252 4.5: a duplicate CON while the response is pending gets an empty ACK",
          "[rfc7252][dedup]") {
    harness h;
    recorder rec;  // answers later
    h.add("r", rec);
    h.start();
    const msg m = con(GET, "r", 10);
    h.in(m);
    CHECK(h.take().empty());  // within piggyback_timeout: nothing yet
    h.advance_ms(100);
    h.in(m);  // the client retransmits early
    const out ack = h.one();
    CHECK(ack.type == msg_type::ack);
    CHECK(ack.empty());
    CHECK(ack.mid == 10);
    REQUIRE(rec.requests.size() == 1);
    // The answer now goes separately, as a CON.
    auto resp = response(code::content, "late");
    REQUIRE(h.respond(rec.requests[0].exchange, resp) == TERN_OK);
    const out sep = h.one();
    CHECK(sep.type == msg_type::con);
    CHECK(sep.mid != 10);
    CHECK(sep.text() == "late");
    // A further duplicate gets the empty ACK again.
    h.in(m);
    const out ack2 = h.one();
    CHECK(ack2.type == msg_type::ack);
    CHECK(ack2.empty());
}

TEST_CASE("RFC 7252 4.5: a duplicate NON is ignored", "[rfc7252][dedup]") {
    harness h;
    recorder rec;
    h.add("r", rec);
    h.start();
    const msg m = non(GET, "r", 11);
    h.in(m);
    h.in(m);
    CHECK(rec.requests.size() == 1);
    CHECK(h.metrics.dropped("duplicate_non") == 1);
}

TEST_CASE("RFC 7252 4.8.2: after EXCHANGE_LIFETIME a MID is a new request", "[rfc7252][dedup]") {
    sync_fixture f;
    const msg m = con(GET, "r", 12);
    f.h.in(m);
    f.h.take();
    f.h.advance_ms(246000);
    f.h.in(m);
    f.h.take();
    CHECK(f.rec.requests.size() == 1);
    f.h.advance_ms(2000);  // 248 s > EXCHANGE_LIFETIME (247 s)
    f.h.in(m);
    f.h.take();
    CHECK(f.rec.requests.size() == 2);
}

TEST_CASE("RFC 7252 4.5: the dedup store is bounded: the oldest entries leave first", "[rfc7252][dedup]") {
    engine_config c = small_config();
    c.dedup_capacity = 4;
    harness h(c);
    recorder rec;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::content, "x");
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("r", rec);
    h.start();
    for (uint16_t mid = 1; mid <= 5; ++mid) h.in(con(GET, "r", mid));
    h.take();
    CHECK(h.census().dedup == 4);
    CHECK(h.metrics.dropped("dedup_evicted") == 1);
    h.in(con(GET, "r", 1));  // evicted: processed again
    h.in(con(GET, "r", 5));  // remembered: replayed
    h.take();
    CHECK(rec.requests.size() == 6);
}

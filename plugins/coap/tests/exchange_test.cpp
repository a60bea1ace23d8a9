// Exchanges: piggy-backed vs separate responses (RFC 7252 §5.2), CON retransmission with
// exponential back-off (§4.2), NON (§4.3, §5.2.3), the handler timeout, No-Response
// (RFC 7967), load shedding and session ends.
#include <catch2/catch.hpp>

#include <set>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// An asynchronous resource at /r: the test answers when it wants.
struct async_fixture {
    harness h;
    recorder rec;
    explicit async_fixture(engine_config c = small_config()) : h(c) {
        h.add("r", rec);
        h.start();
    }
    uint64_t last() const { return rec.requests.back().exchange; }
};

}  // namespace

TEST_CASE("RFC 7252 5.2.1: a response within piggyback_timeout rides in the ACK", "[rfc7252][exchange]") {
    async_fixture f;
    f.h.in(con(GET, "r", 20));
    f.h.advance_ms(400);
    CHECK(f.h.take().empty());
    auto r = response(code::content, "fast");
    REQUIRE(f.h.respond(f.last(), r) == TERN_OK);
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.mid == 20);
    CHECK(o.text() == "fast");
    f.h.advance_ms(1000);
    CHECK(f.h.take().empty());  // no empty ACK after the fact
    CHECK(f.h.census().exchanges == 0);
    // Answered once: a second respond is refused.
    CHECK(f.h.respond(f.last(), r) == TERN_NOT_FOUND);
}

TEST_CASE("RFC 7252 5.2.2: a slow response gets an empty ACK, then a separate CON response",
          "[rfc7252][exchange]") {
    async_fixture f;
    msg m = con(GET, "r", 21);
    m.token = {0xAB, 0xCD};
    f.h.in(m);
    f.h.advance_ms(499);
    CHECK(f.h.take().empty());
    f.h.advance_ms(1);
    const out ack = f.h.one();
    CHECK(ack.type == msg_type::ack);
    CHECK(ack.empty());
    CHECK(ack.mid == 21);
    CHECK(ack.at_ms - 1000 == Approx(500));
    f.h.advance_ms(100);
    auto r = response(code::content, "slow");
    REQUIRE(f.h.respond(f.last(), r) == TERN_OK);
    const out sep = f.h.one();
    CHECK(sep.type == msg_type::con);
    CHECK(sep.mid != 21);
    CHECK(sep.token == bytes{0xAB, 0xCD});
    CHECK(sep.text() == "slow");
    // The client's ACK completes the exchange.
    f.h.in(empty_msg(msg_type::ack, sep.mid));
    CHECK(f.h.census().exchanges == 0);
    f.h.advance_ms(100000);
    CHECK(f.h.take().empty());
}

TEST_CASE("RFC 7252 4.2: a separate CON response is retransmitted with exponential back-off",
          "[rfc7252][exchange][retransmit]") {
    async_fixture f;
    f.h.in(con(GET, "r", 22));
    f.h.advance_ms(600);
    f.h.take();  // the empty ACK
    auto r = response(code::content, "again");
    REQUIRE(f.h.respond(f.last(), r) == TERN_OK);
    const out first = f.h.one();
    f.h.advance_ms(200000);
    const auto again = f.h.take();
    // MAX_RETRANSMIT (4) retransmissions, each the same bytes, then it gives up.
    REQUIRE(again.size() == 4);
    std::vector<double> times{first.at_ms};
    for (const out& o : again) {
        CHECK(o.raw == first.raw);
        times.push_back(o.at_ms);
    }
    const double t0 = times[1] - times[0];
    CHECK(t0 >= 2000);
    CHECK(t0 <= 3000);  // ACK_TIMEOUT * ACK_RANDOM_FACTOR
    for (int i = 2; i <= 4; ++i) CHECK(times[i] - times[i - 1] == Approx(2 * (times[i - 1] - times[i - 2])).margin(1));
    CHECK(f.h.metrics.get("coap_retransmissions_total") == 4);
    CHECK(f.h.metrics.dropped("retransmit_timeout") == 1);
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("RFC 7252 4.2: the initial timeout is random within [ACK_TIMEOUT, ACK_TIMEOUT*1.5]",
          "[rfc7252][exchange][retransmit]") {
    std::set<long> seen;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        harness h(small_config(), 1, seed);
        recorder rec;
        h.add("r", rec);
        h.start();
        h.in(con(GET, "r", 1));
        h.advance_ms(600);
        h.take();
        auto r = response(code::content);
        h.respond(rec.requests.back().exchange, r);
        const out first = h.one();
        h.advance_ms(3001);
        const auto v = h.take();
        REQUIRE(v.size() == 1);
        const double t0 = v[0].at_ms - first.at_ms;
        CHECK(t0 >= 2000);
        CHECK(t0 <= 3000);
        seen.insert(static_cast<long>(t0));
    }
    CHECK(seen.size() > 5);  // jitter, not a constant
}

TEST_CASE("RFC 7252 4.2: retransmission stops when the ACK arrives", "[rfc7252][exchange][retransmit]") {
    async_fixture f;
    f.h.in(con(GET, "r", 23));
    f.h.advance_ms(600);
    f.h.take();
    auto r = response(code::content);
    f.h.respond(f.last(), r);
    const out sep = f.h.one();
    f.h.advance_ms(3001);
    CHECK(f.h.take().size() == 1);  // one retransmission
    f.h.in(empty_msg(msg_type::ack, sep.mid));
    f.h.advance_ms(100000);
    CHECK(f.h.take().empty());
    CHECK(f.h.metrics.get("coap_retransmissions_total") == 1);
}

TEST_CASE("RFC 7252 4.2: an RST for a separate response cancels it", "[rfc7252][exchange]") {
    async_fixture f;
    f.h.in(con(GET, "r", 24));
    f.h.advance_ms(600);
    f.h.take();
    auto r = response(code::content);
    f.h.respond(f.last(), r);
    const out sep = f.h.one();
    f.h.in(empty_msg(msg_type::rst, sep.mid));
    f.h.advance_ms(100000);
    CHECK(f.h.take().empty());
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("RFC 7252 4.2: unmatched ACK and RST are ignored and counted", "[rfc7252][exchange]") {
    async_fixture f;
    f.h.in(empty_msg(msg_type::ack, 999));
    f.h.in(empty_msg(msg_type::rst, 998));
    CHECK(f.h.take().empty());
    CHECK(f.h.metrics.dropped("unmatched_ack") == 1);
    CHECK(f.h.metrics.dropped("unmatched_rst") == 1);
}

TEST_CASE("RFC 7252 5.2.3: a NON request gets a NON response", "[rfc7252][exchange]") {
    async_fixture f;
    msg m = non(GET, "r", 25);
    m.token = {1};
    f.h.in(m);
    f.h.advance_ms(1000);
    CHECK(f.h.take().empty());  // no ACK for a NON
    auto r = response(code::content, "non");
    f.h.respond(f.last(), r);
    const out o = f.h.one();
    CHECK(o.type == msg_type::non);
    CHECK(o.token == bytes{1});
    CHECK(o.text() == "non");
    f.h.advance_ms(100000);
    CHECK(f.h.take().empty());  // sent once
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("device-api 1.3: a handler that never answers: empty ACK, then nothing at all",
          "[rfc7252][exchange]") {
    async_fixture f;
    f.h.in(con(GET, "r", 26));
    f.h.advance_ms(600);
    CHECK(f.h.one().empty());
    f.h.advance_ms(9399);
    CHECK(f.h.census().exchanges == 1);
    f.h.advance_ms(2);  // past `timeout` (10 s)
    CHECK(f.h.take().empty());
    CHECK(f.h.census().exchanges == 0);
    CHECK(f.h.metrics.dropped("exchange_timeout") == 1);
    CHECK(f.h.metrics.get("coap_requests_total", "method=\"GET\",code=\"none\"") == 1);
    auto r = response(code::content);
    CHECK(f.h.respond(f.last(), r) == TERN_NOT_FOUND);
}

TEST_CASE("piggyback_timeout 0: the empty ACK goes at once unless the handler answered inside",
          "[rfc7252][exchange]") {
    engine_config c = small_config();
    c.piggyback_timeout_ms = 0;
    harness h(c);
    recorder slow, quick;
    quick.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::changed);
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("slow", slow);
    h.add("quick", quick);
    h.start();
    h.in(con(GET, "slow", 1));
    const out ack = h.one();
    CHECK(ack.type == msg_type::ack);
    CHECK(ack.empty());
    h.in(con(GET, "quick", 2));
    const out piggy = h.one();
    CHECK(piggy.type == msg_type::ack);
    CHECK(piggy.code == code::changed);
}

TEST_CASE("RFC 7967: No-Response suppresses the classes it names", "[rfc7967][exchange]") {
    async_fixture f;
    // 2 = not interested in 2.xx: a CON still gets its (empty) ACK.
    f.h.in(con(POST, "r", 30).option_uint(opt::no_response, 2));
    auto ok = response(code::changed);
    f.h.respond(f.last(), ok);
    const out ack = f.h.one();
    CHECK(ack.type == msg_type::ack);
    CHECK(ack.empty());
    // A NON gets nothing at all.
    f.h.in(non(POST, "r", 31).option_uint(opt::no_response, 2));
    f.h.respond(f.last(), ok);
    CHECK(f.h.take().empty());
    // 4.xx is still wanted with value 2 ...
    f.h.in(non(POST, "r", 32).option_uint(opt::no_response, 2));
    auto bad = response(code::bad_request, "no");
    f.h.respond(f.last(), bad);
    CHECK(f.h.one().code == code::bad_request);
    // ... and suppressed with 8, including the engine's own errors.
    f.h.in(non(GET, "missing", 33).option_uint(opt::no_response, 8));
    CHECK(f.h.take().empty());
}

TEST_CASE("TERN_COAP_RESPONSE_SILENT sends nothing but the CON's empty ACK", "[exchange]") {
    async_fixture f;
    f.h.in(con(POST, "r", 40));
    auto r = response(code::changed);
    r.flags = TERN_COAP_RESPONSE_SILENT;
    REQUIRE(f.h.respond(f.last(), r) == TERN_OK);
    const out ack = f.h.one();
    CHECK(ack.type == msg_type::ack);
    CHECK(ack.empty());
    f.h.advance_ms(20000);
    CHECK(f.h.take().empty());
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("respond() refuses requests codes and malformed records, releasing the body once",
          "[exchange]") {
    async_fixture f;
    f.h.in(con(GET, "r", 41));
    counting_body body(to_bytes("abc"));
    tern_coap_response r = response(GET);  // a method is no response code
    r.body = &body;
    CHECK(f.h.respond(f.last(), r) == TERN_INVALID_ARGUMENT);
    CHECK(body.released == 1);
    tern_coap_response ok = response(code::content);
    ok.body = &body;
    CHECK(f.h.respond(f.last() ^ 1, ok) == TERN_NOT_FOUND);  // wrong generation
    CHECK(body.released == 2);
    CHECK(f.h.eng->respond(f.last(), nullptr, nullptr) == TERN_INVALID_ARGUMENT);
}

TEST_CASE("load shedding: past max_exchanges requests get 5.03 with Max-Age", "[shed]") {
    engine_config c = small_config();
    c.max_exchanges = 4;
    c.overload_max_age = 7;
    async_fixture f(c);
    for (uint16_t mid = 1; mid <= 4; ++mid) f.h.in(con(GET, "r", mid));
    CHECK(f.h.take().empty());
    f.h.in(con(GET, "r", 5));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.code == code::service_unavailable);
    CHECK(o.uint_opt(opt::max_age) == 7u);
    CHECK(o.text() == "server busy: too many exchanges");
    CHECK(f.h.metrics.shed("exchanges") == 1);
    CHECK(f.rec.requests.size() == 4);
}

TEST_CASE("load shedding: past max_peers a new peer gets 5.03, idle peers are reclaimed", "[shed]") {
    engine_config c = small_config();
    c.max_peers = 4;
    async_fixture f(c);
    for (uint8_t p = 1; p <= 4; ++p) f.h.in(non(GET, "r", 1), peer_v4(p));
    f.h.in(con(GET, "r", 1), peer_v4(9));
    const out o = f.h.one();
    CHECK(o.code == code::service_unavailable);
    CHECK(o.text() == "server busy: too many peers");
    CHECK(f.h.metrics.shed("peers") == 1);
    // Once their exchanges and dedup entries are gone the peers are idle and reclaimable.
    f.h.advance_ms(150000);  // > timeout and NON_LIFETIME
    CHECK(f.h.census().idle_peers == 4);
    f.h.in(con(GET, "r", 1), peer_v4(9));
    f.h.advance_ms(600);
    CHECK(f.h.one().empty());  // admitted: just the empty ACK
    CHECK(f.h.metrics.dropped("peer_evicted") == 1);
    // Idle peers (no exchange, no dedup entry left) are forgotten after EXCHANGE_LIFETIME.
    f.h.advance_ms(600000);
    CHECK(f.h.census().peers == 0);
    CHECK(f.h.metrics.get("coap_peers") == 0);
}

TEST_CASE("a transport session end drops the peer's exchanges and dedup state", "[session]") {
    async_fixture f;
    const tern_peer dtls = peer_v4(5, 5684, 77);
    f.h.in(con(GET, "r", 50), dtls);
    REQUIRE(f.rec.requests.size() == 1);
    CHECK(f.h.census().exchanges == 1);
    f.h.as_shard(0, [&] { f.h.eng->on_session_end(0, 0, &dtls); });
    CHECK(f.h.census().exchanges == 0);
    CHECK(f.h.census().dedup == 0);
    CHECK(f.h.census().peers == 0);
    auto r = response(code::content);
    CHECK(f.h.respond(f.last(), r) == TERN_NOT_FOUND);
    // The same MID from a new session is a new request.
    f.h.in(con(GET, "r", 50), peer_v4(5, 5684, 78));
    CHECK(f.rec.requests.size() == 2);
}

TEST_CASE("a DTLS session keeps its identity across address changes", "[session]") {
    async_fixture f;
    f.h.in(con(GET, "r", 60), peer_v4(5, 1000, 99));
    f.h.in(con(GET, "r", 60), peer_v4(6, 2000, 99));  // same session, new address: duplicate
    CHECK(f.rec.requests.size() == 1);
    const out ack = f.h.one();
    CHECK(ack.empty());
    CHECK(ack.peer.endpoint.addr[3] == 6);
    auto r = response(code::content);
    f.h.respond(f.last(), r);
    const out sep = f.h.one();
    CHECK(sep.peer.endpoint.port == 2000);  // answers follow the session's current address
}

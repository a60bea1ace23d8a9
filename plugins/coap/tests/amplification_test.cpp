// Amplification limits (RFC 7252 §11.3, RFC 9175): answers to unverified source addresses
// stay within amplification_factor times the request's bytes; Echo values and ACKs of our
// CON messages verify an address; the verified-address table is bounded. Its own binary:
// it replaces the global operator new (the SDK's testing_alloc.hpp) to check that the
// limited path allocates nothing.
#include <catch2/catch.hpp>

#include <array>

#include "harness.hpp"
#include "tern/sdk/testing_alloc.hpp"  // replaces operator new (and counts mutex locks)

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// The limits with cutting only (verify_by_ping has its own tests below).
engine_config amp_config() {
    engine_config c = small_config();
    c.amplification_factor = 3;
    c.verify_by_ping = false;
    return c;
}

engine_config ping_config() {
    engine_config c = amp_config();
    c.verify_by_ping = true;
    return c;
}

// /big answers 2000 bytes, /post answers 600 bytes to POST, /slow answers when told.
struct amp_fixture {
    harness h;
    recorder rec;
    bytes big = bytes(2000, 'B');
    bytes post_body = bytes(600, 'P');
    explicit amp_fixture(engine_config c = amp_config()) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            const std::string p = r.path_count > 0 ? std::string(r.path[0].data, r.path[0].size) : "";
            if (p == "slow") return;
            tern_coap_response resp = response(code::content, "", TERN_COAP_FORMAT_OCTET_STREAM);
            if (p == "big") resp.payload = tern_bytes{big.data(), big.size()};
            if (p == "post") {
                resp.code = code::changed;
                resp.payload = tern_bytes{post_body.data(), post_body.size()};
            }
            CHECK(h.eng->respond(r.exchange, &resp, nullptr) == TERN_OK);
        };
        h.add("big", rec);
        h.add("post", rec);
        h.add("slow", rec);
        h.start();
    }
    int64_t limited(std::string_view action) const {
        return h.metrics.get("coap_amplification_limited_total",
                             "action=\"" + std::string(action) + "\"");
    }
    int64_t verified(std::string_view how) const {
        return h.metrics.get("coap_address_verifications_total", "how=\"" + std::string(how) + "\"");
    }
    int64_t pings(std::string_view result) const {
        return h.metrics.get("coap_verification_pings_total", "result=\"" + std::string(result) + "\"");
    }
};

bool is_ping(const out& o) {
    return o.type == msg_type::con && o.code == 0 && o.raw.size() == 4;
}

// A request the size a device sends: 8-byte token, a path, a 28-byte query (a device API
// request carries its 20-character access token in the path).
msg dev(uint8_t code, std::string_view path, uint16_t mid) {
    msg m = con(code, path, mid);
    m.token = bytes{1, 2, 3, 4, 5, 6, 7, 8};
    m.query("token=0123456789abcdefghij");
    return m;
}

}  // namespace

TEST_CASE("SipHash-2-4 gives the reference output", "[amplification]") {
    // The reference vector: key 00..0f, message 00..0e.
    uint8_t msg[15];
    for (int i = 0; i < 15; ++i) msg[i] = static_cast<uint8_t>(i);
    CHECK(siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, msg, 15) == 0xa129ca6149be45e5ull);
}

TEST_CASE("verified-address table: bounded, expiring, evicts the entry that expires first",
          "[amplification]") {
    verified_addresses t;
    t.init(8, 42);  // one set of 8 ways
    REQUIRE(t.capacity() == 8);
    const uint64_t now = 1'000'000'000;
    for (uint8_t i = 1; i <= 8; ++i) CHECK_FALSE(t.insert(0, peer_v4(i).endpoint, now, now + i * 1000));
    for (uint8_t i = 1; i <= 8; ++i) CHECK(t.contains(0, peer_v4(i).endpoint, now));
    CHECK_FALSE(t.contains(1, peer_v4(1).endpoint, now));            // another transport
    CHECK_FALSE(t.contains(0, peer_v4(1, 40001).endpoint, now));     // another port
    // Full: the ninth takes the place of the one that expires first (1), counted as evicted.
    CHECK(t.insert(0, peer_v4(9).endpoint, now, now + 9000));
    CHECK_FALSE(t.contains(0, peer_v4(1).endpoint, now));
    CHECK(t.contains(0, peer_v4(9).endpoint, now));
    // Expired entries are not verified and make room without an eviction.
    CHECK_FALSE(t.contains(0, peer_v4(2).endpoint, now + 2000));
    CHECK_FALSE(t.insert(0, peer_v4(10).endpoint, now + 2500, now + 99999));
    CHECK(t.live(now + 2500) == 8);
}

TEST_CASE("Echo values: bound to the address, expire, cannot be forged", "[amplification]") {
    echo_codec e;
    e.init(1, 2);
    const uint64_t now = 5'000'000'000;
    const uint64_t life = 60'000'000'000;
    const echo_value v = e.make(0, peer_v4(1).endpoint, now);
    const std::span<const uint8_t> s{v.data(), v.size()};
    CHECK(e.check(0, peer_v4(1).endpoint, s, now + 1'000'000'000, life) == echo_codec::result::valid);
    CHECK(e.check(0, peer_v4(2).endpoint, s, now, life) == echo_codec::result::forged);
    CHECK(e.check(0, peer_v4(1, 1).endpoint, s, now, life) == echo_codec::result::forged);
    CHECK(e.check(0, peer_v4(1).endpoint, s, now + life + 2'000'000'000, life) ==
          echo_codec::result::stale);
    echo_value t = v;
    t[11] ^= 1;
    CHECK(e.check(0, peer_v4(1).endpoint, std::span<const uint8_t>{t.data(), t.size()}, now, life) ==
          echo_codec::result::forged);
    echo_codec other;
    other.init(3, 4);
    CHECK(other.check(0, peer_v4(1).endpoint, s, now, life) == echo_codec::result::forged);
}

TEST_CASE("a large 2.05 to an unverified address goes in blocks that fit 3x the request, with Echo",
          "[amplification]") {
    amp_fixture f;
    const msg req = dev(GET, "big", 10);
    const std::size_t req_len = req.encode().size();
    f.h.in(req);
    const out o = f.h.one();
    CHECK(o.code == code::content);
    CHECK(o.raw.size() <= 3 * req_len);
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b.has_value());
    CHECK(b->num == 0);
    CHECK(b->more);
    CHECK(b->szx < 6);
    CHECK(o.payload.size() == b->size());
    CHECK(o.uint_opt(opt::size2) == 2000u);
    REQUIRE(o.has(opt::echo));
    CHECK(f.limited("block") == 1);

    // The client goes on with block 1 at that size and returns the Echo value: the address
    // is verified; the block size it asked for stays (a server never sends larger blocks).
    msg next = dev(GET, "big", 11);
    next.block2(1, b->szx).option(opt::echo, *o.opt(opt::echo));
    f.h.in(next);
    const out o2 = f.h.one();
    CHECK(o2.code == code::content);
    CHECK(o2.block_opt(opt::block2)->num == 1);
    CHECK(o2.block_opt(opt::block2)->szx == b->szx);
    CHECK_FALSE(o2.has(opt::echo));
    CHECK(f.verified("echo") == 1);

    // From now on the address gets our full block size.
    f.h.in(dev(GET, "big", 12));
    const out o3 = f.h.one();
    CHECK(o3.block_opt(opt::block2)->szx == 6);
    CHECK(o3.payload.size() == 1024);
    CHECK(f.limited("block") == 1);
}

TEST_CASE("a Block2 request for a large block is renumbered into smaller blocks", "[amplification]") {
    amp_fixture f;
    msg req = dev(GET, "big", 10);
    req.block2(1, 6);  // offset 1024
    const std::size_t req_len = req.encode().size();
    f.h.in(req);
    const out o = f.h.one();
    CHECK(o.raw.size() <= 3 * req_len);
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b.has_value());
    CHECK(b->offset() == 1024);
    CHECK(o.payload == bytes(o.payload.size(), 'B'));
}

TEST_CASE("with the Echo offer off, limited answers carry no Echo", "[amplification]") {
    engine_config c = amp_config();
    c.echo_in_limited_responses = false;
    amp_fixture f(c);
    const msg req = dev(GET, "big", 10);
    f.h.in(req);
    const out o = f.h.one();
    CHECK(o.raw.size() <= 3 * req.encode().size());
    CHECK_FALSE(o.has(opt::echo));
    CHECK(o.block_opt(opt::block2).has_value());
}

TEST_CASE("an error diagnostic to an unverified address is cut to the budget", "[amplification]") {
    amp_fixture f;
    msg req = con(GET, "x", 3);
    req.token.clear();
    const std::size_t req_len = req.encode().size();  // 6 bytes
    f.h.in(req);
    const out o = f.h.one();
    CHECK(o.code == code::not_found);
    CHECK(o.raw.size() <= 3 * req_len);
    CHECK(o.text().rfind("no resource", 0) == 0);
    CHECK(f.limited("truncated") == 1);

    // A bare 4-byte CON GET: the answer is at most 12 bytes.
    f.h.in(bytes{0x40, 0x01, 0x00, 0x09});
    const out o2 = f.h.one();
    CHECK(o2.code == code::not_found);
    CHECK(o2.raw.size() <= 12);
}

TEST_CASE("a cached response is never replayed to a duplicate too small for it", "[amplification]") {
    amp_fixture f;
    const msg req = dev(GET, "big", 0x4242);
    const bytes wire = req.encode();
    f.h.in(req);
    const out o = f.h.one();
    CHECK(o.raw.size() <= 3 * wire.size());
    // The same retransmission gets the same bytes again.
    f.h.in(wire);
    CHECK(f.h.one().raw == o.raw);
    // A 4-byte CON with the same MID (the reflection trick) gets nothing.
    f.h.in(bytes{0x40, 0x01, 0x42, 0x42});
    CHECK(f.h.take().empty());
    CHECK(f.limited("replay_dropped") == 1);
}

TEST_CASE("a separate CON response to an unverified address is not retransmitted past the budget",
          "[amplification]") {
    amp_fixture f;
    msg req = dev(GET, "slow", 20);
    const std::size_t req_len = req.encode().size();
    f.h.in(req);
    REQUIRE(f.rec.requests.size() == 1);
    f.h.advance_ms(600);  // the piggyback deadline: empty ACK
    auto acks = f.h.take();
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].type == msg_type::ack);
    const std::string body(40, 'S');
    auto resp = response(code::content, body);
    REQUIRE(f.h.respond(f.rec.requests[0].exchange, resp) == TERN_OK);
    const out first = f.h.one();
    CHECK(first.type == msg_type::con);
    std::size_t total = 4 + first.raw.size();
    f.h.advance_ms(100000);
    for (const out& o : f.h.take()) total += o.raw.size();
    CHECK(total <= 3 * req_len);
    CHECK(f.limited("retransmit_skipped") >= 1);
    // Some retransmissions fit (a 40-byte body), never all max_retransmit of them.
    CHECK(f.h.metrics.get("coap_retransmissions_total") < 4);
}

TEST_CASE("an ACK of our CON verifies the address, retransmissions then go on", "[amplification]") {
    amp_fixture f;
    f.h.in(dev(GET, "slow", 20));
    f.h.advance_ms(600);
    f.h.take();
    auto resp = response(code::content, "ok");
    REQUIRE(f.h.respond(f.rec.requests[0].exchange, resp) == TERN_OK);
    const out sep = f.h.one();
    REQUIRE(sep.type == msg_type::con);
    f.h.in(empty_msg(msg_type::ack, sep.mid));
    CHECK(f.verified("ack") == 1);
    f.h.in(dev(GET, "big", 21));
    const out o = f.h.one();
    CHECK(o.payload.size() == 1024);  // unlimited now
}

TEST_CASE("DTLS peers (transport sessions) are verified", "[amplification]") {
    amp_fixture f;
    f.h.in(dev(GET, "big", 1), peer_v4(1, 40000, 77));
    const out o = f.h.one();
    CHECK(o.payload.size() == 1024);
    CHECK(f.limited("block") == 0);
}

TEST_CASE("a 2.04 with a large payload to POST is not cut (its effect happened), and counted",
          "[amplification]") {
    amp_fixture f;
    f.h.in(dev(POST, "post", 1));
    const out o = f.h.one();
    CHECK(o.code == code::changed);
    CHECK(o.payload.size() == 600);
    CHECK(f.limited("exceeded") == 1);
}

TEST_CASE("require_echo: 4.01 with Echo until the request repeats it", "[amplification]") {
    engine_config c = amp_config();
    c.require_echo = true;
    amp_fixture f(c);
    const msg req = dev(GET, "big", 1);
    f.h.in(req);
    const out o = f.h.one();
    CHECK(o.code == code::unauthorized);
    CHECK(o.raw.size() <= 3 * req.encode().size());
    REQUIRE(o.has(opt::echo));
    CHECK(f.rec.requests.empty());
    CHECK(f.limited("echo_challenge") == 1);

    // A forged value: challenged again.
    bytes bad = *o.opt(opt::echo);
    bad[5] ^= 0x55;
    msg forged = dev(GET, "big", 2);
    forged.option(opt::echo, bad);
    f.h.in(forged);
    CHECK(f.h.one().code == code::unauthorized);
    CHECK(f.h.metrics.get("coap_echo_rejected_total") == 1);

    // The value we issued: verified, served in full.
    msg again = dev(GET, "big", 3);
    again.option(opt::echo, *o.opt(opt::echo));
    f.h.in(again);
    const out ok = f.h.one();
    CHECK(ok.code == code::content);
    CHECK(ok.payload.size() == 1024);
    CHECK(f.rec.requests.size() == 1);
    // Verified for verified_lifetime: later requests need no Echo...
    f.h.in(dev(GET, "big", 4));
    CHECK(f.h.one().code == code::content);
    // ... until it ends.
    f.h.advance_ms(static_cast<double>(c.verified_lifetime_ms) + 1000);
    f.h.take();
    f.h.in(dev(GET, "big", 5));
    CHECK(f.h.one().code == code::unauthorized);
    // An Echo value older than verified_lifetime is refused.
    msg old = dev(GET, "big", 6);
    old.option(opt::echo, *o.opt(opt::echo));
    f.h.in(old);
    CHECK(f.h.one().code == code::unauthorized);
}

TEST_CASE("the verified-address table is bounded per shard, evictions are counted", "[amplification]") {
    engine_config c = amp_config();
    c.max_verified_addresses = 8;
    c.require_echo = true;
    amp_fixture f(c);
    for (uint8_t i = 1; i <= 9; ++i) {
        f.h.in(dev(GET, "big", i), peer_v4(i));
        const out ch = f.h.one();
        REQUIRE(ch.has(opt::echo));
        msg again = dev(GET, "big", static_cast<uint16_t>(100 + i));
        again.option(opt::echo, *ch.opt(opt::echo));
        f.h.in(again, peer_v4(i));
        CHECK(f.h.one().code == code::content);
    }
    CHECK(f.verified("echo") == 9);
    CHECK(f.h.metrics.dropped("verified_evicted") == 1);
    CHECK(f.h.eng->at(0).amplification().verified.live(f.h.env.now) == 8);
}

// ---- verification by a CoAP ping (verify_by_ping) ------------------------------------------

TEST_CASE("ping: a Reset within the piggyback window verifies the address, the whole answer rides in the ACK",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    const msg req = dev(GET, "big", 10);
    f.h.in(req);
    // No answer yet: the ping (Empty CON) to the request's address.
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    CHECK(p.mid != 10);
    CHECK(f.pings("sent") == 1);
    CHECK(f.verified("ping") == 0);
    // The client's stack answers the ping with RST (RFC 7252 §4.3).
    f.h.in(empty_msg(msg_type::rst, p.mid));
    CHECK(f.verified("ping") == 1);
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.mid == 10);
    CHECK(o.code == code::content);
    CHECK(o.token == req.token);
    CHECK(o.payload.size() == 1024);  // our block size: nothing cut
    CHECK(o.uint_opt(opt::size2) == 2000u);
    CHECK_FALSE(o.has(opt::echo));
    CHECK(f.limited("block") == 0);
    CHECK(f.h.census().exchanges == 0);
    // A retransmission of the request gets the same ACK from the cache.
    f.h.in(req);
    CHECK(f.h.one().raw == o.raw);
    // Verified: the next answer is whole at once, no ping.
    f.h.in(dev(GET, "big", 11));
    const out o2 = f.h.one();
    CHECK(o2.type == msg_type::ack);
    CHECK(o2.payload.size() == 1024);
    CHECK(f.pings("sent") == 1);
}

TEST_CASE("ping: the ACK is held past the piggyback window, a later Reset still sends the whole answer in it",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    const msg req = dev(GET, "big", 10);
    f.h.in(req);
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    f.h.advance_ms(600);  // past piggyback_timeout: no empty ACK for a held answer
    CHECK(f.h.take().empty());
    f.h.in(empty_msg(msg_type::rst, p.mid));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.mid == 10);
    CHECK(o.code == code::content);
    CHECK(o.token == req.token);
    CHECK(o.payload.size() == 1024);
    CHECK(f.verified("ping") == 1);
    f.h.advance_ms(60000);
    CHECK(f.h.take().empty());
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("ping: an answer the handler gives after the piggyback window goes as a separate CON response after the Reset",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    const msg req = dev(GET, "slow", 10);
    f.h.in(req);
    REQUIRE(f.rec.requests.size() == 1);
    f.h.advance_ms(600);  // piggyback_timeout: the empty ACK, as for any slow answer
    const out ack = f.h.one();
    CHECK(ack.type == msg_type::ack);
    CHECK(ack.code == 0);
    CHECK(ack.mid == 10);
    auto resp = response(code::content, "", TERN_COAP_FORMAT_OCTET_STREAM);
    resp.payload = tern_bytes{f.big.data(), f.big.size()};
    REQUIRE(f.h.respond(f.rec.requests[0].exchange, resp) == TERN_OK);
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    f.h.in(empty_msg(msg_type::rst, p.mid));
    const out sep = f.h.one();
    CHECK(sep.type == msg_type::con);
    CHECK(sep.code == code::content);
    CHECK(sep.token == req.token);
    CHECK(sep.payload.size() == 1024);
    // Retransmitted like any separate CON response until its ACK comes.
    f.h.advance_ms(3100);
    CHECK(f.h.one().raw == sep.raw);
    f.h.in(empty_msg(msg_type::ack, sep.mid));
    f.h.advance_ms(60000);
    CHECK(f.h.take().empty());
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("ping: a NON request gets no ACK, and its answer goes NON after the Reset",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    msg req = dev(GET, "big", 10);
    req.type = msg_type::non;
    f.h.in(req);
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    f.h.in(empty_msg(msg_type::rst, p.mid));
    const out sep = f.h.one();
    CHECK(sep.type == msg_type::non);
    CHECK(sep.token == req.token);
    CHECK(sep.payload.size() == 1024);
    CHECK(f.h.census().exchanges == 0);
}

TEST_CASE("ping: a retransmitted request while its answer is held is absorbed, the answer rides in the ACK",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    const msg req = dev(GET, "big", 10);
    f.h.in(req);
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    f.h.in(req);  // the client's retransmission: no empty ACK, nothing at all
    CHECK(f.h.take().empty());
    CHECK(f.rec.requests.size() == 1);  // not handled twice
    f.h.in(empty_msg(msg_type::rst, p.mid));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.mid == 10);
    CHECK(o.payload.size() == 1024);
}

TEST_CASE("ping: with piggyback_timeout 0 an answer given at once is held in the ACK too", "[amplification][ping]") {
    engine_config c = ping_config();
    c.piggyback_timeout_ms = 0;
    amp_fixture f(c);
    f.h.in(dev(GET, "big", 10));
    const out p = f.h.one();  // the ping only
    REQUIRE(is_ping(p));
    f.h.in(empty_msg(msg_type::rst, p.mid));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.mid == 10);
    CHECK(o.payload.size() == 1024);
}

TEST_CASE("ping: without a Reset the answer goes limited after ping_timeout, within 3x in all",
          "[amplification][ping]") {
    engine_config c = ping_config();
    amp_fixture f(c);
    const msg req = dev(GET, "big", 10);
    const std::size_t req_len = req.encode().size();
    f.h.in(req);
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    std::size_t total = p.raw.size();
    f.h.advance_ms(static_cast<double>(c.ping_timeout_ms) - 1);
    CHECK(f.h.take().empty());  // no empty ACK at the piggyback deadline: the ACK is held
    f.h.advance_ms(2);
    const out lim = f.h.one();  // the limited answer, in the ACK
    CHECK(lim.type == msg_type::ack);
    CHECK(lim.mid == 10);
    CHECK(lim.code == code::content);
    const auto b = lim.block_opt(opt::block2);
    REQUIRE(b.has_value());
    CHECK(b->num == 0);
    CHECK(b->szx < 6);
    CHECK(lim.uint_opt(opt::size2) == 2000u);
    total += lim.raw.size();
    // Every byte sent to the address (ping, ACK, answer and any retransmission) counts.
    f.h.advance_ms(200000);
    for (const out& o : f.h.take()) total += o.raw.size();
    CHECK(total <= 3 * req_len);
    CHECK(f.pings("timeout") == 1);
    CHECK(f.limited("block") == 1);
    CHECK(f.verified("ping") == 0);
    CHECK(f.h.census().exchanges == 0);
    // A late Reset (a stack that answers pings only now and then) still verifies the
    // address for the next requests; a second one with that MID is a stray.
    f.h.in(empty_msg(msg_type::rst, p.mid));
    CHECK(f.verified("ping") == 1);
    CHECK(f.pings("late") == 1);
    CHECK(f.h.take().empty());
    f.h.in(empty_msg(msg_type::rst, p.mid));
    CHECK(f.pings("late") == 1);
    f.h.in(dev(GET, "big", 11));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.payload.size() == 1024);
    CHECK(f.pings("sent") == 1);
}

TEST_CASE("ping: a late Reset with a wrong MID verifies nothing and forgets the ping", "[amplification][ping]") {
    engine_config c = ping_config();
    amp_fixture f(c);
    f.h.in(dev(GET, "big", 10));
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    f.h.advance_ms(static_cast<double>(c.ping_timeout_ms) + 1);
    CHECK(f.h.one().type == msg_type::ack);  // limited
    f.h.in(empty_msg(msg_type::rst, static_cast<uint16_t>(p.mid + 1)));
    f.h.in(empty_msg(msg_type::rst, p.mid));  // one guess only: the right MID comes too late
    CHECK(f.verified("ping") == 0);
    CHECK(f.pings("late") == 0);
    CHECK(f.h.take().empty());
}

TEST_CASE("ping: with a short ping_timeout the limited answer rides in the ACK, within 3x",
          "[amplification][ping]") {
    engine_config c = ping_config();
    c.ping_timeout_ms = 100;
    amp_fixture f(c);
    const msg req = dev(GET, "big", 10);
    f.h.in(req);
    std::size_t total = f.h.one().raw.size();
    f.h.advance_ms(101);
    const out lim = f.h.one();
    CHECK(lim.type == msg_type::ack);
    CHECK(lim.mid == 10);
    CHECK(lim.block_opt(opt::block2).has_value());
    total += lim.raw.size();
    CHECK(total <= 3 * req.encode().size());
    f.h.advance_ms(200000);
    CHECK(f.h.take().empty());
}

TEST_CASE("ping: a Reset with a wrong MID cancels the ping, verifies nothing, holds the address off",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    f.h.in(dev(GET, "big", 10));
    const out p = f.h.one();
    REQUIRE(is_ping(p));
    // A forger guessing the MID from the victim's address and port.
    f.h.in(empty_msg(msg_type::rst, static_cast<uint16_t>(p.mid + 1)));
    const out lim = f.h.one();  // the limited answer at once, in the ACK
    CHECK(lim.type == msg_type::ack);
    CHECK(lim.mid == 10);
    CHECK(lim.block_opt(opt::block2).has_value());
    CHECK(lim.payload.size() < 1024);
    CHECK(f.pings("wrong_mid") == 1);
    CHECK(f.verified("ping") == 0);
    // The right MID now comes too late.
    f.h.in(empty_msg(msg_type::rst, p.mid));
    CHECK(f.verified("ping") == 0);
    CHECK(f.h.take().empty());
    // No ping for that address for ping_holdoff: limited at once.
    f.h.in(dev(GET, "big", 11));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.payload.size() < 1024);
    CHECK(f.pings("held_off") == 1);
    CHECK(f.pings("sent") == 1);
    // Another port of the same host is another address: pinged as usual.
    f.h.in(dev(GET, "big", 12), peer_v4(1, 40001));
    CHECK(is_ping(f.h.one()));
    CHECK(f.pings("sent") == 2);
}

TEST_CASE("ping: one ping per address, a second answer waits on it and goes with it",
          "[amplification][ping]") {
    amp_fixture f(ping_config());
    f.h.in(dev(GET, "big", 10));
    f.h.in(dev(GET, "big", 11));
    const out p = f.h.one();  // one ping for both
    REQUIRE(is_ping(p));
    CHECK(f.pings("waited") == 1);
    f.h.in(empty_msg(msg_type::rst, p.mid));
    const auto both = f.h.take();
    REQUIRE(both.size() == 2);
    for (const out& o : both) {
        CHECK(o.type == msg_type::ack);
        CHECK(o.payload.size() == 1024);
    }
}

TEST_CASE("ping: held answers are bounded (max_pings), past it answers are limited at once",
          "[amplification][ping]") {
    engine_config c = ping_config();
    c.max_pings = 2;
    amp_fixture f(c);
    f.h.in(dev(GET, "big", 10), peer_v4(1));
    f.h.in(dev(GET, "big", 10), peer_v4(2));
    CHECK(f.h.take().size() == 2);  // two pings
    f.h.in(dev(GET, "big", 10), peer_v4(3));
    const out o = f.h.one();
    CHECK(o.type == msg_type::ack);
    CHECK(o.payload.size() < 1024);
    CHECK(f.pings("table_full") == 1);
    CHECK(f.pings("sent") == 2);
    // When they are done, there is room again.
    f.h.advance_ms(static_cast<double>(c.ping_timeout_ms) + 1);
    f.h.take();
    f.h.in(dev(GET, "big", 11), peer_v4(3));
    CHECK(is_ping(f.h.one()));
    CHECK(f.pings("sent") == 3);
}

TEST_CASE("ping: answers that fit, errors and POST answers are never held", "[amplification][ping]") {
    amp_fixture f(ping_config());
    f.h.in(dev(POST, "post", 1));
    CHECK(f.h.one().payload.size() == 600);  // sent whole, as before
    msg nf = con(GET, "x", 3);
    nf.token.clear();
    f.h.in(nf);
    CHECK(f.h.one().code == code::not_found);
    CHECK(f.pings("sent") == 0);
}

TEST_CASE("ping: a peer whose state is dropped while its answer is held leaks nothing",
          "[amplification][ping]") {
    engine_config c = ping_config();
    amp_fixture f(c);
    const uint32_t free_before = f.h.census().tx_chunks_free;
    f.h.in(dev(GET, "big", 10), peer_v4(1, 40000, 99));  // a DTLS session: never pinged
    CHECK(f.h.take().size() == 1);
    f.h.in(dev(GET, "big", 10), peer_v4(5));
    CHECK(f.h.take().size() == 1);
    CHECK(f.h.census().tx_chunks_free < free_before);
    f.h.advance_ms(static_cast<double>(c.ping_timeout_ms) + 1);
    f.h.take();
    f.h.advance_ms(300000);
    f.h.take();
    CHECK(f.h.census().exchanges == 0);
    CHECK(f.h.census().tx_chunks_free == free_before);
}

namespace {

class big_handler final : public tern::coap_handler_v1 {
public:
    engine* eng = nullptr;
    bytes large = bytes(4000, 'L');
    void on_request(const tern_coap_request* r) noexcept override {
        tern_coap_response resp = response(code::content, "", TERN_COAP_FORMAT_OCTET_STREAM);
        resp.payload = tern_bytes{large.data(), large.size()};
        eng->respond(r->exchange, &resp, nullptr);
    }
    void on_observation_end(uint64_t, int32_t) noexcept override {}
    void on_notification_result(uint64_t, uint64_t, int32_t) noexcept override {}
};

}  // namespace

TEST_CASE("the limited path allocates nothing", "[amplification][alloc]") {
    counting_env env;
    fake_metrics metrics;
    engine eng(amp_config(), env, metrics.host(), 1);
    big_handler h;
    h.eng = &eng;
    eng.add_transport("udp");
    eng.start();
    tern_coap_resource d{};
    d.struct_size = sizeof d;
    d.methods = 0x1E;
    d.pattern = "big";
    uint64_t id = 0;
    REQUIRE(eng.add_resource(&d, &h, &id) == TERN_OK);

    std::vector<bytes> reqs;
    for (uint32_t i = 0; i < 4000; ++i)
        reqs.push_back(dev(GET, i % 3 ? "big" : "nowhere", static_cast<uint16_t>(i)).encode());
    const bytes tiny_dup{0x40, 0x01, 0x0F, 0x9E};  // a 4-byte duplicate of MID 3998 (/big)
    auto feed = [&](std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to; ++i) {
            tern_datagram dg{peer_v4(static_cast<uint8_t>(i % 50 + 1)),
                             tern_bytes{reqs[i].data(), reqs[i].size()}};
            eng.on_datagrams(0, 0, &dg, 1);
        }
    };
    feed(0, 2000);  // warm-up
    env.sent = 0;
    tern::sdk::testing::alloc_counter counter;
    feed(2000, 4000);
    tern_datagram dup{peer_v4(3998 % 50 + 1), tern_bytes{tiny_dup.data(), tiny_dup.size()}};
    eng.on_datagrams(0, 0, &dup, 1);
    CHECK(counter.stop().allocations == 0);
    CHECK(env.sent == 2000);
    CHECK(metrics.get("coap_amplification_limited_total", "action=\"block\"") > 2600);
    CHECK(metrics.get("coap_amplification_limited_total", "action=\"replay_dropped\"") == 1);
    eng.stop();
}

TEST_CASE("the ping path (hold, ping, Reset, release) allocates nothing", "[amplification][alloc][ping]") {
    counting_env env;
    env.seed = 7;
    fake_metrics metrics;
    engine_config c = ping_config();
    c.max_peers = 256;
    c.max_exchanges = 256;
    c.max_pings = 256;
    c.retransmission_memory = 1 << 20;
    engine eng(c, env, metrics.host(), 1);
    big_handler h;
    h.eng = &eng;
    eng.add_transport("udp");
    eng.start();
    tern_coap_resource d{};
    d.struct_size = sizeof d;
    d.methods = 0x1E;
    d.pattern = "big";
    uint64_t id = 0;
    REQUIRE(eng.add_resource(&d, &h, &id) == TERN_OK);

    std::vector<bytes> reqs;
    for (uint32_t i = 0; i < 200; ++i) reqs.push_back(dev(GET, "big", static_cast<uint16_t>(i)).encode());
    bytes rst{0x70, 0x00, 0x00, 0x00};
    auto round = [&](uint32_t from, uint32_t to) {
        for (uint32_t i = from; i < to; ++i) {
            const tern_peer p = peer_v4(static_cast<uint8_t>(i + 1), static_cast<uint16_t>(41000 + i));
            env.ping[i + 1] = -1;
            tern_datagram dg{p, tern_bytes{reqs[i].data(), reqs[i].size()}};
            eng.on_datagrams(0, 0, &dg, 1);
            if (env.ping[i + 1] < 0) continue;
            rst[2] = static_cast<uint8_t>(env.ping[i + 1] >> 8);
            rst[3] = static_cast<uint8_t>(env.ping[i + 1]);
            tern_datagram r{p, tern_bytes{rst.data(), rst.size()}};
            eng.on_datagrams(0, 0, &r, 1);
        }
    };
    round(0, 100);  // warm-up
    tern::sdk::testing::alloc_counter counter;
    round(100, 200);
    CHECK(counter.stop().allocations == 0);
    CHECK(metrics.get("coap_address_verifications_total", "how=\"ping\"") == 200);
    eng.stop();
}

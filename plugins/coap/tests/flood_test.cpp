// Spoofed-source floods against the engine's per-shard tables: peers (eviction of peers
// that hold only answered requests, the per-network share), duplicate detection (per-peer
// quota, trusted peers' entries kept in preference) and Block1 reassembly (no reservation
// from Size1, per-peer cap, eviction instead of refusal, the body limit).
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// A source address in network 10.<net>.<host>.x style: 127.<a>.<b>.<c>, port p.
tern_peer src(uint8_t a, uint8_t b, uint8_t c, uint16_t port = 40000) {
    tern_peer p{};
    p.endpoint.family = 4;
    p.endpoint.port = port;
    p.endpoint.addr[0] = 127;
    p.endpoint.addr[1] = a;
    p.endpoint.addr[2] = b;
    p.endpoint.addr[3] = c;
    return p;
}

// The i-th flood source, each in its own /24.
tern_peer flood_src(uint32_t i) {
    return src(static_cast<uint8_t>(1 + (i >> 8)), static_cast<uint8_t>(i & 0xFF), 9);
}

// /r answers synchronously: 2.04 to a body "good" (a device with valid credentials),
// 4.01 to anything else (what device_api answers an unknown token). /slow never answers.
struct flood_fixture {
    harness h;
    recorder rec;
    recorder slow;
    int good = 0;
    explicit flood_fixture(engine_config c) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            const bool ok = std::string_view(reinterpret_cast<const char*>(r.payload.data),
                                             r.payload.size) == "good";
            if (ok) ++good;
            auto resp = ok ? response(code::changed, "stored") : response(make_code(4, 1), "no");
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        h.add("r", rec);
        h.add("slow", slow);
        h.start();
    }
    out send(const msg& m, const tern_peer& from) {
        h.in(m, from);
        return h.one();
    }
};

engine_config flood_config() {
    engine_config c = small_config();
    c.max_peers = 16;
    c.max_exchanges = 64;
    c.dedup_capacity = 64;
    return c;
}

msg post(uint16_t mid, std::string_view body, msg_type t = msg_type::con) {
    msg m = con(POST, "r", mid);
    m.type = t;
    m.body(body);
    return m;
}

}  // namespace

// ---- peers -------------------------------------------------------------------------------

TEST_CASE("flood: one-shot requests from many sources never lock a new device out",
          "[security][flood][peers]") {
    flood_fixture f(flood_config());
    // NON and CON requests to unknown paths and with bad credentials from 200 sources:
    // every one creates a peer and a dedup entry, none an exchange that stays open.
    for (uint32_t i = 0; i < 200; ++i) {
        const tern_peer p = flood_src(i);
        if (i % 3 == 0) f.h.in(non(GET, "nothing", static_cast<uint16_t>(i)), p);
        else if (i % 3 == 1) f.h.in(post(static_cast<uint16_t>(i), "bad", msg_type::non), p);
        else f.h.in(post(static_cast<uint16_t>(i), "bad"), p);
    }
    f.h.take();
    CHECK(f.h.census().peers == 16);
    CHECK(f.h.metrics.shed("peers") == 0);
    CHECK(f.h.metrics.dropped("peer_evicted") == 200 - 16);
    // A device never seen before is served.
    const out o = f.send(post(7, "good"), src(200, 1, 1));
    CHECK(o.code == code::changed);
    CHECK(f.good == 1);
}

TEST_CASE("flood: peers with an open exchange are never evicted, and when all are a new one gets 5.03",
          "[security][flood][peers]") {
    engine_config c = flood_config();
    c.max_peers = 4;
    flood_fixture f(c);
    for (uint32_t i = 0; i < 4; ++i) f.h.in(con(GET, "slow", static_cast<uint16_t>(i + 1)), flood_src(i));
    f.h.take();
    const out o = f.send(post(9, "good"), src(200, 1, 1));
    CHECK(o.code == code::service_unavailable);
    CHECK(o.text() == "server busy: too many peers");
    CHECK(f.h.metrics.shed("peers") == 1);
    CHECK(f.h.census().exchanges == 4);
}

TEST_CASE("flood: a device answered 2.xx is evicted after every unproven peer, and its "
          "duplicate is still answered from the cache",
          "[security][flood][peers][dedup]") {
    flood_fixture f(flood_config());
    const tern_peer dev = src(200, 1, 1);
    const out first = f.send(post(0x4242, "good"), dev);
    REQUIRE(first.code == code::changed);
    for (uint32_t i = 0; i < 300; ++i) f.h.in(post(static_cast<uint16_t>(i), "bad"), flood_src(i));
    f.h.take();
    // The retransmission (same MID) gets the very same response; not processed again.
    const out again = f.send(post(0x4242, "good"), dev);
    CHECK(again.code == code::changed);
    CHECK(again.mid == first.mid);
    CHECK(f.good == 1);
    CHECK(f.h.metrics.get("coap_duplicates_total") == 1);
}

TEST_CASE("flood: one source network holds at most its share of the peer table",
          "[security][flood][peers]") {
    engine_config c = flood_config();
    c.max_peers = 40;
    c.max_peers_per_prefix_percent = 25;  // 10 peers per /24
    flood_fixture f(c);
    // 60 ports of 30 hosts in 127.5.5.0/24: the network recycles its own peers.
    for (uint32_t i = 0; i < 60; ++i)
        f.h.in(non(GET, "nothing", static_cast<uint16_t>(i)),
               src(5, 5, static_cast<uint8_t>(i % 30), static_cast<uint16_t>(1000 + i)));
    f.h.take();
    CHECK(f.h.census().peers == 10);
    CHECK(f.h.metrics.dropped("peer_prefix_recycled") == 50);
    // Other networks still have room without evicting anyone.
    const int64_t evicted = f.h.metrics.dropped("peer_evicted");
    for (uint32_t i = 0; i < 30; ++i)
        f.h.in(non(GET, "nothing", static_cast<uint16_t>(i)), flood_src(i));
    f.h.take();
    CHECK(f.h.census().peers == 40);
    CHECK(f.h.metrics.dropped("peer_evicted") == evicted);
}

TEST_CASE("flood: a network whose share is all open exchanges gets 5.03, others do not",
          "[security][flood][peers]") {
    engine_config c = flood_config();
    c.max_peers = 40;
    c.max_peers_per_prefix_percent = 10;  // 4 peers per /24
    flood_fixture f(c);
    for (uint8_t i = 0; i < 4; ++i) f.h.in(con(GET, "slow", i), src(5, 5, i));
    f.h.take();
    const out o = f.send(post(9, "good"), src(5, 5, 200));
    CHECK(o.code == code::service_unavailable);
    CHECK(f.h.metrics.shed("peers_per_prefix") == 1);
    CHECK(f.send(post(9, "good"), src(6, 5, 200)).code == code::changed);
}

TEST_CASE("flood: IPv6 sources are grouped by their /56", "[security][flood][peers]") {
    engine_config c = flood_config();
    c.max_peers = 40;
    c.max_peers_per_prefix_percent = 10;  // 4 per network
    flood_fixture f(c);
    auto v6 = [](uint8_t net7, uint8_t host) {
        tern_peer p{};
        p.endpoint.family = 6;
        p.endpoint.port = 5000;
        p.endpoint.addr[0] = 0x20;
        p.endpoint.addr[1] = 0x01;
        p.endpoint.addr[6] = net7;   // inside the /56: bits 48..55
        p.endpoint.addr[7] = host;   // outside it
        return p;
    };
    for (uint8_t i = 0; i < 20; ++i) f.h.in(non(GET, "nothing", i), v6(1, i));
    f.h.take();
    CHECK(f.h.census().peers == 4);
    for (uint8_t i = 0; i < 3; ++i) f.h.in(non(GET, "nothing", i), v6(static_cast<uint8_t>(2 + i), 1));
    f.h.take();
    CHECK(f.h.census().peers == 7);
}

// ---- duplicate detection -------------------------------------------------------------------

TEST_CASE("flood: unique MIDs from many sources do not push out a device's dedup entry",
          "[security][flood][dedup]") {
    engine_config c = flood_config();
    c.max_peers = 1024;
    c.dedup_capacity = 32;
    flood_fixture f(c);
    const tern_peer dev = src(200, 1, 1);
    REQUIRE(f.send(post(1, "good"), dev).code == code::changed);  // the device is proven
    const out first = f.send(post(2, "good"), dev);
    REQUIRE(first.code == code::changed);
    for (uint32_t i = 0; i < 500; ++i) f.h.in(post(static_cast<uint16_t>(i), "bad"), flood_src(i));
    f.h.take();
    CHECK(f.h.census().dedup == 32);
    CHECK(f.h.metrics.dropped("dedup_evicted") > 400);
    const out again = f.send(post(2, "good"), dev);
    CHECK(again.code == code::changed);
    CHECK(again.mid == 2);
    CHECK(f.good == 2);  // MID 2 was processed once
}

TEST_CASE("flood: a device's very first request is protected once it is answered 2.xx",
          "[security][flood][dedup]") {
    engine_config c = flood_config();
    c.max_peers = 1024;
    c.dedup_capacity = 32;
    flood_fixture f(c);
    const tern_peer dev = src(200, 1, 1);
    REQUIRE(f.send(post(5, "good"), dev).code == code::changed);
    for (uint32_t i = 0; i < 500; ++i) f.h.in(post(static_cast<uint16_t>(i), "bad"), flood_src(i));
    f.h.take();
    CHECK(f.send(post(5, "good"), dev).code == code::changed);
    CHECK(f.good == 1);
}

TEST_CASE("flood: a device answered 2.xx by a separate response keeps its dedup entry too",
          "[security][flood][dedup]") {
    engine_config c = flood_config();
    c.max_peers = 1024;
    c.dedup_capacity = 32;
    flood_fixture f(c);
    const tern_peer dev = src(200, 1, 1);
    f.h.in(con(POST, "slow", 9).body("good"), dev);
    f.h.advance_ms(600);  // past piggyback_timeout: the empty ACK goes, the answer later
    REQUIRE(f.slow.requests.size() == 1);
    f.h.take();
    auto r = response(code::changed, "stored");
    REQUIRE(f.h.respond(f.slow.requests[0].exchange, r) == TERN_OK);
    const auto sep = f.h.take();
    REQUIRE(sep.size() == 1);
    CHECK(sep[0].code == code::changed);
    f.h.in(empty_msg(msg_type::ack, sep[0].mid), dev);
    for (uint32_t i = 0; i < 500; ++i) f.h.in(post(static_cast<uint16_t>(i), "bad"), flood_src(i));
    f.h.take();
    // The request's retransmission is still recognised: acknowledged, not processed again.
    f.h.in(con(POST, "slow", 9).body("good"), dev);
    const out again = f.h.one();
    CHECK(again.type == msg_type::ack);
    CHECK(again.code == 0);
    CHECK(f.slow.requests.size() == 1);
}

TEST_CASE("flood: a peer over max_dedup_per_peer recycles its own oldest entries only",
          "[security][flood][dedup]") {
    engine_config c = flood_config();
    c.max_dedup_per_peer = 4;
    flood_fixture f(c);
    const tern_peer dev = src(200, 1, 1);
    REQUIRE(f.send(post(100, "good"), dev).code == code::changed);
    const tern_peer noisy = src(9, 9, 9);
    for (uint16_t mid = 1; mid <= 10; ++mid) f.h.in(post(mid, "bad"), noisy);
    f.h.take();
    CHECK(f.h.census().dedup == 5);
    CHECK(f.h.metrics.dropped("dedup_peer_quota") == 6);
    CHECK(f.h.metrics.dropped("dedup_evicted") == 0);
    f.h.in(post(10, "bad"), noisy);  // remembered: replayed, not processed
    f.h.take();
    CHECK(f.rec.requests.size() == 11);
    CHECK(f.send(post(100, "good"), dev).code == code::changed);
    CHECK(f.good == 1);
}

// ---- Block1 ----------------------------------------------------------------------------------

namespace {

struct upload {
    harness h;
    recorder rec;
    explicit upload(engine_config c) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::changed, "got " + std::to_string(r.payload.size));
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        h.add("up", rec, TERN_COAP_METHOD_BIT(TERN_COAP_POST));
        h.start();
    }
    // Block num (SZX 2, 64 bytes) of an upload to /up?q, optionally with Size1.
    out block(uint32_t num, bool more, uint16_t mid, const tern_peer& p, std::string_view q = "a",
              int64_t size1 = -1, std::size_t len = 64) {
        msg m = con(POST, "up", mid);
        m.token = {static_cast<uint8_t>(mid), static_cast<uint8_t>(mid >> 8)};
        m.query(q);
        m.block1(num, more, 2);
        if (size1 >= 0) m.option_uint(opt::size1, static_cast<uint64_t>(size1));
        m.body(bytes(len, 'x'));
        h.in(m, p);
        return h.one();
    }
};

engine_config upload_config() {
    engine_config c = small_config();
    c.max_peers = 256;
    c.max_resource_body_size = 1000;
    c.max_block1_transfers = 4;
    c.max_block1_transfers_per_peer = 2;
    c.block1_memory = 1 << 20;
    return c;
}

}  // namespace

TEST_CASE("flood: Block1 Size1 reserves nothing, memory grows with the bytes received",
          "[security][flood][block1]") {
    engine_config c = upload_config();
    c.max_resource_body_size = 1 << 20;
    upload u(c);
    CHECK(u.block(0, true, 1, src(1, 1, 1), "a", 1 << 20).code == code::continue_);
    CHECK(u.h.eng->block1_bytes().load() <= 4096);
}

TEST_CASE("flood: Block1 over the body limit gets 4.13 with Size1 at the first block past it",
          "[security][flood][block1]") {
    upload u(upload_config());
    const tern_peer p = src(1, 1, 1);
    const out s = u.block(0, true, 1, p, "a", 1001);
    CHECK(s.code == code::request_entity_too_large);
    CHECK(s.uint_opt(opt::size1) == 1000u);
    // Without Size1: 15 blocks of 64 are 960 bytes, the 16th passes 1000.
    uint16_t mid = 10;
    for (uint32_t num = 0; num < 15; ++num) REQUIRE(u.block(num, true, mid++, p).code == code::continue_);
    const out o = u.block(15, true, mid++, p);
    CHECK(o.code == code::request_entity_too_large);
    CHECK(o.uint_opt(opt::size1) == 1000u);
    CHECK(u.h.census().transfers == 0);
    CHECK(u.h.metrics.dropped("block1_too_large") == 2);
    CHECK(u.rec.requests.empty());
}

TEST_CASE("flood: a peer at max_block1_transfers_per_peer gives up its own oldest upload",
          "[security][flood][block1]") {
    upload u(upload_config());
    const tern_peer p = src(1, 1, 1);
    const tern_peer other = src(2, 1, 1);
    CHECK(u.block(0, true, 1, other, "o").code == code::continue_);
    CHECK(u.block(0, true, 2, p, "a").code == code::continue_);
    CHECK(u.block(0, true, 3, p, "b").code == code::continue_);
    CHECK(u.block(0, true, 4, p, "c").code == code::continue_);
    CHECK(u.h.census().transfers == 3);
    CHECK(u.h.metrics.dropped("block1_peer_limit") == 1);
    CHECK(u.block(1, true, 5, p, "a").code == code::request_entity_incomplete);  // gone
    CHECK(u.block(1, false, 6, p, "c").code == code::changed);
    CHECK(u.block(1, false, 7, other, "o").code == code::changed);  // untouched
}

TEST_CASE("flood: a full Block1 table evicts the least recently advanced upload, no 5.03",
          "[security][flood][block1]") {
    engine_config c = upload_config();  // 4 transfers
    c.max_resource_body_size = 1 << 20;
    upload u(c);
    const tern_peer dev = src(200, 1, 1);
    CHECK(u.block(0, true, 1, dev, "dev").code == code::continue_);
    uint16_t mid = 100;
    uint32_t dev_num = 1;
    for (uint32_t i = 0; i < 40; ++i) {
        // The device keeps advancing its upload while the flood starts new ones.
        CHECK(u.block(0, true, mid++, flood_src(i), "x").code == code::continue_);
        if (i % 2 == 0) REQUIRE(u.block(dev_num++, true, mid++, dev, "dev").code == code::continue_);
    }
    CHECK(u.h.metrics.shed("block1_transfers") == 0);
    CHECK(u.h.metrics.dropped("block1_evicted") >= 36);
    CHECK(u.h.census().transfers == 4);
    const out fin = u.block(dev_num, false, mid++, dev, "dev", -1, 10);
    CHECK(fin.code == code::changed);
    CHECK(fin.text() == "got " + std::to_string(dev_num * 64 + 10));
}

TEST_CASE("flood: Block1 memory pressure evicts idle uploads before refusing",
          "[security][flood][block1]") {
    engine_config c = upload_config();
    c.max_resource_body_size = 1 << 20;
    c.max_block1_transfers = 64;
    c.block1_memory = 16384;  // four 4 KiB buffers
    upload u(c);
    for (uint32_t i = 0; i < 10; ++i)
        CHECK(u.block(0, true, static_cast<uint16_t>(i + 1), flood_src(i), "x").code == code::continue_);
    CHECK(u.h.eng->block1_bytes().load() <= 16384);
    CHECK(u.h.metrics.dropped("block1_evicted") == 6);
    CHECK(u.h.metrics.shed("block1_memory") == 0);
}

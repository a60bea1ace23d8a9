// Block-wise transfers (RFC 7959): stateless Block2 slicing with early negotiation and
// range-read bodies; Block1 reassembly with 2.31, 4.08, 4.13 and its bounds.
#include <catch2/catch.hpp>

#include <numeric>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

bytes pattern_body(std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>('a' + (i * 7 + i / 251) % 26);
    return b;
}

// /big answers every GET with the same 3000-byte body (the whole body, every time).
struct big_fixture {
    harness h;
    recorder rec;
    bytes body = pattern_body(3000);
    explicit big_fixture(engine_config c = small_config()) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::content);
            resp.payload = tern_bytes{body.data(), body.size()};
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        h.add("big", rec);
        h.start();
    }
    bytes slice(std::size_t off, std::size_t n) const {
        return bytes(body.begin() + static_cast<long>(off), body.begin() + static_cast<long>(std::min(off + n, body.size())));
    }
};

}  // namespace

TEST_CASE("RFC 7959 2.4: a body over max_message_size goes as block 0 with Block2 and Size2",
          "[rfc7959][block2]") {
    big_fixture f;
    f.h.in(con(GET, "big", 1));
    const out o = f.h.one();
    CHECK(o.code == code::content);
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b);
    CHECK(b->num == 0);
    CHECK(b->more);
    CHECK(b->szx == 6);
    CHECK(o.uint_opt(opt::size2) == 3000u);
    CHECK(o.payload == f.slice(0, 1024));
    CHECK(f.h.metrics.get("coap_block_transfers_total", "dir=\"out\"") == 1);
}

TEST_CASE("RFC 7959 2.4: later blocks are served statelessly, the handler called each time",
          "[rfc7959][block2]") {
    big_fixture f;
    bytes got;
    for (uint32_t num = 0;; ++num) {
        f.h.in(con(GET, "big", static_cast<uint16_t>(num + 1)).block2(num, 6));
        const out o = f.h.one();
        const auto b = o.block_opt(opt::block2);
        REQUIRE(b);
        CHECK(b->num == num);
        CHECK(o.has(opt::size2) == (num == 0));
        got.insert(got.end(), o.payload.begin(), o.payload.end());
        if (!b->more) break;
    }
    CHECK(got == f.body);
    CHECK(f.rec.requests.size() == 3);
    // Any block can be asked for at any time; Size2 in the request asks for the total.
    f.h.in(con(GET, "big", 50).block2(1, 6).option(opt::size2, bytes{}));
    const out o = f.h.one();
    CHECK(o.payload == f.slice(1024, 1024));
    CHECK(o.uint_opt(opt::size2) == 3000u);
}

TEST_CASE("RFC 7959 2.4: early negotiation of a smaller block size", "[rfc7959][block2]") {
    big_fixture f;
    f.h.in(con(GET, "big", 1).block2(0, 2));  // 64-byte blocks
    const out o = f.h.one();
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b);
    CHECK(b->szx == 2);
    CHECK(b->more);
    CHECK(o.payload == f.slice(0, 64));
    f.h.in(con(GET, "big", 2).block2(46, 2));  // the last 64-byte block: 2944..3000
    const out last = f.h.one();
    CHECK_FALSE(last.block_opt(opt::block2)->more);
    CHECK(last.payload == f.slice(2944, 56));
}

TEST_CASE("RFC 7959 2.4: a client block size above ours is answered with ours, renumbered",
          "[rfc7959][block2]") {
    engine_config c = small_config();
    c.preferred_block_size = 256;
    big_fixture f(c);
    f.h.in(con(GET, "big", 1).block2(1, 6));  // offset 1024 in 1024-byte blocks
    const out o = f.h.one();
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b);
    CHECK(b->szx == 4);
    CHECK(b->num == 4);  // 1024 / 256
    CHECK(o.payload == f.slice(1024, 256));
}

TEST_CASE("RFC 7959 2.4: a block past the end gets 4.00 block out of range", "[rfc7959][block2]") {
    big_fixture f;
    f.h.in(con(GET, "big", 1).block2(3, 6));  // 3072 > 3000
    const out o = f.h.one();
    CHECK(o.code == code::bad_request);
    CHECK(o.text() == "block out of range");
    CHECK_FALSE(o.has(opt::block2));
}

TEST_CASE("device-api 1.1: strict Block2: a request with Block2 gets Block2 even for a small body",
          "[rfc7959][block2]") {
    harness h;
    recorder rec;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::content, "tiny");
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("small", rec);
    h.start();
    h.in(con(GET, "small", 1).block2(0, 6));
    const out o = h.one();
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b);
    CHECK(b->num == 0);
    CHECK_FALSE(b->more);
    CHECK(o.text() == "tiny");
    // Without Block2 a small body goes plain.
    h.in(con(GET, "small", 2));
    CHECK_FALSE(h.one().has(opt::block2));
}

TEST_CASE("RFC 7959 2.4: an error response ignores the request's Block2", "[rfc7959][block2]") {
    harness h;
    h.start();
    h.in(con(GET, "nothing", 1).block2(2, 6));
    const out o = h.one();
    CHECK(o.code == code::not_found);
    CHECK_FALSE(o.has(opt::block2));
}

TEST_CASE("RFC 7959 2.4: a coap_body_v1 is read only for the block asked for", "[rfc7959][block2]") {
    harness h;
    recorder rec;
    const bytes data = pattern_body(100000);
    counting_body* last = nullptr;
    std::vector<std::unique_ptr<counting_body>> bodies;
    rec.on_req = [&](const tern_coap_request& r) {
        bodies.push_back(std::make_unique<counting_body>(data));
        last = bodies.back().get();
        auto resp = response(code::content);
        resp.body = last;
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("fw", rec);
    h.start();
    h.in(con(GET, "fw", 1).block2(5, 6));
    const out o = h.one();
    REQUIRE(last != nullptr);
    CHECK(last->bytes_read == 1024);
    CHECK(last->released == 1);
    CHECK(o.payload == bytes(data.begin() + 5 * 1024, data.begin() + 6 * 1024));
    h.in(con(GET, "fw", 2));  // no Block2: block 0 and Size2
    const out first = h.one();
    CHECK(last->bytes_read == 1024);
    CHECK(first.uint_opt(opt::size2) == 100000u);
    CHECK(last->released == 1);
}

TEST_CASE("a body that cannot be read gets 5.00 with a diagnostic", "[rfc7959][block2]") {
    struct broken final : tern::coap_body_v1 {
        uint64_t size() noexcept override { return 5000; }
        tern_status read(uint64_t, uint8_t*, size_t, size_t*) noexcept override { return TERN_IO; }
        void release() noexcept override { ++released; }
        int released = 0;
    } body;
    harness h;
    recorder rec;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::content);
        resp.body = &body;
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("b", rec);
    h.start();
    h.in(con(GET, "b", 1));
    const out o = h.one();
    CHECK(o.code == code::internal_server_error);
    CHECK(o.text() == "response body could not be read");
    CHECK(body.released == 1);
}

// ---- Block1 -----------------------------------------------------------------------------------

namespace {

struct upload_fixture {
    harness h;
    recorder rec;
    explicit upload_fixture(engine_config c = small_config()) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            const std::string text = "got " + std::to_string(r.payload.size);
            auto resp = response(code::changed, text);
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        h.add("up", rec, TERN_COAP_METHOD_BIT(TERN_COAP_POST) | TERN_COAP_METHOD_BIT(TERN_COAP_PUT));
        h.add("up2", rec, TERN_COAP_METHOD_BIT(TERN_COAP_POST));
        h.start();
    }
    out block(uint32_t num, bool more, uint8_t szx, const bytes& all, uint16_t mid,
              const tern_peer& p = peer_v4(), std::string_view path = "up") {
        const std::size_t size = 16u << szx;
        const std::size_t off = num * size;
        const std::size_t n = std::min(size, all.size() - std::min(off, all.size()));
        msg m = con(POST, path, mid);
        m.token = {static_cast<uint8_t>(mid)};  // a new token per block is allowed (§2.5)
        m.block1(num, more, szx);
        m.body(bytes(all.begin() + static_cast<long>(off), all.begin() + static_cast<long>(off + n)));
        h.in(m, p);
        return h.one();
    }
};

}  // namespace

TEST_CASE("RFC 7959 2.5: Block1 reassembly: 2.31 per block, the handler sees the whole body",
          "[rfc7959][block1]") {
    upload_fixture f;
    const bytes all = pattern_body(150);
    for (uint32_t num = 0; num < 2; ++num) {
        const out o = f.block(num, true, 2, all, static_cast<uint16_t>(num + 1));
        CHECK(o.code == code::continue_);
        const auto b = o.block_opt(opt::block1);
        REQUIRE(b);
        CHECK(b->num == num);
        CHECK(b->more);
        CHECK(b->szx == 2);
        CHECK(f.rec.requests.empty());
    }
    const out fin = f.block(2, false, 2, all, 3);
    CHECK(fin.code == code::changed);
    CHECK(fin.text() == "got 150");
    const auto b = fin.block_opt(opt::block1);
    REQUIRE(b);
    CHECK(b->num == 2);
    CHECK_FALSE(b->more);
    REQUIRE(f.rec.requests.size() == 1);
    CHECK(f.rec.requests[0].payload == all);
    CHECK(f.h.census().transfers == 0);
    CHECK(f.h.metrics.get("coap_block_transfers_total", "dir=\"in\"") == 1);
    CHECK(f.h.eng->block1_bytes().load() == 0);
}

TEST_CASE("RFC 7959 2.9.2: an out-of-order block gets 4.08 Request Entity Incomplete",
          "[rfc7959][block1]") {
    upload_fixture f;
    const bytes all = pattern_body(300);
    const out first = f.block(1, true, 2, all, 1);  // no block 0 before it
    CHECK(first.code == code::request_entity_incomplete);
    CHECK(first.text() == "block 1 arrived without the blocks before it");
    CHECK(f.block(0, true, 2, all, 2).code == code::continue_);
    const out skip = f.block(2, true, 2, all, 3);
    CHECK(skip.code == code::request_entity_incomplete);
    CHECK(skip.text() == "block 2 out of order (expected offset 64)");
    CHECK(f.h.census().transfers == 0);  // the transfer is abandoned
    CHECK(f.rec.requests.empty());
}

TEST_CASE("RFC 7959 2.5: a repeated block (new MID) is acknowledged again, not appended",
          "[rfc7959][block1]") {
    upload_fixture f;
    const bytes all = pattern_body(100);
    f.block(0, true, 2, all, 1);
    CHECK(f.block(0, true, 2, all, 2).code == code::continue_);  // client lost our 2.31
    const out fin = f.block(1, false, 2, all, 3);
    CHECK(fin.text() == "got 100");
    CHECK(f.rec.requests[0].payload == all);
}

TEST_CASE("RFC 7959 4: a handler's own 4.13 keeps the Size1 it sets, other Size1 values are the engine's",
          "[rfc7959][block1]") {
    harness h;
    recorder rec;
    rec.on_req = [&h](const tern_coap_request& r) {
        const uint8_t limit[] = {0x10, 0x00};  // 4096
        tern_coap_option o{};
        o.number = TERN_COAP_OPT_SIZE1;
        o.value = tern_bytes{limit, sizeof limit};
        const bool too_big = r.payload.size > 8;
        auto resp = response(too_big ? code::request_entity_too_large : code::changed, "x");
        resp.options = &o;
        resp.option_count = 1;
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("limited", rec, TERN_COAP_METHOD_BIT(TERN_COAP_POST));
    h.start();
    h.in(con(POST, "limited", 1).body(pattern_body(20)));
    const out big = h.one();
    CHECK(big.code == code::request_entity_too_large);
    CHECK(big.uint_opt(opt::size1) == 4096u);
    h.in(con(POST, "limited", 2).body(pattern_body(4)));
    const out small = h.one();
    CHECK(small.code == code::changed);
    CHECK_FALSE(small.uint_opt(opt::size1).has_value());  // Size1 belongs in a 4.13 only
}

TEST_CASE("RFC 7959 4: Size1 over max_resource_body_size gets 4.13 with our limit in Size1",
          "[rfc7959][block1]") {
    engine_config c = small_config();
    c.max_resource_body_size = 1000;
    upload_fixture f(c);
    msg m = con(POST, "up", 1).block1(0, true, 2).option_uint(opt::size1, 5000);
    m.body(pattern_body(64));
    f.h.in(m);
    const out o = f.h.one();
    CHECK(o.code == code::request_entity_too_large);
    CHECK(o.uint_opt(opt::size1) == 1000u);
    CHECK(o.text() == "request body too large (limit 1000 bytes)");
    // Without Size1 the limit bites when the body grows past it.
    const bytes all = pattern_body(2000);
    uint32_t num = 0;
    out last;
    for (; num < 40; ++num) {
        last = f.block(num, true, 4, all, static_cast<uint16_t>(10 + num));
        if (last.code != code::continue_) break;
    }
    CHECK(last.code == code::request_entity_too_large);
    CHECK(num == 3);  // 4 * 256 > 1000
    CHECK(f.h.census().transfers == 0);
}

TEST_CASE("RFC 7959 2.3: a block size above ours is accepted and answered with our SZX",
          "[rfc7959][block1]") {
    engine_config c = small_config();
    c.preferred_block_size = 64;
    upload_fixture f(c);
    const bytes all = pattern_body(1100);
    const out o = f.block(0, true, 6, all, 1);  // 1024 bytes
    CHECK(o.code == code::continue_);
    const auto b = o.block_opt(opt::block1);
    REQUIRE(b);
    CHECK(b->szx == 2);
    CHECK(b->num == 0);
    // The client goes on in 64-byte blocks from offset 1024: num 16, then 17.
    CHECK(f.block(16, true, 2, all, 2).code == code::continue_);
    const out fin = f.block(17, false, 2, all, 3);
    CHECK(fin.text() == "got 1100");
    CHECK((f.rec.requests[0].payload == all));
}

TEST_CASE("RFC 7959 2.5: a Block1 transfer left idle past blockwise_status_lifetime is dropped",
          "[rfc7959][block1]") {
    upload_fixture f;
    const bytes all = pattern_body(100);
    f.block(0, true, 2, all, 1);
    CHECK(f.h.census().transfers == 1);
    f.h.advance_ms(299000);
    CHECK(f.h.census().transfers == 1);
    f.h.advance_ms(2000);
    CHECK(f.h.census().transfers == 0);
    CHECK(f.block(1, false, 2, all, 2).code == code::request_entity_incomplete);
}

TEST_CASE("RFC 7959 2.5: transfers are per peer and per request target", "[rfc7959][block1]") {
    upload_fixture f;
    const bytes a = pattern_body(80), b = bytes(80, 'z');
    f.block(0, true, 2, a, 1, peer_v4(1));
    f.block(0, true, 2, b, 2, peer_v4(2));
    f.block(0, true, 2, b, 3, peer_v4(1), "up2");
    CHECK(f.h.census().transfers == 3);
    CHECK(f.block(1, false, 2, a, 4, peer_v4(1)).text() == "got 80");
    CHECK(f.block(1, false, 2, b, 5, peer_v4(2)).text() == "got 80");
    CHECK(f.rec.requests[0].payload == a);
    CHECK(f.rec.requests[1].payload == b);
}

TEST_CASE("Block1 bounds: a full table or memory budget evicts the least recently advanced "
          "upload, 5.03 only when the upload alone passes the budget",
          "[rfc7959][block1][shed]") {
    engine_config c = small_config();
    c.max_block1_transfers = 2;
    c.block1_memory = 10000;
    c.max_resource_body_size = 1 << 20;
    upload_fixture f(c);
    const bytes all = pattern_body(20000);
    f.block(0, true, 2, all, 1, peer_v4(1));
    f.block(0, true, 2, all, 2, peer_v4(2));
    const out third = f.block(0, true, 2, all, 3, peer_v4(3));
    CHECK(third.code == code::continue_);
    CHECK(f.h.metrics.dropped("block1_evicted") == 1);
    CHECK(f.h.metrics.shed("block1_transfers") == 0);
    // Peer 1's upload was the least recently advanced: it is gone.
    CHECK(f.block(1, true, 2, all, 4, peer_v4(1)).code == code::request_entity_incomplete);
    // Peer 3 grows, evicting peer 2's upload, until it alone passes the budget.
    out o;
    for (uint32_t num = 1; num < 400; ++num) {
        o = f.block(num, true, 2, all, static_cast<uint16_t>(100 + num), peer_v4(3));
        if (o.code != code::continue_) break;
    }
    CHECK(o.code == code::service_unavailable);
    CHECK(o.text() == "server busy: block-wise upload memory exhausted");
    CHECK(f.h.metrics.shed("block1_memory") == 1);
    CHECK(f.h.metrics.dropped("block1_evicted") == 2);
    CHECK(f.h.eng->block1_bytes().load() <= 10000);
    CHECK(f.h.census().transfers == 0);
}

TEST_CASE("RFC 7959 2.3: a non-final block whose payload is not its block size gets 4.00",
          "[rfc7959][block1]") {
    upload_fixture f;
    msg m = con(POST, "up", 1).block1(0, true, 2);
    m.body(pattern_body(10));
    f.h.in(m);
    CHECK(f.h.one().code == code::bad_request);
}

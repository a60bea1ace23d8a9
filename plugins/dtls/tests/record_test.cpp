// The DTLS record reading the transport does before wolfSSL sees a datagram.
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "record.hpp"
#include "flat_index.hpp"
#include "session.hpp"
#include "zero_runs.hpp"

using namespace tern::dtls;

namespace {

void put16(std::vector<uint8_t>& v, unsigned x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x));
}
void put24(std::vector<uint8_t>& v, unsigned x) {
    v.push_back(static_cast<uint8_t>(x >> 16));
    put16(v, x & 0xffff);
}

// A handshake record (epoch 0, sequence seq) holding one message, fragmented as asked.
std::vector<uint8_t> handshake_record(uint8_t type, const std::vector<uint8_t>& body, uint64_t seq = 7,
                                      uint16_t message_seq = 0, unsigned frag_offset = 0,
                                      unsigned frag_len = ~0u, uint16_t epoch = 0) {
    if (frag_len == ~0u) frag_len = static_cast<unsigned>(body.size()) - frag_offset;
    std::vector<uint8_t> hs;
    hs.push_back(type);
    put24(hs, static_cast<unsigned>(body.size()));
    put16(hs, message_seq);
    put24(hs, frag_offset);
    put24(hs, frag_len);
    hs.insert(hs.end(), body.begin() + frag_offset, body.begin() + frag_offset + frag_len);
    std::vector<uint8_t> r{ct_handshake, 0xfe, 0xfd};
    put16(r, epoch);
    for (int i = 5; i >= 0; --i) r.push_back(static_cast<uint8_t>(seq >> (8 * i)));
    put16(r, static_cast<unsigned>(hs.size()));
    r.insert(r.end(), hs.begin(), hs.end());
    return r;
}

std::vector<uint8_t> client_hello_body(const std::vector<uint8_t>& cookie, bool dtls13 = false,
                                       bool ticket = false, const std::vector<uint8_t>& sid = {},
                                       const std::vector<uint8_t>& cookie13 = {}) {
    std::vector<uint8_t> b{0xfe, 0xfd};
    for (int i = 0; i < 32; ++i) b.push_back(static_cast<uint8_t>(i));
    b.push_back(static_cast<uint8_t>(sid.size()));
    b.insert(b.end(), sid.begin(), sid.end());
    b.push_back(static_cast<uint8_t>(cookie.size()));
    b.insert(b.end(), cookie.begin(), cookie.end());
    put16(b, 4);
    put16(b, 0xc0ae);  // ECDHE-ECDSA-AES128-CCM-8
    put16(b, 0xc0a8);  // PSK-AES128-CCM-8
    b.push_back(1);
    b.push_back(0);
    std::vector<uint8_t> ext;
    if (dtls13) {
        put16(ext, 43);
        put16(ext, 5);
        ext.push_back(4);
        put16(ext, 0xfefc);
        put16(ext, 0xfefd);
    }
    if (!cookie13.empty()) {  // TLS 1.3 cookie extension: cookie<1..2^16-1>
        put16(ext, 44);
        put16(ext, static_cast<unsigned>(cookie13.size() + 2));
        put16(ext, static_cast<unsigned>(cookie13.size()));
        ext.insert(ext.end(), cookie13.begin(), cookie13.end());
    }
    if (ticket) {
        put16(ext, 35);
        put16(ext, 3);
        ext.insert(ext.end(), {1, 2, 3});
    }
    put16(ext, 10);  // supported_groups
    put16(ext, 4);
    put16(ext, 2);
    put16(ext, 23);
    put16(b, static_cast<unsigned>(ext.size()));
    b.insert(b.end(), ext.begin(), ext.end());
    return b;
}

bytes_view view(const std::vector<uint8_t>& v) { return bytes_view{v.data(), v.size()}; }

}  // namespace

TEST_CASE("the first byte tells DTLS records from anything else", "[dtls][record]") {
    CHECK(classify(view({22, 0xfe, 0xfd})) == datagram_kind::plaintext_record);
    CHECK(classify(view({23})) == datagram_kind::plaintext_record);
    CHECK(classify(view({25})) == datagram_kind::plaintext_record);
    CHECK(classify(view({0x2f, 0, 0})) == datagram_kind::unified_header);
    // plain CoAP: version 1 in the top two bits (0x40..0x7f)
    CHECK(classify(view({0x40, 0x01, 0x12, 0x34})) == datagram_kind::other);
    CHECK(classify(view({0x50})) == datagram_kind::other);
    CHECK(classify(view({19})) == datagram_kind::other);
    CHECK(classify(bytes_view{}) == datagram_kind::other);
}

TEST_CASE("a record header is read and its length checked", "[dtls][record]") {
    auto rec = handshake_record(hs_client_hello, client_hello_body({}), 0x010203040506ULL);
    auto r = first_record(view(rec));
    REQUIRE(r);
    CHECK(r->type == ct_handshake);
    CHECK(r->version == dtls_1_2);
    CHECK(r->epoch == 0);
    CHECK(r->sequence == 0x010203040506ULL);
    CHECK(r->fragment.size() == rec.size() - record_header_size);
    rec.pop_back();  // one byte short of what the header promises
    CHECK_FALSE(first_record(view(rec)));
    CHECK_FALSE(first_record(view({22, 0xfe, 0xfd, 0, 0})));
}

TEST_CASE("a ClientHello yields what the stateless cookie covers", "[dtls][record]") {
    const std::vector<uint8_t> cookie(32, 0xab);
    const std::vector<uint8_t> sid(32, 0x5a);
    auto rec = handshake_record(hs_client_hello, client_hello_body(cookie, true, true, sid), 9, 1);
    auto ch = client_hello_of(view(rec));
    REQUIRE(ch);
    CHECK(ch->record_sequence == 9);
    CHECK(ch->message_seq == 1);
    CHECK(ch->version == dtls_1_2);
    CHECK(ch->random.size() == 32);
    CHECK(ch->random[31] == 31);
    CHECK(std::vector<uint8_t>(ch->session_id.begin(), ch->session_id.end()) == sid);
    CHECK(std::vector<uint8_t>(ch->cookie.begin(), ch->cookie.end()) == cookie);
    CHECK(ch->cipher_suites.size() == 4);
    CHECK(ch->compression.size() == 1);
    CHECK(ch->offers_dtls13);
    CHECK(ch->has_ticket);

    auto plain = client_hello_of(view(handshake_record(hs_client_hello, client_hello_body({}))));
    REQUIRE(plain);
    CHECK(plain->cookie.empty());
    CHECK_FALSE(plain->offers_dtls13);
    CHECK_FALSE(plain->has_ticket);
    CHECK_FALSE(plain->has_cookie_extension);

    // A DTLS 1.3 ClientHello answering a HelloRetryRequest carries a cookie extension: only
    // such a one may make room in full tables (a first flight is answered statelessly).
    auto retry = client_hello_of(view(handshake_record(
        hs_client_hello, client_hello_body({}, true, false, {}, std::vector<uint8_t>(40, 0x11)))));
    REQUIRE(retry);
    CHECK(retry->offers_dtls13);
    CHECK(retry->has_cookie_extension);
    CHECK_FALSE(ch->has_cookie_extension);
}

TEST_CASE("what is not a whole epoch-0 ClientHello is not answered statelessly", "[dtls][record]") {
    const auto body = client_hello_body({});
    // fragmented
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_hello, body, 1, 0, 0, 20))));
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_hello, body, 1, 0, 20))));
    // another message type, another epoch
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_key_exchange, body))));
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_hello, body, 1, 0, 0, ~0u, 1))));
    // truncated inside the body: a session id longer than what follows
    auto bad = body;
    bad[34] = 200;
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_hello, bad))));
    // extensions whose length runs past the end
    auto bad_ext = body;
    bad_ext[bad_ext.size() - 5] = 0x40;  // the last extension's length
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_hello, bad_ext))));
}

TEST_CASE("a ClientHello with an empty extensions block, or none, gets its cookie", "[dtls][record]") {
    // Small PSK device stacks end their ClientHello with an extensions block of length 0, or
    // leave the block out; both forms are read (psk_empty_ext_test.sh runs such a client).
    const std::vector<uint8_t> cookie(32, 0xab);
    const auto with_ext = client_hello_body(cookie);
    // client_hello_body ends in the block's 2-byte length and one 8-byte extension
    std::vector<uint8_t> none(with_ext.begin(), with_ext.end() - 10);
    std::vector<uint8_t> empty = none;
    empty.insert(empty.end(), {0, 0});
    for (const auto* body : {&empty, &none}) {
        auto ch = client_hello_of(view(handshake_record(hs_client_hello, *body)));
        REQUIRE(ch);
        CHECK(ch->extensions.empty());
        CHECK(std::vector<uint8_t>(ch->cookie.begin(), ch->cookie.end()) == cookie);
        CHECK(ch->cipher_suites.size() == 4);
        CHECK_FALSE(ch->offers_dtls13);
        CHECK_FALSE(ch->has_ticket);
    }
    // one byte where the block's length should be: malformed
    auto half = none;
    half.push_back(0);
    CHECK_FALSE(client_hello_of(view(handshake_record(hs_client_hello, half))));
}

TEST_CASE("a HelloVerifyRequest echoes the ClientHello's sequence numbers", "[dtls][record]") {
    auto rec = handshake_record(hs_client_hello, client_hello_body({}), 0x0a0b, 3);
    auto ch = client_hello_of(view(rec));
    REQUIRE(ch);
    const std::vector<uint8_t> cookie(32, 0x77);
    std::vector<uint8_t> out(200);
    const size_t n = write_hello_verify_request(*ch, view(cookie), out);
    REQUIRE(n == record_header_size + handshake_header_size + 3 + 32);
    out.resize(n);
    // smaller than the ClientHello it answers: no amplification
    CHECK(n < rec.size());
    auto r = first_record(view(out));
    REQUIRE(r);
    CHECK(r->type == ct_handshake);
    CHECK(r->version == dtls_1_0);
    CHECK(r->epoch == 0);
    CHECK(r->sequence == 0x0a0b);
    const auto f = r->fragment;
    CHECK(f[0] == hs_hello_verify_request);
    CHECK((f[4] << 8 | f[5]) == 3);                 // message_seq
    CHECK((f[9] << 16 | f[10] << 8 | f[11]) == 35); // whole message in one fragment
    CHECK((f[12] << 8 | f[13]) == dtls_1_0);
    CHECK(f[14] == 32);
    CHECK(std::memcmp(f.data() + 15, cookie.data(), 32) == 0);

    std::vector<uint8_t> small(20);
    CHECK(write_hello_verify_request(*ch, view(cookie), small) == 0);
    const std::vector<uint8_t> huge(300, 1);
    CHECK(write_hello_verify_request(*ch, view(huge), out) == 0);
}

TEST_CASE("the PSK identity is read from a plaintext ClientKeyExchange", "[dtls][record]") {
    std::vector<uint8_t> cke;
    put16(cke, 5);
    for (char c : std::string("dev-1")) cke.push_back(static_cast<uint8_t>(c));
    // A flight: ClientKeyExchange then ChangeCipherSpec, in one datagram
    auto d = handshake_record(hs_client_key_exchange, cke, 4, 2);
    d.insert(d.end(), {ct_change_cipher_spec, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 1});
    auto id = psk_identity(view(d));
    REQUIRE(id);
    CHECK(*id == "dev-1");
    // behind another record too
    std::vector<uint8_t> two = {ct_change_cipher_spec, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 1};
    auto cke_rec = handshake_record(hs_client_key_exchange, cke);
    two.insert(two.end(), cke_rec.begin(), cke_rec.end());
    CHECK(psk_identity(view(two)) == std::optional<std::string_view>("dev-1"));
    // none, or cut short
    CHECK_FALSE(psk_identity(view(handshake_record(hs_client_hello, client_hello_body({})))));
    auto cut = cke;
    cut.resize(4);
    CHECK_FALSE(psk_identity(view(handshake_record(hs_client_key_exchange, cut))));
    // encrypted (epoch 1): not readable, not read
    CHECK_FALSE(psk_identity(view(handshake_record(hs_client_key_exchange, cke, 1, 0, 0, ~0u, 1))));
}

TEST_CASE("a DTLS 1.3 record's Connection ID has the length the server chose", "[dtls][record]") {
    std::vector<uint8_t> d{0x3c /* 001 C=1 S=1 L=1 EE=00 */, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 0, 4, 0xaa};
    auto cid = unified_header_cid(view(d), 8);
    REQUIRE(cid);
    CHECK(std::vector<uint8_t>(cid->begin(), cid->end()) == std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});
    d[0] = 0x2c;  // no C bit
    CHECK_FALSE(unified_header_cid(view(d), 8));
    CHECK_FALSE(unified_header_cid(view({0x3c, 1, 2}), 8));
    CHECK_FALSE(unified_header_cid(view(d), 0));
}

namespace {

// A record of content type tls12_cid (RFC 9146): the CID between the sequence number and
// the length; body bytes of the given count.
std::vector<uint8_t> cid_record(const std::vector<uint8_t>& cid, uint16_t epoch, uint64_t seq, size_t body) {
    std::vector<uint8_t> r{ct_tls12_cid, 0xfe, 0xfd};
    put16(r, epoch);
    for (int i = 5; i >= 0; --i) r.push_back(static_cast<uint8_t>(seq >> (8 * i)));
    r.insert(r.end(), cid.begin(), cid.end());
    put16(r, static_cast<unsigned>(body));
    r.insert(r.end(), body, 0xab);
    return r;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& more) { to.insert(to.end(), more.begin(), more.end()); }

}  // namespace

TEST_CASE("a DTLS 1.2 CID datagram yields its CID and its oldest record number", "[dtls][record]") {
    const std::vector<uint8_t> cid{0, 1, 2, 3, 4, 5, 6, 7};
    SECTION("one record") {
        const auto d = cid_record(cid, 1, 0x0000123456789aULL, 40);
        auto r = tls12_cid_records(view(d), 8);
        REQUIRE(r);
        CHECK(std::vector<uint8_t>(r->cid.begin(), r->cid.end()) == cid);
        CHECK(r->oldest == (uint64_t{1} << 48 | 0x0000123456789aULL));
    }
    SECTION("several records: the smallest epoch and sequence of them, whatever their order") {
        auto d = cid_record(cid, 1, 9, 20);
        append(d, cid_record(cid, 1, 4, 3));
        append(d, cid_record(cid, 2, 0, 0));  // a newer epoch ranks above every sequence of the old one
        auto r = tls12_cid_records(view(d), 8);
        REQUIRE(r);
        CHECK(r->oldest == (uint64_t{1} << 48 | 4));
    }
    SECTION("plain DTLS 1.2 records beside them are walked over and do not count") {
        auto d = cid_record(cid, 1, 7, 16);
        append(d, handshake_record(hs_client_hello, client_hello_body({}), 2));
        auto r = tls12_cid_records(view(d), 8);
        REQUIRE(r);
        CHECK(r->oldest == (uint64_t{1} << 48 | 7));
    }
    SECTION("the CID length is the server's: another length reads another header") {
        const auto d = cid_record({9, 9, 9, 9}, 1, 1, 5);
        auto r = tls12_cid_records(view(d), 4);
        REQUIRE(r);
        CHECK(r->cid.size() == 4);
        CHECK_FALSE(tls12_cid_records(view(d), 8));  // the length field would fall in the body
    }
    SECTION("truncated, trailing garbage, not tls12_cid first, or no CID length: nothing") {
        auto d = cid_record(cid, 1, 1, 10);
        auto cut = d;
        cut.pop_back();
        CHECK_FALSE(tls12_cid_records(view(cut), 8));
        CHECK_FALSE(tls12_cid_records(view(std::vector<uint8_t>(d.begin(), d.begin() + 20)), 8));
        auto trailing = d;
        trailing.push_back(0x40);  // not a record type
        CHECK_FALSE(tls12_cid_records(view(trailing), 8));
        auto short_tail = d;
        append(short_tail, {ct_tls12_cid, 0xfe, 0xfd, 0});
        CHECK_FALSE(tls12_cid_records(view(short_tail), 8));
        CHECK_FALSE(tls12_cid_records(view(handshake_record(hs_client_hello, client_hello_body({}))), 8));
        CHECK_FALSE(tls12_cid_records(view(d), 0));
        CHECK_FALSE(tls12_cid_records(bytes_view{}, 8));
    }
}

TEST_CASE("random bytes after a tls12_cid type byte never read past the datagram", "[dtls][record]") {
    uint64_t x = 0x9e3779b97f4a7c15ULL;  // xorshift: the same bytes every run
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    std::vector<uint8_t> d;
    size_t parsed = 0;
    for (int round = 0; round < 20000; ++round) {
        d.assign(1 + next() % 80, 0);
        for (auto& b : d) b = static_cast<uint8_t>(next());
        d[0] = ct_tls12_cid;
        if (round % 2 == 0 && d.size() > 20) {  // a plausible length field half the time
            const size_t body = d.size() - 21;
            d[19] = static_cast<uint8_t>(body >> 8);
            d[20] = static_cast<uint8_t>(body);
        }
        auto r = tls12_cid_records(view(d), 8);
        if (!r) continue;
        ++parsed;
        REQUIRE(r->cid.size() == 8);
        CHECK(r->cid.data() == d.data() + 11);
        CHECK((r->oldest >> 48) == (static_cast<uint64_t>(d[3]) << 8 | d[4]));
    }
    CHECK(parsed > 0);
}

TEST_CASE("the session id of our ServerHello is found", "[dtls][record]") {
    std::vector<uint8_t> sh{0xfe, 0xfd};
    for (int i = 0; i < 32; ++i) sh.push_back(0);
    sh.push_back(32);
    for (int i = 0; i < 32; ++i) sh.push_back(static_cast<uint8_t>(0x80 + i));
    put16(sh, 0xc0ae);
    sh.push_back(0);
    auto sid = server_hello_session_id(view(handshake_record(2, sh)));
    REQUIRE(sid);
    CHECK(sid->size() == 32);
    CHECK((*sid)[0] == 0x80);
    CHECK_FALSE(server_hello_session_id(view(handshake_record(hs_client_hello, client_hello_body({})))));
}

TEST_CASE("which CoAP responses vouch for an anonymous session", "[dtls][record]") {
    // header: version 1, type ACK, token length 2; code; message id; token
    auto response = [](uint8_t code, std::vector<uint8_t> options_and_payload) {
        std::vector<uint8_t> m{0x62, code, 0x12, 0x34, 0xaa, 0xbb};
        m.insert(m.end(), options_and_payload.begin(), options_and_payload.end());
        return m;
    };
    auto vouches = [](const std::vector<uint8_t>& m) { return coap_response_vouches(bytes_view{m}); };
    // accepted uploads
    CHECK(vouches(response(0x41, {})));  // 2.01
    CHECK(vouches(response(0x44, {})));  // 2.04
    // an accepted observation: Observe (6) alone, or after Uri-Host-like options (3 + 3)
    CHECK(vouches(response(0x45, {0x61, 0x05, 0xff, '{', '}'})));
    CHECK(vouches(response(0x45, {0x31, 'x', 0x31, 0x07})));
    CHECK(vouches(response(0x43, {0x60})));  // 2.03 Valid, Observe 0 (empty value)
    // 2.05 without Observe: /.well-known/core (Content-Format 12 = 6 + 6 would pass 6 only
    // through a delta landing on it)
    CHECK_FALSE(vouches(response(0x45, {0xc1, 0x28, 0xff, '<', '/', '>'})));
    CHECK_FALSE(vouches(response(0x45, {0x41, 0x01, 0x81, 0x28})));  // ETag (4), Content-Format (12)
    CHECK_FALSE(vouches(response(0x45, {})));
    // Continue, errors, empty ACK, requests
    CHECK_FALSE(vouches(response(0x5f, {})));  // 2.31
    CHECK_FALSE(vouches(response(0x81, {})));  // 4.01
    CHECK_FALSE(vouches(response(0xa3, {})));  // 5.03
    CHECK_FALSE(vouches({0x60, 0x00, 0x12, 0x34}));
    CHECK_FALSE(vouches(response(0x02, {})));  // POST
    // malformed: short, wrong version, an option running past the end, reserved nibble
    CHECK_FALSE(vouches({0x62, 0x41, 0x12}));
    CHECK_FALSE(vouches({0x82, 0x41, 0x12, 0x34}));
    CHECK_FALSE(vouches(response(0x45, {0xd1})));
    CHECK_FALSE(vouches(response(0x45, {0xf0})));
    // an extended delta (13 + 0 = 13) skips past Observe
    CHECK_FALSE(vouches(response(0x45, {0xd0, 0x00})));
}

TEST_CASE("a compacted session's state packs its zero runs and unpacks to the same bytes", "[dtls][compaction]") {
    auto round_trip = [](const std::vector<uint8_t>& in) {
        std::vector<uint8_t> packed(packed_bound(in.size()) + 1);
        const size_t n = pack_zeros(in.data(), in.size(), packed.data());
        REQUIRE(n <= packed_bound(in.size()));
        REQUIRE(unpacked_size(packed.data(), n) == in.size());
        std::vector<uint8_t> out(in.size());
        unpack_zeros(packed.data(), n, out.data());
        REQUIRE(out == in);
        return n;
    };
    CHECK(round_trip({1, 2, 3}) == 3);
    CHECK(round_trip(std::vector<uint8_t>(100, 0)) == 2);
    CHECK(round_trip(std::vector<uint8_t>(600, 0)) == 6);  // runs of at most 255
    CHECK(round_trip({0, 1, 0, 1, 0}) == 8);               // isolated zeros: the bound
    CHECK(round_trip({5, 0, 0, 0, 7, 0}) == 6);
    // random contents with long and short runs
    uint64_t rng = 99;
    for (int t = 0; t < 200; ++t) {
        std::vector<uint8_t> in(static_cast<size_t>(t * 7 % 900));
        for (auto& b : in) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            b = (rng >> 60) < 9 ? 0 : static_cast<uint8_t>(rng >> 40);
        }
        round_trip(in);
    }
    // not a packing: a zero without its length, or a length of zero
    const uint8_t bad1[] = {4, 0};
    const uint8_t bad2[] = {0, 0, 3};
    CHECK(unpacked_size(bad1, sizeof bad1) == 0);
    CHECK(unpacked_size(bad2, sizeof bad2) == 0);
}

namespace {
// A poor hash on purpose: long probe runs that wrap around the table's end.
struct clumped_id {
    using key_type = uint64_t;
    static uint64_t key(const session& s) noexcept { return s.id; }
    static uint64_t hash(uint64_t k) noexcept { return (k % 5) * 13 + 60; }
    static bool equal(uint64_t a, uint64_t b) noexcept { return a == b; }
};
}  // namespace

TEST_CASE("a session index finds every session after inserts, replacements and erases", "[dtls][index]") {
    std::vector<std::unique_ptr<session>> pool;
    for (uint64_t i = 0; i < 400; ++i) {
        pool.push_back(std::make_unique<session>());
        pool.back()->id = i % 300;  // some share a key: a put replaces
    }
    flat_index<session, clumped_id> index;
    std::map<uint64_t, session*> model;
    uint64_t rng = 7;
    for (int step = 0; step < 20000; ++step) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        session* s = pool[(rng >> 33) % pool.size()].get();
        if ((rng >> 20) % 3 != 0) {
            session* before = index.put(s);
            auto it = model.find(s->id);
            REQUIRE(before == (it == model.end() ? nullptr : it->second));
            model[s->id] = s;
        } else {
            index.erase(s);  // only if s is what its key finds
            if (auto it = model.find(s->id); it != model.end() && it->second == s) model.erase(it);
        }
        REQUIRE(index.size() == model.size());
        if (step % 97 == 0) {
            for (uint64_t k = 0; k < 300; ++k) {
                auto it = model.find(k);
                REQUIRE(index.find(k) == (it == model.end() ? nullptr : it->second));
            }
        }
    }
    CHECK(index.all().size() == model.size());
    CHECK(index.slot_count() >= 2 * index.size());
}

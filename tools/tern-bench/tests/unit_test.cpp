// The parts of tern-bench whose mistakes would skew numbers silently: the histogram's
// quantiles, response parsing, request templates, the timeout wheel, the flood's datagrams and
// hold's device-to-source mapping.
#include "../src/coap_wire.hpp"
#include "../src/flood_messages.hpp"
#include "../src/histogram.hpp"
#include "../src/proto_template.hpp"
#include "../src/source_map.hpp"
#include "../src/text_template.hpp"
#include "../src/timer_wheel.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using namespace tern::bench;

TEST_CASE("histogram quantiles stay within the bucket precision") {
    histogram h;
    for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 µs .. 100 ms in ns
    REQUIRE(h.count() == 100000);
    auto near = [](uint64_t got, double want) {
        return std::abs(static_cast<double>(got) - want) <= want / 128.0;
    };
    CHECK(near(h.quantile(0.5), 50'000'000.0));
    CHECK(near(h.quantile(0.99), 99'000'000.0));
    CHECK(near(h.quantile(0.999), 99'900'000.0));
    CHECK(h.quantile(1.0) == 100'000'000);  // clamped to the exact max
    CHECK(h.min() == 1000);

    histogram other;
    other.record(5);
    h.merge(other);
    CHECK(h.count() == 100001);
    CHECK(h.min() == 5);
}

TEST_CASE("histogram buckets tile the value range without gaps") {
    for (size_t i = 0; i + 1 < histogram::bucket_count; ++i)
        REQUIRE(histogram::lower_bound(i) + histogram::bucket_width(i) == histogram::lower_bound(i + 1));
    for (uint64_t v : {0ull, 255ull, 256ull, 257ull, 1000ull, 123456789ull, ~0ull}) {
        const size_t i = histogram::index_of(v);
        REQUIRE(i < histogram::bucket_count);
        CHECK(histogram::lower_bound(i) <= v);
        CHECK(v - histogram::lower_bound(i) < histogram::bucket_width(i));
    }
    histogram empty;
    CHECK(empty.quantile(0.99) == 0);
    CHECK(empty.max() == 0);
}

TEST_CASE("writer output parses back with token, MID and Observe") {
    uint8_t buf[256];
    const uint8_t token[] = {1, 2, 3, 4, 5};
    coap::writer w(buf, sizeof buf);
    w.header(coap::type_con, coap::code_get, 0xBEEF, token, sizeof token);
    w.option_uint(coap::opt_observe, 0);
    w.option(coap::opt_uri_path, "api", 3);
    const std::string long_segment(300, 'x');  // two-byte extended length
    w.option(coap::opt_uri_path, long_segment.data(), long_segment.size());
    w.option_uint(coap::opt_content_format, 50);
    w.option(coap::opt_uri_query, "a=1", 3);
    REQUIRE_FALSE(w.ok());  // the 300-byte option does not fit in 256: sticky failure
    size_t room = 0;
    CHECK(w.begin_payload(room) == nullptr);

    uint8_t big[1024];
    coap::writer w2(big, sizeof big);
    w2.header(coap::type_con, coap::code_get, 0xBEEF, token, sizeof token);
    w2.option_uint(coap::opt_observe, 0x10203);
    w2.option(coap::opt_uri_path, long_segment.data(), long_segment.size());
    w2.option_uint(coap::opt_uri_query + 300, 1);  // two-byte extended delta
    uint8_t* p = w2.begin_payload(room);
    REQUIRE(p);
    std::memcpy(p, "{}", 2);
    w2.end_payload(2);
    REQUIRE(w2.ok());

    coap::message m;
    REQUIRE(coap::parse(big, w2.size(), m));
    CHECK(m.type == coap::type_con);
    CHECK(m.code == coap::code_get);
    CHECK(m.mid == 0xBEEF);
    REQUIRE(m.token_len == 5);
    CHECK(std::memcmp(m.token, token, 5) == 0);
    CHECK(m.has_observe);
    CHECK(m.observe == 0x10203);
    CHECK(m.payload_len == 2);
}

TEST_CASE("parse rejects what RFC 7252 calls format errors") {
    coap::message m;
    const uint8_t short_msg[] = {0x40, 0x01, 0x00};
    CHECK_FALSE(coap::parse(short_msg, sizeof short_msg, m));
    const uint8_t version2[] = {0x80, 0x01, 0x00, 0x01};
    CHECK_FALSE(coap::parse(version2, sizeof version2, m));
    const uint8_t tkl9[] = {0x49, 0x45, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK_FALSE(coap::parse(tkl9, sizeof tkl9, m));
    const uint8_t empty_with_token[] = {0x61, 0x00, 0, 1, 7};
    CHECK_FALSE(coap::parse(empty_with_token, sizeof empty_with_token, m));
    const uint8_t marker_no_payload[] = {0x60, 0x45, 0, 1, 0xFF};
    CHECK_FALSE(coap::parse(marker_no_payload, sizeof marker_no_payload, m));
    const uint8_t option_overrun[] = {0x60, 0x45, 0, 1, 0xB5, 'a'};
    CHECK_FALSE(coap::parse(option_overrun, sizeof option_overrun, m));
    const uint8_t reserved_nibble[] = {0x60, 0x45, 0, 1, 0xF0};
    CHECK_FALSE(coap::parse(reserved_nibble, sizeof reserved_nibble, m));

    const uint8_t empty_ack[] = {0x60, 0x00, 0x12, 0x34};
    REQUIRE(coap::parse(empty_ack, sizeof empty_ack, m));
    CHECK(m.type == coap::type_ack);
    CHECK(m.code == coap::code_empty);
    CHECK(m.mid == 0x1234);
}

TEST_CASE("templates substitute placeholders and leave JSON braces alone") {
    std::string error;
    text_template token;
    REQUIRE(token.parse("dev-{i}", text_template::bit(placeholder::index), error));
    text_template payload;
    const unsigned all = text_template::bit(placeholder::index) | text_template::bit(placeholder::token) |
                         text_template::bit(placeholder::seq) | text_template::bit(placeholder::rand);
    REQUIRE(payload.parse(R"({"t":{rand},"seq":{seq},"who":"{token}","x":{}})", all, error));
    char out[128];
    const render_context ctx{42, 7, 999};
    const size_t n = payload.render(out, sizeof out, ctx, &token);
    REQUIRE(n != SIZE_MAX);
    CHECK(std::string(out, n) == R"({"t":999,"seq":7,"who":"dev-42","x":{}})");
    CHECK(payload.max_size(token.max_size(0)) >= n);
    CHECK(payload.render(out, 10, ctx, &token) == SIZE_MAX);

    text_template bad;
    CHECK_FALSE(bad.parse("{temperature}", all, error));
    CHECK(error.find("{temperature}") != std::string::npos);
    CHECK_FALSE(bad.parse("x{seq}", text_template::bit(placeholder::index), error));
}

TEST_CASE("protobuf payloads encode each field with its wire type") {
    std::string error;
    text_template token;
    REQUIRE(token.parse("dev-{i}", text_template::bit(placeholder::index), error));
    const unsigned all = text_template::bit(placeholder::index) | text_template::bit(placeholder::token) |
                         text_template::bit(placeholder::seq) | text_template::bit(placeholder::rand);
    // ThingsBoard's default telemetry message: temperature = 1, humidity = 2, both double.
    // The expected bytes below are what `protoc --encode` writes for the same values.
    proto_template t;
    REQUIRE(t.parse("1:double={rand}.5,2:double={seq}", all, error));
    uint8_t out[256];
    const render_context ctx{42, 7, 999};
    size_t n = t.render(out, sizeof out, ctx, &token);
    const uint8_t want_doubles[] = {0x09, 0, 0, 0, 0, 0, 0x3C, 0x8F, 0x40,   // 999.5
                                    0x11, 0, 0, 0, 0, 0, 0, 0x1C, 0x40};     // 7.0
    REQUIRE(n == sizeof want_doubles);
    CHECK(std::memcmp(out, want_doubles, n) == 0);
    CHECK(t.max_size(0) >= n);
    CHECK(t.render(out, n - 1, ctx, &token) == SIZE_MAX);

    // Varints (plain and zigzag), bool, float, a two-byte tag and a string with {token}.
    REQUIRE(t.parse("3:int=-{seq},4:sint=-{seq},5:bool=1,6:float={seq},16:string={token}/{i},7:int=300", all, error));
    n = t.render(out, sizeof out, ctx, &token);
    const uint8_t want_mixed[] = {0x18, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,  // -7
                                  0x20, 0x0D,                                                    // zigzag(-7)
                                  0x28, 0x01,
                                  0x35, 0, 0, 0xE0, 0x40,                                        // 7.0f
                                  0x82, 0x01, 9, 'd', 'e', 'v', '-', '4', '2', '/', '4', '2',
                                  0x38, 0xAC, 0x02};                                             // 300
    REQUIRE(n == sizeof want_mixed);
    CHECK(std::memcmp(out, want_mixed, n) == 0);
    CHECK(t.max_size(token.max_size(0)) >= n);

    // A string longer than 127 bytes gets a two-byte length prefix.
    const std::string long_text(200, 'x');
    REQUIRE(t.parse("1:string=" + long_text, all, error));
    n = t.render(out, sizeof out, ctx, &token);
    REQUIRE(n == 3 + long_text.size());
    CHECK(out[0] == 0x0A);
    CHECK(out[1] == (200 & 0x7F | 0x80));
    CHECK(out[2] == 1);
    CHECK(std::string(reinterpret_cast<char*>(out + 3), 200) == long_text);
    CHECK(t.render(out, 202, ctx, &token) == SIZE_MAX);

    for (const char* bad : {"", "1:double", "x:double=1", "0:double=1", "536870912:int=1", "1:long=1",
                            "1:double=abc", "1:int={rand}.5", "1:double={token}", "1:bool=2", "1:int=1,",
                            "1:double={temperature}"}) {
        INFO(bad);
        CHECK_FALSE(t.parse(bad, all, error));
        CHECK(error.find("--payload-protobuf") != std::string::npos);
    }
}

TEST_CASE("timer wheel fires due nodes once, keeps cancelled and later ones") {
    timer_wheel wheel(1000);
    timer_node a, b, c, far;
    std::vector<timer_node*> fired;
    wheel.arm(a, 1005);
    wheel.arm(b, 1005);
    wheel.arm(c, 1010);
    wheel.arm(far, 1000 + timer_wheel::size + 5);  // same bucket as a, next revolution
    wheel.cancel(b);
    CHECK(wheel.armed_count() == 3);

    wheel.advance(1005, [&](timer_node& n) { fired.push_back(&n); });
    CHECK(fired.empty());  // a millisecond fires once it has fully passed
    wheel.advance(1006, [&](timer_node& n) { fired.push_back(&n); });
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] == &a);

    // Re-arming into the past from inside fire() still fires on this pass.
    fired.clear();
    wheel.advance(1020, [&](timer_node& n) {
        fired.push_back(&n);
        if (&n == &c) wheel.arm(a, 0);
    });
    REQUIRE(fired.size() == 2);
    CHECK(fired[0] == &c);
    CHECK(fired[1] == &a);
    CHECK(wheel.armed_count() == 1);

    fired.clear();
    wheel.advance(1000 + timer_wheel::size + 6, [&](timer_node& n) { fired.push_back(&n); });
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] == &far);
    CHECK(wheel.armed_count() == 0);
}

namespace {

// The options of an encoded message, in order (number, value), and its payload.
struct decoded {
    std::vector<std::pair<unsigned, std::string>> options;
    std::string payload;
};

decoded decode_options(const uint8_t* d, size_t n) {
    decoded out;
    size_t pos = 4u + (d[0] & 15u);
    unsigned number = 0;
    auto ext = [&](unsigned nibble) -> unsigned {
        if (nibble == 13) return 13u + d[pos++];
        if (nibble == 14) {
            const unsigned v = 269u + (static_cast<unsigned>(d[pos]) << 8 | d[pos + 1]);
            pos += 2;
            return v;
        }
        return nibble;
    };
    while (pos < n) {
        const uint8_t b = d[pos++];
        if (b == 0xFF) {
            out.payload.assign(reinterpret_cast<const char*>(d + pos), n - pos);
            break;
        }
        const unsigned delta = ext(b >> 4);
        const unsigned len = ext(b & 15u);
        number += delta;
        out.options.emplace_back(number, std::string(reinterpret_cast<const char*>(d + pos), len));
        pos += len;
    }
    return out;
}

uint32_t uint_value(const std::string& v) {
    uint32_t x = 0;
    for (unsigned char c : v) x = x << 8 | c;
    return x;
}

std::string path_of(const decoded& m) {
    std::string p;
    for (const auto& [num, v] : m.options)
        if (num == coap::opt_uri_path) p += "/" + v;
    return p;
}

}  // namespace

TEST_CASE("flood datagrams are well-formed requests of their kind") {
    rng r(42);
    flood_params p;
    p.provision_key = "pk-1";
    p.size1 = 268435456;
    std::vector<uint8_t> buf(flood_max_datagram);

    for (int round = 0; round < 50; ++round) {
        // NON GET to an unknown path.
        size_t n = encode_flood(flood_kind::non, 7, 1, r, p, buf.data(), buf.size());
        REQUIRE(n > 0);
        coap::message m;
        REQUIRE(coap::parse(buf.data(), n, m));
        CHECK(m.type == coap::type_non);
        CHECK(m.code == coap::code_get);
        CHECK(m.mid == 7);
        CHECK(m.token_len <= 8);
        decoded d = decode_options(buf.data(), n);
        REQUIRE(d.options.size() == 2);
        CHECK(d.options[0].second == "flood");
        CHECK(d.options[1].second.size() == 8);

        // CON POST telemetry under a made-up 20-character access token.
        n = encode_flood(flood_kind::con, 8, 2, r, p, buf.data(), buf.size());
        REQUIRE(coap::parse(buf.data(), n, m));
        CHECK(m.type == coap::type_con);
        CHECK(m.code == coap::code_post);
        CHECK(m.mid == 8);
        CHECK(m.token_len == 8);
        d = decode_options(buf.data(), n);
        const std::string path = path_of(d);
        CHECK(path.rfind("/api/v1/", 0) == 0);
        CHECK(path.size() == std::string("/api/v1/").size() + 20 + std::string("/telemetry").size());
        CHECK(path.substr(path.size() - 10) == "/telemetry");
        CHECK(d.payload == "{\"temperature\":21}");

        // Provisioning with the given key and a wrong secret.
        n = encode_flood(flood_kind::provision, 9, 12345, r, p, buf.data(), buf.size());
        REQUIRE(coap::parse(buf.data(), n, m));
        CHECK(m.type == coap::type_con);
        d = decode_options(buf.data(), n);
        CHECK(path_of(d) == "/api/v1/provision");
        CHECK(d.payload.find("\"deviceName\":\"flood-12345\"") != std::string::npos);
        CHECK(d.payload.find("\"provisionDeviceKey\":\"pk-1\"") != std::string::npos);
        CHECK(d.payload.find("\"provisionDeviceSecret\":\"wrong-") != std::string::npos);

        // Block1 block 0 of 1024 bytes, more to come, announcing Size1.
        n = encode_flood(flood_kind::block1, 10, 3, r, p, buf.data(), buf.size());
        REQUIRE(n <= flood_max_datagram);
        REQUIRE(coap::parse(buf.data(), n, m));
        CHECK(m.type == coap::type_con);
        CHECK(m.code == coap::code_post);
        d = decode_options(buf.data(), n);
        bool block1 = false;
        bool size1 = false;
        for (const auto& [num, v] : d.options) {
            if (num == 27) {
                block1 = true;
                CHECK(uint_value(v) == (0u << 4 | 1u << 3 | 6u));  // NUM 0, M=1, SZX 6
            }
            if (num == 60) {
                size1 = true;
                CHECK(uint_value(v) == 268435456u);
            }
        }
        CHECK(block1);
        CHECK(size1);
        CHECK(d.payload.size() == flood_block_size);
    }
}

TEST_CASE("flood mix weights parse, pick in proportion and refuse mistakes") {
    flood_mix m;
    std::string error;
    REQUIRE(parse_flood_mix("non=1,block1=3", m, error));
    CHECK(m.total() == 4);
    CHECK(m.pick(0) == flood_kind::non);
    CHECK(m.pick(1) == flood_kind::block1);
    CHECK(m.pick(3) == flood_kind::block1);

    REQUIRE(parse_flood_mix("con=2,provision=2", m, error));
    CHECK(m.pick(0) == flood_kind::con);
    CHECK(m.pick(2) == flood_kind::provision);

    flood_mix kept = m;
    CHECK_FALSE(parse_flood_mix("non=0", m, error));
    CHECK(error.find("positive") != std::string::npos);
    CHECK_FALSE(parse_flood_mix("nonsense=1", m, error));
    CHECK(error.find("unknown kind") != std::string::npos);
    CHECK_FALSE(parse_flood_mix("non=x", m, error));
    CHECK_FALSE(parse_flood_mix("non", m, error));
    CHECK_FALSE(parse_flood_mix("non=1,non=2", m, error));
    CHECK(m.weight == kept.weight);  // a refused list changes nothing

    CHECK(flood_mix{}.total() == 100);
}

namespace {
uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) { return a << 24 | b << 16 | c << 8 | d; }
}  // namespace

TEST_CASE("hold maps device i to socket i mod M and the (i / M)-th usable address") {
    const source_map map(ip(127, 16, 0, 1), 256);
    CHECK(map.socket_of(0) == 0);
    CHECK(map.address_of(0) == ip(127, 16, 0, 1));
    CHECK(map.socket_of(255) == 255);
    CHECK(map.address_of(255) == ip(127, 16, 0, 1));
    CHECK(map.socket_of(256) == 0);
    CHECK(map.address_of(256) == ip(127, 16, 0, 2));
    // .254 is followed by the next /24's .1: neither .255 nor .0 is used.
    CHECK(map.address_at(253) == ip(127, 16, 0, 254));
    CHECK(map.address_at(254) == ip(127, 16, 1, 1));
    CHECK(map.address_of(254 * 256 + 7) == ip(127, 16, 1, 1));
    // The third byte wraps into the second: 127.16.255.254, then 127.17.0.1.
    CHECK(map.address_at(256 * 254 - 1) == ip(127, 16, 255, 254));
    CHECK(map.address_at(256 * 254) == ip(127, 17, 0, 1));
    // A million devices on 256 sockets: 3907 addresses, 16 /24s.
    CHECK(map.address_of(999'999) == ip(127, 16, 15, 97));

    const source_map odd(ip(127, 80, 3, 250), 3);  // a base inside a /24, 3 sockets
    CHECK(odd.address_at(4) == ip(127, 80, 3, 254));
    CHECK(odd.address_at(5) == ip(127, 80, 4, 1));
}

TEST_CASE("hold finds the device from the address and socket an answer arrived on") {
    for (uint32_t sockets : {1u, 7u, 256u, 4096u}) {
        const source_map map(ip(127, 16, 0, 1), sockets);
        for (uint64_t i : {0ull, 1ull, 253ull, 254ull, 255ull, 64'515ull, 64'516ull, 999'999ull, 16'777'215ull}) {
            uint64_t back = 0;
            REQUIRE(map.device_of(map.address_of(i), map.socket_of(i), back));
            CHECK(back == i);
            CHECK(source_map::usable(map.address_of(i)));
        }
    }
    const source_map map(ip(127, 16, 0, 1), 256);
    uint64_t d = 0;
    CHECK_FALSE(map.device_of(ip(127, 16, 1, 0), 0, d));    // a network address
    CHECK_FALSE(map.device_of(ip(127, 16, 0, 255), 0, d));  // a broadcast address
    CHECK_FALSE(map.device_of(ip(127, 15, 255, 254), 0, d));  // below the base
    CHECK_FALSE(map.device_of(ip(127, 16, 0, 1), 256, d));    // no such socket
    REQUIRE(map.device_of(ip(127, 16, 1, 1), 3, d));
    CHECK(d == 254 * 256 + 3);
}

TEST_CASE("parse reads Max-Age for a 5.03") {
    uint8_t buf[64];
    const uint8_t token[] = {9, 9, 9, 9};
    coap::writer w(buf, sizeof buf);
    w.header(coap::type_ack, (5 << 5) | 3, 0x1234, token, sizeof token);
    w.option_uint(coap::opt_max_age, 300);
    coap::message m;
    REQUIRE(coap::parse(buf, w.size(), m));
    CHECK(m.has_max_age);
    CHECK(m.max_age == 300);
    CHECK_FALSE(m.has_observe);
}

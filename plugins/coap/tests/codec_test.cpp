// Tests of the CoAP codec against RFC 7252 §3/§4/§5.4/§5.10 and the option RFCs the
// registry table cites.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "codec.hpp"

using namespace tern::coap;
using bytes = std::vector<uint8_t>;

namespace {

bytes operator+(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

bytes text(std::string_view s) { return bytes(s.begin(), s.end()); }

std::string str(std::span<const uint8_t> s) { return std::string(s.begin(), s.end()); }

bytes vec(std::span<const uint8_t> s) { return bytes(s.begin(), s.end()); }

std::span<const uint8_t> sp(const bytes& b) { return {b.data(), b.size()}; }

// A message whose header fields are all set to recognisable values so a test can tell
// whether parse() filled them.
message poisoned() {
    message m;
    m.type = msg_type::rst;
    m.code = 0xFF;
    m.message_id = 0xDEAD;
    return m;
}

void require_header(const message& m, msg_type type, uint8_t c, uint16_t mid) {
    CHECK(m.type == type);
    CHECK(m.code == c);
    CHECK(m.message_id == mid);
}

constexpr uint8_t get = make_code(0, 1);
constexpr uint8_t post = make_code(0, 2);

}  // namespace

// ---- RFC 7252 Appendix A --------------------------------------------------------------

TEST_CASE("Appendix A: CON GET /temperature with MID 0x7d34 and no token", "[codec][rfc7252]") {
    const bytes wire = bytes{0x40, 0x01, 0x7d, 0x34, 0xbb} + text("temperature");
    message m;
    REQUIRE(parse(sp(wire), m) == parse_status::ok);
    require_header(m, msg_type::con, get, 0x7d34);
    CHECK(m.token.empty());
    REQUIRE(m.option_count == 1);
    CHECK(m.options[0].number == opt::uri_path);
    CHECK(m.options[0].text() == "temperature");
    CHECK(m.payload.empty());

    std::array<uint8_t, 64> buf{};
    writer w{buf};
    w.header(msg_type::con, get, 0x7d34, {});
    w.option(opt::uri_path, std::string_view{"temperature"});
    REQUIRE(w.ok());
    CHECK(vec(w.bytes()) == wire);
}

TEST_CASE("Appendix A: piggy-backed ACK 2.05 Content \"22.3 C\"", "[codec][rfc7252]") {
    const bytes wire = bytes{0x60, 0x45, 0x7d, 0x34, 0xff} + text("22.3 C");
    message m;
    REQUIRE(parse(sp(wire), m) == parse_status::ok);
    require_header(m, msg_type::ack, code::content, 0x7d34);
    CHECK(code_class(m.code) == 2);
    CHECK(code_detail(m.code) == 5);
    CHECK(m.token.empty());
    CHECK(m.option_count == 0);
    CHECK(str(m.payload) == "22.3 C");

    std::array<uint8_t, 64> buf{};
    writer w{buf};
    w.header(msg_type::ack, code::content, 0x7d34, {});
    w.payload(std::string_view{"22.3 C"});
    REQUIRE(w.ok());
    CHECK(vec(w.bytes()) == wire);
}

TEST_CASE("Appendix A: request and response carrying token 0x20", "[codec][rfc7252]") {
    const bytes req = bytes{0x41, 0x01, 0x7d, 0x35, 0x20, 0xbb} + text("temperature");
    const bytes rsp = bytes{0x61, 0x45, 0x7d, 0x35, 0x20, 0xff} + text("22.3 C");
    message m;
    REQUIRE(parse(sp(req), m) == parse_status::ok);
    require_header(m, msg_type::con, get, 0x7d35);
    CHECK(vec(m.token) == bytes{0x20});
    REQUIRE(m.find(opt::uri_path) != nullptr);
    CHECK(m.find(opt::uri_path)->text() == "temperature");

    REQUIRE(parse(sp(rsp), m) == parse_status::ok);
    require_header(m, msg_type::ack, code::content, 0x7d35);
    CHECK(vec(m.token) == bytes{0x20});
    CHECK(str(m.payload) == "22.3 C");
}

TEST_CASE("a separate response: empty ACK, then CON 2.05 with an 8-byte token",
          "[codec][rfc7252]") {
    const bytes ack{0x60, 0x00, 0x7a, 0x10};
    message m;
    REQUIRE(parse(sp(ack), m) == parse_status::ok);
    require_header(m, msg_type::ack, code::empty, 0x7a10);

    const bytes token{1, 2, 3, 4, 5, 6, 7, 8};
    const bytes rsp = bytes{0x48, 0x45, 0x23, 0xbb} + token + bytes{0xc1, 0x00, 0xff} + text("{}");
    REQUIRE(parse(sp(rsp), m) == parse_status::ok);
    require_header(m, msg_type::con, code::content, 0x23bb);
    CHECK(vec(m.token) == token);
    CHECK(m.uint_option(opt::content_format) == 0u);
    CHECK(str(m.payload) == "{}");
}

// ---- malformed messages: one shape per status ------------------------------------------

TEST_CASE("fewer than 4 bytes is too_short", "[codec][malformed]") {
    const bytes full{0x40, 0x01, 0x12, 0x34};
    for (std::size_t n = 0; n < 4; ++n) {
        message m;
        CHECK(parse(std::span<const uint8_t>{full.data(), n}, m) == parse_status::too_short);
        CHECK(m.option_count == 0);
    }
}

TEST_CASE("a version other than 1 is bad_version", "[codec][malformed]") {
    for (uint8_t ver : {0, 2, 3}) {
        const bytes wire{static_cast<uint8_t>(ver << 6), 0x01, 0x12, 0x34};
        message m;
        CHECK(parse(sp(wire), m) == parse_status::bad_version);
    }
}

TEST_CASE("TKL 9..15 is bad_token_length, header still valid", "[codec][malformed]") {
    for (uint8_t tkl = 9; tkl <= 15; ++tkl) {
        bytes wire{static_cast<uint8_t>(0x40 | tkl), get, 0x12, 0x34};
        wire.resize(4 + tkl, 0xAB);
        message m = poisoned();
        CHECK(parse(sp(wire), m) == parse_status::bad_token_length);
        require_header(m, msg_type::con, get, 0x1234);
        CHECK(m.token.empty());
    }
    // TKL is checked before the Empty-message rule.
    const bytes empty_code{0x5f, 0x00, 0x00, 0x01};
    message m = poisoned();
    CHECK(parse(sp(empty_code), m) == parse_status::bad_token_length);
    require_header(m, msg_type::non, code::empty, 1);
}

TEST_CASE("a token shorter than TKL is truncated", "[codec][malformed]") {
    const bytes wire{0x44, post, 0x00, 0x07, 0xaa, 0xbb, 0xcc};
    message m = poisoned();
    CHECK(parse(sp(wire), m) == parse_status::truncated);
    require_header(m, msg_type::con, post, 7);
    CHECK(m.token.empty());
}

TEST_CASE("an extended delta byte missing is truncated", "[codec][malformed]") {
    message m = poisoned();
    CHECK(parse(sp(bytes{0x50, get, 0, 9, 0xd0}), m) == parse_status::truncated);
    require_header(m, msg_type::non, get, 9);
    CHECK(parse(sp(bytes{0x50, get, 0, 9, 0xe0}), m) == parse_status::truncated);
    CHECK(parse(sp(bytes{0x50, get, 0, 9, 0xe0, 0x00}), m) == parse_status::truncated);
    require_header(m, msg_type::non, get, 9);
}

TEST_CASE("an extended length byte missing is truncated", "[codec][malformed]") {
    message m = poisoned();
    CHECK(parse(sp(bytes{0x60, code::content, 0, 9, 0x0d}), m) == parse_status::truncated);
    require_header(m, msg_type::ack, code::content, 9);
    CHECK(parse(sp(bytes{0x60, code::content, 0, 9, 0x0e, 0x01}), m) == parse_status::truncated);
    // Delta and length both extended: the length's bytes follow the delta's.
    CHECK(parse(sp(bytes{0x60, code::content, 0, 9, 0xdd, 0x00}), m) == parse_status::truncated);
    CHECK(parse(sp(bytes{0x60, code::content, 0, 9, 0xee, 0x00, 0x00, 0x00}), m) ==
          parse_status::truncated);
    require_header(m, msg_type::ack, code::content, 9);
}

TEST_CASE("an option value running past the end is truncated", "[codec][malformed]") {
    const bytes wire = bytes{0x40, get, 0x01, 0x02, 0xbb} + text("temperatur");
    message m = poisoned();
    CHECK(parse(sp(wire), m) == parse_status::truncated);
    require_header(m, msg_type::con, get, 0x0102);
    CHECK(m.option_count == 0);
    // A 13-extended length claiming 13 + 0 bytes with only 12 present.
    const bytes ext = bytes{0x40, get, 0x01, 0x02, 0xbd, 0x00} + bytes(12, 'x');
    CHECK(parse(sp(ext), m) == parse_status::truncated);
}

TEST_CASE("a delta or length nibble of 15 outside the payload marker is reserved_nibble",
          "[codec][malformed]") {
    for (unsigned other = 0; other < 15; ++other) {
        for (uint8_t head : {static_cast<uint8_t>(0xf0 | other), static_cast<uint8_t>(other << 4 | 0x0f)}) {
            const bytes wire{0x40, get, 0xab, 0xcd, head, 0, 0, 0};
            message m = poisoned();
            INFO("head " << int(head));
            CHECK(parse(sp(wire), m) == parse_status::reserved_nibble);
            require_header(m, msg_type::con, get, 0xabcd);
            CHECK(m.option_count == 0);
        }
    }
}

TEST_CASE("a payload marker followed by nothing is empty_payload_marker", "[codec][malformed]") {
    message m = poisoned();
    CHECK(parse(sp(bytes{0x40, post, 0, 1, 0xff}), m) == parse_status::empty_payload_marker);
    require_header(m, msg_type::con, post, 1);
    const bytes with_option = bytes{0x41, post, 0, 2, 0x77, 0xb1, 'x', 0xff};
    CHECK(parse(sp(with_option), m) == parse_status::empty_payload_marker);
    require_header(m, msg_type::con, post, 2);
    CHECK(vec(m.token) == bytes{0x77});
    CHECK(m.option_count == 0);
}

TEST_CASE("code 0.00 with anything after the MID is bad_empty_message", "[codec][malformed]") {
    message m = poisoned();
    SECTION("a token") {
        CHECK(parse(sp(bytes{0x41, 0x00, 0x12, 0x34, 0x01}), m) == parse_status::bad_empty_message);
        require_header(m, msg_type::con, code::empty, 0x1234);
    }
    SECTION("a TKL without its token byte") {
        CHECK(parse(sp(bytes{0x61, 0x00, 0x12, 0x34}), m) == parse_status::bad_empty_message);
        require_header(m, msg_type::ack, code::empty, 0x1234);
    }
    SECTION("an option") {
        CHECK(parse(sp(bytes{0x70, 0x00, 0x12, 0x34, 0xb1, 'a'}), m) ==
              parse_status::bad_empty_message);
        require_header(m, msg_type::rst, code::empty, 0x1234);
    }
    SECTION("a payload") {
        CHECK(parse(sp(bytes{0x60, 0x00, 0x12, 0x34, 0xff, 'a'}), m) ==
              parse_status::bad_empty_message);
        require_header(m, msg_type::ack, code::empty, 0x1234);
    }
    SECTION("a lone payload marker") {
        CHECK(parse(sp(bytes{0x60, 0x00, 0x12, 0x34, 0xff}), m) == parse_status::bad_empty_message);
    }
}

TEST_CASE("empty CON (ping), ACK and RST parse", "[codec]") {
    for (msg_type t : {msg_type::con, msg_type::non, msg_type::ack, msg_type::rst}) {
        message m = poisoned();
        const auto wire = empty_message(t, 0xbeef);
        REQUIRE(parse(wire, m) == parse_status::ok);
        require_header(m, t, code::empty, 0xbeef);
        CHECK(m.token.empty());
        CHECK(m.option_count == 0);
        CHECK(m.payload.empty());
    }
}

TEST_CASE("code classes 1, 6 and 7 are reserved_code_class", "[codec][malformed]") {
    for (unsigned cls : {1u, 6u, 7u}) {
        for (unsigned detail : {0u, 1u, 31u}) {
            const uint8_t c = make_code(cls, detail);
            const bytes wire{0x51, c, 0x00, 0x05, 0x99};
            message m = poisoned();
            INFO("code " << cls << "." << detail);
            CHECK(parse(sp(wire), m) == parse_status::reserved_code_class);
            require_header(m, msg_type::non, c, 5);
        }
    }
    // Every other class parses.
    for (unsigned cls : {0u, 2u, 3u, 4u, 5u}) {
        const bytes wire{0x51, make_code(cls, 1), 0x00, 0x05, 0x99};
        message m;
        CHECK(parse(sp(wire), m) == parse_status::ok);
    }
}

TEST_CASE("an option number past 65535 is option_number_overflow", "[codec][malformed]") {
    message m = poisoned();
    SECTION("one delta of 269 + 0xffff") {
        const bytes wire{0x42, get, 0x00, 0x10, 0xaa, 0xbb, 0xe0, 0xff, 0xff};
        CHECK(parse(sp(wire), m) == parse_status::option_number_overflow);
        require_header(m, msg_type::con, get, 0x10);
        CHECK(vec(m.token) == bytes{0xaa, 0xbb});
    }
    SECTION("65535 is fine, one more is not") {
        // 65535 = 269 + 0xfef2.
        const bytes at_max{0x40, get, 0x00, 0x11, 0xe0, 0xfe, 0xf2};
        REQUIRE(parse(sp(at_max), m) == parse_status::ok);
        CHECK(m.options[0].number == 65535);
        CHECK(parse(sp(at_max + bytes{0x10}), m) == parse_status::option_number_overflow);
        require_header(m, msg_type::con, get, 0x11);
        CHECK(parse(sp(at_max + bytes{0x00}), m) == parse_status::ok);
        CHECK(m.option_count == 2);
    }
    SECTION("the sum of many deltas") {
        bytes wire{0x40, get, 0x00, 0x12};
        for (int i = 0; i < 6; ++i) wire = wire + bytes{0xe0, 0x30, 0x00}; // 6 x 12557
        CHECK(parse(sp(wire), m) == parse_status::option_number_overflow);
    }
}

namespace {
bytes with_options(std::size_t n, bytes tail) {
    bytes wire{0x42, post, 0x00, 0x20, 0xca, 0xfe};
    for (std::size_t i = 0; i < n; ++i) wire = wire + bytes{0x01, static_cast<uint8_t>(i)};
    return wire + tail;
}
}  // namespace

TEST_CASE("more than max_options options is too_many_options, with the token kept",
          "[codec][malformed]") {
    message m = poisoned();
    REQUIRE(parse(sp(with_options(max_options, {0xff, 'p'})), m) == parse_status::ok);
    CHECK(m.option_count == max_options);

    m = poisoned();
    const bytes too_many = with_options(max_options + 1, {0xff, 'p'});
    CHECK(parse(sp(too_many), m) == parse_status::too_many_options);
    require_header(m, msg_type::con, post, 0x20);
    CHECK(vec(m.token) == bytes{0xca, 0xfe});
    CHECK(m.option_count == max_options);
    CHECK(m.options[max_options - 1].value[0] == max_options - 1);
    CHECK(str(m.payload) == "p");

    // A malformed tail after the limit is still a format error, not a 4.02.
    CHECK(parse(sp(with_options(max_options + 1, {0xff})), m) ==
          parse_status::empty_payload_marker);
    CHECK(parse(sp(with_options(max_options + 10, {0x0f})), m) == parse_status::reserved_nibble);
    CHECK(m.option_count == 0);
}

TEST_CASE("to_string names every status distinctly", "[codec]") {
    const parse_status all[] = {
        parse_status::ok, parse_status::too_short, parse_status::bad_version,
        parse_status::bad_token_length, parse_status::truncated, parse_status::reserved_nibble,
        parse_status::empty_payload_marker, parse_status::bad_empty_message,
        parse_status::reserved_code_class, parse_status::option_number_overflow,
        parse_status::too_many_options};
    std::vector<std::string_view> names;
    for (auto s : all) names.push_back(to_string(s));
    CHECK(names[0] == "ok");
    CHECK(names[4] == "truncated");
    std::sort(names.begin(), names.end());
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
    CHECK(std::none_of(names.begin(), names.end(), [](auto n) { return n.empty(); }));
}

// ---- extended delta and length --------------------------------------------------------

TEST_CASE("option delta encodings at the 13/269 boundaries", "[codec][extended]") {
    struct row {
        uint16_t number;
        bytes head;
    };
    const row rows[] = {
        {0, {0x00}},          {12, {0xc0}},         {13, {0xd0, 0x00}},
        {14, {0xd0, 0x01}},   {268, {0xd0, 0xff}},  {269, {0xe0, 0x00, 0x00}},
        {270, {0xe0, 0x00, 0x01}}, {1000, {0xe0, 0x02, 0xdb}}, {65535, {0xe0, 0xfe, 0xf2}},
    };
    for (const auto& r : rows) {
        INFO("number " << r.number);
        std::array<uint8_t, 16> buf{};
        writer w{buf};
        w.header(msg_type::con, get, 1, {});
        w.option_empty(r.number);
        REQUIRE(w.ok());
        const bytes wire = bytes{0x40, get, 0x00, 0x01} + r.head;
        CHECK(vec(w.bytes()) == wire);
        message m;
        REQUIRE(parse(sp(wire), m) == parse_status::ok);
        REQUIRE(m.option_count == 1);
        CHECK(m.options[0].number == r.number);
        CHECK(m.options[0].value.empty());
    }
}

TEST_CASE("option length encodings at the 13/269 boundaries", "[codec][extended]") {
    struct row {
        std::size_t length;
        bytes head;
    };
    const row rows[] = {
        {0, {0x40}},
        {12, {0x4c}},
        {13, {0x4d, 0x00}},
        {268, {0x4d, 0xff}},
        {269, {0x4e, 0x00, 0x00}},
        {1034, {0x4e, 0x02, 0xfd}},
        {65535, {0x4e, 0xfe, 0xf2}},
        {65535 + 269, {0x4e, 0xff, 0xff}},
    };
    for (const auto& r : rows) {
        INFO("length " << r.length);
        bytes value(r.length);
        for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>(i * 7);
        bytes buf(8 + r.length + 4);
        writer w{buf};
        w.header(msg_type::non, post, 2, {});
        w.option(opt::etag, value);
        REQUIRE(w.ok());
        const bytes expected = bytes{0x50, post, 0x00, 0x02} + r.head + value;
        CHECK(vec(w.bytes()) == expected);
        message m;
        REQUIRE(parse(w.bytes(), m) == parse_status::ok);
        REQUIRE(m.option_count == 1);
        CHECK(m.options[0].number == opt::etag);
        CHECK(vec(m.options[0].value) == value);
    }
}

TEST_CASE("delta and length both extended, and the writer's length limit", "[codec][extended]") {
    bytes value(300, 'v');
    bytes buf(400);
    writer w{buf};
    w.header(msg_type::con, post, 3, {});
    w.option(opt::proxy_uri, std::string_view{"coap://x"}); // 35: 13 + 22
    w.option(opt::echo, value);                             // delta 217, length 300
    REQUIRE(w.ok());
    const bytes expected = bytes{0x40, post, 0x00, 0x03, 0xd8, 22} + text("coap://x") +
                           bytes{0xde, 217 - 13, 0x00, 300 - 269} + value;
    CHECK(vec(w.bytes()) == expected);

    bytes huge(65535 + 270);
    writer big{huge};
    big.header(msg_type::con, post, 3, {});
    CHECK_FALSE(big.option(opt::etag, std::span<const uint8_t>{huge.data(), 65535 + 270}));
    CHECK_FALSE(big.ok());
}

// ---- writer ---------------------------------------------------------------------------

namespace {

struct test_option {
    uint16_t number;
    bytes value;
};

struct test_message {
    msg_type type;
    uint8_t code;
    uint16_t mid;
    bytes token;
    std::vector<test_option> options;
    bytes payload;
};

// Writes t into buf; returns the writer's final state.
bool write(const test_message& t, std::span<uint8_t> buf, std::size_t& size) {
    writer w{buf};
    bool all = w.header(t.type, t.code, t.mid, t.token);
    for (const auto& o : t.options) all = w.option(o.number, o.value) && all;
    all = w.payload(t.payload) && all;
    REQUIRE(all == w.ok());
    size = w.size();
    return w.ok();
}

// Not std::uniform_int_distribution: its output differs between standard libraries, and the
// seed must give the same messages with g++ and clang/libc++.
struct rng {
    std::mt19937 gen;
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(gen() % n); }
};

test_message random_message(rng& r) {
    test_message t;
    t.type = static_cast<msg_type>(r.below(4));
    static constexpr unsigned classes[] = {0, 2, 4, 5};
    t.code = make_code(classes[r.below(4)], 1 + r.below(31));
    t.mid = static_cast<uint16_t>(r.below(65536));
    t.token.resize(r.below(9));
    for (auto& b : t.token) b = static_cast<uint8_t>(r.below(256));
    const uint32_t n = r.below(20);
    std::vector<uint16_t> numbers;
    for (uint32_t i = 0; i < n; ++i) {
        switch (r.below(4)) {
        case 0: numbers.push_back(static_cast<uint16_t>(r.below(13))); break;
        case 1: numbers.push_back(static_cast<uint16_t>(r.below(300))); break;
        case 2: numbers.push_back(static_cast<uint16_t>(r.below(2000))); break;
        default: numbers.push_back(static_cast<uint16_t>(r.below(65536))); break;
        }
    }
    std::sort(numbers.begin(), numbers.end());
    for (uint16_t number : numbers) {
        test_option o{number, {}};
        switch (r.below(8)) {
        case 0: break;
        case 1: o.value.resize(250 + r.below(40)); break;
        case 2: o.value.resize(1000 + r.below(500)); break;
        default: o.value.resize(r.below(16)); break;
        }
        for (auto& b : o.value) b = static_cast<uint8_t>(r.below(256));
        t.options.push_back(std::move(o));
    }
    t.payload.resize(r.below(3) == 0 ? 0 : r.below(200));
    for (auto& b : t.payload) b = static_cast<uint8_t>(r.below(256));
    return t;
}

}  // namespace

TEST_CASE("writer then parse round-trips random messages (fixed seed)", "[codec][writer]") {
    rng r{std::mt19937{7252}};
    bytes buf(70000);
    for (int iteration = 0; iteration < 2000; ++iteration) {
        const test_message t = random_message(r);
        INFO("iteration " << iteration);
        std::size_t size = 0;
        REQUIRE(write(t, buf, size));
        message m;
        const std::span<const uint8_t> wire{buf.data(), size};
        REQUIRE(parse(wire, m) == parse_status::ok);
        CHECK(m.type == t.type);
        CHECK(m.code == t.code);
        CHECK(m.message_id == t.mid);
        CHECK(vec(m.token) == t.token);
        REQUIRE(m.option_count == t.options.size());
        for (std::size_t i = 0; i < t.options.size(); ++i) {
            CHECK(m.options[i].number == t.options[i].number);
            CHECK(vec(m.options[i].value) == t.options[i].value);
        }
        CHECK(vec(m.payload) == t.payload);

        // The encoding is canonical: re-writing what was parsed gives the same bytes.
        bytes again(size);
        writer w{again};
        w.header(m.type, m.code, m.message_id, m.token);
        for (const auto& o : m.option_list()) w.option(o.number, o.value);
        w.payload(m.payload);
        REQUIRE(w.ok());
        CHECK(vec(w.bytes()) == vec(wire));
    }
}

TEST_CASE("writer overflow at every byte position never writes past the buffer",
          "[codec][writer]") {
    test_message t{msg_type::con, post, 0x1234, {1, 2, 3, 4, 5}, {}, bytes(40, 'p')};
    t.options.push_back({opt::observe, {}});
    t.options.push_back({opt::uri_path, text("api")});
    t.options.push_back({opt::uri_path, text("telemetry")});
    t.options.push_back({opt::content_format, {50}});
    t.options.push_back({opt::block1, {0x1a}});
    t.options.push_back({opt::proxy_uri, bytes(20, 'u')});
    t.options.push_back({opt::size1, {0x01, 0x00}});
    t.options.push_back({opt::echo, bytes(13, 'e')});
    t.options.push_back({opt::request_tag, bytes(8, 't')});
    t.options.push_back({3000, bytes(270, 'z')});

    bytes reference(1000);
    std::size_t full = 0;
    REQUIRE(write(t, reference, full));
    reference.resize(full);

    constexpr uint8_t guard = 0xA5;
    for (std::size_t room = 0; room <= full; ++room) {
        INFO("room " << room);
        bytes buf(full + 32, guard);
        std::size_t size = 0;
        const bool ok = write(t, std::span<uint8_t>{buf.data(), room}, size);
        CHECK(ok == (room == full));
        CHECK(size <= room);
        CHECK(std::all_of(buf.begin() + static_cast<std::ptrdiff_t>(room), buf.end(),
                          [](uint8_t b) { return b == guard; }));
        if (ok) CHECK(bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(size)) == reference);
    }
}

TEST_CASE("a failed writer stays failed", "[codec][writer]") {
    std::array<uint8_t, 8> buf{};
    writer w{buf};
    REQUIRE(w.header(msg_type::con, get, 1, {}));
    CHECK_FALSE(w.option(opt::uri_path, std::string_view{"too long for 8"}));
    CHECK_FALSE(w.ok());
    CHECK_FALSE(w.option_empty(opt::uri_path));
    CHECK_FALSE(w.payload(std::string_view{"x"}));
    CHECK(w.payload(std::string_view{}) == false);
    CHECK(w.size() == 4);
}

TEST_CASE("writer refuses what parse() would reject", "[codec][writer]") {
    std::array<uint8_t, 64> buf{};
    const bytes nine(9, 1);
    const bytes one{1};
    SECTION("option before header") {
        writer w{buf};
        CHECK_FALSE(w.option_empty(opt::if_none_match));
        CHECK_FALSE(w.ok());
    }
    SECTION("payload before header") {
        writer w{buf};
        CHECK_FALSE(w.payload(std::string_view{"x"}));
    }
    SECTION("a second header") {
        writer w{buf};
        REQUIRE(w.header(msg_type::con, get, 1, {}));
        CHECK_FALSE(w.header(msg_type::con, get, 1, {}));
    }
    SECTION("a 9-byte token") {
        writer w{buf};
        CHECK_FALSE(w.header(msg_type::con, get, 1, nine));
    }
    SECTION("reserved code classes") {
        for (unsigned cls : {1u, 6u, 7u}) {
            writer w{buf};
            CHECK_FALSE(w.header(msg_type::con, make_code(cls, 0), 1, {}));
        }
    }
    SECTION("an Empty message with a token, an option or a payload") {
        writer a{buf};
        CHECK_FALSE(a.header(msg_type::ack, code::empty, 1, one));
        writer b{buf};
        REQUIRE(b.header(msg_type::ack, code::empty, 1, {}));
        CHECK_FALSE(b.option_empty(opt::if_none_match));
        writer c{buf};
        REQUIRE(c.header(msg_type::ack, code::empty, 1, {}));
        CHECK_FALSE(c.payload(std::string_view{"x"}));
        writer d{buf};
        REQUIRE(d.header(msg_type::rst, code::empty, 1, {}));
        CHECK(d.payload(std::string_view{}));
        CHECK(vec(d.bytes()) == bytes{0x70, 0, 0, 1});
    }
    SECTION("options out of order") {
        writer w{buf};
        REQUIRE(w.header(msg_type::con, get, 1, {}));
        REQUIRE(w.option(opt::uri_path, std::string_view{"a"}));
        REQUIRE(w.option(opt::uri_path, std::string_view{"b"})); // repeats are fine
        CHECK_FALSE(w.option_uint(opt::observe, 0));
        CHECK_FALSE(w.ok());
    }
    SECTION("an option or a second payload after the payload") {
        writer w{buf};
        REQUIRE(w.header(msg_type::con, post, 1, {}));
        REQUIRE(w.payload(std::string_view{"p"}));
        CHECK_FALSE(w.option_empty(opt::size1));
        writer v{buf};
        REQUIRE(v.header(msg_type::con, post, 1, {}));
        REQUIRE(v.payload(std::string_view{"p"}));
        CHECK_FALSE(v.payload(std::string_view{"q"}));
    }
}

TEST_CASE("an empty payload adds no payload marker", "[codec][writer]") {
    std::array<uint8_t, 16> buf{};
    writer w{buf};
    w.header(msg_type::ack, code::changed, 0x0102, {});
    REQUIRE(w.payload(std::span<const uint8_t>{}));
    CHECK(vec(w.bytes()) == bytes{0x60, code::changed, 0x01, 0x02});
    message m;
    CHECK(parse(w.bytes(), m) == parse_status::ok);
}

TEST_CASE("payload_room is what is left after the marker", "[codec][writer]") {
    std::array<uint8_t, 20> buf{};
    writer w{buf};
    CHECK(w.payload_room() == 19);
    w.header(msg_type::con, post, 1, bytes{0xab});
    CHECK(w.payload_room() == 14);
    w.option(opt::uri_path, std::string_view{"abc"});
    CHECK(w.payload_room() == 10);
    const bytes fill(w.payload_room(), 'x');
    REQUIRE(w.payload(fill));
    CHECK(w.size() == buf.size());
    CHECK(w.payload_room() == 0);

    writer full{buf};
    full.header(msg_type::con, post, 1, {});
    CHECK_FALSE(full.payload(bytes(16, 'x')));
    std::array<uint8_t, 5> tiny{};
    writer t{tiny};
    t.header(msg_type::con, post, 1, {});
    CHECK(t.payload_room() == 0);
}

TEST_CASE("option_uint writes the minimal encoding", "[codec][writer]") {
    std::array<uint8_t, 32> buf{};
    writer w{buf};
    w.header(msg_type::con, get, 1, {});
    w.option_uint(opt::observe, 0);
    w.option_uint(opt::content_format, 50);
    w.option_uint(opt::max_age, 256);
    w.option_uint(opt::size1, 0xFFFFFFFF);
    REQUIRE(w.ok());
    CHECK(vec(w.bytes()) == bytes{0x40, get, 0, 1, 0x60, 0x61, 50, 0x22, 0x01, 0x00, 0xd4, 60 - 14 - 13,
                                  0xff, 0xff, 0xff, 0xff});
    message m;
    REQUIRE(parse(w.bytes(), m) == parse_status::ok);
    CHECK(m.uint_option(opt::observe) == 0u);
    CHECK(m.uint_option(opt::content_format) == 50u);
    CHECK(m.uint_option(opt::max_age) == 256u);
    CHECK(m.uint_option(opt::size1) == 0xFFFFFFFFu);
    CHECK_FALSE(m.uint_option(opt::accept).has_value());
}

TEST_CASE("empty_message builds a 4-byte ACK or RST", "[codec][writer]") {
    CHECK(empty_message(msg_type::ack, 0x1234) == std::array<uint8_t, 4>{0x60, 0x00, 0x12, 0x34});
    CHECK(empty_message(msg_type::rst, 0xfffe) == std::array<uint8_t, 4>{0x70, 0x00, 0xff, 0xfe});
    CHECK(empty_message(msg_type::con, 0) == std::array<uint8_t, 4>{0x40, 0x00, 0x00, 0x00});
}

// ---- message lookups --------------------------------------------------------------------

TEST_CASE("find returns the first of repeated options, uint_option needs <= 32 bits",
          "[codec]") {
    std::array<uint8_t, 64> buf{};
    writer w{buf};
    w.header(msg_type::con, get, 1, {});
    w.option(opt::uri_path, std::string_view{"first"});
    w.option(opt::uri_path, std::string_view{"second"});
    w.option(opt::max_age, bytes{0x00, 0x00, 0x00, 0x00, 0x07});
    w.option(opt::size2, bytes{0x01, 0x00, 0x00, 0x00, 0x00});
    w.option(opt::size1, bytes(9, 0));
    REQUIRE(w.ok());
    message m;
    REQUIRE(parse(w.bytes(), m) == parse_status::ok);
    REQUIRE(m.find(opt::uri_path) != nullptr);
    CHECK(m.find(opt::uri_path)->text() == "first");
    CHECK(m.find(opt::uri_host) == nullptr);
    CHECK(m.find(opt::echo) == nullptr);
    CHECK(m.uint_option(opt::max_age) == 7u); // leading zeros are accepted (§3.2)
    CHECK_FALSE(m.uint_option(opt::size2).has_value());
    CHECK_FALSE(m.uint_option(opt::size1).has_value());
    CHECK(m.option_list().size() == 5);
}

// ---- uint ------------------------------------------------------------------------------

TEST_CASE("encode_uint is minimal big-endian", "[codec][uint]") {
    struct row {
        uint64_t value;
        bytes wire;
    };
    const row rows[] = {
        {0, {}},
        {1, {0x01}},
        {255, {0xff}},
        {256, {0x01, 0x00}},
        {65535, {0xff, 0xff}},
        {65536, {0x01, 0x00, 0x00}},
        {0xFFFFFFFF, {0xff, 0xff, 0xff, 0xff}},
        {0x0100000000, {0x01, 0x00, 0x00, 0x00, 0x00}},
        {UINT64_MAX, bytes(8, 0xff)},
    };
    for (const auto& r : rows) {
        INFO("value " << r.value);
        std::array<uint8_t, 8> out{};
        const std::size_t n = encode_uint(r.value, out);
        CHECK(bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)) == r.wire);
        CHECK(decode_uint(r.wire) == r.value);
    }
}

TEST_CASE("decode_uint accepts leading zeros and refuses more than 8 bytes", "[codec][uint]") {
    CHECK(decode_uint(bytes{}) == 0u);
    CHECK(decode_uint(bytes{0x00}) == 0u);
    CHECK(decode_uint(bytes{0x00, 0x00, 0x01}) == 1u);
    CHECK(decode_uint(bytes{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) ==
          0x00ffffffffffffffu);
    CHECK_FALSE(decode_uint(bytes(9, 0)).has_value());
}

// ---- block -----------------------------------------------------------------------------

TEST_CASE("decode_block reads NUM, M and SZX from 0..3 bytes", "[codec][block]") {
    SECTION("0 bytes is block 0, no more, SZX 0") {
        const auto b = decode_block(bytes{});
        REQUIRE(b);
        CHECK(b->num == 0);
        CHECK_FALSE(b->more);
        CHECK(b->szx == 0);
        CHECK(b->size() == 16);
    }
    SECTION("1 byte") {
        const auto b = decode_block(bytes{0x2a}); // num 2, more, szx 2
        REQUIRE(b);
        CHECK(b->num == 2);
        CHECK(b->more);
        CHECK(b->szx == 2);
        CHECK(b->size() == 64);
        CHECK(b->offset() == 128);
    }
    SECTION("2 bytes") {
        const auto b = decode_block(bytes{0x3e, 0x86}); // num 1000, szx 6
        REQUIRE(b);
        CHECK(b->num == 1000);
        CHECK_FALSE(b->more);
        CHECK(b->size() == 1024);
        CHECK(b->offset() == 1024000);
    }
    SECTION("3 bytes, the largest NUM") {
        const auto b = decode_block(bytes{0xff, 0xff, 0xfd});
        REQUIRE(b);
        CHECK(b->num == 0xFFFFF);
        CHECK(b->more);
        CHECK(b->szx == 5);
        CHECK(b->offset() == uint64_t{0xFFFFF} * 512);
    }
    SECTION("leading zero bytes") {
        const auto b = decode_block(bytes{0x00, 0x00, 0x16});
        REQUIRE(b);
        CHECK(b->num == 1);
        CHECK(b->szx == 6);
    }
}

TEST_CASE("decode_block rejects SZX 7 and values over 3 bytes", "[codec][block]") {
    CHECK_FALSE(decode_block(bytes{0x07}));
    CHECK_FALSE(decode_block(bytes{0x0f}));
    CHECK_FALSE(decode_block(bytes{0x12, 0x37}));
    CHECK_FALSE(decode_block(bytes{0xff, 0xff, 0xff}));
    CHECK_FALSE(decode_block(bytes{0x00, 0x00, 0x00, 0x16}));
    CHECK_FALSE(decode_block(bytes(4, 0)));
}

TEST_CASE("block::encode round-trips through the option encoding", "[codec][block]") {
    for (uint32_t num : {0u, 1u, 15u, 16u, 4095u, 4096u, 0xFFFFFu}) {
        for (bool more : {false, true}) {
            for (uint8_t szx = 0; szx <= 6; ++szx) {
                const block b{num, more, szx};
                std::array<uint8_t, 8> v{};
                const std::size_t n = encode_uint(b.encode(), v);
                CHECK(n <= 3);
                const auto back = decode_block(std::span<const uint8_t>{v.data(), n});
                REQUIRE(back);
                CHECK(back->num == num);
                CHECK(back->more == more);
                CHECK(back->szx == szx);
            }
        }
    }
}

TEST_CASE("szx_for picks the largest block size that fits", "[codec][block]") {
    CHECK(szx_for(16) == 0);
    CHECK(szx_for(31) == 0);
    CHECK(szx_for(32) == 1);
    CHECK(szx_for(64) == 2);
    CHECK(szx_for(100) == 2);
    CHECK(szx_for(512) == 5);
    CHECK(szx_for(1023) == 5);
    CHECK(szx_for(1024) == 6);
    CHECK(szx_for(1152) == 6);
    CHECK(szx_for(1u << 30) == 6);
    CHECK(szx_for(0) == 0); // below the smallest block: still the smallest
    for (std::size_t bytes_ = 16; bytes_ < 4096; ++bytes_) {
        const block b{0, false, szx_for(bytes_)};
        CHECK(b.size() <= bytes_);
        CHECK((b.szx == 6 || b.size() * 2 > bytes_));
    }
}

// ---- option registry --------------------------------------------------------------------

TEST_CASE("find_option knows the registry", "[codec][registry]") {
    struct row {
        uint16_t number;
        std::string_view name;
        option_format format;
        uint16_t min, max;
        bool repeatable;
    };
    using f = option_format;
    const row rows[] = {
        {1, "If-Match", f::opaque, 0, 8, true},
        {3, "Uri-Host", f::string, 1, 255, false},
        {4, "ETag", f::opaque, 1, 8, true},
        {5, "If-None-Match", f::empty, 0, 0, false},
        {6, "Observe", f::uint, 0, 3, false},
        {7, "Uri-Port", f::uint, 0, 2, false},
        {8, "Location-Path", f::string, 0, 255, true},
        {9, "OSCORE", f::opaque, 0, 255, false},
        {11, "Uri-Path", f::string, 0, 255, true},
        {12, "Content-Format", f::uint, 0, 2, false},
        {14, "Max-Age", f::uint, 0, 4, false},
        {15, "Uri-Query", f::string, 0, 255, true},
        {16, "Hop-Limit", f::uint, 1, 1, false},
        {17, "Accept", f::uint, 0, 2, false},
        {19, "Q-Block1", f::uint, 0, 3, false},
        {20, "Location-Query", f::string, 0, 255, true},
        {21, "EDHOC", f::empty, 0, 0, false},
        {23, "Block2", f::uint, 0, 3, false},
        {27, "Block1", f::uint, 0, 3, false},
        {28, "Size2", f::uint, 0, 4, false},
        {31, "Q-Block2", f::uint, 0, 3, true},
        {35, "Proxy-Uri", f::string, 1, 1034, false},
        {39, "Proxy-Scheme", f::string, 1, 255, false},
        {60, "Size1", f::uint, 0, 4, false},
        {252, "Echo", f::opaque, 1, 40, false},
        {258, "No-Response", f::uint, 0, 1, false},
        {292, "Request-Tag", f::opaque, 0, 8, true},
    };
    for (const auto& r : rows) {
        INFO("option " << r.number);
        const auto info = find_option(r.number);
        REQUIRE(info);
        CHECK(info->number == r.number);
        CHECK(info->name == r.name);
        CHECK(info->format == r.format);
        CHECK(info->min_length == r.min);
        CHECK(info->max_length == r.max);
        CHECK(info->repeatable == r.repeatable);
        CHECK(option_length_ok(*info, r.min));
        CHECK(option_length_ok(*info, r.max));
        CHECK_FALSE(option_length_ok(*info, r.max + 1u));
        if (r.min > 0) CHECK_FALSE(option_length_ok(*info, r.min - 1u));
    }
    for (uint16_t unknown : {0, 2, 10, 13, 18, 22, 24, 1000, 3000, 65000, 65535}) {
        INFO("option " << unknown);
        CHECK_FALSE(find_option(unknown));
    }
}

TEST_CASE("critical, unsafe and no-cache-key bits match the registry", "[codec][registry]") {
    // RFC 7252 §5.10 table C/U/N columns.
    CHECK(is_critical(opt::if_match));
    CHECK(is_critical(opt::uri_host));
    CHECK_FALSE(is_critical(opt::etag));
    CHECK(is_critical(opt::uri_path));
    CHECK_FALSE(is_critical(opt::content_format));
    CHECK_FALSE(is_critical(opt::observe));
    CHECK(is_critical(opt::block1));
    CHECK(is_critical(opt::block2));
    CHECK_FALSE(is_critical(opt::size1));
    CHECK(is_unsafe(opt::uri_host));
    CHECK(is_unsafe(opt::uri_path));
    CHECK(is_unsafe(opt::max_age));
    CHECK_FALSE(is_unsafe(opt::etag));
    CHECK(is_no_cache_key(opt::size1));
    CHECK(is_no_cache_key(opt::size2));
    CHECK_FALSE(is_no_cache_key(opt::uri_path));
    CHECK(is_critical(opt::edhoc));
    CHECK(is_critical(opt::q_block1));
    CHECK(is_critical(opt::q_block2));
}

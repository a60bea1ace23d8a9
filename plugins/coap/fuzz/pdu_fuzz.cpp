// libFuzzer target for the CoAP codec. Besides "no crash, no UB" it checks a differential
// round trip: the wire encoding is canonical (each delta and length has exactly one
// encoding), so a message that parses must re-serialise through writer to the very same
// bytes and parse again to the same fields. Any asymmetry between parse() and writer
// shows up as a failed check.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codec.hpp"

namespace {

using namespace tern::coap;

// Active in every build type (the replay test runs with NDEBUG).
#define PDU_CHECK(cond)                                                              \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "pdu_fuzz: check failed: %s (%s:%d)\n", #cond,      \
                         __FILE__, __LINE__);                                        \
            std::abort();                                                            \
        }                                                                            \
    } while (0)

bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() &&
           part.data() + part.size() <= whole.data() + whole.size();
}

void check_option_value(const option_view& o) {
    const auto v = decode_uint(o.value);
    PDU_CHECK(v.has_value() == (o.value.size() <= 8));
    if (v) {
        // Re-encoding gives the value without its leading zero bytes.
        std::size_t zeros = 0;
        while (zeros < o.value.size() && o.value[zeros] == 0) ++zeros;
        std::array<uint8_t, 8> enc{};
        const std::size_t n = encode_uint(*v, enc);
        PDU_CHECK(same_bytes({enc.data(), n}, o.value.subspan(zeros)));
    }
    const auto b = decode_block(o.value);
    const bool block_ok = o.value.size() <= 3 && (!v || (*v & 7u) != 7u);
    PDU_CHECK(b.has_value() == block_ok);
    if (b) {
        PDU_CHECK(b->num < (1u << 20));
        PDU_CHECK(b->szx <= 6);
        PDU_CHECK(b->encode() == *v);
        PDU_CHECK(b->size() >= 16 && b->size() <= 1024);
    }
    if (const auto info = find_option(o.number)) {
        PDU_CHECK(info->number == o.number);
        PDU_CHECK(!info->name.empty());
        PDU_CHECK(info->min_length <= info->max_length);
        (void)option_length_ok(*info, o.value.size());
    }
}

// Writes m with writer into exactly `room` bytes (followed by guard bytes that must stay
// untouched); returns whether the writer succeeded.
bool rewrite(const message& m, std::size_t room, std::vector<uint8_t>& buf) {
    constexpr std::size_t guard = 16;
    buf.assign(room + guard, 0xA5);
    writer w{std::span<uint8_t>{buf.data(), room}};
    w.header(m.type, m.code, m.message_id, m.token);
    for (const option_view& o : m.option_list()) w.option(o.number, o.value);
    w.payload(m.payload);
    PDU_CHECK(w.size() <= room);
    for (std::size_t i = room; i < buf.size(); ++i) PDU_CHECK(buf[i] == 0xA5);
    if (w.ok()) buf.resize(w.size());
    return w.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::span<const uint8_t> in{data, size};
    message m;
    const parse_status st = parse(in, m);
    PDU_CHECK(!to_string(st).empty());

    const bool header_read = st != parse_status::too_short && st != parse_status::bad_version;
    PDU_CHECK(header_read == (size >= 4 && (data[0] >> 6) == 1));
    if (header_read) {
        PDU_CHECK(static_cast<unsigned>(m.type) == ((data[0] >> 4) & 3u));
        PDU_CHECK(m.code == data[1]);
        PDU_CHECK(m.message_id == ((data[2] << 8) | data[3]));
    }
    PDU_CHECK(inside(m.token, in) && inside(m.payload, in));
    PDU_CHECK(m.token.size() <= max_token_length);
    PDU_CHECK(m.option_count <= max_options);
    if (st != parse_status::ok && st != parse_status::too_many_options) {
        PDU_CHECK(m.option_count == 0);
        return 0;
    }

    uint16_t last = 0;
    for (const option_view& o : m.option_list()) {
        PDU_CHECK(o.number >= last);
        last = o.number;
        PDU_CHECK(inside(o.value, in));
        check_option_value(o);
        const option_view* first = m.find(o.number);
        PDU_CHECK(first != nullptr && first->number == o.number && first <= &o);
    }
    if (st == parse_status::too_many_options) {
        PDU_CHECK(m.option_count == max_options);
        return 0;
    }

    PDU_CHECK(is_request_code(m.code) || is_response_code(m.code) || m.code == code::empty);
    if (m.code == code::empty) PDU_CHECK(size == 4 && (data[0] & 15u) == 0);

    std::vector<uint8_t> out;
    PDU_CHECK(rewrite(m, size, out));
    PDU_CHECK(same_bytes(out, in));

    message again;
    PDU_CHECK(parse(out, again) == parse_status::ok);
    PDU_CHECK(again.type == m.type && again.code == m.code &&
              again.message_id == m.message_id);
    PDU_CHECK(same_bytes(again.token, m.token));
    PDU_CHECK(again.option_count == m.option_count);
    for (uint32_t i = 0; i < m.option_count; ++i) {
        PDU_CHECK(again.options[i].number == m.options[i].number);
        PDU_CHECK(same_bytes(again.options[i].value, m.options[i].value));
    }
    PDU_CHECK(same_bytes(again.payload, m.payload));

    // One byte less must fail cleanly, without writing past the smaller buffer.
    PDU_CHECK(!rewrite(m, size - 1, out));
    return 0;
}

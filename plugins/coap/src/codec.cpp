// RFC 7252 §3 message format. parse() runs for every datagram, so it is one forward pass
// over the bytes with no allocation, no virtual call and no exception; every read is
// checked against the end of the datagram before it happens.
#include "codec.hpp"

#include <bit>
#include <cstring>

namespace tern::coap {

namespace {

// RFC 7252 §3.1: option delta and length nibbles 13 and 14 announce one and two extension
// bytes; 15 is reserved (it only appears in the 0xFF payload marker).
constexpr uint32_t ext1_base = 13;
constexpr uint32_t ext2_base = 269;
constexpr uint32_t max_ext_value = ext2_base + 0xFFFF;
constexpr uint8_t payload_marker = 0xFF;

// Reads the extension bytes a nibble announces; false when they run past the end.
inline bool read_extended(uint32_t& v, const uint8_t*& p, const uint8_t* end) noexcept {
    if (v == 13) {
        if (p == end) return false;
        v = ext1_base + *p++;
    } else if (v == 14) {
        if (end - p < 2) return false;
        v = ext2_base + ((uint32_t{p[0]} << 8) | p[1]);
        p += 2;
    }
    return true;
}

// The nibble for v, with its extension bytes appended at ext[n].
inline uint8_t write_extended(uint32_t v, uint8_t* ext, std::size_t& n) noexcept {
    if (v < ext1_base) return static_cast<uint8_t>(v);
    if (v < ext2_base) {
        ext[n++] = static_cast<uint8_t>(v - ext1_base);
        return 13;
    }
    v -= ext2_base;
    ext[n++] = static_cast<uint8_t>(v >> 8);
    ext[n++] = static_cast<uint8_t>(v);
    return 14;
}

constexpr option_info info(uint16_t number, std::string_view name, option_format format,
                           uint16_t min_length, uint16_t max_length, bool repeatable) {
    return {number, name, format, min_length, max_length, repeatable};
}

}  // namespace

std::optional<option_info> find_option(uint16_t number) noexcept {
    using f = option_format;
    // RFC 7252 §5.10 and §12.2, RFC 7641 §2, RFC 7959 §2.1 and §4, RFC 7967 §2,
    // RFC 8613 §2, RFC 8768 §3, RFC 9177 §4, RFC 9175 §2.2.1 and §3.2, RFC 9668 §3.1.
    switch (number) {
    case opt::if_match: return info(number, "If-Match", f::opaque, 0, 8, true);
    case opt::uri_host: return info(number, "Uri-Host", f::string, 1, 255, false);
    case opt::etag: return info(number, "ETag", f::opaque, 1, 8, true);
    case opt::if_none_match: return info(number, "If-None-Match", f::empty, 0, 0, false);
    case opt::observe: return info(number, "Observe", f::uint, 0, 3, false);
    case opt::uri_port: return info(number, "Uri-Port", f::uint, 0, 2, false);
    case opt::location_path: return info(number, "Location-Path", f::string, 0, 255, true);
    case opt::oscore: return info(number, "OSCORE", f::opaque, 0, 255, false);
    case opt::uri_path: return info(number, "Uri-Path", f::string, 0, 255, true);
    case opt::content_format: return info(number, "Content-Format", f::uint, 0, 2, false);
    case opt::max_age: return info(number, "Max-Age", f::uint, 0, 4, false);
    case opt::uri_query: return info(number, "Uri-Query", f::string, 0, 255, true);
    case opt::hop_limit: return info(number, "Hop-Limit", f::uint, 1, 1, false);
    case opt::accept: return info(number, "Accept", f::uint, 0, 2, false);
    case opt::q_block1: return info(number, "Q-Block1", f::uint, 0, 3, false);
    case opt::location_query: return info(number, "Location-Query", f::string, 0, 255, true);
    case opt::edhoc: return info(number, "EDHOC", f::empty, 0, 0, false);
    case opt::block2: return info(number, "Block2", f::uint, 0, 3, false);
    case opt::block1: return info(number, "Block1", f::uint, 0, 3, false);
    case opt::size2: return info(number, "Size2", f::uint, 0, 4, false);
    // Repeated only to ask for several missing blocks at once (RFC 9177 §4.4).
    case opt::q_block2: return info(number, "Q-Block2", f::uint, 0, 3, true);
    case opt::proxy_uri: return info(number, "Proxy-Uri", f::string, 1, 1034, false);
    case opt::proxy_scheme: return info(number, "Proxy-Scheme", f::string, 1, 255, false);
    case opt::size1: return info(number, "Size1", f::uint, 0, 4, false);
    case opt::echo: return info(number, "Echo", f::opaque, 1, 40, false);
    case opt::no_response: return info(number, "No-Response", f::uint, 0, 1, false);
    case opt::request_tag: return info(number, "Request-Tag", f::opaque, 0, 8, true);
    default: return std::nullopt;
    }
}

bool option_length_ok(const option_info& info, std::size_t length) noexcept {
    return length >= info.min_length && length <= info.max_length;
}

const option_view* message::find(uint16_t number) const noexcept {
    // Options are in non-decreasing order, so the scan stops at the first larger number.
    for (uint32_t i = 0; i < option_count; ++i) {
        if (options[i].number == number) return &options[i];
        if (options[i].number > number) break;
    }
    return nullptr;
}

std::optional<uint32_t> message::uint_option(uint16_t number) const noexcept {
    const option_view* o = find(number);
    if (o == nullptr) return std::nullopt;
    auto v = decode_uint(o->value);
    if (!v || *v > 0xFFFFFFFFu) return std::nullopt;
    return static_cast<uint32_t>(*v);
}

std::string_view to_string(parse_status s) noexcept {
    switch (s) {
    case parse_status::ok: return "ok";
    case parse_status::too_short: return "too_short";
    case parse_status::bad_version: return "bad_version";
    case parse_status::bad_token_length: return "bad_token_length";
    case parse_status::truncated: return "truncated";
    case parse_status::reserved_nibble: return "reserved_nibble";
    case parse_status::empty_payload_marker: return "empty_payload_marker";
    case parse_status::bad_empty_message: return "bad_empty_message";
    case parse_status::reserved_code_class: return "reserved_code_class";
    case parse_status::option_number_overflow: return "option_number_overflow";
    case parse_status::too_many_options: return "too_many_options";
    }
    return "unknown";
}

parse_status parse(std::span<const uint8_t> datagram, message& out) noexcept {
    out.token = {};
    out.option_count = 0;
    out.payload = {};

    const std::size_t size = datagram.size();
    if (size < 4) return parse_status::too_short;
    const uint8_t* p = datagram.data();
    const uint8_t* const end = p + size;

    // RFC 7252 §3: Ver(2) T(2) TKL(4) | Code(8) | Message ID(16).
    const uint8_t first = p[0];
    if ((first >> 6) != 1) return parse_status::bad_version;
    out.type = static_cast<msg_type>((first >> 4) & 3u);
    out.code = p[1];
    out.message_id = static_cast<uint16_t>((p[2] << 8) | p[3]);

    const unsigned tkl = first & 15u;
    if (tkl > max_token_length) return parse_status::bad_token_length;
    // §4.1: an Empty message is exactly the 4-byte header, with TKL 0.
    if (out.code == code::empty) {
        return size == 4 && tkl == 0 ? parse_status::ok : parse_status::bad_empty_message;
    }
    const unsigned cls = code_class(out.code);
    if (cls == 1 || cls >= 6) return parse_status::reserved_code_class;

    p += 4;
    if (static_cast<std::size_t>(end - p) < tkl) return parse_status::truncated;
    out.token = {p, tkl};
    p += tkl;

    // Past max_options the scan goes on without storing, so a malformed tail is still a
    // format error (an RST) rather than a 4.02.
    uint32_t number = 0;
    uint32_t count = 0;
    while (p != end) {
        const uint8_t head = *p++;
        if (head == payload_marker) {
            if (p == end) return parse_status::empty_payload_marker;
            out.payload = {p, static_cast<std::size_t>(end - p)};
            break;
        }
        uint32_t delta = head >> 4;
        uint32_t length = head & 15u;
        if (delta == 15 || length == 15) return parse_status::reserved_nibble;
        if (!read_extended(delta, p, end) || !read_extended(length, p, end)) {
            return parse_status::truncated;
        }
        number += delta;
        if (number > 0xFFFF) return parse_status::option_number_overflow;
        if (static_cast<std::size_t>(end - p) < length) return parse_status::truncated;
        if (count < max_options) {
            out.options[count] = {static_cast<uint16_t>(number), {p, length}};
        }
        ++count;
        p += length;
    }
    if (count > max_options) {
        out.option_count = max_options;
        return parse_status::too_many_options;
    }
    out.option_count = count;
    return parse_status::ok;
}

std::size_t encode_uint(uint64_t value, std::array<uint8_t, 8>& out) noexcept {
    const auto n = static_cast<std::size_t>((std::bit_width(value) + 7) / 8);
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<uint8_t>(value >> (8 * (n - 1 - i)));
    }
    return n;
}

std::optional<uint64_t> decode_uint(std::span<const uint8_t> value) noexcept {
    if (value.size() > 8) return std::nullopt;
    uint64_t v = 0;
    for (uint8_t b : value) v = (v << 8) | b;
    return v;
}

bool writer::put(const uint8_t* p, std::size_t n) noexcept {
    if (!ok_ || n > buf_.size() - pos_) {
        ok_ = false;
        return false;
    }
    // memcpy with a null source is undefined even for n == 0 (an empty span's data()).
    if (n != 0) std::memcpy(buf_.data() + pos_, p, n);
    pos_ += n;
    return true;
}

bool writer::fail() noexcept {
    ok_ = false;
    return false;
}

bool writer::header(msg_type type, uint8_t code, uint16_t message_id,
                    std::span<const uint8_t> token) noexcept {
    // The writer never produces what parse() rejects: one header, a token of at most 8
    // bytes, no token on an Empty message, no reserved code class.
    const unsigned cls = code_class(code);
    if (!ok_ || pos_ != 0 || token.size() > max_token_length ||
        (code == code::empty && !token.empty()) || cls == 1 || cls >= 6) {
        return fail();
    }
    if (4 + token.size() > buf_.size()) return fail();
    uint8_t* h = buf_.data();
    h[0] = static_cast<uint8_t>(0x40u | (static_cast<unsigned>(type) & 3u) << 4 | token.size());
    h[1] = code;
    h[2] = static_cast<uint8_t>(message_id >> 8);
    h[3] = static_cast<uint8_t>(message_id);
    pos_ = 4;
    return put(token.data(), token.size());
}

bool writer::option(uint16_t number, std::span<const uint8_t> value) noexcept {
    if (!ok_) return false;
    // pos_ < 4: no header yet; buf_[1] == 0: an Empty message carries no options.
    if (pos_ < 4 || has_payload_ || number < last_option_ || buf_[1] == code::empty ||
        value.size() > max_ext_value) {
        return fail();
    }
    uint8_t h[5];
    std::size_t n = 1;
    const uint8_t delta = write_extended(number - last_option_, h, n);
    const uint8_t length = write_extended(static_cast<uint32_t>(value.size()), h, n);
    h[0] = static_cast<uint8_t>(delta << 4 | length);
    // Check the whole option first so a failed call leaves no half-written option.
    if (n + value.size() > buf_.size() - pos_) return fail();
    put(h, n);
    put(value.data(), value.size());
    last_option_ = number;
    return true;
}

bool writer::option(uint16_t number, std::string_view value) noexcept {
    return option(number, std::span<const uint8_t>{
                              reinterpret_cast<const uint8_t*>(value.data()), value.size()});
}

bool writer::option_uint(uint16_t number, uint64_t value) noexcept {
    std::array<uint8_t, 8> v{};
    const std::size_t n = encode_uint(value, v);
    return option(number, std::span<const uint8_t>{v.data(), n});
}

bool writer::payload(std::span<const uint8_t> data) noexcept {
    if (!ok_) return false;
    // §3: a payload marker followed by nothing is a format error, so no marker at all.
    if (data.empty()) return true;
    if (pos_ < 4 || has_payload_ || buf_[1] == code::empty) return fail();
    if (1 + data.size() > buf_.size() - pos_) return fail();
    put(&payload_marker, 1);
    put(data.data(), data.size());
    has_payload_ = true;
    return true;
}

bool writer::payload(std::string_view data) noexcept {
    return payload(std::span<const uint8_t>{reinterpret_cast<const uint8_t*>(data.data()),
                                            data.size()});
}

std::array<uint8_t, 4> empty_message(msg_type type, uint16_t message_id) noexcept {
    return {static_cast<uint8_t>(0x40u | (static_cast<unsigned>(type) & 3u) << 4),
            code::empty, static_cast<uint8_t>(message_id >> 8),
            static_cast<uint8_t>(message_id)};
}

std::optional<block> decode_block(std::span<const uint8_t> value) noexcept {
    // RFC 7959 §2.2: NUM is up to 20 bits, so the value is at most 3 bytes.
    if (value.size() > 3) return std::nullopt;
    uint32_t v = 0;
    for (uint8_t b : value) v = (v << 8) | b;
    const auto szx = static_cast<uint8_t>(v & 7u);
    if (szx == 7) return std::nullopt;
    return block{v >> 4, (v & 8u) != 0, szx};
}

uint8_t szx_for(std::size_t bytes) noexcept {
    if (bytes >= 1024) return 6;
    if (bytes < 32) return 0;
    // 16 << szx <= bytes: the highest set bit of bytes is bit szx + 4.
    return static_cast<uint8_t>(std::bit_width(bytes) - 5);
}

}  // namespace tern::coap

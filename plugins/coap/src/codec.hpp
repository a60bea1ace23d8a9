// RFC 7252 message format (with RFC 7641 Observe and RFC 7959 Block options): parse a
// datagram into a borrowed view, and write a message into a caller's buffer. Neither
// allocates; both are bounded by the input or output buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tern::coap {

enum class msg_type : uint8_t { con = 0, non = 1, ack = 2, rst = 3 };

// Codes as class << 5 | detail.
constexpr uint8_t make_code(unsigned cls, unsigned detail) {
    return static_cast<uint8_t>((cls << 5) | detail);
}
constexpr unsigned code_class(uint8_t c) { return c >> 5; }
constexpr unsigned code_detail(uint8_t c) { return c & 31u; }
constexpr bool is_request_code(uint8_t c) { return code_class(c) == 0 && c != 0; }
constexpr bool is_response_code(uint8_t c) {
    return code_class(c) >= 2 && code_class(c) <= 5;
}

namespace code {
inline constexpr uint8_t empty = 0;
inline constexpr uint8_t created = make_code(2, 1);
inline constexpr uint8_t deleted = make_code(2, 2);
inline constexpr uint8_t valid = make_code(2, 3);
inline constexpr uint8_t changed = make_code(2, 4);
inline constexpr uint8_t content = make_code(2, 5);
inline constexpr uint8_t continue_ = make_code(2, 31);
inline constexpr uint8_t bad_request = make_code(4, 0);
inline constexpr uint8_t unauthorized = make_code(4, 1);
inline constexpr uint8_t bad_option = make_code(4, 2);
inline constexpr uint8_t forbidden = make_code(4, 3);
inline constexpr uint8_t not_found = make_code(4, 4);
inline constexpr uint8_t method_not_allowed = make_code(4, 5);
inline constexpr uint8_t not_acceptable = make_code(4, 6);
inline constexpr uint8_t request_entity_incomplete = make_code(4, 8);
inline constexpr uint8_t precondition_failed = make_code(4, 12);
inline constexpr uint8_t request_entity_too_large = make_code(4, 13);
inline constexpr uint8_t unsupported_content_format = make_code(4, 15);
inline constexpr uint8_t internal_server_error = make_code(5, 0);
inline constexpr uint8_t not_implemented = make_code(5, 1);
inline constexpr uint8_t service_unavailable = make_code(5, 3);
}  // namespace code

// Option numbers from the IANA CoAP Option Numbers registry.
namespace opt {
inline constexpr uint16_t if_match = 1;
inline constexpr uint16_t uri_host = 3;
inline constexpr uint16_t etag = 4;
inline constexpr uint16_t if_none_match = 5;
inline constexpr uint16_t observe = 6;
inline constexpr uint16_t uri_port = 7;
inline constexpr uint16_t location_path = 8;
inline constexpr uint16_t oscore = 9;
inline constexpr uint16_t uri_path = 11;
inline constexpr uint16_t content_format = 12;
inline constexpr uint16_t max_age = 14;
inline constexpr uint16_t uri_query = 15;
inline constexpr uint16_t hop_limit = 16;
inline constexpr uint16_t accept = 17;
inline constexpr uint16_t q_block1 = 19;
inline constexpr uint16_t location_query = 20;
inline constexpr uint16_t edhoc = 21;
inline constexpr uint16_t block2 = 23;
inline constexpr uint16_t block1 = 27;
inline constexpr uint16_t size2 = 28;
inline constexpr uint16_t q_block2 = 31;
inline constexpr uint16_t proxy_uri = 35;
inline constexpr uint16_t proxy_scheme = 39;
inline constexpr uint16_t size1 = 60;
inline constexpr uint16_t echo = 252;
inline constexpr uint16_t no_response = 258;
inline constexpr uint16_t request_tag = 292;
}  // namespace opt

// RFC 7252 §5.4.6: the number's bits say how an unknown option must be treated.
constexpr bool is_critical(uint16_t number) { return (number & 1u) != 0; }
constexpr bool is_unsafe(uint16_t number) { return (number & 2u) != 0; }
constexpr bool is_no_cache_key(uint16_t number) { return (number & 0x1eu) == 0x1cu; }

enum class option_format : uint8_t { empty, opaque, uint, string };

// What the registry says about a known option.
struct option_info {
    uint16_t number;
    std::string_view name;
    option_format format;
    uint16_t min_length;
    uint16_t max_length;
    bool repeatable;
};

// The registered option's info, or nullopt for an unknown number.
std::optional<option_info> find_option(uint16_t number) noexcept;
// Whether a value of this length is within the registry's range for the option
// (RFC 7252 §5.4.3: an out-of-range value is treated like an unrecognised option).
bool option_length_ok(const option_info& info, std::size_t length) noexcept;

struct option_view {
    uint16_t number;
    std::span<const uint8_t> value;

    std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(value.data()), value.size()};
    }
};

// More options than this make a message that Tern refuses (4.02 for a CON/NON request,
// ignored otherwise); no legitimate device message comes close.
inline constexpr std::size_t max_options = 64;
inline constexpr std::size_t max_token_length = 8;

// A parsed message: views into the datagram it was parsed from.
struct message {
    msg_type type = msg_type::con;
    uint8_t code = 0;
    uint16_t message_id = 0;
    std::span<const uint8_t> token;
    std::array<option_view, max_options> options{};
    uint32_t option_count = 0; // in wire order: non-decreasing numbers
    std::span<const uint8_t> payload;

    std::span<const option_view> option_list() const noexcept {
        return {options.data(), option_count};
    }
    // The first option with this number, if present.
    const option_view* find(uint16_t number) const noexcept;
    // The uint value of the first option with this number (RFC 7252 §3.2).
    std::optional<uint32_t> uint_option(uint16_t number) const noexcept;
};

enum class parse_status : uint8_t {
    ok,
    too_short,            // fewer than 4 bytes: no header to answer to
    bad_version,          // version is not 1
    bad_token_length,     // TKL 9..15
    truncated,            // token, option or extended field runs past the end
    reserved_nibble,      // option delta or length of 15 outside a payload marker
    empty_payload_marker, // 0xFF followed by nothing
    bad_empty_message,    // code 0.00 with a token, options or payload
    reserved_code_class,  // class 1, 6 or 7
    option_number_overflow, // an option number past 65535
    too_many_options      // more than max_options
};

std::string_view to_string(parse_status s) noexcept;

// Parses a datagram. On ok, out describes it (views into datagram). On any other status,
// out.type, out.code and out.message_id are valid whenever the 4-byte header was read
// (every status but too_short and bad_version), so the caller can RST a CON.
// out.token is set once the token was read (empty before that); on too_many_options the
// whole message is well-formed, so out.token, the first max_options options and
// out.payload are valid too (enough to answer 4.02). On other failures option_count is 0.
parse_status parse(std::span<const uint8_t> datagram, message& out) noexcept;

// Minimal-length big-endian encoding of an unsigned option value (RFC 7252 §3.2); returns
// the number of bytes written to out (0 for the value 0).
std::size_t encode_uint(uint64_t value, std::array<uint8_t, 8>& out) noexcept;
// Decodes a uint option value of up to 8 bytes (longer values give nullopt).
std::optional<uint64_t> decode_uint(std::span<const uint8_t> value) noexcept;

// Writes one message into a caller's buffer. Options must be added in non-decreasing
// number order. Any overflow makes ok() false and the message unusable; so does anything
// parse() would reject (options out of order or before header(), a token longer than 8, a
// reserved code class, a token/option/payload on an Empty message, options after the
// payload). A failed call never writes past the buffer.
class writer {
public:
    explicit writer(std::span<uint8_t> buffer) noexcept : buf_(buffer) {}

    bool header(msg_type type, uint8_t code, uint16_t message_id,
                std::span<const uint8_t> token) noexcept;
    bool option(uint16_t number, std::span<const uint8_t> value) noexcept;
    bool option(uint16_t number, std::string_view value) noexcept;
    bool option_uint(uint16_t number, uint64_t value) noexcept;
    bool option_empty(uint16_t number) noexcept { return option(number, std::span<const uint8_t>{}); }
    // Adds the payload marker and the payload (nothing at all for an empty payload).
    bool payload(std::span<const uint8_t> data) noexcept;
    bool payload(std::string_view data) noexcept;

    bool ok() const noexcept { return ok_; }
    std::size_t size() const noexcept { return pos_; }
    std::span<const uint8_t> bytes() const noexcept { return {buf_.data(), pos_}; }
    // Bytes left for a payload once the marker is accounted for.
    std::size_t payload_room() const noexcept {
        return pos_ + 1 >= buf_.size() ? 0 : buf_.size() - pos_ - 1;
    }

private:
    bool put(const uint8_t* p, std::size_t n) noexcept;
    bool fail() noexcept;
    std::span<uint8_t> buf_;
    std::size_t pos_ = 0;
    uint16_t last_option_ = 0;
    bool ok_ = true;
    bool has_payload_ = false;
};

// The empty ACK or RST that answers message_id (RFC 7252 §4.2, §4.3): 4 bytes.
std::array<uint8_t, 4> empty_message(msg_type type, uint16_t message_id) noexcept;

// RFC 7959 Block1/Block2 option value.
struct block {
    uint32_t num = 0; // block number, < 2^20
    bool more = false;
    uint8_t szx = 6;  // size exponent: size = 2^(szx + 4), 0..6

    constexpr uint32_t size() const noexcept { return 16u << szx; }
    constexpr uint64_t offset() const noexcept { return uint64_t{num} * size(); }
    uint32_t encode() const noexcept { return (num << 4) | (more ? 8u : 0u) | szx; }
};

// nullopt when the value is longer than 3 bytes or SZX is 7 (reserved): 4.00.
std::optional<block> decode_block(std::span<const uint8_t> value) noexcept;
// The largest SZX whose block size is <= bytes (bytes >= 16); 6 for bytes >= 1024.
uint8_t szx_for(std::size_t bytes) noexcept;

}  // namespace tern::coap

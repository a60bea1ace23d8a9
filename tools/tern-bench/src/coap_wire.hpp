// Just enough RFC 7252 framing for a load generator: parse the fields a client matches
// responses on (type, code, MID, token, Observe, Max-Age) and write requests, ACKs and RSTs.
// Kept separate from plugins/coap on purpose: the benchmark must not share bugs with
// the server it measures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tern::bench::coap {

inline constexpr uint8_t type_con = 0;
inline constexpr uint8_t type_non = 1;
inline constexpr uint8_t type_ack = 2;
inline constexpr uint8_t type_rst = 3;

inline constexpr uint8_t code_empty = 0;
inline constexpr uint8_t code_get = 1;
inline constexpr uint8_t code_post = 2;
inline constexpr uint8_t code_put = 3;
inline constexpr uint8_t code_delete = 4;
inline constexpr uint8_t code_content = (2 << 5) | 5;

inline constexpr uint16_t opt_observe = 6;
inline constexpr uint16_t opt_uri_path = 11;
inline constexpr uint16_t opt_content_format = 12;
inline constexpr uint16_t opt_max_age = 14;
inline constexpr uint16_t opt_uri_query = 15;

constexpr unsigned code_class(uint8_t code) { return code >> 5u; }
constexpr unsigned code_detail(uint8_t code) { return code & 31u; }
constexpr bool is_request(uint8_t code) { return code != 0 && code_class(code) == 0; }
constexpr bool is_response(uint8_t code) { return code_class(code) >= 2; }

struct message {
    uint8_t type = 0;
    uint8_t code = 0;
    uint16_t mid = 0;
    uint8_t token_len = 0;
    const uint8_t* token = nullptr;
    bool has_observe = false;
    uint32_t observe = 0;
    bool has_max_age = false;
    uint32_t max_age = 0;  // seconds
    size_t payload_len = 0;
};

// False for anything RFC 7252 §3 and §4.1 call a message format error; the caller
// then ignores the datagram, as a CoAP endpoint would.
inline bool parse(const uint8_t* d, size_t n, message& m) {
    if (n < 4 || (d[0] >> 6) != 1) return false;
    m.type = (d[0] >> 4) & 3u;
    m.token_len = d[0] & 15u;
    m.code = d[1];
    m.mid = static_cast<uint16_t>(d[2] << 8 | d[3]);
    m.token = d + 4;
    m.has_observe = false;
    m.observe = 0;
    m.has_max_age = false;
    m.max_age = 0;
    m.payload_len = 0;
    if (m.token_len > 8 || 4u + m.token_len > n) return false;
    if (m.code == code_empty) return m.token_len == 0 && n == 4;

    size_t pos = 4u + m.token_len;
    unsigned number = 0;
    // Extended delta/length nibbles (13: one extra byte, 14: two) per RFC 7252 §3.1.
    auto extend = [&](unsigned nibble, unsigned& value) {
        if (nibble < 13) {
            value = nibble;
            return true;
        }
        if (nibble == 13) {
            if (pos + 1 > n) return false;
            value = 13u + d[pos];
            pos += 1;
            return true;
        }
        if (nibble == 14) {
            if (pos + 2 > n) return false;
            value = 269u + (static_cast<unsigned>(d[pos]) << 8 | d[pos + 1]);
            pos += 2;
            return true;
        }
        return false;
    };
    while (pos < n) {
        const uint8_t b = d[pos++];
        if (b == 0xFF) {
            if (pos == n) return false;  // a marker with no payload is a format error
            m.payload_len = n - pos;
            return true;
        }
        unsigned delta = 0;
        unsigned len = 0;
        if (!extend(b >> 4, delta) || !extend(b & 15u, len)) return false;
        if (pos + len > n) return false;
        number += delta;
        if (number == opt_observe) {
            if (len > 3) return false;
            uint32_t v = 0;
            for (unsigned i = 0; i < len; ++i) v = v << 8 | d[pos + i];
            m.has_observe = true;
            m.observe = v;
        } else if (number == opt_max_age) {
            if (len > 4) return false;
            uint32_t v = 0;
            for (unsigned i = 0; i < len; ++i) v = v << 8 | d[pos + i];
            m.has_max_age = true;
            m.max_age = v;
        }
        pos += len;
    }
    return true;
}

// Writes one message into a caller's buffer. Options must come in ascending order.
// Overflow is sticky: ok() turns false and size() is meaningless.
class writer {
public:
    writer(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap) {}

    void header(uint8_t type, uint8_t code, uint16_t mid, const uint8_t* token,
                uint8_t token_len) {
        if (!room(4u + token_len)) return;
        buf_[0] = static_cast<uint8_t>(1u << 6 | type << 4 | token_len);
        buf_[1] = code;
        buf_[2] = static_cast<uint8_t>(mid >> 8);
        buf_[3] = static_cast<uint8_t>(mid);
        if (token_len) std::memcpy(buf_ + 4, token, token_len);
        len_ = 4u + token_len;
    }

    void option(uint16_t number, const void* value, size_t len) {
        const unsigned delta = number - last_;
        last_ = number;
        uint8_t head[5];
        size_t h = 1;
        auto nibble = [&](unsigned v) -> unsigned {
            if (v < 13) return v;
            if (v < 269) {
                head[h++] = static_cast<uint8_t>(v - 13);
                return 13;
            }
            head[h++] = static_cast<uint8_t>((v - 269) >> 8);
            head[h++] = static_cast<uint8_t>(v - 269);
            return 14;
        };
        if (len > 65535u + 269u) {
            ok_ = false;
            return;
        }
        const unsigned dn = nibble(delta);
        const unsigned ln = nibble(static_cast<unsigned>(len));
        head[0] = static_cast<uint8_t>(dn << 4 | ln);
        if (!room(len_ + h + len)) return;
        std::memcpy(buf_ + len_, head, h);
        if (len) std::memcpy(buf_ + len_ + h, value, len);
        len_ += h + len;
    }

    // Minimal-length unsigned option (RFC 7252 §3.2: no leading zero bytes).
    void option_uint(uint16_t number, uint32_t v) {
        uint8_t b[4]{};
        size_t n = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
            if (n || (v >> shift) & 0xFFu) b[n++] = static_cast<uint8_t>(v >> shift);
        option(number, b, n);
    }

    // Room for a payload written in place; commit with end_payload (0 bytes drops the marker).
    uint8_t* begin_payload(size_t& room_left) {
        if (!ok_ || len_ + 1 >= cap_) {
            room_left = 0;
            return nullptr;
        }
        room_left = cap_ - len_ - 1;
        return buf_ + len_ + 1;
    }
    void end_payload(size_t n) {
        if (!ok_ || n == 0) return;
        buf_[len_] = 0xFF;
        len_ += 1 + n;
    }

    bool ok() const { return ok_; }
    size_t size() const { return len_; }

private:
    bool room(size_t total) {
        if (total > cap_) ok_ = false;
        return ok_;
    }

    uint8_t* buf_;
    size_t cap_;
    size_t len_ = 0;
    uint16_t last_ = 0;
    bool ok_ = true;
};

// Empty ACK or RST for a received MID (RFC 7252 §4.2, §4.3).
inline size_t write_empty(uint8_t* buf, uint8_t type, uint16_t mid) {
    buf[0] = static_cast<uint8_t>(1u << 6 | type << 4);
    buf[1] = code_empty;
    buf[2] = static_cast<uint8_t>(mid >> 8);
    buf[3] = static_cast<uint8_t>(mid);
    return 4;
}

}  // namespace tern::bench::coap

// Just enough CoAP (RFC 7252) for the DTLS test client and benchmark: build a request,
// read a response's type, code, MID, token, Observe and payload, build an empty ACK.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dtls::test {

enum coap_type : uint8_t { con = 0, non = 1, ack = 2, rst = 3 };

struct coap_message {
    uint8_t type = con;
    uint8_t code = 0;  // class << 5 | detail
    uint16_t mid = 0;
    std::vector<uint8_t> token;
    std::optional<uint32_t> observe;
    std::string payload;

    std::string code_text() const {
        return std::to_string(code >> 5) + "." + (code % 32 < 10 ? "0" : "") + std::to_string(code % 32);
    }
};

// method: 1 GET, 2 POST, 3 PUT, 4 DELETE. path: "a/b/c". observe: add Observe (0 = register).
inline std::vector<uint8_t> coap_request(uint8_t type, uint8_t method, uint16_t mid, uint32_t token,
                                         std::string_view path, std::string_view payload = {},
                                         std::optional<uint32_t> observe = std::nullopt) {
    std::vector<uint8_t> m;
    m.push_back(static_cast<uint8_t>(0x40 | (type << 4) | 4));
    m.push_back(method);
    m.push_back(static_cast<uint8_t>(mid >> 8));
    m.push_back(static_cast<uint8_t>(mid));
    for (int i = 3; i >= 0; --i) m.push_back(static_cast<uint8_t>(token >> (8 * i)));
    unsigned last = 0;
    auto option = [&](unsigned number, const uint8_t* value, size_t len) {
        const unsigned delta = number - last;
        last = number;
        auto nibble = [](unsigned v) { return v < 13 ? v : v < 269 ? 13u : 14u; };
        m.push_back(static_cast<uint8_t>(nibble(delta) << 4 | nibble(static_cast<unsigned>(len))));
        auto ext = [&](unsigned v) {
            if (v >= 269) {
                m.push_back(static_cast<uint8_t>((v - 269) >> 8));
                m.push_back(static_cast<uint8_t>(v - 269));
            } else if (v >= 13) {
                m.push_back(static_cast<uint8_t>(v - 13));
            }
        };
        ext(delta);
        ext(static_cast<unsigned>(len));
        m.insert(m.end(), value, value + len);
    };
    if (observe) {
        uint8_t v[4];
        size_t n = 0;
        for (int i = 3; i >= 0; --i)
            if (n != 0 || (*observe >> (8 * i)) != 0) v[n++] = static_cast<uint8_t>(*observe >> (8 * i));
        option(6, v, n);
    }
    size_t start = 0;
    while (start <= path.size() && !path.empty()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        option(11, reinterpret_cast<const uint8_t*>(path.data() + start), end - start);
        start = end + 1;
    }
    if (!payload.empty()) {
        m.push_back(0xff);
        m.insert(m.end(), payload.begin(), payload.end());
    }
    return m;
}

inline std::vector<uint8_t> coap_empty_ack(uint16_t mid) {
    return {static_cast<uint8_t>(0x40 | (ack << 4)), 0, static_cast<uint8_t>(mid >> 8), static_cast<uint8_t>(mid)};
}

inline std::optional<coap_message> coap_parse(const std::vector<uint8_t>& d) {
    if (d.size() < 4 || (d[0] >> 6) != 1) return std::nullopt;
    coap_message m;
    m.type = (d[0] >> 4) & 3;
    const size_t tkl = d[0] & 15;
    m.code = d[1];
    m.mid = static_cast<uint16_t>(d[2] << 8 | d[3]);
    if (tkl > 8 || d.size() < 4 + tkl) return std::nullopt;
    m.token.assign(d.begin() + 4, d.begin() + 4 + static_cast<long>(tkl));
    size_t i = 4 + tkl;
    unsigned number = 0;
    while (i < d.size() && d[i] != 0xff) {
        unsigned delta = d[i] >> 4, len = d[i] & 15;
        ++i;
        auto ext = [&](unsigned& v) {
            if (v == 13 && i < d.size()) v = 13 + d[i++];
            else if (v == 14 && i + 1 < d.size()) { v = 269 + (d[i] << 8 | d[i + 1]); i += 2; }
        };
        ext(delta);
        ext(len);
        number += delta;
        if (i + len > d.size()) return std::nullopt;
        if (number == 6) {
            uint32_t v = 0;
            for (unsigned k = 0; k < len; ++k) v = v << 8 | d[i + k];
            m.observe = v;
        }
        i += len;
    }
    if (i < d.size()) m.payload.assign(d.begin() + static_cast<long>(i) + 1, d.end());
    return m;
}

}  // namespace tern::dtls::test

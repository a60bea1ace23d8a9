// Helpers for resource plugins: reading a request's options and building responses.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "tern/abi/coap.h"
#include "tern/sdk/views.hpp"

namespace tern::sdk::coap {

constexpr uint8_t code(int cls, int detail) { return TERN_COAP_CODE(cls, detail); }

// "2.05" style text of a code, into a 5-byte buffer.
inline std::string_view code_text(uint8_t c, char (&buf)[5]) noexcept {
    buf[0] = static_cast<char>('0' + (c >> 5));
    buf[1] = '.';
    buf[2] = static_cast<char>('0' + ((c & 31) / 10));
    buf[3] = static_cast<char>('0' + ((c & 31) % 10));
    buf[4] = '\0';
    return {buf, 4};
}

// A response with sensible defaults: no content format, no Max-Age, no options.
inline tern_coap_response response(uint8_t c, tern_bytes payload = {},
                                   int32_t content_format = -1) noexcept {
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = c;
    r.content_format = content_format;
    r.max_age = -1;
    r.payload = payload;
    return r;
}

inline tern_coap_response text_response(uint8_t c, std::string_view text) noexcept {
    return response(c, to_bytes(text), TERN_COAP_FORMAT_TEXT);
}

// The value of the Uri-Query element "name=value" for name, if any; when name occurs more
// than once the LAST occurrence wins, as in ThingsBoard. An element without '=' is skipped.
inline std::optional<std::string_view> query_value(const tern_coap_request& r,
                                                   std::string_view name) noexcept {
    std::optional<std::string_view> found;
    for (uint32_t i = 0; i < r.query_count; ++i) {
        std::string_view q = to_sv(r.query[i]);
        auto eq = q.find('=');
        if (eq == std::string_view::npos) continue;
        if (q.substr(0, eq) == name) found = q.substr(eq + 1);
    }
    return found;
}

// Unsigned integer value of an option (RFC 7252 §3.2 uint format).
inline uint64_t option_uint(tern_bytes v) noexcept {
    uint64_t x = 0;
    for (size_t i = 0; i < v.size && i < 8; ++i) x = (x << 8) | v.data[i];
    return x;
}

}  // namespace tern::sdk::coap

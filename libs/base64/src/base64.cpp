#include "tern/base64/base64.hpp"

namespace tern::base64 {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Writes the encoding of `data` at `out`, which has room for encoded_size(data.size()).
void write(char* out, std::span<const uint8_t> data) noexcept {
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8 | data[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    const std::size_t rest = data.size() - i;
    if (rest == 0) return;
    uint32_t v = uint32_t{data[i]} << 16;
    if (rest == 2) v |= uint32_t{data[i + 1]} << 8;
    *out++ = alphabet[v >> 18 & 63];
    *out++ = alphabet[v >> 12 & 63];
    *out++ = rest == 2 ? alphabet[v >> 6 & 63] : '=';
    *out = '=';
}

// The value of one alphabet character, or -1.
int value_of(char ch) noexcept {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

}  // namespace

std::string encode(std::span<const uint8_t> data) {
    std::string out(encoded_size(data.size()), '\0');
    write(out.data(), data);
    return out;
}

void append(std::string& out, std::span<const uint8_t> data) {
    const std::size_t at = out.size();
    out.resize(at + encoded_size(data.size()));
    write(out.data() + at, data);
}

bool decode(std::string_view text, std::vector<uint8_t>& out, std::size_t max_size) {
    out.clear();
    uint32_t acc = 0;
    int bits = 0;
    std::size_t pad = 0, symbols = 0;
    for (const char ch : text) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
        if (ch == '=') {
            if (++pad > 2) return false;
            ++symbols;
            continue;
        }
        const int v = value_of(ch);
        if (v < 0) return false;
        if (pad != 0) return false;  // data after padding
        ++symbols;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out.size() >= max_size) return false;
            out.push_back(static_cast<uint8_t>(acc >> bits));
        }
    }
    return symbols % 4 == 0;
}

}  // namespace tern::base64

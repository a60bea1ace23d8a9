#include "x509.hpp"

namespace tern::device_api {

std::string base64(std::span<const uint8_t> d) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((d.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= d.size(); i += 3) {
        const uint32_t v = uint32_t{d[i]} << 16 | uint32_t{d[i + 1]} << 8 | d[i + 2];
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(alphabet[v >> 6 & 63]);
        out.push_back(alphabet[v & 63]);
    }
    const std::size_t rest = d.size() - i;
    if (rest == 1) {
        const uint32_t v = uint32_t{d[i]} << 16;
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.append("==");
    } else if (rest == 2) {
        const uint32_t v = uint32_t{d[i]} << 16 | uint32_t{d[i + 1]} << 8;
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(alphabet[v >> 6 & 63]);
        out.push_back('=');
    }
    return out;
}

}  // namespace tern::device_api

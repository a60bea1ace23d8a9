#include "tern/tb_number/json_text.hpp"

namespace tern::tb {

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const char* esc = nullptr;
        char u[7];
        std::size_t skip = 1;
        if (c >= 0x20 && c != '"' && c != '\\') {
            // U+2028 and U+2029 (E2 80 A8/A9) break JavaScript string literals: Gson escapes them.
            if (c != 0xE2 || i + 2 >= s.size() || static_cast<unsigned char>(s[i + 1]) != 0x80 ||
                (static_cast<unsigned char>(s[i + 2]) & 0xFE) != 0xA8)
                continue;
            esc = static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
            skip = 3;
        } else {
            switch (c) {
                case '"': esc = "\\\""; break;
                case '\\': esc = "\\\\"; break;
                case '\t': esc = "\\t"; break;
                case '\b': esc = "\\b"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\f': esc = "\\f"; break;
                default:
                    u[0] = '\\';
                    u[1] = 'u';
                    u[2] = '0';
                    u[3] = '0';
                    u[4] = hex[c >> 4];
                    u[5] = hex[c & 15];
                    u[6] = '\0';
                    esc = u;
            }
        }
        out.append(s.data() + run, i - run);
        out.append(esc);
        i += skip - 1;
        run = i + 1;
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

}  // namespace tern::tb

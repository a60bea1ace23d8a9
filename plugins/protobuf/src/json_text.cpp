// JSON strings and the JSON check.
#include "json_text.hpp"

#include <cstdint>
#include <vector>

namespace tern::protobuf {

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20) {
            switch (c) {
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    out += "\\u00";
                    out.push_back(hex[u >> 4]);
                    out.push_back(hex[u & 15]);
            }
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

namespace {

// RFC 8259 over the whole text, without recursion (a device's text may nest thousands deep).
// Not RapidJSON's reader: it takes a NUL byte for the end of the text, and its stack does
// arithmetic on a null pointer, which the fuzz target's UBSan stops at.
class json_check {
public:
    explicit json_check(std::string_view t) : t_(t) {}

    bool valid() {
        thread_local std::vector<char> open;  // '{' or '[' per level; kept warm
        open.clear();
        bool want_key = false;
        for (;;) {
            ws();
            if (want_key) {
                if (!string()) return false;
                ws();
                if (!eat(':')) return false;
                ws();
            }
            if (eat('{') || eat('[')) {
                const char o = t_[i_ - 1];
                ws();
                if (!eat(o == '{' ? '}' : ']')) {
                    open.push_back(o);
                    want_key = o == '{';
                    continue;
                }
            } else if (!scalar()) {
                return false;
            }
            for (;;) {  // after a value: close what ends here, or go on after a comma
                ws();
                if (open.empty()) return i_ == t_.size();
                if (eat(',')) break;
                if (!eat(open.back() == '{' ? '}' : ']')) return false;
                open.pop_back();
            }
            want_key = open.back() == '{';
        }
    }

private:
    bool more() const { return i_ < t_.size(); }
    char peek() const { return more() ? t_[i_] : '\0'; }
    void ws() {
        while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++i_;
    }
    bool eat(char c) {
        if (!more() || t_[i_] != c) return false;
        ++i_;
        return true;
    }
    bool digits() {
        const size_t from = i_;
        while (peek() >= '0' && peek() <= '9') ++i_;
        return i_ != from;
    }
    bool word(std::string_view w) {
        if (t_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    static bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
    // One UTF-8 sequence of 2 to 4 bytes starting at i_ (RFC 3629: shortest form, no
    // surrogates, at most U+10FFFF).
    bool utf8() {
        const auto c = static_cast<unsigned char>(t_[i_]);
        const int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        if (n == 0 || c > 0xF4 || i_ + n >= t_.size()) return false;
        uint32_t cp = c & (0x3F >> n);
        for (int k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(t_[i_ + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static constexpr uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i_ += n + 1;
        return true;
    }
    bool string() {
        if (!eat('"')) return false;
        while (more()) {
            const auto c = static_cast<unsigned char>(t_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20) return false;
            if (c >= 0x80) {
                if (!utf8()) return false;
                continue;
            }
            ++i_;
            if (c != '\\') continue;
            const char x = peek();
            ++i_;
            if (x == 'u') {
                for (int k = 0; k < 4; ++k, ++i_)
                    if (!hex(peek())) return false;
            } else if (std::string_view("\"\\/bfnrt").find(x) == std::string_view::npos || x == '\0') {
                return false;
            }
        }
        return false;
    }
    bool scalar() {
        switch (peek()) {
            case '"': return string();
            case 't': return word("true");
            case 'f': return word("false");
            case 'n': return word("null");
            default: break;
        }
        eat('-');
        if (!eat('0') && !digits()) return false;
        if (eat('.') && !digits()) return false;
        if (eat('e') || eat('E')) {
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        return true;
    }

    std::string_view t_;
    size_t i_ = 0;
};

}  // namespace

bool is_json(std::string_view text) { return json_check(text).valid(); }

}  // namespace tern::protobuf

#include "gson_access.hpp"

#include "tern/tb_number/number.hpp"

namespace tern::json {

using tb::decimal;
using tb::java_long_value;
using tb::parse_java_long;
using tb::split_number;

bool as_string(const document& doc, uint32_t i, std::string_view& out) noexcept {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::string:
        case node_kind::number: out = n.view(); return true;
        case node_kind::true_value: out = "true"; return true;
        case node_kind::false_value: out = "false"; return true;
        case node_kind::array: return n.size == 1 && as_string(doc, i + 1, out);
        default: return false;
    }
}

bool as_long(const document& doc, uint32_t i, int64_t& out) noexcept {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::number: {
            decimal d;
            if (!split_number(n.view(), d)) return false;
            out = java_long_value(d);
            return true;
        }
        case node_kind::string: return parse_java_long(n.view(), out);
        case node_kind::array: return n.size == 1 && as_long(doc, i + 1, out);
        default: return false;
    }
}

bool as_bool(const document& doc, uint32_t i, bool& out) noexcept {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::true_value: out = true; return true;
        case node_kind::false_value: out = false; return true;
        case node_kind::string:
        case node_kind::number: {
            const std::string_view t = n.view();
            out = t.size() == 4 && (t[0] | 0x20) == 't' && (t[1] | 0x20) == 'r' && (t[2] | 0x20) == 'u' &&
                  (t[3] | 0x20) == 'e';
            return true;
        }
        case node_kind::array: return n.size == 1 && as_bool(doc, i + 1, out);
        default: return false;
    }
}

std::size_t java_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (const char ch : s) {
        const auto b = static_cast<unsigned char>(ch);
        if ((b & 0xC0) != 0x80) n += b >= 0xF0 ? 2 : 1;
    }
    return n;
}

}  // namespace tern::json

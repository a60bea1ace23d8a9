#include "writer.hpp"

namespace tern::json {

void object_members(const document& doc, uint32_t obj, std::vector<member>& out,
                    std::vector<uint32_t>& order) {
    const std::size_t start = out.size();
    const uint32_t end = doc[obj].end;
    for (uint32_t k = obj + 1; k < end; k = doc[k + 1].end) out.push_back(member{k, k + 1});
    std::size_t n = out.size() - start;
    keep_last_values(out.data() + start, n, [&](uint32_t key) { return doc[key].view(); }, order);
    out.resize(start + n);
}

uint32_t find_member(const document& doc, uint32_t obj, std::string_view key) noexcept {
    uint32_t found = UINT32_MAX;
    const uint32_t end = doc[obj].end;
    for (uint32_t k = obj + 1; k < end; k = doc[k + 1].end)
        if (doc[k].view() == key) found = k + 1;
    return found;
}

void append_string(std::string& out, std::string_view s) {
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

void append_compact(std::string& out, const document& doc, uint32_t i, std::vector<member>& stack,
                    std::vector<uint32_t>& order) {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::null_value: out += "null"; return;
        case node_kind::true_value: out += "true"; return;
        case node_kind::false_value: out += "false"; return;
        case node_kind::number: out.append(n.text, n.size); return;
        case node_kind::string:
        case node_kind::key: append_string(out, n.view()); return;
        case node_kind::array: {
            out.push_back('[');
            bool first = true;
            for (uint32_t k = i + 1; k < n.end; k = doc[k].end) {
                if (!first) out.push_back(',');
                first = false;
                append_compact(out, doc, k, stack, order);
            }
            out.push_back(']');
            return;
        }
        case node_kind::object: {
            // stack grows while the members are written: index it, never hold references.
            const std::size_t start = stack.size();
            object_members(doc, i, stack, order);
            const std::size_t end = stack.size();
            out.push_back('{');
            for (std::size_t k = start; k < end; ++k) {
                if (k != start) out.push_back(',');
                const member m = stack[k];
                append_string(out, doc[m.key].view());
                out.push_back(':');
                append_compact(out, doc, m.value, stack, order);
            }
            out.push_back('}');
            stack.resize(start);
            return;
        }
    }
}

}  // namespace tern::json

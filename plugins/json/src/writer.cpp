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

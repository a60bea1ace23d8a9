// Compact JSON text the way Gson's JsonElement.toString() writes it: no spaces, numbers as
// their literal text, strings escaped like JsonWriter without HTML-safe escaping, and object
// members deduplicated the way JsonObject stores them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "document.hpp"
#include "tern/tb_number/json_text.hpp"

namespace tern::json {

// One object member: indexes of its key and value (in a document, or in a caller's list).
struct member {
    uint32_t key;
    uint32_t value;
};

// Gson's JsonObject keeps a repeated key at its first position with its last value. Applies
// that to m[0..n) in place (n shrinks); key_of(member.key) gives the key text. Small objects
// compare pairwise; larger ones sort an index (order is scratch space).
template <class KeyOf>
void keep_last_values(member* m, std::size_t& n, KeyOf key_of, std::vector<uint32_t>& order) {
    constexpr uint32_t dropped = UINT32_MAX;
    if (n < 2) return;
    bool any = false;
    if (n <= 16) {
        for (std::size_t i = 1; i < n; ++i) {
            const std::string_view k = key_of(m[i].key);
            for (std::size_t j = 0; j < i; ++j) {
                if (m[j].key != dropped && key_of(m[j].key) == k) {
                    m[j].value = m[i].value;
                    m[i].key = dropped;
                    any = true;
                    break;
                }
            }
        }
    } else {
        order.resize(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
        std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
            const std::string_view ka = key_of(m[a].key), kb = key_of(m[b].key);
            return ka != kb ? ka < kb : a < b;
        });
        for (std::size_t i = 0; i < n;) {
            std::size_t j = i + 1;
            const std::string_view k = key_of(m[order[i]].key);
            while (j < n && key_of(m[order[j]].key) == k) ++j;
            if (j - i > 1) {
                m[order[i]].value = m[order[j - 1]].value;
                for (std::size_t r = i + 1; r < j; ++r) m[order[r]].key = dropped;
                any = true;
            }
            i = j;
        }
    }
    if (!any) return;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (m[i].key != dropped) m[kept++] = m[i];
    n = kept;
}

// Appends the members of the object at index obj to out, deduplicated as above.
void object_members(const document& doc, uint32_t obj, std::vector<member>& out,
                    std::vector<uint32_t>& order);

// The last value of key in the object at index obj (JsonObject.get), or UINT32_MAX.
uint32_t find_member(const document& doc, uint32_t obj, std::string_view key) noexcept;

// "text" with Gson's escapes (libs/tb_number, shared with the protobuf adaptor).
inline void append_string(std::string& out, std::string_view text) { tb::append_json_string(out, text); }

// The value at index i as compact JSON. stack and order are scratch space.
void append_compact(std::string& out, const document& doc, uint32_t i, std::vector<member>& stack,
                    std::vector<uint32_t>& order);

}  // namespace tern::json

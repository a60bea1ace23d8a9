// A parsed JSON text as a flat tape of nodes, the way Gson's JsonParser sees it (ThingsBoard
// parses every device payload with it, leniently). Strings point into the caller's buffer,
// where they were decoded in place; nothing is allocated per value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::json {

enum class node_kind : uint8_t { null_value, false_value, true_value, number, string, key, object, array };

struct node {
    node_kind kind;
    // number, string, key: bytes of text; object: members; array: elements
    uint32_t size;
    // index one past the last node of this value (containers: of the whole subtree)
    uint32_t end;
    // number: the literal as written; string, key: the decoded UTF-8 text
    const char* text;

    std::string_view view() const noexcept { return {text, size}; }
    bool is_container() const noexcept {
        return kind == node_kind::object || kind == node_kind::array;
    }
};

// Object members follow the object node as key, value, key, value...; array elements follow
// the array node. A value's subtree is [i, nodes[i].end).
struct document {
    std::vector<node> nodes;
    // The text held no value at all (empty, whitespace or comments only): Gson's JsonNull.
    bool empty = true;

    const node& operator[](uint32_t i) const noexcept { return nodes[i]; }
    void clear() noexcept {
        nodes.clear();
        empty = true;
    }
};

// Deepest nesting of objects and arrays accepted; deeper input is refused, never recursed.
inline constexpr uint32_t max_depth = 64;

struct parse_options {
    // Gson's lenient rules (ThingsBoard's); off: strict RFC 8259.
    bool lenient = true;
};

// Parses body into doc. buffer receives a copy of body that the document points into: it
// must outlive the use of doc. Invalid UTF-8 is replaced by U+FFFD first (as Java decodes
// the bytes), and a leading byte order mark is skipped (as Gson does). Returns false with a
// short reason in error ("invalid JSON: ...").
bool parse(std::string_view body, const parse_options& options, std::string& buffer,
           document& doc, std::string& error);

// Copies text into out with invalid UTF-8 sequences replaced by U+FFFD (one per maximal
// invalid subpart, as Java's decoder does).
void sanitize_utf8(std::string_view text, std::string& out);
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace tern::json

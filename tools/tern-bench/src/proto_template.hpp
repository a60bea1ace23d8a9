// Protobuf request payloads for device mode: `--payload-protobuf '1:double={rand}.5,2:double={seq}'`
// sends a message with field 1 and field 2 as doubles, the values rendered per request from
// the same placeholders as a text payload. The encoding is written here (tags, varints,
// little-endian fixed64/fixed32, length prefixes), so the benchmark needs no protobuf library
// and shares no code with the server it measures.
#pragma once

#include "text_template.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::bench {

// The scalar encodings a field can have on the wire. `int` is a plain varint (int32, int64,
// uint32, uint64 and enum fields), `sint` a zigzag varint (sint32, sint64).
enum class proto_type : uint8_t { double_, float_, int_, sint, bool_, string };

class proto_template {
public:
    // SPEC: comma-separated `NUMBER:TYPE=VALUE`, TYPE one of double, float, int, sint, bool,
    // string; VALUE a template (placeholders in `allowed`; {token} only in string fields).
    // A field's value is checked once here by rendering it, so a value that can never be a
    // number is a usage error, not a silent stream of bad requests.
    bool parse(std::string_view spec, unsigned allowed, std::string& error);

    bool empty() const { return fields_.empty(); }
    const std::string& source() const { return source_; }

    // Upper bound of render()'s output, given the longest rendered {token}.
    size_t max_size(size_t token_max) const;

    // Writes the message into out[0..cap). Returns its length, or SIZE_MAX when it does not
    // fit or a rendered value is not a number of its field's type.
    size_t render(uint8_t* out, size_t cap, const render_context& ctx, const text_template* token_pattern) const;

    static constexpr uint32_t max_field_number = (1u << 29) - 1;

private:
    struct field {
        uint32_t number;
        proto_type type;
        text_template value;
    };
    std::string source_;
    std::vector<field> fields_;
};

}  // namespace tern::bench

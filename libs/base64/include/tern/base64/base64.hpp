// Base64 as RFC 4648 §4 defines it: the standard alphabet (A-Z a-z 0-9 + /), '=' padding to
// a multiple of four characters, no line breaks. One encoder (a fresh string, or appended to
// a buffer the caller reuses) and one decoder, shared by the plugins so that the text of a
// certificate or of a binary value is the same wherever it is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern::base64 {

// Characters the encoding of `size` bytes takes (padding included).
constexpr std::size_t encoded_size(std::size_t size) noexcept { return (size + 2) / 3 * 4; }

// The padded Base64 text of `data`.
std::string encode(std::span<const uint8_t> data);

// Appends the padded Base64 text of `data` to `out` (no quotes, no separators): for writers
// that build a message in a buffer they keep, so nothing but the buffer's growth allocates.
void append(std::string& out, std::span<const uint8_t> data);

// Decodes padded Base64 into `out` (cleared first). Spaces, tabs, CR and LF anywhere are
// skipped, so PEM bodies with their line breaks decode as they are. Returns false on any
// other character outside the alphabet, more than two '=', data after '=', a length (not
// counting skipped whitespace) that is not a multiple of four, or more than `max_size`
// decoded bytes (decoding stops there). Bits left over in the last symbol are not checked.
bool decode(std::string_view text, std::vector<uint8_t>& out,
            std::size_t max_size = std::numeric_limits<std::size_t>::max());

}  // namespace tern::base64

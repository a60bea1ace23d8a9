// UTF-8 as the JSON adaptor reads and writes it: well-formed sequences by Unicode's rules,
// U+FFFD in place of what is not (is_valid_utf8 and sanitize_utf8 are in document.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern::json {

// U+FFFD REPLACEMENT CHARACTER, encoded.
inline constexpr char replacement[] = "\xEF\xBF\xBD";

// Length of the well-formed sequence at p, or minus the length of the maximal invalid
// subpart there (Unicode 15 §3.9, "U+FFFD substitution of maximal subparts").
int utf8_sequence(const unsigned char* p, const unsigned char* end) noexcept;

// Writes code point cp at out and moves out past it.
void put_utf8(char*& out, uint32_t cp) noexcept;

}  // namespace tern::json

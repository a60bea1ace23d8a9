// Gson's JsonElement accessors over a parsed document, as ThingsBoard reads fields of device
// JSON (getAsString, getAsLong, getAsBoolean), and Java's String.length().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "document.hpp"

namespace tern::json {

// Gson's JsonElement.getAsString: strings and numbers as written, booleans as words, and a
// one-element array as its element; null, objects and other arrays have none.
bool as_string(const document& doc, uint32_t i, std::string_view& out) noexcept;

// Gson's getAsLong: a number as BigDecimal.longValue(), a string by Long.parseLong.
bool as_long(const document& doc, uint32_t i, int64_t& out) noexcept;

// Gson's getAsBoolean: a boolean, or Boolean.parseBoolean of the text ("TRUE" is true, 1 is
// false).
bool as_bool(const document& doc, uint32_t i, bool& out) noexcept;

// Java's String.length(): UTF-16 units (characters beyond the BMP count twice).
std::size_t java_length(std::string_view s) noexcept;

}  // namespace tern::json

// The JSON parser that follows Gson's JsonReader, lenient (how ThingsBoard parses device
// payloads) or strict; parse() in parse.cpp runs it when RapidJSON refused the text.
#pragma once

#include <cstddef>
#include <string>

#include "document.hpp"

namespace tern::json {

// Parses text[0, size) in place (strings are unescaped into it) into doc; false with the
// reason in error ("invalid JSON: ... at offset N").
bool parse_gson(char* text, std::size_t size, document& doc, bool lenient, std::string& error);

}  // namespace tern::json

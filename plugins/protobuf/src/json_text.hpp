// The little JSON the adaptor writes itself: strings quoted, and whether a text is JSON.
#pragma once

#include <string>
#include <string_view>

namespace tern::protobuf {

// Appends s as a JSON string (quotes, escapes of '"', '\\' and control characters).
void append_json_string(std::string& out, std::string_view s);

// Whether text is one complete JSON value (RFC 8259, any value at the top).
bool is_json(std::string_view text);

}  // namespace tern::protobuf

// JSON text the way ThingsBoard writes a JSON value back out (Gson's JsonElement.toString():
// JsonWriter without HTML-safe escaping). The JSON adaptor writes values it parsed with it; the
// protobuf adaptor writes the text protobuf's JSON printer would have produced and Gson then
// re-written, so a nested value is stored with the same characters either way.
#pragma once

#include <string>
#include <string_view>

namespace tern::tb {

// "text" with Gson's escapes: \" \\ \t \b \n \r \f, other controls and U+2028/U+2029 as
// \u00xx / \u2028 (lowercase hex); everything else as is.
void append_json_string(std::string& out, std::string_view text);

}  // namespace tern::tb

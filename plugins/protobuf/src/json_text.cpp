// JSON strings and the JSON check, over RapidJSON's SAX reader (no document is built).
#include "json_text.hpp"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace tern::protobuf {

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20) {
            switch (c) {
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    out += "\\u00";
                    out.push_back(hex[u >> 4]);
                    out.push_back(hex[u & 15]);
            }
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

bool is_json(std::string_view text) {
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::BaseReaderHandler<> ignore;
    rapidjson::Reader reader;
    constexpr unsigned flags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
    return !reader.Parse<flags>(ms, ignore).IsError();
}

}  // namespace tern::protobuf

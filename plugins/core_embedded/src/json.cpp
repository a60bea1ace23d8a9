#include "json.hpp"

#include <rapidjson/error/en.h>

namespace tern::core_embedded::json {

out& out::json_or_string(std::string_view text) {
    if (!text.empty() && valid(text)) return raw(text);
    return str(text);
}

out& out::val(const value& v) {
    switch (v.type) {
        case TERN_VALUE_BOOL: return boolean(v.i != 0);
        case TERN_VALUE_INT: return i64(v.i);
        case TERN_VALUE_DOUBLE: return dbl(v.d);
        case TERN_VALUE_STR: return str(v.s);
        case TERN_VALUE_JSON: return json_or_string(v.s);
        case TERN_VALUE_BYTES: {
            static const char hex[] = "0123456789abcdef";
            std::string h;
            for (unsigned char c : v.s) {
                h.push_back(hex[c >> 4]);
                h.push_back(hex[c & 15]);
            }
            return str(h);
        }
        default: return null();
    }
}

size_t nesting_depth(std::string_view text, size_t limit) {
    size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) deepest = depth;
            if (deepest > limit) return deepest;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

namespace {
constexpr unsigned parse_flags = rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag;
}

std::string parse(std::string_view text, rapidjson::Document& doc) {
    if (nesting_depth(text) > max_depth) {
        doc.SetNull();
        return "invalid JSON: nested deeper than " + std::to_string(max_depth) + " levels";
    }
    doc.Parse<parse_flags>(text.data(), text.size());
    if (!doc.HasParseError()) return {};
    return std::string("invalid JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
           rapidjson::GetParseError_En(doc.GetParseError());
}

bool valid(std::string_view text) {
    if (nesting_depth(text) > max_depth) return false;
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    return !d.HasParseError();
}

std::string compact(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

std::optional<value> to_value(const rapidjson::Value& v) {
    if (v.IsNull()) return std::nullopt;
    if (v.IsBool()) return value::of_bool(v.GetBool());
    if (v.IsInt64()) return value::of_int(v.GetInt64());
    if (v.IsNumber()) return value::of_double(v.GetDouble());
    if (v.IsString()) return value::of_str(std::string_view(v.GetString(), v.GetStringLength()));
    return value::of_json(compact(v));
}

value value_from_text(std::string_view text) {
    rapidjson::Document d;
    if (nesting_depth(text) > max_depth) return value::of_str(text);
    d.Parse<parse_flags>(text.data(), text.size());
    if (!d.HasParseError()) {
        if (auto v = to_value(d)) return *v;
    }
    return value::of_str(text);
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return nullptr;
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> get_string(const rapidjson::Value& obj, const char* name) {
    const rapidjson::Value* v = member(obj, name);
    if (v == nullptr || !v->IsString()) return std::nullopt;
    return std::string(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> get_int(const rapidjson::Value& obj, const char* name) {
    const rapidjson::Value* v = member(obj, name);
    if (v == nullptr || !v->IsInt64()) return std::nullopt;
    return v->GetInt64();
}

std::optional<bool> get_bool(const rapidjson::Value& obj, const char* name) {
    const rapidjson::Value* v = member(obj, name);
    if (v == nullptr || !v->IsBool()) return std::nullopt;
    return v->GetBool();
}

}  // namespace tern::core_embedded::json

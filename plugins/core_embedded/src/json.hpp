// JSON in and out (RapidJSON) for the admin API and the CLI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rapidjson_config.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "model.hpp"

namespace tern::core_embedded::json {

// A compact JSON writer with short names.
class out {
public:
    out() : w_(sb_) {}
    out& begin_object() { w_.StartObject(); return *this; }
    out& end_object() { w_.EndObject(); return *this; }
    out& begin_array() { w_.StartArray(); return *this; }
    out& end_array() { w_.EndArray(); return *this; }
    out& key(std::string_view k) {
        w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
        return *this;
    }
    out& str(std::string_view s) {
        w_.String(s.data() == nullptr ? "" : s.data(), static_cast<rapidjson::SizeType>(s.size()));
        return *this;
    }
    out& i64(int64_t v) { w_.Int64(v); return *this; }
    out& u64(uint64_t v) { w_.Uint64(v); return *this; }
    out& dbl(double v) { w_.Double(v); return *this; }
    out& boolean(bool v) { w_.Bool(v); return *this; }
    out& null() { w_.Null(); return *this; }
    // Embeds JSON text that is known to be valid; empty text becomes null.
    out& raw(std::string_view json) {
        if (json.empty()) return null();
        w_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
        return *this;
    }
    // Embeds text if it is valid JSON, else writes it as a string.
    out& json_or_string(std::string_view text);
    out& val(const value& v);
    // key + value helpers
    out& kv(std::string_view k, std::string_view s) { return key(k).str(s); }
    out& kv(std::string_view k, const char* s) { return key(k).str(s); }
    out& kv(std::string_view k, int64_t v) { return key(k).i64(v); }
    out& kv(std::string_view k, uint64_t v) { return key(k).u64(v); }
    out& kv(std::string_view k, int v) { return key(k).i64(v); }
    out& kv(std::string_view k, bool v) { return key(k).boolean(v); }
    out& kv_id(std::string_view k, uint64_t id) { return id == 0 ? key(k).null() : key(k).u64(id); }

    std::string take() { return std::string(sb_.GetString(), sb_.GetSize()); }

private:
    rapidjson::StringBuffer sb_;
    rapidjson::Writer<rapidjson::StringBuffer> w_;
};

// Deepest nesting of arrays and objects accepted: deeper text is refused before RapidJSON
// sees it, and the parser is iterative, so no body (1 MiB of "[[[[...") can exhaust the
// stack, here or in what later walks the document.
constexpr size_t max_depth = 128;
// Nesting depth of the arrays and objects in text (strings skipped), counted up to limit+1.
size_t nesting_depth(std::string_view text, size_t limit = max_depth);
// Parses text into doc; the error text is empty on success.
std::string parse(std::string_view text, rapidjson::Document& doc);
bool valid(std::string_view text);
// Compact re-serialisation of a value.
std::string compact(const rapidjson::Value& v);
// A JSON value as a stored value: bool, int (int64), double, string, or compact JSON for
// objects and arrays. null gives nullopt.
std::optional<value> to_value(const rapidjson::Value& v);
// Text typed on a command line: JSON scalars and containers keep their type, anything
// else is a string ("42" -> INT 42, "true" -> BOOL, "hello" -> STR, "\"42\"" -> STR "42").
value value_from_text(std::string_view text);

// Member accessors that tolerate absence.
const rapidjson::Value* member(const rapidjson::Value& obj, const char* name);
std::optional<std::string> get_string(const rapidjson::Value& obj, const char* name);
std::optional<int64_t> get_int(const rapidjson::Value& obj, const char* name);
std::optional<bool> get_bool(const rapidjson::Value& obj, const char* name);

}  // namespace tern::core_embedded::json

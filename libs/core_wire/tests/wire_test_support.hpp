// Helpers of the core_wire tests: building values, comparing views, bytes <-> hex.
#ifndef TERN_CORE_WIRE_TEST_SUPPORT_HPP
#define TERN_CORE_WIRE_TEST_SUPPORT_HPP

#include <tern/core_wire/codec.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace core_wire_test {

inline tern_str str(std::string_view s) { return {s.data(), s.size()}; }
inline tern_bytes bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string text(tern_str s) { return s.size == 0 ? std::string{} : std::string(s.data, s.size); }
inline std::string text(tern_bytes b) {
    return b.size == 0 ? std::string{} : std::string(reinterpret_cast<const char*>(b.data), b.size);
}

inline tern_value null_value() { return tern_value{}; }
inline tern_value bool_value(bool b) {
    tern_value v{};
    v.type = TERN_VALUE_BOOL;
    v.u.b = b ? 1 : 0;
    return v;
}
inline tern_value int_value(std::int64_t i) {
    tern_value v{};
    v.type = TERN_VALUE_INT;
    v.u.i = i;
    return v;
}
inline tern_value double_value(double d) {
    tern_value v{};
    v.type = TERN_VALUE_DOUBLE;
    v.u.d = d;
    return v;
}
inline tern_value str_value(std::string_view s, tern_value_type type = TERN_VALUE_STR) {
    tern_value v{};
    v.type = type;
    v.u.s = str(s);
    return v;
}
inline tern_value bytes_value(std::string_view s) {
    tern_value v{};
    v.type = TERN_VALUE_BYTES;
    v.u.bytes = {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
    return v;
}

// Texts that must arrive byte for byte: a NUL inside, UTF-8, bytes that are not UTF-8.
inline const std::string& nul_text() {
    static const std::string s("a\0b", 3);
    return s;
}
inline const std::string& utf8_text() {
    static const std::string s = "temp\xc2\xb0" "C \xe2\x82\xac \xf0\x9f\x8c\xa1";
    return s;
}
inline const std::string& raw_bytes() {
    static const std::string s("\x00\xff\xfe\x80\x01", 5);
    return s;
}

// One key/value of every kind, with the edge values of each.
inline std::vector<tern_kv> every_kind() {
    const auto kv = [](std::string_view key, tern_value v) { return tern_kv{str(key), v}; };
    return {
        kv("null", null_value()),
        kv("false", bool_value(false)),
        kv("true", bool_value(true)),
        kv("zero", int_value(0)),
        kv("min", int_value(std::numeric_limits<std::int64_t>::min())),
        kv("max", int_value(std::numeric_limits<std::int64_t>::max())),
        kv("minus_one", int_value(-1)),
        kv("neg_zero", double_value(-0.0)),
        kv("big", double_value(1.7976931348623157e308)),
        kv("tiny", double_value(4.9406564584124654e-324)),
        kv("inf", double_value(-std::numeric_limits<double>::infinity())),
        kv("pi", double_value(3.141592653589793)),
        kv("nul", str_value(nul_text())),
        kv(utf8_text(), str_value(utf8_text())),
        kv("empty", str_value("")),
        kv("raw", bytes_value(raw_bytes())),
        kv("json", str_value(R"({"a":[1,2.5,"x"],"b":null})", TERN_VALUE_JSON)),
        kv("", int_value(7)),
    };
}

inline bool same_value(const tern_value& a, const tern_value& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
    case TERN_VALUE_NULL: return true;
    case TERN_VALUE_BOOL: return a.u.b == b.u.b;
    case TERN_VALUE_INT: return a.u.i == b.u.i;
    case TERN_VALUE_DOUBLE: return std::memcmp(&a.u.d, &b.u.d, sizeof a.u.d) == 0;
    case TERN_VALUE_STR:
    case TERN_VALUE_JSON: return text(a.u.s) == text(b.u.s);
    case TERN_VALUE_BYTES: return text(a.u.bytes) == text(b.u.bytes);
    default: return false;
    }
}

inline bool same_kvs(const tern_kv* a, std::uint32_t an, const std::vector<tern_kv>& b) {
    if (an != b.size()) return false;
    for (std::uint32_t i = 0; i < an; ++i) {
        if (text(a[i].key) != text(b[i].key) || !same_value(a[i].value, b[i].value)) return false;
    }
    return true;
}

inline std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

}  // namespace core_wire_test

#endif

// A small protobuf wire writer for ThingsBoard's fixed downlink messages: fields in number
// order, proto3's default values (0, false, "") left out as every protobuf serialiser does,
// sub-messages length-prefixed. Writes into strings the caller reuses (nothing allocated once
// they have grown).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tern::protobuf::wire {

enum : uint32_t { varint_type = 0, fixed64_type = 1, bytes_type = 2 };

inline void varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

inline void tag(std::string& out, uint32_t field, uint32_t type) { varint(out, (uint64_t{field} << 3) | type); }

// int32, int64, enum and bool fields (negative numbers as ten-byte varints, as protobuf does).
inline void integer(std::string& out, uint32_t field, int64_t v) {
    if (v == 0) return;
    tag(out, field, varint_type);
    varint(out, static_cast<uint64_t>(v));
}

inline void float64(std::string& out, uint32_t field, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (bits == 0) return;  // +0.0 is the default; -0.0 is written
    tag(out, field, fixed64_type);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
}

// A string field, or a sub-message's bytes (always written when always is true: a set
// sub-message is written even when empty).
inline void bytes(std::string& out, uint32_t field, std::string_view v, bool always = false) {
    if (v.empty() && !always) return;
    tag(out, field, bytes_type);
    varint(out, v.size());
    out.append(v);
}

}  // namespace tern::protobuf::wire

// Reading a growable record (one that starts with uint32_t struct_size) from another
// library, by the rule of docs/abi.md: the writer sets struct_size to the size it was
// compiled with; the reader copies at most that many bytes and treats the rest as zero, so
// an older writer's record reads as "every newer field zero" and a newer writer's extra
// fields are ignored.
//
//     const tern_coap_response r = tern::sdk::read_record(in, offsetof(tern_coap_response, payload));
//     if (r.struct_size == 0) return TERN_INVALID_ARGUMENT;   // null, or too small to use
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tern::sdk {

template <class T>
concept growable_record = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> &&
                          std::is_same_v<decltype(T::struct_size), uint32_t>;

// The record *p as this plugin's T: min(p->struct_size, sizeof(T)) bytes of it, the rest
// zero. The result's struct_size is the number of bytes copied; it is 0 (and every field
// zero) when p is null or p->struct_size is below min_size, the least a writer must send
// (by default just struct_size itself).
template <growable_record T>
T read_record(const T* p, std::size_t min_size = sizeof(uint32_t)) noexcept {
    static_assert(offsetof(T, struct_size) == 0, "a growable record starts with struct_size");
    T out;
    std::memset(&out, 0, sizeof out);
    if (p == nullptr) return out;
    const std::size_t n = p->struct_size < sizeof(T) ? p->struct_size : sizeof(T);
    if (n < min_size || n < sizeof(uint32_t)) return out;
    std::memcpy(&out, p, n);
    out.struct_size = static_cast<uint32_t>(n);
    return out;
}

// Whether a record read by read_record() carries the field that ends at byte `end`
// (offsetof(T, field) + sizeof field): a field beyond struct_size is zero by default only.
template <growable_record T>
constexpr bool record_has(const T& r, std::size_t end) noexcept {
    return r.struct_size >= end;
}

}  // namespace tern::sdk

// heap_size: what an allocation costs with glibc's malloc, for the memory gauges plugins keep
// of their own tables (`*_memory_bytes{table}`): a malloc(n) takes a chunk of n plus its
// 8-byte size word, rounded up to 16 bytes, 32 at least; a std::string owns a chunk only
// beyond its 15-character inline buffer (libstdc++). Figures for accounting, not a promise
// of what another allocator does.
#pragma once

#include <cstddef>
#include <string>

namespace tern::sdk {

// The heap a malloc(n) takes.
constexpr std::size_t heap_chunk(std::size_t n) noexcept {
    const std::size_t c = (n + 8 + 15) & ~std::size_t{15};
    return c < 32 ? 32 : c;
}

// The heap a std::string of this capacity owns beyond the object itself.
constexpr std::size_t string_heap(std::size_t capacity) noexcept {
    return capacity <= 15 ? 0 : heap_chunk(capacity + 1);
}
inline std::size_t string_heap(const std::string& s) noexcept { return string_heap(s.capacity()); }

}  // namespace tern::sdk

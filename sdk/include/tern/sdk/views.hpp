// Conversions between the ABI's views and std types, compiled into the plugin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tern/abi/types.h"

namespace tern::sdk {

// Empty for size 0 and for a null data pointer (a peer's mistake must not become a crash).
constexpr std::string_view to_sv(tern_str s) noexcept {
    return (s.data == nullptr || s.size == 0) ? std::string_view{} : std::string_view{s.data, s.size};
}

constexpr tern_str to_str(std::string_view s) noexcept { return tern_str{s.data(), s.size()}; }

inline std::span<const std::uint8_t> to_span(tern_bytes b) noexcept {
    return b.size == 0 ? std::span<const std::uint8_t>{}
                       : std::span<const std::uint8_t>{b.data, b.size};
}

inline tern_bytes to_bytes(std::span<const std::uint8_t> s) noexcept {
    return tern_bytes{s.data(), s.size()};
}

inline tern_bytes to_bytes(std::string_view s) noexcept {
    return tern_bytes{reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view as_text(tern_bytes b) noexcept {
    return b.size == 0 ? std::string_view{}
                       : std::string_view{reinterpret_cast<const char*>(b.data), b.size};
}

}  // namespace tern::sdk

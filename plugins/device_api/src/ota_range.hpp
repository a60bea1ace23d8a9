// Which bytes of an OTA image a download asks for (its `size` and `chunk` query options),
// kept apart so the arithmetic is tested on its own.
#pragma once

#include <cstdint>

namespace tern::device_api {

// size <= 0 is the whole image, else chunk `chunk` of `size` bytes,
// [chunk*size, min(len, (chunk+1)*size)); a chunk past the end is empty (Tern answers it
// 2.05 with no payload, docs/device-api.md §0.5). size and chunk are >= 0 here (the caller refuses
// negative ones).
struct byte_range {
    uint64_t offset = 0;
    uint64_t length = 0;
};

constexpr byte_range ota_slice(uint64_t image_length, int64_t size, int64_t chunk) noexcept {
    if (size <= 0) return {0, image_length};
    const uint64_t from = static_cast<uint64_t>(chunk) * static_cast<uint64_t>(size);
    if (from >= image_length) return {image_length, 0};
    const uint64_t left = image_length - from;
    return {from, left < static_cast<uint64_t>(size) ? left : static_cast<uint64_t>(size)};
}

}  // namespace tern::device_api

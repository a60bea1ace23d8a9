// Small rules of the contract kept apart so they are tested on their own: response
// Content-Format (spec §1.4) and OTA chunk arithmetic (spec §6, §0.5).
#pragma once

#include <cstdint>

#include "tern/abi/coap.h"
#include "tern/abi/core.h"

namespace tern::device_api {

// Content-Format of notifications, GET-attributes and client-RPC answers: protobuf
// profiles always 42; JSON profiles echo the request's format when it had one, else 50.
// (2.01 replies carry none; the request's format is never validated.)
constexpr int32_t response_format(tern_payload_type payload, int32_t request_format) noexcept {
    if (payload == TERN_PAYLOAD_PROTOBUF) return TERN_COAP_FORMAT_OCTET_STREAM;
    return request_format >= 0 ? request_format : TERN_COAP_FORMAT_JSON;
}

// The bytes of an OTA image a download asks for: size <= 0 is the whole image, else chunk
// `chunk` of `size` bytes, [chunk*size, min(len, (chunk+1)*size)); a chunk past the end
// is empty (Tern answers it 2.05 with no payload, spec §0.5). size and chunk are >= 0
// here (the caller refuses negative ones).
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

// The one check of a response a handler gives the engine (respond, notify, end_observation),
// and the bound on its options, written once for every path that takes one: the owning
// shard, the engine's cross-thread path and the completion records that carry it there.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tern/abi/coap.h"

namespace tern::coap {

// Options a response may carry (more than a message could hold in any case).
inline constexpr uint32_t max_response_options = 64;

// A response of class 2.xx to 5.xx, with at most max_response_options options that are
// there, and a payload that is there (or a body to read it from).
inline bool response_valid(const tern_coap_response& r) noexcept {
    const uint32_t cls = r.code >> 5;
    return cls >= 2 && cls <= 5 && r.option_count <= max_response_options &&
           (r.option_count == 0 || r.options != nullptr) &&
           (r.payload.size == 0 || r.payload.data != nullptr || r.body != nullptr);
}

// Copies a caller's response record, honouring its struct_size (older or newer SDKs);
// false when it is too short to be one.
inline bool normalize_response(const tern_coap_response* in, tern_coap_response& out) noexcept {
    out = tern_coap_response{};
    if (in == nullptr || in->struct_size < offsetof(tern_coap_response, payload)) return false;
    std::memcpy(&out, in, std::min<std::size_t>(in->struct_size, sizeof out));
    out.struct_size = sizeof out;
    return true;
}

}  // namespace tern::coap

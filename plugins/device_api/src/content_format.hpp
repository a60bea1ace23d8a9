// The Content-Format of what the device API answers with data (the device contract's
// response format rule), kept apart so it is tested on its own.
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

}  // namespace tern::device_api

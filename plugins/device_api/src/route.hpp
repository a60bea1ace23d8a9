// What a request asks for (docs/device-api.md §1.2, §1.3, §6): the table of method x feature x Observe,
// decided before authentication as ThingsBoard does (a bad shape is 4.00 whatever the
// token). Pure, so the whole table is unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "action.hpp"
#include "path.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/core.h"

namespace tern::device_api {

struct route {
    action what = action::telemetry;
    bool api = true;  // under /api/v1 (the coap device type must be DEFAULT there)
    std::optional<std::string_view> token;
    int32_t rpc_id = 0;
    tern_ota_type ota = TERN_OTA_FIRMWARE;
};

struct classified {
    uint8_t error = 0;  // a CoAP code when the request is refused before authentication
    std::string_view reason;
    action kind = action::other;  // r.what when accepted; what it seemed to ask when refused
    route r;
};

// method: TERN_COAP_GET/POST/...; observe: the Observe option value, -1 when absent
// (values other than 0 and 1 count as absent).
classified classify(std::span<const tern_str> path, uint8_t method, int32_t observe) noexcept;

}  // namespace tern::device_api

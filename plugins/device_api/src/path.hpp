// The request grammar of the device API (docs/device-api.md §1.2): which feature a path names, the
// access token it carries and the RPC id, reproduced from ThingsBoard's parser because
// firmware relies on its tolerance (case-insensitive features, token-less X.509 forms,
// "rpc/abc" becoming a client-side RPC). The single-Uri-Path split is the engine's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tern/abi/types.h"

namespace tern::device_api {

enum class feature : uint8_t {
    none = 0,  // unknown or unparseable: 4.00
    telemetry,
    attributes,
    rpc,
    claim,
    provision,
    firmware,  // Tern: /api/v1/{token}/firmware (docs/device-api.md §0.5)
    software
};

// The feature named by one segment, case-insensitively (ASCII, as Java's toUpperCase
// does for these names); feature::none when it names none.
feature feature_of(std::string_view segment) noexcept;

// What a path under /api/v1 says. Views point into the caller's segments.
struct api_path {
    feature what = feature::none;
    // The access token (segment 2) when there are more than three segments; used only
    // when no transport identity resolved the device.
    std::optional<std::string_view> token;
    // The RPC id of POST .../rpc/{id}: segment 4 when there are five or more segments,
    // else segment 3, read as Java's Integer.parseInt does; absent when that fails.
    std::optional<int32_t> rpc_id;
};

// segments: the whole Uri-Path, starting with "api", "v1".
api_path parse_api_path(std::span<const tern_str> segments) noexcept;

// Java's Integer.parseInt over ASCII: an optional sign, then one or more digits, within
// the int32 range. Anything else: nullopt.
std::optional<int32_t> parse_java_int(std::string_view s) noexcept;

// Apache StringUtils.isNumeric over ASCII: non-empty and digits only.
bool all_digits(std::string_view s) noexcept;

}  // namespace tern::device_api

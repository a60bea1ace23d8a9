// Uri-Query parameters as ThingsBoard reads them (docs/device-api.md §2.4, §6): every element is split
// on '=' like Java's String.split("=") (trailing empty parts dropped); only elements that
// give exactly two parts count; the last occurrence wins; an empty value is absent.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tern/abi/types.h"

namespace tern::device_api {

std::optional<std::string_view> query_param(std::span<const tern_str> query,
                                            std::string_view name) noexcept;

// A comma-separated key list ("a,b,c"); empty items are dropped (no key is empty).
void split_keys(std::string_view list, std::vector<tern_str>& out);

}  // namespace tern::device_api

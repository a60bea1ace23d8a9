// config_v1 for one instance: its validated table, defaults filled in.
#pragma once

#include "kernel/schema.hpp"
#include "tern/abi/host.h"

namespace tern::kernel::host {

class config_service final : public tern::config_v1 {
public:
    explicit config_service(config_values values) : values_(std::move(values)) {}

    tern_status get_bool(tern_str key, int32_t* out) noexcept override;
    tern_status get_int(tern_str key, int64_t* out) noexcept override;
    tern_status get_double(tern_str key, double* out) noexcept override;
    tern_status get_string(tern_str key, tern_str* out) noexcept override;
    tern_status get_array_size(tern_str key, uint32_t* out) noexcept override;
    tern_status get_array_string(tern_str key, uint32_t index, tern_str* out) noexcept override;
    tern_str origin(tern_str key) noexcept override;

    const config_values& values() const noexcept { return values_; }

private:
    // The value of key, or null with *status set (NOT_FOUND: undeclared key;
    // INVALID_ARGUMENT: declared with another type, a plugin bug worth telling apart).
    const config_value* find(tern_str key, tern_config_type type, tern_status* status) const noexcept;
    const config_values values_;  // never modified: returned views stay valid
};

}  // namespace tern::kernel::host

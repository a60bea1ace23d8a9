// A device's own data, the core's hot path: telemetry and client attributes in (bounded
// by max_key_length and the writer's key limits, durable when the completion runs) and
// attribute reads out.
#pragma once

#include <cstdint>

#include "core_parts.hpp"

namespace tern::core_embedded {

class device_data {
public:
    explicit device_data(core_parts& parts) : p_(parts) {}

    // core_v1 (the caller checked that the core runs).
    void post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count, tern_core_done_fn done,
                        void* ctx) noexcept;
    void post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values, uint32_t count,
                         tern_core_done_fn done, void* ctx) noexcept;
    void get_attributes(uint64_t device_id, const tern_key_filter* client, const tern_key_filter* shared,
                        tern_core_attributes_fn done, void* ctx) noexcept;

private:
    core_parts& p_;
};

}  // namespace tern::core_embedded

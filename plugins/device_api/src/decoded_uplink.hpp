// An uplink body as the payload adaptor decoded it, copied out of the adaptor's views (they
// live only during its sink call) so that the core is called after the decode returned:
// decode, then store. One per shard, reused: once its buffers have grown to the largest
// message seen, a copy allocates nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tern/abi/core.h"

namespace tern::device_api {

class decoded_uplink {
public:
    // Telemetry records, their values and text. Throws std::bad_alloc (from the sink, the
    // caller catches it: nothing may leave an adaptor's callback).
    void copy_records(const tern_ts_record* records, uint32_t count);
    // Attribute key/values.
    void copy_values(const tern_kv* values, uint32_t count);
    // Up to two texts (an RPC reply, a client-side RPC's method and params, a claim's key).
    void copy_texts(tern_str a, tern_str b = {});

    std::span<const tern_ts_record> records() const noexcept { return records_; }
    std::span<const tern_kv> values() const noexcept { return values_; }
    tern_str text(std::size_t i) const noexcept { return texts_[i]; }

private:
    // Copies what kv points to into bytes_ at *at and points kv there.
    void relocate(tern_kv& kv, std::size_t& at) noexcept;
    static std::size_t text_size(const tern_kv& kv) noexcept;

    std::vector<tern_ts_record> records_;
    std::vector<tern_kv> values_;
    tern_str texts_[2]{};
    std::string bytes_;
};

}  // namespace tern::device_api

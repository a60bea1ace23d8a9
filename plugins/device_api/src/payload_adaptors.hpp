// The payload adaptors the device API uses, selected by one table: which adaptor name
// (payload_v1::name()) serves which profile payload type, which is required, and the order
// in which provisioning requests (which carry no profile) are tried. A new payload type is
// a new row here, not a string compared somewhere else.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "tern/abi/core.h"
#include "tern/abi/payload.h"

namespace tern::device_api {

struct adaptor_row {
    tern_payload_type type;
    std::string_view name;  // what the adaptor calls itself
    bool required;
};

// Provisioning tries the rows in this order: JSON first, then protobuf (the answer uses
// the codec that understood the request).
inline constexpr std::array<adaptor_row, 2> adaptor_table{{
    {TERN_PAYLOAD_JSON, "json", true},
    {TERN_PAYLOAD_PROTOBUF, "protobuf", false},
}};

class payload_adaptors {
public:
    // Takes p for the row whose name it answers to; false when no row has that name or the
    // row is taken already (the first provider wins).
    bool offer(payload_v1* p) noexcept;
    void set(tern_payload_type type, payload_v1* p) noexcept;

    // The adaptor of a profile's payload type; a type without a row is served by the
    // first row's (JSON), as profiles of an unknown type always were.
    payload_v1* for_type(tern_payload_type t) const noexcept;
    // The adaptor of table row i (provisioning order); may be null.
    payload_v1* at(std::size_t i) const noexcept { return slots_[i]; }
    // The name of a required row that has no adaptor, or empty.
    std::string_view missing() const noexcept;

private:
    std::array<payload_v1*, adaptor_table.size()> slots_{};
};

}  // namespace tern::device_api

// The plugin's metrics (prefix efento_). Every handle is a no-op when no host is given
// (tests without metrics).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "decoder.hpp"
#include "tern/sdk/host.hpp"

namespace tern::efento {

// What became of an uplink: efento_messages_total{kind,outcome}.
enum class outcome : uint8_t {
    stored,            // durable (2.01, or nothing for NON)
    parse_error,       // not a message of its kind: 5.00
    conversion_error,  // 4.00
    incomplete,        // device info with too few memory statistics: 5.00
    empty_channels,    // measurements without channels: 5.00
    too_many_values,   // past max_values_per_message: 4.13
    unknown_token,     // no cloud_token, or one the core does not know: 4.01
    wrong_profile,     // the device's profile is not of the EFENTO CoAP type: 4.00
    busy,              // the core's queues are full: 5.03
    backend_error,     // the core failed: 5.00 (4.00 when it refused a key or value)
    rate_limited,      // the source's lookups are spent: 4.29
    count_
};

const char* outcome_name(outcome o) noexcept;
// The outcome of a decoder status that is not ok.
outcome outcome_of(decode_status s) noexcept;

inline constexpr std::size_t kind_count = 3;  // message_kind's values

struct metrics {
    std::array<std::array<sdk::metric, static_cast<std::size_t>(outcome::count_)>, kind_count> messages{};
    sdk::metric values_stored;      // data points stored
    sdk::metric time_requests;      // GET time answered
    sdk::metric bad_requests;       // paths and methods refused with 4.00
    sdk::metric lookups_ok, lookups_unknown, lookups_error;  // core authentications
    sdk::metric token_hits, token_evictions, token_entries;
    sdk::metric unknown_hits, unknown_evictions, unknown_entries;
    sdk::metric source_evictions, source_buckets;
    sdk::metric activity_reports;
    sdk::metric warnings_suppressed;  // backend warnings not logged (at most one a second)

    // Registers everything; throws when the host refuses one. h null: no-op handles.
    void init(const sdk::host* h);

    void message(message_kind k, outcome o) const noexcept {
        messages[static_cast<std::size_t>(k)][static_cast<std::size_t>(o)].inc();
    }
};

}  // namespace tern::efento

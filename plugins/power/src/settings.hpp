// The power plugin's configuration: the default timers a device gets when neither it nor its
// profile sets its own. Each key is declared once (tern/sdk/config.hpp): name, member,
// default, range, unit and doc text; the descriptor publishes settings_schema.keys() (the
// README's table is generated from it) and the instance loads the struct with
// settings_schema.load(), then check().
#pragma once

#include <cstdint>
#include <string>

#include "tern/sdk/config.hpp"

namespace tern::power {

// The longest default timer accepted: one day. A device's or profile's own value is not
// bounded by it (the core checks those).
inline constexpr int64_t max_default_timer_ms = 86'400'000;

struct settings {
    int64_t psm_activity_timer_ms = 10'000;
    int64_t paging_transmission_window_ms = 10'000;
    int64_t edrx_cycle_ms = 81'000;

    // "" when every value is in range, else what is wrong, naming the key. (The kernel checks
    // the schema's ranges before create(); this holds for any host.)
    std::string check() const {
        const auto bad = [](const char* key, int64_t v) {
            return std::string(key) + " is " + std::to_string(v) + " ms; it must be between 1 and " +
                   std::to_string(max_default_timer_ms) + " ms";
        };
        if (psm_activity_timer_ms < 1 || psm_activity_timer_ms > max_default_timer_ms)
            return bad("psm_activity_timer", psm_activity_timer_ms);
        if (paging_transmission_window_ms < 1 || paging_transmission_window_ms > max_default_timer_ms)
            return bad("paging_transmission_window", paging_transmission_window_ms);
        if (edrx_cycle_ms < 1 || edrx_cycle_ms > max_default_timer_ms) return bad("edrx_cycle", edrx_cycle_ms);
        return {};
    }
};

namespace cfg = tern::sdk::cfg;

inline constexpr auto settings_schema = cfg::bind<settings>(
    cfg::integer("psm_activity_timer", &settings::psm_activity_timer_ms, 10'000,
                 "PSM devices: how long a device stays reachable after its last uplink or acknowledged "
                 "notification; later downlinks wait for its next uplink. Used when neither the device "
                 "nor its profile sets its own timer")
        .range(1, static_cast<double>(max_default_timer_ms))
        .unit("ms"),
    cfg::integer("paging_transmission_window", &settings::paging_transmission_window_ms, 10'000,
                 "eDRX devices: how long a device stays reachable after its last uplink or acknowledged "
                 "notification; after it one downlink still goes, later ones wait for its next uplink. "
                 "Used when neither the device nor its profile sets its own window")
        .range(1, static_cast<double>(max_default_timer_ms))
        .unit("ms"),
    cfg::integer("edrx_cycle", &settings::edrx_cycle_ms, 81'000,
                 "eDRX devices: the default paging cycle, accepted as ThingsBoard accepts it and logged "
                 "at start; as in ThingsBoard no decision depends on it (paging_transmission_window "
                 "decides)")
        .range(1, static_cast<double>(max_default_timer_ms))
        .unit("ms"));

}  // namespace tern::power

// The three power-saving modes of ThingsBoard's CoAP transport as one tern.power.policy/1:
//
//   DRX    always reachable: every downlink goes at once; the last activity is recorded.
//   PSM    reachable for T = psm_activity_timer after each uplink or acknowledged
//          notification, asleep after it (or once a notification goes unacknowledged) until
//          the next uplink; downlinks wait meanwhile.
//   E_DRX  as PSM with T = paging_transmission_window, except that outside the window (or
//          while asleep) exactly one downlink still goes: the first since the last uplink.
//
// T is the device's own timer when its settings give one (> 0), else this plugin's default.
// The object keeps nothing per device (all of it is in tern_power_state) and nothing changes
// after construction, so every shard shares it; its calls allocate nothing and take no lock.
#pragma once

#include <cstdint>
#include <string_view>

#include "settings.hpp"
#include "tern/abi/power.h"

namespace tern::power {

enum class mode : uint8_t {
    none,  // a name this policy does not decide: treated as DRX (always reachable)
    drx,
    psm,
    edrx
};

// The mode of that exact name ("PSM", "E_DRX", "DRX"); mode::none for any other.
mode mode_named(std::string_view name) noexcept;

// A bit of tern_power_state::flags that is this policy's own (16..31): eDRX let its single
// downlink outside the window through since the last uplink.
inline constexpr uint32_t edrx_downlink_sent = 1u << 16;

class policy final : public power_policy_v1 {
public:
    // defaults: the timers of devices whose settings give none (checked by the caller).
    explicit policy(const settings& defaults) noexcept : defaults_(defaults) {}

    bool describe(tern_str mode, uint32_t* out_flags) noexcept override;
    bool on_event(const tern_power_settings* s, tern_power_state* state, tern_power_event event,
                  int64_t now_ms) noexcept override;
    tern_power_verdict may_send(const tern_power_settings* s, tern_power_state* state,
                                int64_t now_ms) noexcept override;

    // The window of a device in that mode: its own timer when > 0, else the default (PSM:
    // psm_activity_timer, E_DRX: paging_transmission_window); 0 for DRX and other modes.
    int64_t window_ms(mode m, const tern_power_settings* s) const noexcept;
    const settings& defaults() const noexcept { return defaults_; }

private:
    const settings defaults_;
};

}  // namespace tern::power

// Power-saving policies (tern.power.policy/1, ABI 1.2) as their users find them: the interface
// bound to its id, a device's settings read from its profile options, and a catalog of the
// policies running, asked by mode name.
//
//     tern::sdk::power_catalog policies(host().registry());            // at start
//     tern_power_settings s = tern::sdk::power_settings_of(options, n);  // a device's options
//     tern::sdk::power_policy_ref p = policies.find(s.mode);            // {nullptr, 0}: none
//     if (p.sleeps()) ... notify with TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT ...
//     if (p && p.policy->may_send(&s, &state, now_ms) == TERN_POWER_HOLD) ... hold it ...
//
// Building a catalog lists the registry and allocates; its look-ups and power_settings_of do
// neither, so the transport calls them per message.
//
// The rules a vendor's policy follows (tern/abi/power.h has the interface):
// - describe(mode) accepts only the exact names it decides ("PSM", not "psm") and says in its
//   flags whether their devices sleep (TERN_POWER_MODE_SLEEPS). When two instances accept one
//   name, the first in manifest order decides it.
// - on_event and may_send are pure functions of (settings, state, event, now): no allocation,
//   no lock, no I/O, no clock of their own (now_ms is given), no state outside the record.
//   They run on the device's shard, one call at a time per record, and every shard shares
//   the one policy object, so whatever the object keeps must be read-only after start.
// - The policy owns tern_power_state's fields except that the transport reads `flags`
//   (TERN_POWER_ASLEEP) and `wake_check_ms` (it calls on_event(TERN_POWER_EVENT_TIMER) at
//   that time). Bits 16..31 of flags, policy_word and policy_data are the policy's own.
// - A timer of 0 in the settings is not set: the policy uses its own default (a setting in
//   its plugin's manifest section). A mode's unknown option is the policy's to ignore.
// - on_event returns true only when the device was asleep and is awake now: the transport
//   then sends what it held. A HOLD must be followed, some time, by a wake (an uplink, or a
//   timer the policy asked for), or the held downlinks wait for their own expiry.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"
#include "tern/abi/power.h"
#include "tern/abi/types.h"
#include "tern/sdk/host.hpp"
#include "tern/sdk/interfaces.hpp"
#include "tern/sdk/views.hpp"

TERN_SDK_INTERFACE(tern::power_policy_v1, TERN_IID_POWER_POLICY_V1)  // ABI 1.2

namespace tern::sdk {

// A device's power-saving settings from its profile options (a core puts the device's own
// values before its profile's): TERN_OPTION_POWER_MODE (text) and the three timers
// (TERN_VALUE_INT ms). The first occurrence of each key decides; a key that is absent, of
// another type or (a timer) not above 0 reads as not set: an empty mode, a timer of 0. The
// result points into options (the mode's text and the options themselves): it lives as they
// do. No allocation. [any-thread]
inline tern_power_settings power_settings_of(const tern_kv* options, uint32_t count) noexcept {
    if (options == nullptr) count = 0;
    tern_power_settings s{};
    s.struct_size = sizeof s;
    s.options = count == 0 ? nullptr : options;
    s.option_count = count;
    bool seen_mode = false, seen_psm = false, seen_cycle = false, seen_window = false;
    const auto timer = [](const tern_value& v) noexcept -> int64_t {
        return v.type == TERN_VALUE_INT && v.u.i > 0 ? v.u.i : 0;
    };
    for (uint32_t i = 0; i < count; ++i) {
        const std::string_view key = to_sv(options[i].key);
        const tern_value& v = options[i].value;
        if (key == TERN_OPTION_POWER_MODE) {
            if (seen_mode) continue;
            seen_mode = true;
            if (v.type == TERN_VALUE_STR) s.mode = v.u.s;
        } else if (key == TERN_OPTION_PSM_ACTIVITY_TIMER_MS) {
            if (seen_psm) continue;
            seen_psm = true;
            s.psm_activity_timer_ms = timer(v);
        } else if (key == TERN_OPTION_EDRX_CYCLE_MS) {
            if (seen_cycle) continue;
            seen_cycle = true;
            s.edrx_cycle_ms = timer(v);
        } else if (key == TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS) {
            if (seen_window) continue;
            seen_window = true;
            s.paging_transmission_window_ms = timer(v);
        }
    }
    return s;
}

// The policy deciding a mode and the mode's TERN_POWER_MODE_* flags; {nullptr, 0} when no
// policy decides it (the device is then always reachable, as DRX).
struct power_policy_ref {
    power_policy_v1* policy = nullptr;
    uint32_t flags = 0;

    explicit operator bool() const noexcept { return policy != nullptr; }
    // Whether the mode's devices sleep (TERN_POWER_MODE_SLEEPS).
    bool sleeps() const noexcept { return policy != nullptr && (flags & TERN_POWER_MODE_SLEEPS) != 0; }
};

// The power policies running, in manifest order, as the registry listed them when the catalog
// was built. The pointers live as the registry's do (until their providers stop).
class power_catalog {
public:
    struct entry {
        std::string instance;    // the instance providing it
        power_policy_v1* policy; // never null
    };

    power_catalog() = default;
    // Lists tern.power.policy/1 in manifest order. [any-thread]
    // Throws std::bad_alloc when memory runs out.
    explicit power_catalog(registry_v1& registry) {
        registry.list(to_str(TERN_IID_POWER_POLICY_V1), &take, this);
        if (out_of_memory_) throw std::bad_alloc();
    }
    explicit power_catalog(const host& h) : power_catalog(h.registry()) {}

    // The first policy (manifest order) whose describe() accepts mode, with the mode's flags;
    // {nullptr, 0} for an empty mode or when none accepts it. No allocation. [any-thread]
    power_policy_ref find(tern_str mode) const noexcept {
        if (mode.size == 0) return {};
        for (const entry& e : entries_) {
            uint32_t flags = 0;
            if (e.policy->describe(mode, &flags)) return {e.policy, flags};
        }
        return {};
    }
    power_policy_ref find(std::string_view mode) const noexcept { return find(to_str(mode)); }
    // Whether the mode's devices sleep: a policy decides it and flags TERN_POWER_MODE_SLEEPS.
    bool sleeps(tern_str mode) const noexcept { return find(mode).sleeps(); }
    bool sleeps(std::string_view mode) const noexcept { return find(mode).sleeps(); }

    bool empty() const noexcept { return entries_.empty(); }
    const std::vector<entry>& entries() const noexcept { return entries_; }

private:
    // The registry's sink: nothing may leave it by exception.
    static void take(void* self, tern_str instance, void* iface) noexcept {
        auto* c = static_cast<power_catalog*>(self);
        if (iface == nullptr) return;
        try {
            c->entries_.push_back(entry{std::string(to_sv(instance)), static_cast<power_policy_v1*>(iface)});
        } catch (...) {
            c->out_of_memory_ = true;
        }
    }

    std::vector<entry> entries_;
    bool out_of_memory_ = false;
};

}  // namespace tern::sdk

// The `power` plugin: one tern.power.policy/1 deciding the modes "DRX", "PSM" and "E_DRX"
// (policy.hpp), with the default timers of its manifest table (settings.hpp). The device API
// finds it in the registry and asks it about every device whose mode it describes.
#include <tern/sdk/plugin.hpp>

#include "policy.hpp"
#include "settings.hpp"
#include "tern/abi/power.h"

namespace {

using tern::power::settings;
using tern::power::settings_schema;

// The configuration, refused with the key's name when out of range.
settings checked(const tern::sdk::config& c) {
    settings s = settings_schema.load(c);
    if (const std::string err = s.check(); !err.empty()) throw tern::sdk::error(TERN_CONFIG, err);
    return s;
}

class power_plugin final : public tern::sdk::instance {
public:
    // Runs inside create(): a bad configuration fails create() with its message.
    explicit power_plugin(const tern_create_args& args) : instance(args), policy_(checked(config())) {
        const settings& s = policy_.defaults();
        log().info("power modes DRX, PSM, E_DRX; defaults: psm_activity_timer=", s.psm_activity_timer_ms,
                   " ms, paging_transmission_window=", s.paging_transmission_window_ms,
                   " ms, edrx_cycle=", s.edrx_cycle_ms, " ms");
    }

private:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_POWER_POLICY_V1) return static_cast<tern::power_policy_v1*>(&policy_);
        return nullptr;
    }

    tern::power::policy policy_;
};

constexpr const char* power_provides[] = {TERN_IID_POWER_POLICY_V1};

}  // namespace

TERN_PLUGIN(power_plugin, {.name = "power",
                           .version = "1.0.0",
                           .vendor = "Tern",
                           .description = "Power-saving modes DRX, PSM and eDRX: when a sleeping device may get a downlink",
                           .provides = power_provides,
                           .config = settings_schema.keys()})

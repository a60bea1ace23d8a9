// The efento plugin: descriptor, configuration, and finding the services the resources talk
// to. The work is in resource.cpp (routing, time, events) and uplink.cpp (cloud_token,
// conversion, storing); the conversion itself is the decoder (decoder.hpp).
#include <memory>

#include "resource.hpp"
#include "tern/sdk/core.hpp"
#include "tern/sdk/plugin.hpp"

namespace {

using namespace tern;

constexpr tern_requirement efento_requires[] = {
    sdk::need(TERN_IID_COAP_ENGINE_V1),       sdk::need(TERN_IID_CORE_AUTH_V1),
    sdk::need(TERN_IID_CORE_TELEMETRY_V1),    sdk::need(TERN_IID_CORE_ATTRIBUTES_V1),
    sdk::need(TERN_IID_CORE_SESSIONS_V1),     sdk::need(TERN_IID_CORE_EVENTS_V1),
};

class efento_plugin final : public sdk::instance {
public:
    explicit efento_plugin(const tern_create_args& args) : instance(args) {
        s_ = efento::settings_schema.load(config());
        efento::check(s_);
    }

private:
    void on_start() override {
        efento::services w;
        w.reactor = &host().reactor();
        w.host = &host();
        w.log = &host().log_service();
        w.engine = &host().require<coap_engine_v1>(s_.engine);
        w.core.auth = &host().require<core_auth_v1>(s_.core);
        w.core.telemetry = &host().require<core_telemetry_v1>(s_.core);
        w.core.attributes = &host().require<core_attributes_v1>(s_.core);
        w.core.sessions = &host().require<core_sessions_v1>(s_.core);
        w.core.events = &host().require<core_events_v1>(s_.core);
        // Made once: a restart after stop() keeps the metrics registered by the first.
        if (!res_) res_ = std::make_unique<efento::resource>(s_, w);
        res_->start();
        log().info("serving Efento sensors on ", res_->describe());
    }

    void on_stop() noexcept override {
        // The resource itself stays until destroy(): a core still finishing a call answers
        // into it until the core has stopped too.
        if (res_) res_->stop();
    }

    efento::settings s_;
    std::unique_ptr<efento::resource> res_;
};

}  // namespace

TERN_PLUGIN(efento_plugin, {.name = "efento",
                            .version = "1.0.0",
                            .vendor = "Tern",
                            .description = "Efento NB-IoT sensors: measurements, device info, configuration, time",
                            .provides = {},
                            .requirements = efento_requires,
                            .config = efento::settings_schema.keys()})

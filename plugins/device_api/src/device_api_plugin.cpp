// The device_api plugin: descriptor, configuration schema, and finding the services the
// device API talks to. The work is in service.cpp and its components.
#include <memory>
#include <string>
#include <vector>

#include "service.hpp"
#include "tern/sdk/core.hpp"
#include "tern/sdk/plugin.hpp"
#include "tern/sdk/power.hpp"

namespace {

using namespace tern;

constexpr tern_requirement device_api_requires[] = {
    sdk::need(TERN_IID_COAP_ENGINE_V1),
    sdk::need(TERN_IID_CORE_AUTH_V1),
    sdk::need(TERN_IID_CORE_TELEMETRY_V1),
    sdk::need(TERN_IID_CORE_ATTRIBUTES_V1),
    sdk::need(TERN_IID_CORE_RPC_V1),
    sdk::need(TERN_IID_CORE_PROVISIONING_V1),
    sdk::need(TERN_IID_CORE_OTA_V1),
    sdk::need(TERN_IID_CORE_SESSIONS_V1),
    sdk::need(TERN_IID_CORE_EVENTS_V1),
    sdk::need(TERN_IID_PAYLOAD_V1),
    sdk::may_use(TERN_IID_TRANSPORT_V1),
    // Power-saving policies (PSM, eDRX, a vendor's): without one every device is reachable.
    sdk::may_use(TERN_IID_POWER_POLICY_V1),
};

class device_api_plugin final : public sdk::instance {
public:
    explicit device_api_plugin(const tern_create_args& args) : instance(args) {
        s_ = device_api::settings_schema.load(config());
    }

private:
    void on_start() override {
        device_api::services w;
        w.reactor = &host().reactor();
        w.host = &host();
        w.log = &host().log_service();
        w.engine = &host().require<coap_engine_v1>(s_.engine);
        // The core's capabilities (ABI 1.1), all from the same instance.
        w.core.auth = &host().require<core_auth_v1>(s_.core);
        w.core.telemetry = &host().require<core_telemetry_v1>(s_.core);
        w.core.attributes = &host().require<core_attributes_v1>(s_.core);
        w.core.rpc = &host().require<core_rpc_v1>(s_.core);
        w.core.provisioning = &host().require<core_provisioning_v1>(s_.core);
        w.core.ota = &host().require<core_ota_v1>(s_.core);
        w.core.sessions = &host().require<core_sessions_v1>(s_.core);
        w.core.events = &host().require<core_events_v1>(s_.core);
        // Payload adaptors by the payload type they serve (tern/sdk/payload.hpp): JSON's is
        // required; a profile of another type whose adaptor is not loaded gets 5.00.
        w.adaptors = sdk::payload_catalog(host().registry());
        if (w.adaptors.for_type(TERN_PAYLOAD_JSON) == nullptr)
            throw sdk::error(TERN_CONFIG, sdk::missing_payload_adaptor(TERN_PAYLOAD_JSON));
        w.powers = sdk::power_catalog(host().registry());
        host().registry().list(
            sdk::to_str(TERN_IID_TRANSPORT_V1),
            [](void* ctx, tern_str instance, void* iface) {
                static_cast<device_api::services*>(ctx)->transports.push_back(
                    {std::string(sdk::to_sv(instance)), static_cast<transport_v1*>(iface)});
            },
            &w);
        std::string payloads;
        for (const sdk::payload_kind& k : sdk::payload_kinds)
            if (w.adaptors.find(k.adaptor) != nullptr) payloads += sdk::cat(payloads.empty() ? "" : ", ", k.adaptor);
        service_ = std::make_unique<device_api::service>(s_, std::move(w));
        service_->start();
        log().info("serving the ThingsBoard CoAP device API on /api/v1, /fw, /sw (payloads: ", payloads, ")");
    }

    void on_stop() noexcept override {
        // The service itself stays until destroy(): a core still finishing a call (a
        // client-side RPC waits up to its timeout) calls back into it until the core
        // has stopped too.
        if (service_) service_->stop();
    }

    device_api::settings s_;
    std::unique_ptr<device_api::service> service_;
};

}  // namespace

TERN_PLUGIN(device_api_plugin, {.name = "device_api",
                                .version = "1.0.0",
                                .vendor = "Tern",
                                .description = "ThingsBoard CoAP device API: telemetry, attributes, Observe, RPC, "
                                               "claim, provisioning, OTA",
                                .provides = {},
                                .requirements = device_api_requires,
                                .config = device_api::settings_schema.keys()})

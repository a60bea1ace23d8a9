// The device_api plugin: descriptor, configuration schema, and finding the services the
// device API talks to. The work is in service.cpp and its components.
#include <memory>
#include <string>
#include <vector>

#include "service.hpp"
#include "tern/sdk/plugin.hpp"

namespace {

using namespace tern;
namespace cfg = tern::sdk::cfg;


constexpr tern_config_key device_service_config[] = {
    cfg::string("core", "", "Instance name of the core to use; empty: the first instance providing tern.core/1"),
    cfg::string("engine", "",
                "Instance name of the CoAP engine to serve on; empty: the first instance providing tern.coap.engine/1"),
    cfg::integer("client_rpc_timeout", 10000,
                 "How long a client-side RPC (POST .../rpc) waits for its answer; after it the device gets no "
                 "response (ThingsBoard's transport.coap.timeout). The engine's timeout must be at least this")
        .at_least(1)
        .unit("ms"),
    cfg::integer("inactivity_timeout", 600000,
                 "A device's state (profile, pending downlinks) is dropped this long after its last observation ended")
        .at_least(1)
        .unit("ms"),
    cfg::integer("report_timeout", 3000,
                 "Session activity (real uplinks and acknowledged notifications) is reported to the core at most "
                 "once per this interval per device (0: every time)")
        .at_least(0)
        .unit("ms"),
    cfg::integer("auth_cache_size", 100000,
                 "Access tokens and DTLS sessions whose device is kept in memory, over all shards (LRU; 0: ask the "
                 "core every time)")
        .range(0, 1e9)
        .unit("entries"),
    cfg::integer("auth_cache_ttl", 300000,
                 "How long an access token's device is trusted without asking the core again (changes the core "
                 "reports drop it at once)")
        .at_least(1)
        .unit("ms"),
    cfg::integer("max_devices_with_state", 100000,
                 "Devices with observations or pending downlinks, over all shards; past it Observe registrations get "
                 "5.03")
        .range(1, 1e9)
        .unit("devices"),
    cfg::integer("max_payload_size", 65536,
                 "Largest uplink body (telemetry, attributes, RPC, claim, provisioning); larger ones get 4.13 with "
                 "Size1 (OTA downloads are not limited)")
        .range(1, 268435456)
        .unit("bytes"),
    cfg::integer("dtls_session_inactivity_timeout", 86400000,
                 "A DTLS session's X.509/PSK identity is forgotten after this long without a request (spec §7)")
        .at_least(1)
        .unit("ms"),
    cfg::integer("psm_activity_timer", 10000,
                 "PSM devices: an RPC sent as a CON notification and not acknowledged within this time is reported "
                 "TIMEOUT, unless the device or its profile sets its own timer")
        .at_least(1)
        .unit("ms"),
    cfg::integer("paging_transmission_window", 10000,
                 "Other devices: an RPC sent as a CON notification and not acknowledged within this time is "
                 "reported TIMEOUT, unless the device or its profile sets its own window")
        .at_least(1)
        .unit("ms"),
    cfg::integer("device_message_rate", 200,
                 "Per device: uplink requests (telemetry, attributes, RPC, claim, Observe; not OTA downloads) per "
                 "second, kept per reactor shard; past it 4.29 with Max-Age and nothing stored (0: no limit; a device "
                 "profile option of this name overrides it)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("device_message_burst", 1000,
                 "Per device: requests allowed at once above device_message_rate (profile option overrides)")
        .range(1, 1e6)
        .unit("requests"),
    cfg::integer("device_datapoint_rate", 10000,
                 "Per device: telemetry data points (key/values) per second; a message over it gets 4.29 with "
                 "Max-Age and nothing stored (0: no limit; profile option overrides)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("device_datapoint_burst", 50000,
                 "Per device: data points allowed at once above device_datapoint_rate; a larger message passes on a "
                 "full bucket (profile option overrides)")
        .range(1, 1e6)
        .unit("points"),
    cfg::integer("source_rate", 20,
                 "Per source address: unauthenticated work per second (provisioning requests, lookups of access "
                 "tokens not in the cache; a token found valid is not counted); past it 4.29 with Max-Age (0: no "
                 "limit)")
        .range(0, 1e6)
        .unit("per s"),
    cfg::integer("source_burst", 100, "Per source address: unauthenticated work allowed at once above source_rate")
        .range(1, 1e6)
        .unit("requests"),
    cfg::integer("source_table_size", 65536,
                 "Source addresses with a rate-limit bucket, over all shards; past it idle or least recently used "
                 "buckets are dropped (0: no per-source limit)")
        .range(0, 1e8)
        .unit("addresses"),
    cfg::integer("unknown_token_cache_size", 65536,
                 "Access tokens the core did not know, remembered over all shards so repeats are answered 4.01 "
                 "without asking the core (LRU; 0: no negative cache)")
        .range(0, 1e8)
        .unit("entries"),
    cfg::integer("unknown_token_cache_ttl", 5000,
                 "How long an unknown access token is remembered; a token created meanwhile works after at most "
                 "this long (at once when the core reports a credential change)")
        .range(1, 3600000)
        .unit("ms"),
    cfg::integer("busy_max_age", 5,
                 "Max-Age of the 5.03 answered when the core is busy (its queues are full): when the device may retry")
        .range(0, 3600)
        .unit("s"),
};

constexpr tern_requirement device_service_requires[] = {
    sdk::need(TERN_IID_COAP_ENGINE_V1),
    sdk::need(TERN_IID_CORE_V1),
    sdk::need(TERN_IID_PAYLOAD_V1),
    sdk::may_use(TERN_IID_TRANSPORT_V1),
};

class device_service_plugin final : public sdk::instance {
public:
    explicit device_service_plugin(const tern_create_args& args) : instance(args) {
        const sdk::config c = config();
        s_.core = c.get_string("core");
        s_.engine = c.get_string("engine");
        s_.client_rpc_timeout_ms = c.get_int("client_rpc_timeout");
        s_.inactivity_timeout_ms = c.get_int("inactivity_timeout");
        s_.report_timeout_ms = c.get_int("report_timeout");
        s_.auth_cache_size = c.get_int("auth_cache_size");
        s_.auth_cache_ttl_ms = c.get_int("auth_cache_ttl");
        s_.max_devices_with_state = c.get_int("max_devices_with_state");
        s_.max_payload_size = c.get_int("max_payload_size");
        s_.dtls_session_inactivity_timeout_ms = c.get_int("dtls_session_inactivity_timeout");
        s_.psm_activity_timer_ms = c.get_int("psm_activity_timer");
        s_.paging_transmission_window_ms = c.get_int("paging_transmission_window");
        s_.device_message_rate = c.get_int("device_message_rate");
        s_.device_message_burst = c.get_int("device_message_burst");
        s_.device_datapoint_rate = c.get_int("device_datapoint_rate");
        s_.device_datapoint_burst = c.get_int("device_datapoint_burst");
        s_.source_rate = c.get_int("source_rate");
        s_.source_burst = c.get_int("source_burst");
        s_.source_table_size = c.get_int("source_table_size");
        s_.unknown_token_cache_size = c.get_int("unknown_token_cache_size");
        s_.unknown_token_cache_ttl_ms = c.get_int("unknown_token_cache_ttl");
        s_.busy_max_age_s = c.get_int("busy_max_age");
    }

private:
    void on_start() override {
        device_api::services w;
        w.reactor = &host().reactor();
        w.metrics = &host().metrics();
        w.log = static_cast<log_v1*>(host().raw().query(sdk::to_str(TERN_IID_LOG_V1)));
        w.engine = host().find<coap_engine_v1>(TERN_IID_COAP_ENGINE_V1, s_.engine);
        if (w.engine == nullptr)
            throw sdk::error(TERN_CONFIG, s_.engine.empty()
                                              ? std::string("no instance provides " TERN_IID_COAP_ENGINE_V1)
                                              : sdk::cat("engine '", s_.engine, "' is not a running CoAP engine"));
        w.core = host().find<core_v1>(TERN_IID_CORE_V1, s_.core);
        if (w.core == nullptr)
            throw sdk::error(TERN_CONFIG, s_.core.empty() ? std::string("no instance provides " TERN_IID_CORE_V1)
                                                          : sdk::cat("core '", s_.core, "' is not a running core"));
        // Payload adaptors by what they call themselves, as payload_adaptors.hpp's table says.
        host().registry().list(
            sdk::to_str(TERN_IID_PAYLOAD_V1),
            [](void* ctx, tern_str, void* iface) {
                static_cast<device_api::payload_adaptors*>(ctx)->offer(static_cast<payload_v1*>(iface));
            },
            &w.adaptors);
        if (const std::string_view missing = w.adaptors.missing(); !missing.empty())
            throw sdk::error(TERN_CONFIG, sdk::cat("no payload adaptor named \"", missing, "\" is running (add [plugins.",
                                                   missing, "])"));
        host().registry().list(
            sdk::to_str(TERN_IID_TRANSPORT_V1),
            [](void* ctx, tern_str instance, void* iface) {
                static_cast<device_api::services*>(ctx)->transports.push_back(
                    {std::string(sdk::to_sv(instance)), static_cast<transport_v1*>(iface)});
            },
            &w);
        std::string payloads;
        for (std::size_t i = 0; i < device_api::adaptor_table.size(); ++i)
            if (w.adaptors.at(i) != nullptr)
                payloads += sdk::cat(payloads.empty() ? "" : ", ", device_api::adaptor_table[i].name);
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

TERN_PLUGIN(device_service_plugin, {.name = "device_api",
                                .version = "1.0.0",
                                .vendor = "Tern",
                                .description = "ThingsBoard CoAP device API: telemetry, attributes, Observe, RPC, "
                                               "claim, provisioning, OTA",
                                .provides = {},
                                .requirements = device_service_requires,
                                .config = device_service_config})

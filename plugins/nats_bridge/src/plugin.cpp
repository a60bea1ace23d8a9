// The plugin: descriptor, the eight core capabilities it needs, metrics, and the instance
// that starts and stops the bridge.
#include <memory>

#include "bridge.hpp"
#include "settings.hpp"
#include "tern/sdk/core.hpp"
#include "tern/sdk/plugin.hpp"

namespace tern::nats_bridge {

void bridge_metrics::register_all(const sdk::host& h) {
    connected = h.gauge("nats_bridge_connected", "1 while the bridge's NATS link is connected");
    for (size_t i = 0; i < applied.size(); ++i) {
        const std::string l = std::string("op=\"") + uplink_op_names[i] + "\"";
        applied[i] = h.counter("nats_bridge_applied_total", "durable uplinks the core stored", l.c_str());
        refused[i] = h.counter("nats_bridge_refused_total",
                               "durable uplinks the core refused (logged with the device id, acknowledged)", l.c_str());
    }
    redeliveries_skipped = h.counter("nats_bridge_redeliveries_skipped_total",
                                     "uplinks delivered again after they were applied: acknowledged, not applied");
    busy_retries = h.counter("nats_bridge_busy_retries_total",
                             "times a partition applied again from an uplink the core answered busy");
    for (size_t i = 0; i < requests.size(); ++i) {
        const std::string l = std::string("op=\"") + request_ops[i].name + "\"";
        requests[i] = h.counter("nats_bridge_requests_total", "requests and calls from transport nodes", l.c_str());
    }
    requests_busy = h.counter("nats_bridge_requests_busy_total",
                              "requests answered TERN_BUSY: max_requests_in_flight was reached");
    for (size_t i = 0; i < downlinks.size(); ++i) {
        const std::string l = std::string("kind=\"") + downlink_kind_names[i] + "\"";
        downlinks[i] = h.counter("nats_bridge_downlinks_total", "downlinks and device events published", l.c_str());
        downlinks_unrouted[i] = h.counter("nats_bridge_downlinks_unrouted_total",
                                          "downlinks with no transport node to go to (or no link)", l.c_str());
    }
    route_cache_entries = h.gauge("nats_bridge_route_cache_entries", "devices in the route cache");
    subscriptions_refused = h.counter("nats_bridge_subscriptions_refused_total",
                                      "events.subscribe refused: max_subscribed_devices was reached");
    subscribed_devices = h.gauge("nats_bridge_subscribed_devices", "devices a transport node subscribed");
    uplinks_held = h.gauge("nats_bridge_uplinks_held", "uplinks delivered and not yet acknowledged");
    state_errors = h.counter("nats_bridge_state_errors_total", "writes of the state file that failed");
}

namespace {

constexpr tern_requirement requirements[] = {
    sdk::need(TERN_IID_CORE_AUTH_V1),    sdk::need(TERN_IID_CORE_TELEMETRY_V1),
    sdk::need(TERN_IID_CORE_ATTRIBUTES_V1), sdk::need(TERN_IID_CORE_RPC_V1),
    sdk::need(TERN_IID_CORE_PROVISIONING_V1), sdk::need(TERN_IID_CORE_OTA_V1),
    sdk::need(TERN_IID_CORE_SESSIONS_V1), sdk::need(TERN_IID_CORE_EVENTS_V1),
};

class bridge_instance final : public sdk::instance {
public:
    explicit bridge_instance(const tern_create_args& a) : instance(a) {}
    ~bridge_instance() override { bridge_.reset(); }

protected:
    void on_start() override {
        const settings s = settings_schema.load(config());
        if (!valid_token(s.subject_prefix))
            throw sdk::error(TERN_CONFIG, "subject_prefix '" + s.subject_prefix + "' must be 1 to 64 of [A-Za-z0-9_-]");
        if (s.servers.empty()) throw sdk::error(TERN_CONFIG, "servers is empty: name at least one NATS URL");
        const std::string& c = s.core;
        core_ = core_caps{&host().require<core_auth_v1>(c),         &host().require<core_telemetry_v1>(c),
                          &host().require<core_attributes_v1>(c),   &host().require<core_rpc_v1>(c),
                          &host().require<core_provisioning_v1>(c), &host().require<core_ota_v1>(c),
                          &host().require<core_sessions_v1>(c),     &host().require<core_events_v1>(c)};
        if (!metrics_registered_) {
            metrics_.register_all(host());
            metrics_registered_ = true;
        }
        tern_host* raw = &host().raw();
        bridge_ = std::make_unique<bridge>(s, core_, metrics_, log(), [raw](const std::string& why) {
            raw->request_stop(sdk::to_str(why));
        });
        try {
            bridge_->start();
        } catch (...) {
            bridge_.reset();
            throw;
        }
    }

    void on_stop() noexcept override {
        if (bridge_) bridge_->stop();
        bridge_.reset();
    }

private:
    core_caps core_;
    bridge_metrics metrics_;
    bool metrics_registered_ = false;
    std::unique_ptr<bridge> bridge_;
};

}  // namespace
}  // namespace tern::nats_bridge

TERN_PLUGIN(tern::nats_bridge::bridge_instance,
            {.name = "nats_bridge",
             .version = "1.0.0",
             .vendor = "Tern",
             .description = "Core node side of scale-out: serves the core's capabilities to transport nodes over NATS "
                            "JetStream (durable uplinks, requests, downlinks)",
             .requirements = tern::nats_bridge::requirements,
             .config = tern::nats_bridge::settings_schema.keys()})

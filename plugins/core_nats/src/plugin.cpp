// The plugin: descriptor, and the instance that ties the node (the NATS link and what the
// pieces share) and the capability objects to the kernel. It provides the eight
// tern.core.*/1 capabilities, never tern.core/1 or tern.cli/1 (a transport node has no
// database and no admin API: operators work on the core node).
#include <memory>

#include "events.hpp"
#include "node.hpp"
#include "ota_cache.hpp"
#include "registration.hpp"
#include "requests.hpp"
#include "settings.hpp"
#include "tern/sdk/plugin.hpp"

namespace tern::core_nats {
namespace {

constexpr const char* provides[] = {TERN_IID_CORE_AUTH_V1,        TERN_IID_CORE_TELEMETRY_V1, TERN_IID_CORE_ATTRIBUTES_V1,
                                    TERN_IID_CORE_RPC_V1,         TERN_IID_CORE_PROVISIONING_V1, TERN_IID_CORE_OTA_V1,
                                    TERN_IID_CORE_SESSIONS_V1,    TERN_IID_CORE_EVENTS_V1};

constexpr uint64_t metrics_period_ns = 1'000'000'000;

settings load_settings(const sdk::config& c) {
    settings s = config_schema.load(c);
    resolve(s);
    return s;
}

class core_nats_instance final : public sdk::instance {
public:
    explicit core_nats_instance(const tern_create_args& a)
        : instance(a),
          node_(std::make_unique<node>(load_settings(config()), log())),
          requests_(std::make_unique<requests>(*node_)),
          registration_(std::make_unique<registration>(*node_)),
          events_(std::make_unique<events>(*node_)),
          ota_(std::make_unique<ota_cache>(*node_)) {
        node_->set_registration(registration_.get());
        node_->set_ota(ota_.get());
        // A device this node takes back is subscribed again in its name (registration.hpp).
        registration_->on_claimed([ev = events_.get()](uint64_t device_id) { ev->reclaim(device_id); });
    }

    ~core_nats_instance() override {
        // The pieces stop first; the link's close then completes what is in flight into them.
        events_->stop();
        ota_->stop();
        node_->close();
    }

protected:
    void* provide(std::string_view iid) noexcept override {
        if (void* p = requests_->query(iid)) return p;
        if (iid == TERN_IID_CORE_EVENTS_V1) return static_cast<core_events_v1*>(events_.get());
        return nullptr;
    }

    void on_start() override {
        if (!registered_) {
            node_->register_metrics(host());
            events_->register_metrics(host());
            ota_->register_metrics(host());
            registered_ = true;
        }
        reactor_v1& r = host().reactor();
        if (r.timer_create(0, &core_nats_instance::on_timer, this, &timer_) != TERN_OK)
            throw sdk::error(TERN_INTERNAL, "cannot create the metrics timer");
        timer_made_ = true;
        r.timer_arm(timer_, metrics_period_ns);
        try {
            ota_->start();  // indexes ota_cache_dir; refuses to start when it cannot be read
            events_->start();
            node_->open();
        } catch (...) {
            events_->stop();
            ota_->stop();
            stop_timer();
            throw;
        }
        const settings& s = node_->config();
        log().info("node ", s.node_id, " (boot ", node_->boot(), "), subject prefix ", s.subject_prefix,
                   ", NATS ", nats_link::redacted(s.servers.front()), s.servers.size() > 1 ? " (+ more)" : "");
    }

    void on_stop() noexcept override {
        events_->stop();
        ota_->stop();
        node_->close();  // pending calls complete UNAVAILABLE here
        stop_timer();
    }

private:
    static void on_timer(void* ctx) noexcept {
        auto* self = static_cast<core_nats_instance*>(ctx);
        self->node_->sample_metrics();
        self->host().reactor().timer_arm(self->timer_, metrics_period_ns);
    }

    void stop_timer() noexcept {
        if (timer_made_) host().reactor().timer_destroy(timer_);
        timer_made_ = false;
    }

    std::unique_ptr<node> node_;
    std::unique_ptr<requests> requests_;  // the seven call capabilities
    std::unique_ptr<registration> registration_;  // the device_node bucket (node's heard hook)
    std::unique_ptr<events> events_;              // tern.core.events/1
    std::unique_ptr<ota_cache> ota_;              // the node's OTA copies (node's ota hook)
    uint64_t timer_ = 0;
    bool timer_made_ = false;
    bool registered_ = false;
};

}  // namespace
}  // namespace tern::core_nats

TERN_PLUGIN(tern::core_nats::core_nats_instance,
            {.name = "core_nats",
             .version = "0.1.0",
             .vendor = "Tern",
             .description = "Core connector of a transport node: the tern.core.*/1 capabilities served by core nodes "
                            "over NATS JetStream",
             .provides = tern::core_nats::provides,
             .config = tern::core_nats::config_schema.keys()})

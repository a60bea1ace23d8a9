// The udp plugin's descriptor and its glue to the host: the config schema (settings.hpp),
// metrics, and the transport_v1 it provides. The sockets and the hot path live in udp_transport.cpp.
#include <memory>
#include <string>
#include <string_view>

#include "tern/abi/transport.h"
#include "tern/sdk/plugin.hpp"
#include "settings.hpp"
#include "udp_transport.hpp"

namespace tern::udp {
namespace {

constexpr const char* provides[] = {TERN_IID_TRANSPORT_V1};

class udp_instance final : public sdk::instance {
public:
    explicit udp_instance(const tern_create_args& args) : instance(args) {
        // Read the configuration at create time so the transport exists when the kernel
        // asks for the interface (before any start).
        settings_ = settings_schema.load(config());
        transport_ = std::make_unique<transport>(log(), host().reactor(), counters{}, settings_);
    }

protected:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_TRANSPORT_V1) return static_cast<transport_v1*>(transport_.get());
        return nullptr;
    }

    void on_start() override {
        counters m;
        m.datagrams_received =
            host().counter("udp_datagrams_received_total", "UDP datagrams read from the sockets");
        m.datagrams_sent =
            host().counter("udp_datagrams_sent_total", "UDP datagrams handed to the network");
        m.bytes_received =
            host().counter("udp_bytes_received_total", "Payload bytes of received UDP datagrams");
        m.bytes_sent = host().counter("udp_bytes_sent_total", "Payload bytes of sent UDP datagrams");
        for (size_t i = 0; i < static_cast<size_t>(drop::count_); ++i) {
            const std::string labels = sdk::cat("reason=\"", drop_name(static_cast<drop>(i)), "\"");
            m.drops[i] = host().counter("udp_drops_total",
                                        "UDP datagrams dropped (or receive errors), by reason",
                                        labels.c_str());
        }
        // Metrics are registered at start (a failed start registers nothing half-way);
        // the transport has no sockets yet, so nobody counts concurrently.
        transport_->set_counters(m);
        transport_->start();
    }

    void on_stop() noexcept override { transport_->stop(); }

private:
    settings settings_;
    std::unique_ptr<transport> transport_;
};

}  // namespace
}  // namespace tern::udp

TERN_PLUGIN(tern::udp::udp_instance,
            {.name = "udp",
             .version = "1.0.0",
             .vendor = "Tern",
             .description = "CoAP over plain UDP: one SO_REUSEPORT socket per reactor shard",
             .provides = tern::udp::provides,
             .config = tern::udp::settings_schema.keys()})

// The udp plugin's descriptor and its glue to the host: config schema, metrics, and the
// transport_v1 it provides. The sockets and the hot path live in udp_transport.cpp.
#include <memory>
#include <string_view>

#include "tern/abi/transport.h"
#include "tern/sdk/plugin.hpp"
#include "udp_transport.hpp"

namespace tern::udp {
namespace {

namespace cfg = tern::sdk::cfg;

constexpr tern_config_key config_schema[] = {
    cfg::string("bind_address", "0.0.0.0",
                "IPv4 or IPv6 address literal to listen on; \"::\" is a dual-stack socket that "
                "also accepts IPv4 (unless ipv6_only). Host names are not accepted"),
    cfg::integer("bind_port", 5683, "UDP port; 0 picks a free ephemeral port (logged at start)")
        .range(0, 65535),
    cfg::boolean("ipv6_only", false,
                 "With an IPv6 bind_address: refuse IPv4 peers (IPV6_V6ONLY)"),
    cfg::integer("recv_buffer", 4194304,
                 "Socket receive buffer (SO_RCVBUF) per socket, room for bursts from many "
                 "devices at once; 0 keeps the OS default. Granted past net.core.rmem_max "
                 "with CAP_NET_ADMIN (root), else a warning is logged when the OS grants less")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("send_buffer", 0,
                 "Socket send buffer (SO_SNDBUF) per socket; 0 keeps the OS default. A "
                 "warning is logged when the OS grants less (net.core.wmem_max)")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("batch_size", 32,
                 "Datagrams read (recvmmsg) or written (sendmmsg) per system call and handed "
                 "to the engine per call. Each shard keeps batch_size x max_datagram_size "
                 "bytes of receive buffers")
        .range(1, 1024),
    cfg::integer("max_datagram_size", 2048,
                 "Largest datagram accepted; larger ones are dropped (counted as "
                 "udp_drops_total{reason=\"truncated\"}). Also what the transport reports "
                 "as its datagram limit to the engine")
        .range(64, 65507)
        .unit("bytes"),
    cfg::integer("drain_batches", 16,
                 "Fairness bound: recvmmsg calls per wake-up before the shard runs its "
                 "other work (timers, other sockets); reading then resumes right after")
        .range(1, 1024),
};

constexpr const char* provides[] = {TERN_IID_TRANSPORT_V1};

class udp_instance final : public sdk::instance {
public:
    explicit udp_instance(const tern_create_args& args) : instance(args) {
        // Read the configuration at create time so the transport exists when the kernel
        // asks for the interface (before any start).
        const sdk::config c = config();
        settings s;
        s.bind_address = std::string(c.get_string("bind_address"));
        s.bind_port = static_cast<uint16_t>(c.get_int("bind_port"));
        s.ipv6_only = c.get_bool("ipv6_only");
        s.recv_buffer = static_cast<int>(c.get_int("recv_buffer"));
        s.send_buffer = static_cast<int>(c.get_int("send_buffer"));
        s.batch_size = static_cast<uint32_t>(c.get_int("batch_size"));
        s.max_datagram_size = static_cast<uint32_t>(c.get_int("max_datagram_size"));
        s.drain_batches = static_cast<uint32_t>(c.get_int("drain_batches"));
        settings_ = std::move(s);
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
        static constexpr const char* labels[] = {
            "reason=\"truncated\"", "reason=\"no_sink\"",     "reason=\"would_block\"",
            "reason=\"send_error\"", "reason=\"unreachable\"", "reason=\"recv_error\""};
        static_assert(std::size(labels) == static_cast<size_t>(drop::count_));
        for (size_t i = 0; i < std::size(labels); ++i)
            m.drops[i] = host().counter("udp_drops_total",
                                        "UDP datagrams dropped (or receive errors), by reason",
                                        labels[i]);
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
             .config = tern::udp::config_schema})

// The udp plugin's configuration: the settings struct and its schema, each key declared
// once (tern/sdk/config.hpp): name, member, default, range, unit and doc text. The
// descriptor publishes settings_schema.keys() (the README's table is generated from it) and
// the instance loads the struct with settings_schema.load().
#pragma once

#include <cstdint>
#include <string>

#include "tern/sdk/config.hpp"

namespace tern::udp {

struct settings {
    std::string bind_address;
    uint16_t bind_port{};
    bool ipv6_only{};
    int recv_buffer{};  // bytes; 0 = the OS default
    int send_buffer{};
    uint32_t batch_size{};
    uint32_t max_datagram_size{};
    uint32_t drain_batches{};  // recvmmsg calls per wake-up before yielding the shard
};

namespace cfg = tern::sdk::cfg;

inline constexpr auto settings_schema = cfg::bind<settings>(
    cfg::string("bind_address", &settings::bind_address, "0.0.0.0",
                "IPv4 or IPv6 address literal to listen on; \"::\" is a dual-stack socket that "
                "also accepts IPv4 (unless ipv6_only). Host names are not accepted"),
    cfg::integer("bind_port", &settings::bind_port, 5683, "UDP port; 0 picks a free ephemeral port (logged at start)")
        .range(0, 65535),
    cfg::boolean("ipv6_only", &settings::ipv6_only, false,
                 "With an IPv6 bind_address: refuse IPv4 peers (IPV6_V6ONLY)"),
    cfg::integer("recv_buffer", &settings::recv_buffer, 4194304,
                 "Socket receive buffer (SO_RCVBUF) per socket, room for bursts from many "
                 "devices at once; 0 keeps the OS default. Granted past net.core.rmem_max "
                 "with CAP_NET_ADMIN (root), else a warning is logged when the OS grants less")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("send_buffer", &settings::send_buffer, 0,
                 "Socket send buffer (SO_SNDBUF) per socket; 0 keeps the OS default. A "
                 "warning is logged when the OS grants less (net.core.wmem_max)")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("batch_size", &settings::batch_size, 32,
                 "Datagrams read (recvmmsg) or written (sendmmsg) per system call and handed "
                 "to the engine per call. Each shard keeps batch_size x max_datagram_size "
                 "bytes of receive buffers")
        .range(1, 1024),
    cfg::integer("max_datagram_size", &settings::max_datagram_size, 2048,
                 "Largest datagram accepted; larger ones are dropped (counted as "
                 "udp_drops_total{reason=\"truncated\"}). Also what the transport reports "
                 "as its datagram limit to the engine")
        .range(64, 65507)
        .unit("bytes"),
    cfg::integer("drain_batches", &settings::drain_batches, 16,
                 "Fairness bound: recvmmsg calls per wake-up before the shard runs its "
                 "other work (timers, other sockets); reading then resumes right after")
        .range(1, 1024));

}  // namespace tern::udp

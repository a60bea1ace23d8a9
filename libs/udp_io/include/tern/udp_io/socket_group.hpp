// A group of UDP sockets bound to one address and port with SO_REUSEPORT, one per reactor
// shard: Linux hashes each peer's source address and port to one socket of the group, so a
// peer reaches the same shard for as long as it keeps its address.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tern/sdk/host.hpp"

namespace tern::udp_io {

struct socket_options {
    std::string bind_address = "0.0.0.0";
    uint16_t bind_port = 0;  // 0: a free ephemeral port
    bool ipv6_only = false;
    int recv_buffer = 0;  // bytes; 0 = the OS default
    int send_buffer = 0;
};

struct socket_group {
    int family = AF_INET;   // of every socket in fds
    uint16_t port = 0;      // the port actually bound
    std::vector<int> fds;   // non-blocking, close-on-exec; owned by the group
    std::string local;      // "127.0.0.1:5683", "[::]:5683": for logs

    socket_group() = default;
    socket_group(const socket_group&) = delete;
    socket_group& operator=(const socket_group&) = delete;
    socket_group(socket_group&& o) noexcept;
    socket_group& operator=(socket_group&& o) noexcept;
    ~socket_group() { close(); }
    void close() noexcept;
};

// Opens count sockets (at least one). Throws sdk::error: TERN_CONFIG for a bind_address that
// is not an address literal, TERN_IO when the port is taken (by anybody: a probe bind
// without SO_REUSEPORT goes first, so no foreign socket can silently join the group) or
// a socket call fails. A warning goes to log when the OS grants smaller buffers than asked.
socket_group open_group(const socket_options& options, uint32_t count, const sdk::logger& log);

// The GNU strerror_r text of err.
std::string errno_text(int err);

}  // namespace tern::udp_io

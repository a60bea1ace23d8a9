// Conversions between the socket API's addresses and the ABI's tern_endpoint, and the
// bind address of the manifest. Pure functions: the unit tests drive them without sockets.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "tern/abi/types.h"

namespace tern::udp_io {

// What the peer's address says about it. An IPv4 peer reaching a dual-stack IPv6 socket
// arrives as ::ffff:a.b.c.d; it is reported as family 4 so that the engine keys a device
// the same way whichever socket it reached.
bool to_endpoint(const sockaddr* sa, socklen_t len, tern_endpoint& out) noexcept;

// The address to send to from a socket of family socket_family (AF_INET or AF_INET6).
// A family-4 endpoint on an IPv6 socket becomes its v4-mapped form. Returns the address
// length, or 0 when the endpoint cannot be reached from such a socket (an IPv6 peer on an
// IPv4 socket, or a family other than 4 and 6).
socklen_t to_sockaddr(const tern_endpoint& ep, int socket_family, sockaddr_storage& out) noexcept;

// The parsed bind_address: an IPv4 or IPv6 literal (no host names: binding must not wait
// for DNS). An IPv6 literal may carry a numeric zone ("fe80::1%2") or an interface name
// ("fe80::1%eth0").
struct bind_address {
    int family = AF_INET;
    sockaddr_storage addr{};
    socklen_t len = 0;
};
// nullopt and a reason in error when text is not an address literal.
std::optional<bind_address> parse_bind_address(std::string_view text, uint16_t port,
                                               std::string& error);

// "127.0.0.1:5683", "[::1]:5683", "[fe80::1%2]:5683": for logs.
std::string to_string(const tern_endpoint& ep);
std::string to_string(const sockaddr* sa, socklen_t len);

}  // namespace tern::udp_io

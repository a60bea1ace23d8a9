#include "tern/udp_io/socket_group.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tern/sdk/status.hpp"
#include "tern/udp_io/endpoint.hpp"

namespace tern::udp_io {

std::string errno_text(int err) {
    char buf[128];
    // GNU strerror_r returns the message, possibly not in buf.
    const char* s = strerror_r(err, buf, sizeof buf);
    return s != nullptr ? std::string(s) : std::string("errno ") + std::to_string(err);
}

socket_group::socket_group(socket_group&& o) noexcept
    : family(o.family), port(o.port), fds(std::move(o.fds)), local(std::move(o.local)) {
    o.fds.clear();
}

socket_group& socket_group::operator=(socket_group&& o) noexcept {
    if (this != &o) {
        close();
        family = o.family;
        port = o.port;
        fds = std::move(o.fds);
        local = std::move(o.local);
        o.fds.clear();
    }
    return *this;
}

void socket_group::close() noexcept {
    for (int fd : fds)
        if (fd >= 0) ::close(fd);
    fds.clear();
}

namespace {

int open_socket(const socket_options& o, int family, const sockaddr_storage& addr, socklen_t len,
                bool reuseport, bool warn_clamped, const sdk::logger& log, std::string& error) {
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        error = "socket(): " + errno_text(errno);
        return -1;
    }
    const int one = 1;
    if (family == AF_INET6) {
        const int v6only = o.ipv6_only ? 1 : 0;
        if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
            error = "setsockopt(IPV6_V6ONLY): " + errno_text(errno);
            ::close(fd);
            return -1;
        }
    }
    if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        error = "setsockopt(SO_REUSEPORT): " + errno_text(errno);
        ::close(fd);
        return -1;
    }
    auto set_buffer = [&](int opt, int want, const char* key) {
        if (want <= 0) return true;
        // The FORCE variants pass net.core.[rw]mem_max by when the process may (root or
        // CAP_NET_ADMIN); otherwise the plain option, which the OS clamps to that limit.
        const int force = opt == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
        if (::setsockopt(fd, SOL_SOCKET, force, &want, sizeof want) != 0 &&
            ::setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want) != 0) {
            error = std::string("setsockopt(") + key + "): " + errno_text(errno);
            return false;
        }
        int got = 0;
        socklen_t gl = sizeof got;
        // Linux reports twice the granted size (it counts its bookkeeping too).
        if (warn_clamped && ::getsockopt(fd, SOL_SOCKET, opt, &got, &gl) == 0 && got / 2 < want)
            log.warn(key, ": asked for ", want, " bytes, the OS granted ", got / 2,
                     " (raise net.core.", opt == SO_RCVBUF ? "rmem_max" : "wmem_max",
                     ", or run with CAP_NET_ADMIN)");
        return true;
    };
    if (!set_buffer(SO_RCVBUF, o.recv_buffer, "recv_buffer") ||
        !set_buffer(SO_SNDBUF, o.send_buffer, "send_buffer")) {
        ::close(fd);
        return -1;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        const int e = errno;
        error = "cannot bind " + to_string(reinterpret_cast<const sockaddr*>(&addr), len) + ": " +
                errno_text(e);
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

}  // namespace

socket_group open_group(const socket_options& o, uint32_t count, const sdk::logger& log) {
    std::string error;
    auto parsed = parse_bind_address(o.bind_address, o.bind_port, error);
    if (!parsed) throw sdk::error(TERN_CONFIG, error);
    const int family = parsed->family;
    const uint32_t n = count == 0 ? 1 : count;

    auto with_port = [&](uint16_t port) {
        sockaddr_storage a = parsed->addr;
        if (family == AF_INET)
            reinterpret_cast<sockaddr_in*>(&a)->sin_port = htons(port);
        else
            reinterpret_cast<sockaddr_in6*>(&a)->sin6_port = htons(port);
        return a;
    };

    // SO_REUSEPORT lets any socket of the same user join the port's group, silently
    // sharing its traffic. Two guards: a probe bind WITHOUT SO_REUSEPORT first (fails if
    // anybody holds the port, and for bind_port 0 it picks a port nobody holds: Linux's
    // ephemeral choice for a SO_REUSEPORT socket may pick a port another reuseport group
    // of the same user already owns), then the group binds that port. Another process
    // could take the port between the probe's close and our first bind; for an ephemeral
    // port we then try another one.
    constexpr int attempts = 8;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        const sockaddr_storage probe_addr = with_port(o.bind_port);
        const int probe = open_socket(o, family, probe_addr, parsed->len, false, false, log, error);
        if (probe < 0) {
            if (errno == EADDRINUSE)
                throw sdk::error(TERN_IO, error + " (another process uses this port; set "
                                                  "bind_port to a free port, or 0 for any)");
            throw sdk::error(TERN_IO, error);
        }
        sockaddr_storage bound{};
        socklen_t bl = sizeof bound;
        if (::getsockname(probe, reinterpret_cast<sockaddr*>(&bound), &bl) != 0) {
            error = "getsockname(): " + errno_text(errno);
            ::close(probe);
            throw sdk::error(TERN_IO, error);
        }
        const uint16_t port = family == AF_INET
                                  ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                  : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
        ::close(probe);

        socket_group g;
        g.family = family;
        const sockaddr_storage addr = with_port(port);
        bool lost_race = false;
        for (uint32_t i = 0; i < n; ++i) {
            const int fd = open_socket(o, family, addr, parsed->len, true, i == 0, log, error);
            if (fd < 0) {
                const int e = errno;
                g.close();
                if (e == EADDRINUSE && o.bind_port == 0 && i == 0) {
                    lost_race = true;
                    break;
                }
                throw sdk::error(TERN_IO, error);
            }
            g.fds.push_back(fd);
        }
        if (lost_race) continue;
        g.port = port;
        sockaddr_storage local{};
        socklen_t ll = sizeof local;
        g.local = ::getsockname(g.fds.front(), reinterpret_cast<sockaddr*>(&local), &ll) == 0
                      ? to_string(reinterpret_cast<const sockaddr*>(&local), ll)
                      : std::string("?");
        return g;
    }
    throw sdk::error(TERN_IO, "could not bind an ephemeral port after " +
                                  std::to_string(attempts) + " attempts");
}

}  // namespace tern::udp_io

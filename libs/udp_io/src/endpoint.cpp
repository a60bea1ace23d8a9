#include "tern/udp_io/endpoint.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <charconv>
#include <cstring>

namespace tern::udp_io {

bool to_endpoint(const sockaddr* sa, socklen_t len, tern_endpoint& out) noexcept {
    out = tern_endpoint{};
    if (sa == nullptr) return false;
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in in;
        std::memcpy(&in, sa, sizeof in);
        out.family = 4;
        out.port = ntohs(in.sin_port);
        std::memcpy(out.addr, &in.sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 in6;
        std::memcpy(&in6, sa, sizeof in6);
        out.port = ntohs(in6.sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
            out.family = 4;
            std::memcpy(out.addr, in6.sin6_addr.s6_addr + 12, 4);
        } else {
            out.family = 6;
            out.scope_id = in6.sin6_scope_id;
            std::memcpy(out.addr, in6.sin6_addr.s6_addr, 16);
        }
        return true;
    }
    return false;
}

socklen_t to_sockaddr(const tern_endpoint& ep, int socket_family, sockaddr_storage& out) noexcept {
    std::memset(&out, 0, sizeof out);
    if (ep.family == 4 && socket_family == AF_INET) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(ep.port);
        std::memcpy(&in.sin_addr, ep.addr, 4);
        std::memcpy(&out, &in, sizeof in);
        return sizeof in;
    }
    if (socket_family == AF_INET6 && (ep.family == 4 || ep.family == 6)) {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(ep.port);
        if (ep.family == 4) {
            in6.sin6_addr.s6_addr[10] = 0xff;
            in6.sin6_addr.s6_addr[11] = 0xff;
            std::memcpy(in6.sin6_addr.s6_addr + 12, ep.addr, 4);
        } else {
            std::memcpy(in6.sin6_addr.s6_addr, ep.addr, 16);
            in6.sin6_scope_id = ep.scope_id;
        }
        std::memcpy(&out, &in6, sizeof in6);
        return sizeof in6;
    }
    return 0;
}

std::optional<bind_address> parse_bind_address(std::string_view text, uint16_t port,
                                               std::string& error) {
    bind_address b;
    const std::string s(text);
    sockaddr_in in{};
    if (inet_pton(AF_INET, s.c_str(), &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        std::memcpy(&b.addr, &in, sizeof in);
        b.len = sizeof in;
        b.family = AF_INET;
        return b;
    }
    // IPv6, with an optional zone after '%'; brackets are tolerated ("[::1]").
    std::string host = s;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    std::string zone;
    if (auto pct = host.find('%'); pct != std::string::npos) {
        zone = host.substr(pct + 1);
        host.resize(pct);
    }
    sockaddr_in6 in6{};
    if (inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        if (!zone.empty()) {
            uint32_t id = 0;
            auto [p, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), id);
            if (ec != std::errc{} || p != zone.data() + zone.size()) {
                id = if_nametoindex(zone.c_str());
                if (id == 0) {
                    error = "bind_address '" + s + "': no network interface named '" + zone + "'";
                    return std::nullopt;
                }
            }
            in6.sin6_scope_id = id;
        }
        std::memcpy(&b.addr, &in6, sizeof in6);
        b.len = sizeof in6;
        b.family = AF_INET6;
        return b;
    }
    error = "bind_address '" + s +
            "' is not an IPv4 or IPv6 address literal (e.g. 0.0.0.0, 127.0.0.1, ::, ::1)";
    return std::nullopt;
}

std::string to_string(const tern_endpoint& ep) {
    char buf[INET6_ADDRSTRLEN] = {};
    std::string out;
    if (ep.family == 4) {
        inet_ntop(AF_INET, ep.addr, buf, sizeof buf);
        out = buf;
    } else if (ep.family == 6) {
        inet_ntop(AF_INET6, ep.addr, buf, sizeof buf);
        out = "[";
        out += buf;
        if (ep.scope_id != 0) {
            out += '%';
            out += std::to_string(ep.scope_id);
        }
        out += ']';
    } else {
        return "(family " + std::to_string(ep.family) + ")";
    }
    out += ':';
    out += std::to_string(ep.port);
    return out;
}

std::string to_string(const sockaddr* sa, socklen_t len) {
    // The bound address is shown as bound: "::" stays "[::]", never reported as IPv4.
    if (sa != nullptr && sa->sa_family == AF_INET6 &&
        len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 in6;
        std::memcpy(&in6, sa, sizeof in6);
        tern_endpoint ep{};
        ep.family = 6;
        ep.port = ntohs(in6.sin6_port);
        ep.scope_id = in6.sin6_scope_id;
        std::memcpy(ep.addr, in6.sin6_addr.s6_addr, 16);
        return to_string(ep);
    }
    tern_endpoint ep{};
    if (!to_endpoint(sa, len, ep)) return "(unknown address)";
    return to_string(ep);
}

}  // namespace tern::udp_io

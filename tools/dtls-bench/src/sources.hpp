// Where session i of `dtls-bench hold` comes from, and which session a datagram is for.
//
// Session i sends from socket i % M (M wildcard-bound UDP sockets, each with its own
// ephemeral port) and from the (i / M)-th usable IPv4 address at or after the source base,
// set per datagram with IP_PKTINFO. Usable: the last octet is 1..254 (addresses ending in
// .0 and .255 are skipped, as tern-bench hold does). A reply names its session by the
// address it was sent to (IP_PKTINFO on receipt) and the socket it arrived on, so the
// client needs no table of sessions by address: index_of() inverts address_of(). The
// arithmetic is tern-bench's source_map (tools/tern-bench/src/source_map.hpp).
#pragma once

#include <cstdint>
#include <optional>

#include "source_map.hpp"  // tern-bench's: the same sources as `tern-bench hold`

namespace tern::dtls::bench {

class source_plan {
public:
    // base: host byte order, its last octet 1..254 (valid() says); sockets >= 1.
    source_plan(uint32_t base, uint32_t sockets) noexcept : base_(base), map_(base, sockets) {}

    bool valid() const noexcept { return map_.sockets() != 0 && tern::bench::source_map::usable(base_); }
    uint32_t sockets() const noexcept { return map_.sockets(); }
    uint32_t socket_of(uint64_t i) const noexcept { return map_.socket_of(i); }
    // How many addresses n sessions use.
    uint64_t addresses_for(uint64_t n) const noexcept { return (n + sockets() - 1) / sockets(); }

    // The k-th usable address at or after the base (host byte order).
    uint32_t address(uint64_t k) const noexcept { return map_.address_at(k); }
    uint32_t address_of(uint64_t i) const noexcept { return map_.address_of(i); }
    // The last address n sessions use; false when it would leave 127.0.0.0/8.
    bool fits(uint64_t n) const noexcept {
        using tern::bench::source_map;
        return n == 0 || source_map::rank(base_) + addresses_for(n) - 1 <= source_map::rank(0x7FFFFFFEu);
    }

    // The session a datagram sent to `to` (host byte order) and received on socket `socket`
    // is for; nullopt when no session of this plan has that address.
    std::optional<uint64_t> index_of(uint32_t to, uint32_t socket) const noexcept {
        uint64_t i = 0;
        if (!map_.device_of(to, socket, i)) return std::nullopt;
        return i;
    }

private:
    uint32_t base_;
    tern::bench::source_map map_;
};

// The order sessions are started in: consecutive starts go to different addresses, so a
// server's per-source handshake rate sees rate / addresses, not the whole rate. Visits every
// index below n exactly once (next() is nullopt at the end).
class start_order {
public:
    start_order(uint64_t n, uint32_t sockets) noexcept
        : n_(n), sockets_(sockets), addresses_((n + sockets - 1) / sockets) {}
    std::optional<uint64_t> next() noexcept {
        while (k_ < addresses_ * sockets_) {
            const uint64_t k = k_++;
            const uint64_t i = (k % addresses_) * sockets_ + k / addresses_;
            if (i < n_) return i;
        }
        return std::nullopt;
    }

private:
    uint64_t n_;
    uint64_t sockets_;
    uint64_t addresses_;
    uint64_t k_ = 0;
};

}  // namespace tern::dtls::bench

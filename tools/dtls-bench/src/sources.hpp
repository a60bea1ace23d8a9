// Where session i of `dtls-bench hold` comes from, and which session a datagram is for.
//
// Session i sends from socket i % M (M wildcard-bound UDP sockets, each with its own
// ephemeral port) and from the (i / M)-th usable IPv4 address at or after the source base,
// set per datagram with IP_PKTINFO. Usable: the last octet is 1..254 (addresses ending in
// .0 and .255 are skipped, as tern-bench hold does). A reply names its session by the
// address it was sent to (IP_PKTINFO on receipt) and the socket it arrived on, so the
// client needs no table of sessions by address: index_of() inverts address_of().
#pragma once

#include <cstdint>
#include <optional>

namespace tern::dtls::bench {

class source_plan {
public:
    // base: host byte order, its last octet 1..254 (valid() says); sockets >= 1.
    source_plan(uint32_t base, uint32_t sockets) noexcept : base_(base), sockets_(sockets) {}

    bool valid() const noexcept {
        const uint32_t last = base_ & 0xff;
        return sockets_ != 0 && last != 0 && last != 255;
    }
    uint32_t sockets() const noexcept { return sockets_; }
    uint32_t socket_of(uint64_t i) const noexcept { return static_cast<uint32_t>(i % sockets_); }
    // How many addresses n sessions use.
    uint64_t addresses_for(uint64_t n) const noexcept { return (n + sockets_ - 1) / sockets_; }

    // The k-th usable address at or after the base (host byte order).
    uint32_t address(uint64_t k) const noexcept {
        const uint64_t offset = (base_ & 0xff) - 1 + k;  // counted from the base's .1
        return static_cast<uint32_t>(((base_ >> 8) + offset / 254) << 8 | (offset % 254 + 1));
    }
    uint32_t address_of(uint64_t i) const noexcept { return address(i / sockets_); }
    // The last address n sessions use; false when it would leave 127.0.0.0/8.
    bool fits(uint64_t n) const noexcept {
        if (n == 0) return true;
        const uint64_t offset = (base_ & 0xff) - 1 + addresses_for(n) - 1;
        return (base_ >> 8) + offset / 254 <= 0x7fffff;  // 127.255.255.x
    }

    // The session a datagram sent to `to` (host byte order) and received on socket `socket`
    // is for; nullopt when no session of this plan has that address.
    std::optional<uint64_t> index_of(uint32_t to, uint32_t socket) const noexcept {
        const uint32_t last = to & 0xff;
        if (socket >= sockets_ || last == 0 || last == 255 || (to >> 8) < (base_ >> 8)) return std::nullopt;
        const uint64_t offset = static_cast<uint64_t>((to >> 8) - (base_ >> 8)) * 254 + (last - 1);
        const uint64_t first = (base_ & 0xff) - 1;
        if (offset < first) return std::nullopt;
        return (offset - first) * sockets_ + socket;
    }

private:
    uint32_t base_;
    uint32_t sockets_;
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

// Where `hold`'s device i sends from: socket i mod M (its ephemeral port) and the
// (i / M)-th usable address counted from the base, where usable means an IPv4 address
// whose last byte is neither 0 nor 255 (a /24's network and broadcast addresses: Linux
// refuses neither on lo, but a server may). So x.y.z.254 is followed by x.y.(z+1).1 and
// x.y.255.254 by x.(y+1).0.1. The reverse, from the (address, socket) an answer arrived
// on, needs no table: usable addresses are numbered 254 to a /24.
#pragma once

#include <cstdint>

namespace tern::bench {

class source_map {
public:
    static constexpr uint32_t per_net = 254;  // usable addresses of one /24

    // `base` (host byte order) must itself be usable; `sockets` >= 1.
    source_map(uint32_t base, uint32_t sockets) : base_rank_(rank(base)), sockets_(sockets) {}

    static bool usable(uint32_t addr) {
        const uint32_t last = addr & 0xFFu;
        return last != 0 && last != 255;
    }
    // Usable addresses numbered in order over the whole IPv4 space.
    static uint64_t rank(uint32_t addr) { return uint64_t{addr >> 8} * per_net + (addr & 0xFFu) - 1; }
    static uint32_t unrank(uint64_t r) {
        return static_cast<uint32_t>((r / per_net) << 8 | (r % per_net + 1));
    }

    uint32_t sockets() const { return sockets_; }
    // The a-th usable address from the base (a = 0: the base).
    uint32_t address_at(uint64_t a) const { return unrank(base_rank_ + a); }
    uint32_t socket_of(uint64_t device) const { return static_cast<uint32_t>(device % sockets_); }
    uint32_t address_of(uint64_t device) const { return address_at(device / sockets_); }

    // The device that sends from (addr, socket): false for an unusable address or one
    // below the base. Devices past the range in use are the caller's to refuse.
    bool device_of(uint32_t addr, uint32_t socket, uint64_t& device) const {
        if (!usable(addr) || socket >= sockets_) return false;
        const uint64_t r = rank(addr);
        if (r < base_rank_) return false;
        device = (r - base_rank_) * sockets_ + socket;
        return true;
    }

private:
    uint64_t base_rank_;
    uint32_t sockets_;
};

}  // namespace tern::bench

// The datagrams of `tern-bench flood`: what an attacker without credentials can send a
// CoAP device API server, one kind per cost it tries to impose. Pure encoding, no
// sockets, so the unit tests can check every byte.
#pragma once

#include "clock.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::bench {

enum class flood_kind : uint8_t {
    non,        // NON GET to an unknown path (/flood/<hex>): a peer and a dedup entry each
    con,        // CON POST telemetry with a made-up access token and a fresh MID: a token lookup
    provision,  // CON POST /api/v1/provision with a wrong secret: a write op on the core
    block1,     // CON POST, Block1 block 0 (M=1, 1024 bytes) announcing a huge Size1
};
inline constexpr size_t flood_kind_count = 4;

const char* flood_kind_name(flood_kind k);

// Relative weights of the kinds, e.g. "non=70,con=15,provision=10,block1=5".
struct flood_mix {
    std::array<uint32_t, flood_kind_count> weight{70, 15, 10, 5};
    uint32_t total() const;
    // The kind for a uniform r in [0, total()).
    flood_kind pick(uint32_t r) const;
};

// Kinds not named get weight 0; at least one weight must be positive. Names and numbers
// are checked; on a mistake `error` says what is wrong.
bool parse_flood_mix(std::string_view text, flood_mix& out, std::string& error);

struct flood_params {
    std::string provision_key = "flood-provision-key";
    uint32_t size1 = 268435456;  // Size1 announced by Block1 first blocks (256 MiB)
};

// Every encoded flood datagram fits in this many bytes.
inline constexpr size_t flood_max_datagram = 1400;
// The Block1 block: SZX 6, 1024 bytes.
inline constexpr size_t flood_block_size = 1024;

// Writes one datagram of kind `k` with message ID `mid` into `buf` (at least
// flood_max_datagram bytes). `serial` makes names unique (provisioning device names).
// Tokens, access tokens, paths and secrets are drawn from `r`. Returns the size.
size_t encode_flood(flood_kind k, uint16_t mid, uint64_t serial, rng& r, const flood_params& p,
                    uint8_t* buf, size_t cap);

}  // namespace tern::bench

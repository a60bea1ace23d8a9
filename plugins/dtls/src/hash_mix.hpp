// mix(): a 64-bit finaliser that spreads every input bit over the output (the shard's
// hash tables of addresses and Connection IDs, and the fall-back secrets of cookies and
// decoy keys when getrandom fails).
#pragma once

#include <cstdint>

namespace tern::dtls {

inline uint64_t mix(uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

}  // namespace tern::dtls

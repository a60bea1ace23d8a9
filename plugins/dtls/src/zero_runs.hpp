// The packing of a compacted session's exported state (compaction.cpp). wolfSSL's export
// is mostly zeros: keys, IVs and MAC secrets sit in arrays sized for the largest suite, and
// an idle session's replay windows are empty (384 bytes with about 220 zeros in 40 runs for
// ECDHE-ECDSA-AES128-GCM). Every run of zeros is kept as two bytes, 0 and its length
// (1..255); every other byte as itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern::dtls {

// Room pack_zeros may need for n bytes: an isolated zero takes two.
constexpr size_t packed_bound(size_t n) noexcept { return 2 * n; }

// Packs n bytes into out (packed_bound(n) bytes of room); returns the packed length.
inline size_t pack_zeros(const uint8_t* in, size_t n, uint8_t* out) noexcept {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] != 0) {
            out[o++] = in[i++];
            continue;
        }
        size_t run = 1;
        while (i + run < n && in[i + run] == 0 && run < 255) ++run;
        out[o++] = 0;
        out[o++] = static_cast<uint8_t>(run);
        i += run;
    }
    return o;
}

// The unpacked length of n packed bytes; 0 when they are not a packing (a zero without
// its length, or a length of 0).
inline size_t unpacked_size(const uint8_t* in, size_t n) noexcept {
    size_t len = 0;
    for (size_t i = 0; i < n; ++i) {
        if (in[i] != 0) {
            ++len;
            continue;
        }
        if (++i == n || in[i] == 0) return 0;
        len += in[i];
    }
    return len;
}

// Unpacks into out, which holds unpacked_size(in, n) bytes (checked before).
inline void unpack_zeros(const uint8_t* in, size_t n, uint8_t* out) noexcept {
    size_t o = 0;
    for (size_t i = 0; i < n; ++i) {
        if (in[i] != 0) {
            out[o++] = in[i];
            continue;
        }
        const size_t run = in[++i];
        for (size_t k = 0; k < run; ++k) out[o++] = 0;
    }
}

}  // namespace tern::dtls

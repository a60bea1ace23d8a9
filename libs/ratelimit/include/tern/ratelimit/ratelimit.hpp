// Rate limits: a token bucket, and a fixed table of buckets keyed by source address.
// Both live on one shard (no locks) and never allocate after construction, so the hot
// path can consult them per message. Used by the device API (per device and per source)
// and the efento plugin (per source).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tern/abi/types.h"

namespace tern::ratelimit {

// A token bucket: `rate` tokens per second, at most `burst` saved up. Levels are kept in
// nano-tokens (tokens x 1e9), so a refill is elapsed_ns x rate with no division and no
// rounding drift. A request that costs more than `burst` (a message with many data points)
// passes on a full bucket and leaves it in debt, which later requests wait off.
struct token_bucket {
    static constexpr int64_t nano = 1'000'000'000;

    int64_t level = 0;     // nano-tokens; meaningful only when stamp_ns != 0
    uint64_t stamp_ns = 0; // last refill; 0: never used (full)

    // Takes `cost` tokens at `now_ns`. Returns 0 when taken, else how long (ns, >= 1) until
    // the request would pass. rate <= 0: no limit.
    uint64_t take(uint64_t now_ns, int64_t rate, int64_t burst, int64_t cost) noexcept {
        if (rate <= 0) return 0;
        if (burst < 1) burst = 1;
        if (cost < 0) cost = 0;
        refill(now_ns, rate, burst);
        const int64_t need = (cost < burst ? cost : burst) * nano;
        if (level >= need) {
            level -= cost * nano;
            return 0;
        }
        const int64_t missing = need - level;
        return static_cast<uint64_t>((missing + rate - 1) / rate);
    }

    // Gives back `cost` tokens taken earlier (work that turned out legitimate).
    void refund(uint64_t now_ns, int64_t rate, int64_t burst, int64_t cost) noexcept {
        if (rate <= 0 || stamp_ns == 0) return;
        if (burst < 1) burst = 1;
        refill(now_ns, rate, burst);
        level += cost * nano;
        if (level > burst * nano) level = burst * nano;
    }

    // Full: as good as never used (a table may drop it without losing anything).
    bool full(uint64_t now_ns, int64_t rate, int64_t burst) const noexcept {
        if (stamp_ns == 0 || rate <= 0) return true;
        token_bucket copy = *this;
        copy.refill(now_ns, rate, burst < 1 ? 1 : burst);
        return copy.level >= (burst < 1 ? 1 : burst) * nano;
    }

private:
    void refill(uint64_t now_ns, int64_t rate, int64_t burst) noexcept {
        const int64_t cap = burst * nano;
        if (stamp_ns == 0) {
            level = cap;
        } else if (now_ns > stamp_ns && level < cap) {
            const uint64_t elapsed = now_ns - stamp_ns;
            const uint64_t to_full = static_cast<uint64_t>(cap - level) / static_cast<uint64_t>(rate) + 1;
            level = elapsed >= to_full ? cap : level + static_cast<int64_t>(elapsed) * rate;
            if (level > cap) level = cap;
        }
        if (now_ns > stamp_ns || stamp_ns == 0) stamp_ns = now_ns == 0 ? 1 : now_ns;
    }
};

// Whole seconds to wait (CoAP Max-Age), at least 1.
constexpr int64_t retry_seconds(uint64_t wait_ns) noexcept {
    const uint64_t s = (wait_ns + token_bucket::nano - 1) / token_bucket::nano;
    return s < 1 ? 1 : static_cast<int64_t>(s);
}

// Buckets by source address (the port is ignored: a host is one source), in a table fixed
// at construction: open addressing over a bounded window of slots. When the window is
// full, the bucket that would lose least goes: a full one (it holds no history) or else
// the one used longest ago. The hash is seeded so that addresses cannot be chosen to
// collide.
class address_buckets {
public:
    static constexpr std::size_t window = 8;

    address_buckets(std::size_t capacity, uint64_t seed) : seed_(seed | 1) {
        std::size_t n = 1;
        while (n < capacity) n <<= 1;
        slots_.resize(capacity == 0 ? 0 : n);
        mask_ = slots_.empty() ? 0 : slots_.size() - 1;
    }

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::size_t size() const noexcept { return used_; }

    // The bucket of this address, created (full) when absent; nullptr when the table has
    // no room at all (capacity 0). *evicted is set when a bucket with history was dropped.
    token_bucket* find_or_add(const tern_endpoint& ep, uint64_t now_ns, int64_t rate, int64_t burst,
                              bool* evicted = nullptr) noexcept {
        if (slots_.empty()) return nullptr;
        key k = key_of(ep);
        const std::size_t h = hash(k);
        slot* free_slot = nullptr;
        slot* victim = nullptr;
        bool victim_full = false;
        for (std::size_t i = 0; i < window; ++i) {
            slot& s = slots_[(h + i) & mask_];
            if (!s.used) {
                if (free_slot == nullptr) free_slot = &s;
                continue;
            }
            if (s.k == k) return &s.b;
            const bool f = s.b.full(now_ns, rate, burst);
            if (victim == nullptr || (f && !victim_full) ||
                (f == victim_full && s.b.stamp_ns < victim->b.stamp_ns)) {
                victim = &s;
                victim_full = f;
            }
        }
        slot* s = free_slot;
        if (s == nullptr) {
            s = victim;
            if (evicted != nullptr) *evicted = !victim_full;
        } else {
            ++used_;
        }
        s->used = true;
        s->k = k;
        s->b = token_bucket{};
        return &s->b;
    }

    // The bucket of this address, or nullptr.
    token_bucket* find(const tern_endpoint& ep) noexcept {
        if (slots_.empty()) return nullptr;
        const key k = key_of(ep);
        const std::size_t h = hash(k);
        for (std::size_t i = 0; i < window; ++i) {
            slot& s = slots_[(h + i) & mask_];
            if (s.used && s.k == k) return &s.b;
        }
        return nullptr;
    }

private:
    struct key {
        uint8_t family = 0;
        uint8_t addr[16]{};
        bool operator==(const key& o) const noexcept {
            return family == o.family && std::memcmp(addr, o.addr, sizeof addr) == 0;
        }
    };
    struct slot {
        key k;
        bool used = false;
        token_bucket b;
    };

    static key key_of(const tern_endpoint& ep) noexcept {
        key k;
        k.family = ep.family == 6 ? 6 : 4;
        std::memcpy(k.addr, ep.addr, k.family == 6 ? 16 : 4);
        return k;
    }
    std::size_t hash(const key& k) const noexcept {
        uint64_t h = seed_ ^ k.family;
        for (uint8_t b : k.addr) {
            h ^= b;
            h *= 0x100000001B3ull;
            h ^= h >> 29;
        }
        h *= 0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h ^ (h >> 32));
    }

    uint64_t seed_;
    std::vector<slot> slots_;
    std::size_t mask_ = 0;
    std::size_t used_ = 0;
};

}  // namespace tern::ratelimit

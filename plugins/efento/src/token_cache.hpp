// What one shard remembers about cloud_tokens: token -> device (with whether its profile is
// an Efento one), tokens the core did not know, and the per-source buckets that limit how
// often a source may make the core look up a token the caches do not know. Touched only on
// its shard (no lock); a look-up by string_view allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics.hpp"
#include "pending.hpp"
#include "tern/abi/types.h"
#include "tern/lru/lru_map.hpp"
#include "tern/ratelimit/ratelimit.hpp"

namespace tern::efento {

struct cache_limits {
    std::size_t tokens = 0;   // per shard
    std::size_t unknown = 0;  // per shard
    std::size_t sources = 0;  // per shard; 0: no per-source limit
    uint64_t ttl_ns = 0;
    uint64_t unknown_ttl_ns = 0;
    int64_t source_rate = 0;  // per second; 0: no limit
    int64_t source_burst = 1;
};

class token_cache {
public:
    token_cache(const cache_limits& l, metrics& m, uint64_t seed);
    token_cache(const token_cache&) = delete;
    token_cache& operator=(const token_cache&) = delete;

    // The device of a known token, or null.
    const token_entry* find(std::string_view token, uint64_t now_ns) noexcept;
    // The core said a moment ago that it does not know this token.
    bool known_unknown(std::string_view token, uint64_t now_ns) noexcept;
    // Takes one lookup from the source's bucket: 0, or how long (ns) until it would pass.
    uint64_t take_source(const tern_endpoint& source, uint64_t now_ns) noexcept;
    // Gives it back (the token proved valid).
    void refund_source(const tern_endpoint& source, uint64_t now_ns) noexcept;

    // Keeps the core's answer, unless an invalidation came since the lookup began (epoch).
    void remember(const std::string& token, const token_entry& e, uint64_t epoch, uint64_t now_ns);
    void remember_unknown(const std::string& token, uint64_t epoch, uint64_t now_ns);
    // The core reported a device event: the device's tokens go; on a credential change the
    // unknown tokens too (one of them may be the new token).
    void forget(uint64_t device_id, bool credentials_changed) noexcept;
    // Empties both caches (the plugin stops), keeping the gauges right.
    void clear() noexcept;

    uint64_t epoch() const noexcept { return epoch_; }
    std::size_t size() const noexcept { return tokens_.size(); }
    std::size_t unknown_size() const noexcept { return unknown_.size(); }

private:
    cache_limits l_;
    metrics& m_;
    tern::lru::lru_map<std::string, token_entry, tern::lru::string_hash> tokens_;
    tern::lru::lru_map<std::string, char, tern::lru::string_hash> unknown_;
    tern::ratelimit::address_buckets sources_;
    uint64_t epoch_ = 0;  // bumped by every invalidation
};

}  // namespace tern::efento

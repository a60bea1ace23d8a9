#include "token_cache.hpp"

namespace tern::efento {

token_cache::token_cache(const cache_limits& l, metrics& m, uint64_t seed)
    : l_(l), m_(m), tokens_(l.tokens), unknown_(l.unknown), sources_(l.source_rate > 0 ? l.sources : 0, seed) {}

const token_entry* token_cache::find(std::string_view token, uint64_t now_ns) noexcept {
    const std::size_t before = tokens_.size();
    auto* n = tokens_.find(token, now_ns);
    if (tokens_.size() != before) m_.token_entries.add(-1);  // it had expired
    if (n == nullptr) return nullptr;
    m_.token_hits.inc();
    return &n->value;
}

bool token_cache::known_unknown(std::string_view token, uint64_t now_ns) noexcept {
    const std::size_t before = unknown_.size();
    const bool hit = unknown_.find(token, now_ns) != nullptr;
    if (unknown_.size() != before) m_.unknown_entries.add(-1);
    if (hit) m_.unknown_hits.inc();
    return hit;
}

uint64_t token_cache::take_source(const tern_endpoint& source, uint64_t now_ns) noexcept {
    if (l_.source_rate <= 0 || sources_.capacity() == 0) return 0;
    bool evicted = false;
    const std::size_t before = sources_.size();
    tern::ratelimit::token_bucket* b =
        sources_.find_or_add(source, now_ns, l_.source_rate, l_.source_burst, &evicted);
    if (sources_.size() != before) m_.source_buckets.add(static_cast<int64_t>(sources_.size() - before));
    if (evicted) m_.source_evictions.inc();
    return b == nullptr ? 0 : b->take(now_ns, l_.source_rate, l_.source_burst, 1);
}

void token_cache::refund_source(const tern_endpoint& source, uint64_t now_ns) noexcept {
    if (l_.source_rate <= 0) return;
    if (tern::ratelimit::token_bucket* b = sources_.find(source)) b->refund(now_ns, l_.source_rate, l_.source_burst, 1);
}

void token_cache::remember(const std::string& token, const token_entry& e, uint64_t epoch, uint64_t now_ns) {
    if (epoch != epoch_ || tokens_.capacity() == 0) return;
    std::size_t evicted = 0;
    const std::size_t before = tokens_.size();
    tokens_.put(token, e, e.device_id, now_ns + l_.ttl_ns, &evicted);
    m_.token_evictions.inc(evicted);
    m_.token_entries.add(static_cast<int64_t>(tokens_.size()) - static_cast<int64_t>(before));
}

void token_cache::remember_unknown(const std::string& token, uint64_t epoch, uint64_t now_ns) {
    if (epoch != epoch_ || unknown_.capacity() == 0) return;
    std::size_t evicted = 0;
    const std::size_t before = unknown_.size();
    unknown_.put(token, char{0}, 0, now_ns + l_.unknown_ttl_ns, &evicted);
    m_.unknown_evictions.inc(evicted);
    m_.unknown_entries.add(static_cast<int64_t>(unknown_.size()) - static_cast<int64_t>(before));
}

void token_cache::forget(uint64_t device_id, bool credentials_changed) noexcept {
    ++epoch_;
    if (credentials_changed && unknown_.size() != 0) {
        m_.unknown_entries.add(-static_cast<int64_t>(unknown_.size()));
        unknown_.clear();
    }
    m_.token_entries.add(-static_cast<int64_t>(tokens_.erase_group(device_id)));
}

void token_cache::clear() noexcept {
    ++epoch_;
    m_.token_entries.add(-static_cast<int64_t>(tokens_.size()));
    m_.unknown_entries.add(-static_cast<int64_t>(unknown_.size()));
    tokens_.clear();
    unknown_.clear();
}

}  // namespace tern::efento

// dtls_memory_bytes{table}: what each table of a shard holds, from the plugin's own
// accounting (memory.hpp): entries times their footprint (the record, its share of every
// index it is in, the hash buckets) plus the heap the entries own (exported state,
// identities, PSK keys). Each shard adds the change of its share once a second, on its
// timer; shard 0 also reports what the transport shares (the resumption identities, and
// wolfSSL's heap, which is the process's: every dtls instance reports the same figure).
#include "shard.hpp"

#include <algorithm>

namespace tern::dtls {

namespace {

constexpr uint64_t memory_refresh_ns = 1000 * shard::ms;

void report(const sdk::metric& m, int64_t& reported, int64_t now) noexcept {
    if (now == reported) return;
    m.add(now - reported);
    reported = now;
}

}  // namespace

void shard::report_memory() noexcept {
    if (now_ < memory_due_ns_) return;
    memory_due_ns_ = now_ + memory_refresh_ns;
    int64_t bytes[count_of<table>()] = {};
    auto at = [&](table t) -> int64_t& { return bytes[static_cast<size_t>(t)]; };

    const size_t slots = by_id_.slot_count() + by_addr_.slot_count() + by_cid_.slot_count();
    at(table::sessions) = static_cast<int64_t>(sessions_.bytes() + slots * sizeof(session*) +
                                               handshakes_ * chunk(sizeof(handshake_state)) + ident_bytes_);
    at(table::compacted_sessions) = static_cast<int64_t>(blobs_.bytes() + heap_blob_bytes_);
    at(table::sources) = static_cast<int64_t>(source_slab_.bytes() + sources_.slot_count() * sizeof(void*));
    size_t psk = psk_cache_.bucket_count() * sizeof(void*);
    for (const auto& [identity, e] : psk_cache_)  // at most psk_cache_limit entries
        psk += map_node<std::string, psk_entry, true>() + string_heap(identity) +
               (e.key.capacity() != 0 ? chunk(e.key.capacity()) : 0);
    at(table::psk_cache) = static_cast<int64_t>(psk);
    if (index_ == 0) {
        at(table::resumption_identities) =
            env_.identities != nullptr ? static_cast<int64_t>(env_.identities->bytes()) : 0;
        at(table::wolfssl) = std::max<int64_t>(0, context::heap_bytes());
        const int64_t kept = env_.identities != nullptr ? static_cast<int64_t>(env_.identities->size()) : 0;
        report(env_.m.resumption_identities, reported_identities_, kept);
    }
    for (size_t t = 0; t < count_of<table>(); ++t) report(env_.m.memory[t], reported_[t], bytes[t]);
    report(env_.m.wolfssl_objects, reported_objects_, static_cast<int64_t>(by_id_.size() - compacted_));
    report(env_.m.psk_cache_entries, reported_psk_, static_cast<int64_t>(psk_cache_.size()));
}

void shard::unreport_memory() noexcept {
    for (size_t t = 0; t < count_of<table>(); ++t) report(env_.m.memory[t], reported_[t], 0);
    report(env_.m.wolfssl_objects, reported_objects_, 0);
    report(env_.m.psk_cache_entries, reported_psk_, 0);
    report(env_.m.resumption_identities, reported_identities_, 0);
    memory_due_ns_ = 0;
}

}  // namespace tern::dtls

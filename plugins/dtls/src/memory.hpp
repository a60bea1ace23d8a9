// What the plugin's tables cost, for dtls_memory_bytes{table=...}: heap chunk sizes as
// glibc's malloc hands them out (64-bit: the request plus an 8-byte header, rounded up to
// 16, at least 32 bytes) and the nodes of the standard containers the tables use. The
// figures are read by the shards' timer (memory.cpp), never on the datagram path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "identity.hpp"
#include "tern/sdk/heap_size.hpp"

namespace tern::dtls {

// The tables a shard (or the transport) reports, dtls_memory_bytes{table}.
enum class table : uint32_t {
    sessions,               // session records, their indexes (id, address, CID), handshake state, identities
    compacted_sessions,     // the exported state of idle sessions (their wolfSSL object freed)
    wolfssl,                // wolfSSL's heap: live session objects, the context, certificates
    sources,                // per-source limits
    resumption_identities,  // identities kept for resumed handshakes (transport-wide)
    psk_cache,              // PSK keys cached per shard
    count_
};
constexpr const char* table_label(table t) noexcept {
    switch (t) {
        case table::sessions: return "table=\"sessions\"";
        case table::compacted_sessions: return "table=\"compacted_sessions\"";
        case table::wolfssl: return "table=\"wolfssl\"";
        case table::sources: return "table=\"sources\"";
        case table::resumption_identities: return "table=\"resumption_identities\"";
        case table::psk_cache: return "table=\"psk_cache\"";
        case table::count_: break;
    }
    return "";
}

// The heap an allocation takes (the SDK's figures of glibc's chunks).
constexpr size_t chunk(size_t n) noexcept { return sdk::heap_chunk(n); }
using sdk::string_heap;
// One node of a std::unordered_map<K, V>: the next pointer, the pair, and the cached hash
// when the hasher is not std::hash of an integer (libstdc++).
template <class K, class V, bool cached_hash>
constexpr size_t map_node() noexcept {
    constexpr size_t align = alignof(V) > alignof(K) ? alignof(V) : alignof(K);
    constexpr size_t pair = (sizeof(K) + align - 1) / align * align + sizeof(V);
    return chunk(sizeof(void*) + (pair + 7) / 8 * 8 + (cached_hash ? 8 : 0));
}
// An identity's heap (make_shared: object and control block in one chunk); the shared
// no-identity of anonymous sessions costs nothing per session.
inline size_t identity_heap(const identity& i) noexcept {
    if (i.kind == TERN_AUTH_NONE) return 0;
    return chunk(sizeof(identity) + 16) + (i.der.capacity() ? chunk(i.der.capacity()) : 0) +
           (i.ends.capacity() ? chunk(i.ends.capacity() * sizeof(uint32_t)) : 0) + string_heap(i.psk);
}

}  // namespace tern::dtls

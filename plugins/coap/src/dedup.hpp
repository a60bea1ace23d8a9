// Duplicate detection (RFC 7252 §4.5) and the cached responses replayed to duplicates.
//
// A request is remembered by (peer, Message ID) for EXCHANGE_LIFETIME (CON) or NON_LIFETIME
// (NON). A retransmitted CON gets the very bytes of its piggy-backed response again (kept in
// a ring arena), or the empty ACK while the response is pending or went separately; a
// duplicate NON is ignored. Bounded: a peer keeps at most max_dedup_per_peer entries (its own
// oldest leaves), a full store gives up the entry nearest its expiry, unproven peers' first;
// when the arena wraps, an entry keeps its place but forgets its response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tern/abi/transport.h"

namespace tern::coap {

class shard;
struct dedup_rec;

class dedup {
public:
    explicit dedup(shard& s) noexcept : s_(s) {}

    // The live entry of (peer, mid), or nil; an expired one is removed on the way.
    uint32_t find(uint32_t peer, uint16_t mid) noexcept;
    // Remembers a new request; returns the entry's id (generation << 32 | slot).
    uint64_t insert(uint32_t peer, uint16_t mid, uint8_t type) noexcept;
    // Answers a duplicate of entry d (the request in the shard's msg_, from dg.peer): the
    // cached response, the empty ACK, or nothing.
    void answer_duplicate(uint32_t d, uint32_t transport, const tern_datagram& dg) noexcept;
    void remove(uint32_t slot, bool evicted) noexcept;
    // Removes the entries past their lifetime; releases the ring when none is left.
    void expire() noexcept;
    // Moves the entry to another age list (2 * trusted + CON).
    void relist(uint32_t slot, uint8_t list) noexcept;
    // The live entry of an id, or nullptr.
    dedup_rec* get(uint64_t seq) noexcept;
    // Keeps the piggy-backed response for replays (or marks the entry done when the arena
    // cannot hold it).
    void cache(uint64_t seq, std::span<const uint8_t> bytes) noexcept;
    void mark(uint64_t seq, uint8_t state) noexcept;

private:
    uint32_t victim() const noexcept;
    bool arena_alloc(uint64_t owner_seq, std::size_t len, uint32_t& off) noexcept;
    // Once no entry is left, no cached response is either: the ring starts again at its
    // beginning, and the ring, the entries' pool and their index give the pages they had
    // touched back to the system (idle devices do not keep their registrations resident).
    void arena_release() noexcept;

    shard& s_;
};

}  // namespace tern::coap

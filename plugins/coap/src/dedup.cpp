#include "dedup.hpp"

#include <algorithm>
#include <cstring>

#include "shard_impl.hpp"

namespace tern::coap {

namespace {
inline uint32_t dedup_hash(uint64_t seed, uint32_t peer, uint16_t mid) noexcept {
    return static_cast<uint32_t>(mix64(seed ^ ((uint64_t{peer} << 16) | mid)));
}
}  // namespace

dedup_rec* dedup::get(uint64_t seq) noexcept {
    const uint32_t slot = static_cast<uint32_t>(seq);
    const uint32_t gen = static_cast<uint32_t>(seq >> 32);
    if (seq == 0 || slot >= s_.dedups_.high_water()) return nullptr;
    dedup_rec& e = s_.dedups_[slot];
    return e.gen == gen && e.live ? &e : nullptr;
}

uint32_t dedup::find(uint32_t peer, uint16_t mid) noexcept {
    const uint32_t s = s_.dedup_index_.find(dedup_hash(s_.hash_seed_, peer, mid), [&](uint32_t i) {
        return s_.dedups_[i].peer == peer && s_.dedups_[i].mid == mid;
    });
    if (s == nil) return nil;
    if (s_.dedups_[s].expires_ns <= s_.now_) {
        remove(s, false);
        return nil;
    }
    return s;
}

uint32_t dedup::victim() const noexcept {
    // The entry closest to its expiry among untrusted peers' entries; trusted peers'
    // entries (a handler answered them 2.xx) leave only when there are no others.
    for (int base = 0; base <= 2; base += 2) {
        const uint32_t a = s_.dedup_age_[base].head;
        const uint32_t b = s_.dedup_age_[base + 1].head;
        if (a == nil && b == nil) continue;
        if (a == nil) return b;
        if (b == nil) return a;
        return s_.dedups_[a].expires_ns <= s_.dedups_[b].expires_ns ? a : b;
    }
    return nil;
}

void dedup::relist(uint32_t s, uint8_t list) noexcept {
    dedup_rec& e = s_.dedups_[s];
    if (e.list == list) return;
    s_.dedup_age_[e.list].remove(s, [this](uint32_t i) -> list_link& { return s_.dedups_[i].age_link; });
    e.list = list;
    s_.dedup_age_[list].push_back(s, [this](uint32_t i) -> list_link& { return s_.dedups_[i].age_link; });
}

uint64_t dedup::insert(uint32_t peer, uint16_t mid, uint8_t type) noexcept {
    // A peer over its quota recycles its own oldest entry, so no single peer fills the
    // store; a full store gives up the entry nearest its expiry, untrusted peers' first.
    if (s_.peers_[peer].dedups.size >= s_.cfg_.max_dedup_per_peer) {
        s_.m_.inc(ctr::dedup_recycled_per_peer);
        remove(s_.peers_[peer].dedups.head, false);
    }
    if (s_.dedups_.full()) remove(victim(), true);
    const uint32_t s = s_.dedups_.alloc();
    dedup_rec& e = s_.dedups_[s];
    const uint32_t gen = e.gen;
    e = dedup_rec{};
    e.gen = gen;
    e.peer = peer;
    e.mid = mid;
    e.type = type;
    e.state = dedup_pending;
    e.exchange = nil;
    e.live = 1;
    e.hash = dedup_hash(s_.hash_seed_, peer, mid);
    const bool con = type == static_cast<uint8_t>(msg_type::con);
    const uint64_t life = con ? s_.cfg_.exchange_lifetime_ms() : s_.cfg_.non_lifetime_ms();
    e.expires_ns = s_.now_ + life * 1000000;
    e.list = static_cast<uint8_t>(2 * s_.peers_[peer].trusted + (con ? 1 : 0));
    s_.dedup_index_.insert(e.hash, s);
    s_.peers_[peer].dedups.push_back(s, [this](uint32_t i) -> list_link& { return s_.dedups_[i].peer_link; });
    s_.dedup_age_[e.list].push_back(s, [this](uint32_t i) -> list_link& { return s_.dedups_[i].age_link; });
    return (uint64_t{gen} << 32) | s;
}

void dedup::remove(uint32_t s, bool evicted) noexcept {
    dedup_rec& e = s_.dedups_[s];
    if (!e.live) return;
    s_.dedup_index_.erase(e.hash, s);
    s_.peers_[e.peer].dedups.remove(s, [this](uint32_t i) -> list_link& { return s_.dedups_[i].peer_link; });
    s_.dedup_age_[e.list].remove(s, [this](uint32_t i) -> list_link& { return s_.dedups_[i].age_link; });
    const uint64_t seq = (uint64_t{e.gen} << 32) | s;
    if (e.exchange != nil && s_.exch_[e.exchange].dedup_seq == seq) s_.exch_[e.exchange].dedup_seq = 0;
    if (evicted) s_.m_.inc(ctr::drop_dedup_evicted);
    s_.dedups_.free(s);
}

void dedup::expire() noexcept {
    // Each list holds one lifetime, in insertion order, so its head expires first.
    for (slot_list& l : s_.dedup_age_)
        while (!l.empty() && s_.dedups_[l.head].expires_ns <= s_.now_) remove(l.head, false);
    if (s_.dedups_.used() == 0 && s_.arena_touched_ != 0) arena_release();
}

void dedup::arena_release() noexcept {
    s_.arena_head_ = s_.arena_tail_ = 0;
    discard_pages(s_.arena_.get(), static_cast<std::size_t>(s_.arena_touched_));
    s_.arena_touched_ = 0;
    s_.dedups_.discard_if_empty();
    s_.dedup_index_.discard_if_empty();
}

void dedup::mark(uint64_t seq, uint8_t state) noexcept {
    if (dedup_rec* e = get(seq)) e->state = state;
}

void dedup::answer_duplicate(uint32_t d, uint32_t transport, const tern_datagram& dg) noexcept {
    const message& m = s_.msg_;
    s_.m_.inc(ctr::duplicates);
    dedup_rec& e = s_.dedups_[d];
    if (m.type != msg_type::con || e.type != static_cast<uint8_t>(msg_type::con)) {
        s_.m_.inc(ctr::drop_duplicate_non);
        return;
    }
    switch (e.state) {
    case dedup_pending:
        // The client is retransmitting: stop it with the empty ACK now; the response
        // will follow as a separate message. A held answer not acknowledged yet keeps
        // its ACK (it rides there within ping_timeout): the duplicate is absorbed.
        if (e.exchange != nil && s_.exch_[e.exchange].state == exch_held &&
            s_.exch_[e.exchange].type == static_cast<uint8_t>(msg_type::con) &&
            s_.exch_[e.exchange].acked == 0)
            return;
        if (e.exchange != nil && s_.exch_[e.exchange].state == exch_pending) {
            s_.exchange_.ack_now(e.exchange);
        } else {
            s_.send_empty(transport, dg.peer, msg_type::ack, m.message_id);
            e.state = dedup_acked;
        }
        return;
    case dedup_cached: {
        if (!s_.amp_replay_ok(transport, dg.peer, dg.data.size, e.arena_len)) return;
        std::span<uint8_t> s = s_.out_slot();
        std::memcpy(s.data(), &s_.arena_[e.arena_off], e.arena_len);
        s_.out_commit(transport, dg.peer, e.arena_len);
        return;
    }
    case dedup_acked: s_.send_empty(transport, dg.peer, msg_type::ack, m.message_id); return;
    default: return;
    }
}

// ---- the cached responses: a ring arena ----------------------------------------------------

namespace {
struct arena_header {
    uint64_t owner;  // dedup seq; 0 = padding up to the end of the ring
    uint32_t len;    // payload bytes (padding: the whole skipped length)
    uint32_t pad;
};
static_assert(sizeof(arena_header) == 16);
constexpr uint64_t round16(uint64_t n) { return (n + 15) & ~uint64_t{15}; }
}  // namespace

bool dedup::arena_alloc(uint64_t owner, std::size_t len, uint32_t& off) noexcept {
    const uint64_t need = sizeof(arena_header) + round16(len);
    if (s_.arena_cap_ == 0 || need > s_.arena_cap_ / 2) return false;
    for (;;) {
        if (s_.arena_head_ == s_.arena_tail_) {
            // Empty: start again at the beginning so a block never straddles the end.
            s_.arena_head_ = s_.arena_tail_ = 0;
        }
        const uint64_t pos = s_.arena_head_ % s_.arena_cap_;
        const uint64_t skip = pos + need > s_.arena_cap_ ? s_.arena_cap_ - pos : 0;
        if (s_.arena_head_ + skip + need - s_.arena_tail_ <= s_.arena_cap_) {
            if (skip != 0) {
                arena_header h{0, static_cast<uint32_t>(skip), 0};
                std::memcpy(&s_.arena_[pos], &h, sizeof h);
                s_.arena_head_ += skip;
            }
            const uint64_t at = s_.arena_head_ % s_.arena_cap_;
            arena_header h{owner, static_cast<uint32_t>(len), 0};
            std::memcpy(&s_.arena_[at], &h, sizeof h);
            off = static_cast<uint32_t>(at + sizeof h);
            s_.arena_head_ += need;
            s_.arena_touched_ = std::max(s_.arena_touched_, at + need);
            return true;
        }
        // Reclaim the oldest block; a still-live entry that owns it leaves the dedup store
        // early (bounded memory beats a longer memory).
        const uint64_t tpos = s_.arena_tail_ % s_.arena_cap_;
        arena_header t;
        std::memcpy(&t, &s_.arena_[tpos], sizeof t);
        if (t.owner == 0) {
            s_.arena_tail_ += t.len;
            continue;
        }
        if (dedup_rec* e = get(t.owner);
            e != nullptr && e->state == dedup_cached && e->arena_off == tpos + sizeof t) {
            // The entry stays (its request is still not processed twice); a duplicate is
            // no longer answered from the cache.
            e->state = dedup_done;
            s_.m_.inc(ctr::drop_dedup_evicted);
        }
        s_.arena_tail_ += sizeof(arena_header) + round16(t.len);
    }
}

void dedup::cache(uint64_t seq, std::span<const uint8_t> bytes) noexcept {
    dedup_rec* e = get(seq);
    if (e == nullptr) return;
    uint32_t off = 0;
    if (!arena_alloc(seq, bytes.size(), off)) {
        e->state = dedup_done;
        return;
    }
    // arena_alloc may have reclaimed other entries' responses, never this one's (it is
    // not cached yet).
    std::memcpy(&s_.arena_[off], bytes.data(), bytes.size());
    e->arena_off = off;
    e->arena_len = static_cast<uint32_t>(bytes.size());
    e->state = dedup_cached;
}

}  // namespace tern::coap

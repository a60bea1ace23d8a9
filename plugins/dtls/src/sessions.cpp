// The session table of a shard: sessions by id, by address and by Connection ID; the
// handshakes in flight (oldest first), the established sessions in two LRU lists (with an
// identity or vouched for; anonymous); the limits over all and per source (caps, token
// buckets), eviction, idle ends, and what the engine asks of a session (peer_auth).
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <algorithm>
#include <cstring>

#include "hash_mix.hpp"
#include "tern/udp_io/endpoint.hpp"

namespace tern::dtls {

namespace {

// A session's place in its source's lists (src_older / src_newer).
void src_push(session_list& l, session& s) noexcept {
    s.src_older = l.newest;
    s.src_newer = nullptr;
    if (l.newest != nullptr) l.newest->src_newer = &s; else l.oldest = &s;
    l.newest = &s;
}
void src_unlink(session_list& l, session& s) noexcept {
    if (s.src_older != nullptr) s.src_older->src_newer = s.src_newer; else if (l.oldest == &s) l.oldest = s.src_newer;
    if (s.src_newer != nullptr) s.src_newer->src_older = s.src_older; else if (l.newest == &s) l.newest = s.src_older;
    s.src_older = s.src_newer = nullptr;
}

}  // namespace

// ---- keys --------------------------------------------------------------------------------

bool shard::addr_key::operator==(const addr_key& o) const noexcept {
    return std::memcmp(bytes, o.bytes, sizeof bytes) == 0;
}
size_t shard::addr_hash::operator()(const addr_key& k) const noexcept {
    uint64_t a, b, c;
    std::memcpy(&a, k.bytes, 8);
    std::memcpy(&b, k.bytes + 8, 8);
    std::memcpy(&c, k.bytes + 16, 8);
    return static_cast<size_t>(mix(a ^ mix(b ^ mix(c))));
}
bool shard::cid_key::operator==(const cid_key& o) const noexcept {
    return len == o.len && std::memcmp(bytes, o.bytes, len) == 0;
}
size_t shard::cid_hash::operator()(const cid_key& k) const noexcept {
    uint64_t a = 0, b = 0;
    std::memcpy(&a, k.bytes, 8);
    std::memcpy(&b, k.bytes + 8, 8);
    return static_cast<size_t>(mix(a ^ mix(b ^ k.len)));
}

shard::addr_key shard::key_of(const tern_endpoint& ep) noexcept {
    addr_key k;
    k.bytes[0] = static_cast<uint8_t>(ep.family);
    std::memcpy(k.bytes + 2, &ep.port, 2);
    std::memcpy(k.bytes + 4, &ep.scope_id, 4);
    std::memcpy(k.bytes + 8, ep.addr, ep.family == 6 ? 16 : 4);
    return k;
}

shard::cid_key shard::cid_traits::key(const session& s) noexcept {
    cid_key k;
    k.len = s.cid_len;
    std::memcpy(k.bytes, s.cid, s.cid_len);
    return k;
}

shard::addr_key shard::source_traits::key(const source_entry& e) noexcept {
    addr_key k;
    std::memcpy(k.bytes, e.key, sizeof k.bytes);
    return k;
}

session* shard::find(uint64_t id) const noexcept { return by_id_.find(id); }

void shard::clear() noexcept {
    try {
        for (session* s : by_id_.all()) destroy(*s);
    } catch (...) {
        // no room for the list: one at a time (each found by the lowest serial still there)
        for (uint64_t serial = 1; !by_id_.empty() && serial <= next_serial_; ++serial)
            if (session* s = by_id_.find(serial << 10 | index_)) destroy(*s);
    }
    by_id_.clear();
    by_addr_.clear();
    by_cid_.clear();
    while (idle_oldest_ != nullptr) source_erase(*idle_oldest_);
    while (!timers_.empty()) timers_.pop();
    unreport_memory();
}

// ---- making room -------------------------------------------------------------------------

bool shard::make_room_for(session& newcomer) noexcept {
    // As make_room, with the newcomer already counted (and never its own victim).
    if (handshakes_ > handshake_cap_ && hs_oldest_ != nullptr && hs_oldest_ != &newcomer)
        handshake_failed(*hs_oldest_, handshake_result::evicted);
    if (by_id_.size() <= session_cap_) return true;
    if (evict_anonymous()) return true;
    session* victim = known_.oldest;
    if (victim == nullptr || victim == &newcomer) return false;
    if (victim->last_ns + env_.cfg->stale_session_threshold_ms * ms > now_) return false;
    end(*victim, end_reason::evicted, true);
    return true;
}

bool shard::evict_anonymous() noexcept {
    if (anon_.oldest == nullptr) return false;
    end(*anon_.oldest, end_reason::evicted_anonymous, true);
    return true;
}

bool shard::make_room(source_entry* src) noexcept {
    // A source at one of its caps makes room from its own: its oldest handshake; for the
    // session cap its least recently active anonymous session first, then its oldest
    // handshake, then its least recently active session. Never another source's.
    if (src != nullptr) {
        if (source_handshake_cap_ != 0 && src->handshakes >= source_handshake_cap_ && src->hs.oldest != nullptr)
            handshake_failed(*src->hs.oldest, handshake_result::source_limit);
        if (source_session_cap_ != 0 && src->sessions >= source_session_cap_) {
            if (src->anon.oldest != nullptr)
                end(*src->anon.oldest, end_reason::source_limit, true);
            else if (src->hs.oldest != nullptr)
                handshake_failed(*src->hs.oldest, handshake_result::source_limit);
            else if (src->known.oldest != nullptr)
                end(*src->known.oldest, end_reason::source_limit, true);
        }
    }
    // Handshakes in flight over all: the newcomer's source gives up its own oldest if it
    // has one, else the oldest goes.
    if (handshakes_ >= handshake_cap_) {
        session* victim = src != nullptr && src->hs.oldest != nullptr ? src->hs.oldest : hs_oldest_;
        if (victim != nullptr) handshake_failed(*victim, handshake_result::evicted);
    }
    if (by_id_.size() < session_cap_) return true;
    // Full: an anonymous session goes first (whoever the newcomer is, so a device is never
    // locked out by sessions that proved nothing); else the least recently active session
    // goes if it has been idle long enough; otherwise the newcomer is refused (a flood of
    // new handshakes cannot push out devices that are in use).
    if (evict_anonymous()) return true;
    session* victim = known_.oldest;
    if (victim == nullptr) return false;
    if (victim->last_ns + env_.cfg->stale_session_threshold_ms * ms > now_) return false;
    end(*victim, end_reason::evicted, true);
    return true;
}

// ---- a session's life --------------------------------------------------------------------

session* shard::create(const tern_endpoint& from, int secret, bool dtls13, source_entry* src) noexcept {
    void* slot = sessions_.take();
    if (slot == nullptr) return nullptr;
    session* s = new (slot) session;
    try {
        s->hs = std::make_unique<handshake_state>();
    } catch (...) {
        s->~session();
        sessions_.give(s);
        return nullptr;
    }
    s->id = (++next_serial_ << 10) | index_;
    s->addr = from;
    s->home = this;
    s->last_ns = now_;
    s->hs->started_ns = now_;
    if (!open_ssl(s, from, secret, dtls13)) {
        s->~session();
        sessions_.give(s);
        return nullptr;
    }
    try {
        by_id_.put(s);
        if (s->cid_len != 0) by_cid_.put(s);
        by_addr_.put(s);
        s->indexed_by_addr = true;
    } catch (...) {
        destroy(*s);
        return nullptr;
    }
    // the newest handshake in flight
    s->hs->older = hs_newest_;
    if (hs_newest_ != nullptr) hs_newest_->hs->newer = s;
    hs_newest_ = s;
    if (hs_oldest_ == nullptr) hs_oldest_ = s;
    ++handshakes_;
    env_.m.handshakes_in_flight.add(1);
    if (src != nullptr) {
        source_busy(*src);
        s->src = src;
        src_push(src->hs, *s);
        ++src->sessions;
        ++src->handshakes;
    }
    return s;
}

void shard::leave_handshakes(session& s) noexcept {
    if (s.hs) {
    session* o = s.hs->older;
    session* n = s.hs->newer;
    if (o != nullptr) o->hs->newer = n; else if (hs_oldest_ == &s) hs_oldest_ = n;
    if (n != nullptr) n->hs->older = o; else if (hs_newest_ == &s) hs_newest_ = o;
    s.hs->older = s.hs->newer = nullptr;
    }
    --handshakes_;
    env_.m.handshakes_in_flight.add(-1);
    if (s.src != nullptr) {
        src_unlink(s.src->hs, s);
        --s.src->handshakes;
    }
}

void shard::lru_remove(session& s) noexcept {
    session_list& l = s.anonymous ? anon_ : known_;
    if (s.older != nullptr) s.older->newer = s.newer; else if (l.oldest == &s) l.oldest = s.newer;
    if (s.newer != nullptr) s.newer->older = s.older; else if (l.newest == &s) l.newest = s.older;
    s.older = s.newer = nullptr;
    if (s.src != nullptr) src_unlink(s.anonymous ? s.src->anon : s.src->known, s);
}

void shard::lru_push(session& s) noexcept {
    session_list& l = s.anonymous ? anon_ : known_;
    s.older = l.newest;
    s.newer = nullptr;
    if (l.newest != nullptr) l.newest->newer = &s;
    l.newest = &s;
    if (l.oldest == nullptr) l.oldest = &s;
    if (s.src != nullptr) src_push(s.anonymous ? s.src->anon : s.src->known, s);
    // the timer must come back for this session's idle deadline (cheap when it is armed
    // earlier anyway, which is the rule: older sessions expire first)
    const settings& c = *env_.cfg;
    uint64_t at = s.last_ns + c.inactivity_timeout_ms * ms;
    if (s.anonymous) at = std::min(at, s.last_ns + anon_idle_ns_);
    if (c.idle_compact_after_ms != 0) {
        const uint64_t compact_at = std::max(s.last_ns, s.used_ns) + c.idle_compact_after_ms * ms;
        compact_due_ns_ = std::min(compact_due_ns_, compact_at);
        at = std::min(at, compact_at);
    }
    arm(at);
}

void shard::vouch(session& s) noexcept {
    if (!s.anonymous) return;
    lru_remove(s);
    s.anonymous = false;
    lru_push(s);
    env_.m.anonymous_sessions.add(-1);
}

void shard::destroy(session& s) noexcept {
    by_id_.erase(&s);
    if (s.indexed_by_addr) by_addr_.erase(&s);
    cid_unindex(s);
    if (s.state == session_state::handshake) {
        leave_handshakes(s);
    } else {
        lru_remove(s);
        if (s.anonymous) env_.m.anonymous_sessions.add(-1);
    }
    if (s.src != nullptr && --s.src->sessions == 0) source_idle(*s.src);
    if (s.ssl != nullptr) wolfSSL_free(s.ssl);
    if (s.blob != nullptr) {
        --compacted_;
        drop_blob(s);
    }
    if (s.state == session_state::established && s.ident) ident_bytes_ -= identity_heap(*s.ident);
    s.~session();
    sessions_.give(&s);
}

void shard::end(session& s, end_reason why, bool notify_peer) noexcept {
    if (s.state != session_state::established) {
        destroy(s);
        return;
    }
    // What the session said before it ended reaches the engine before the end does.
    deliver();
    if (notify_peer && (s.ssl != nullptr || restore(s))) wolfSSL_shutdown(s.ssl);
    const tern_peer p = s.peer();
    env_.sink->enter(index_, [&](datagram_sink_v1* sink) {
        if (sink != nullptr) sink->on_session_end(index_, &p);
    });
    env_.m.ended[static_cast<size_t>(why)].inc();
    env_.m.sessions.add(-1);
    if (s.cid_len != 0) env_.m.cid_sessions.add(-1);  // established: it negotiated its CID
    if (s.blob != nullptr) env_.m.compact_sessions.add(-1);
    --established_;
    destroy(s);
}

void shard::cid_unindex(session& s) noexcept {
    if (s.cid_len == 0) return;
    by_cid_.erase(&s);
    s.cid_len = 0;
}

// A session found by its Connection ID whose authenticated record came from a new address
// (io.cpp, follow): responses go there from now on.
void shard::move_to(session& s, const tern_endpoint& from) noexcept {
    if (s.indexed_by_addr) by_addr_.erase(&s);
    s.addr = from;
    // Found by its CID, the session needs the address index only for what comes without
    // one (a new ClientHello from there replaces it). A session already at that address
    // keeps its place: a peer with keys of its own cannot take another device's address
    // away from it by sending from (or spoofing) that address.
    s.indexed_by_addr = false;
    try {
        session* there = by_addr_.find(key_of(from));
        if (there == nullptr) by_addr_.put(&s);
        s.indexed_by_addr = there == nullptr || there == &s;
    } catch (...) {
    }
    move_source(s, from);
    // wolfSSL keeps the peer's address for what it derives from it (cookies, and the
    // exported state, which a CID session never uses): kept true all the same.
    if (s.ssl != nullptr) {
        sockaddr_storage sa;
        const socklen_t len = udp_io::to_sockaddr(from, family_, sa);
        if (len != 0) wolfSSL_dtls_set_peer(s.ssl, &sa, len);
    }
    env_.m.cid_address_changes.inc();
}

void shard::move_source(session& s, const tern_endpoint& from) noexcept {
    // The session counts against the source it is at now. It proved its keys, so the new
    // source neither spends a handshake token on it nor refuses it at its caps; the old
    // source goes idle when this was its last session.
    if (!sources_on_) return;
    source_entry* to = source_for(from);  // erases only sources without a session
    source_entry* old = s.src;
    if (to == old) return;
    const bool hs = s.state == session_state::handshake;
    if (old != nullptr) {
        if (hs) {
            src_unlink(old->hs, s);
            --old->handshakes;
        } else {
            src_unlink(s.anonymous ? old->anon : old->known, s);
        }
    }
    s.src = to;
    if (to != nullptr) {
        source_busy(*to);
        if (hs) {
            src_push(to->hs, s);
            ++to->handshakes;
        } else {
            src_push(s.anonymous ? to->anon : to->known, s);
        }
        ++to->sessions;
    }
    if (old != nullptr && --old->sessions == 0) source_idle(*old);
}

void shard::end_idle_sessions() noexcept {
    const uint64_t idle_ns = env_.cfg->inactivity_timeout_ms * ms;
    while (known_.oldest != nullptr && known_.oldest->last_ns + idle_ns <= now_)
        end(*known_.oldest, end_reason::inactivity, true);
    const uint64_t anon_ns = std::min(idle_ns, anon_idle_ns_);
    while (anon_.oldest != nullptr && anon_.oldest->last_ns + anon_ns <= now_)
        end(*anon_.oldest, anon_ns < idle_ns ? end_reason::anonymous_idle : end_reason::inactivity, true);
    // sources without a session whose bucket is full again are as good as unknown
    while (idle_oldest_ != nullptr && bucket_full(*idle_oldest_)) source_erase(*idle_oldest_);
}

uint64_t shard::idle_due() const noexcept {
    const uint64_t idle_ns = env_.cfg->inactivity_timeout_ms * ms;
    const uint64_t anon_ns = std::min(idle_ns, anon_idle_ns_);
    uint64_t next = UINT64_MAX;
    if (known_.oldest != nullptr) next = std::min(next, known_.oldest->last_ns + idle_ns);
    if (anon_.oldest != nullptr) next = std::min(next, anon_.oldest->last_ns + anon_ns);
    return next;
}

// ---- sources (per-source caps and handshake rate) ----------------------------------------

shard::addr_key shard::source_key(const tern_endpoint& ep) const noexcept {
    addr_key k;
    k.bytes[0] = static_cast<uint8_t>(ep.family);
    const bool v6 = ep.family == 6;
    if (v6) std::memcpy(k.bytes + 4, &ep.scope_id, 4);
    const uint32_t prefix = v6 ? env_.cfg->source_prefix_ipv6 : env_.cfg->source_prefix_ipv4;
    const uint32_t size = v6 ? 16 : 4;
    for (uint32_t i = 0; i < size && i * 8 < prefix; ++i) {
        const uint32_t bits = std::min<uint32_t>(8, prefix - i * 8);
        k.bytes[8 + i] = static_cast<uint8_t>(ep.addr[i] & static_cast<uint8_t>(0xff00u >> bits));
    }
    return k;
}

source_entry* shard::source_for(const tern_endpoint& from) noexcept {
    if (!sources_on_) return nullptr;
    const addr_key k = source_key(from);
    if (source_entry* e = sources_.find(k)) return e;
    // A new source: the table keeps at most idle_source_cap_ sources without a session
    // (the longest unused go first; each has a session otherwise, so the table is bounded).
    while (idle_sources_ >= idle_source_cap_ && idle_oldest_ != nullptr) source_erase(*idle_oldest_);
    void* slot = source_slab_.take();
    if (slot == nullptr) return nullptr;
    auto* fresh = new (slot) source_entry;
    std::memcpy(fresh->key, k.bytes, sizeof fresh->key);
    try {
        sources_.put(fresh);
    } catch (...) {
        fresh->~source_entry();
        source_slab_.give(fresh);
        return nullptr;
    }
    fresh->tokens = burst_;
    fresh->refilled_ns = now_;
    source_idle(*fresh);
    env_.m.sources.add(1);
    return fresh;
}

bool shard::take_token(source_entry& e) noexcept {
    if (e.idle) {  // used now: the last of the idle ones to be forgotten
        source_busy(e);
        source_idle(e);
    }
    if (tokens_per_ns_ <= 0) return true;
    e.tokens = std::min(burst_, e.tokens + static_cast<double>(now_ - e.refilled_ns) * tokens_per_ns_);
    e.refilled_ns = now_;
    if (e.tokens < 1.0) return false;
    e.tokens -= 1.0;
    return true;
}

bool shard::bucket_full(const source_entry& e) const noexcept {
    return tokens_per_ns_ <= 0 || e.tokens + static_cast<double>(now_ - e.refilled_ns) * tokens_per_ns_ >= burst_;
}

void shard::source_idle(source_entry& e) noexcept {
    if (e.idle) return;
    e.idle = true;
    e.idle_older = idle_newest_;
    e.idle_newer = nullptr;
    if (idle_newest_ != nullptr) idle_newest_->idle_newer = &e; else idle_oldest_ = &e;
    idle_newest_ = &e;
    ++idle_sources_;
}

void shard::source_busy(source_entry& e) noexcept {
    if (!e.idle) return;
    if (e.idle_older != nullptr) e.idle_older->idle_newer = e.idle_newer; else idle_oldest_ = e.idle_newer;
    if (e.idle_newer != nullptr) e.idle_newer->idle_older = e.idle_older; else idle_newest_ = e.idle_older;
    e.idle_older = e.idle_newer = nullptr;
    e.idle = false;
    --idle_sources_;
}

void shard::source_erase(source_entry& e) noexcept {
    // only sources without a session (none points at it)
    source_busy(e);
    sources_.erase(&e);
    e.~source_entry();
    source_slab_.give(&e);
    env_.m.sources.add(-1);
}

// ---- what the engine asks ----------------------------------------------------------------

tern_status shard::peer_auth(const tern_peer& peer, tern_peer_auth_sink sink, void* ctx) noexcept {
    session* s = find(peer.session);
    if (s == nullptr || s->state != session_state::established) return TERN_NOT_FOUND;
    const identity& who = s->ident ? *s->ident : *no_identity();
    tern_bytes chain[16];
    const size_t n = std::min<size_t>(who.chain_count(), 16);
    for (size_t i = 0; i < n; ++i) {
        const auto c = who.cert(i);
        chain[i] = tern_bytes{c.data(), c.size()};
    }
    tern_peer_auth auth{};
    auth.struct_size = sizeof auth;
    auth.kind = who.kind;
    auth.chain = n != 0 ? chain : nullptr;
    auth.chain_count = static_cast<uint32_t>(n);
    auth.psk_identity = sdk::to_str(who.psk);
    sink(ctx, &auth);
    return TERN_OK;
}

}  // namespace tern::dtls

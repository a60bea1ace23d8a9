// The shard's tables and life cycle, its peers (LRU eviction by trust and by source prefix),
// the send batch, the entry points from the engine, and applying cross-thread completions.
// The request stages are in shard_request.cpp, response building in shard_response.cpp; the
// behaviour over the tables is in the components (dedup, exchange, retransmit, observe,
// blockwise).
#include <algorithm>
#include <atomic>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"

namespace tern::coap {

shard::shard(engine& eng, uint32_t index, const shard_limits& l)
    : eng_(eng),
      env_(eng.env()),
      cfg_(eng.config()),
      m_(eng.metrics()),
      lim_(l),
      index_(index),
      queue_(l.completion_records) {
    const uint64_t seed = mix64(eng.seed() ^ mix64(uint64_t{index} + 1));
    rng_[0] = mix64(seed);
    rng_[1] = mix64(seed + 0x9e3779b97f4a7c15ull) | 1;
    hash_seed_ = mix64(seed ^ 0xc2b2ae3d27d4eb4full);
    pref_szx_ = szx_for(cfg_.preferred_block_size);

    peers_.init(l.peers);
    peer_index_.init(l.peers);
    prefixes_.init(l.peers);
    prefix_index_.init(l.peers);
    dedups_.init(l.dedup_entries);
    dedup_index_.init(l.dedup_entries);
    arena_cap_ = l.dedup_bytes & ~uint64_t{15};
    arena_ = make_zarray<uint8_t>(arena_cap_);
    exch_.init(l.exchanges);
    rels_.init(l.observations);
    notes_.init(l.notifications);
    note_chunks_.init(l.notification_bytes);
    tx_chunks_.init(l.retransmission_bytes);
    // What awaits an ACK or a deadline: exchanges, and relations with a CON notification or
    // final response out, each holding a note record. So the (peer, MID) index and the
    // heap's entries are sized for those, not for every relation; timer owners are
    // exchange slots, then relation slots.
    const uint32_t in_flight = l.exchanges + std::min(l.observations, l.notifications);
    mid_index_.init(in_flight);
    heap_.init(l.exchanges + l.observations, in_flight);
    xfers_.init(l.block1_transfers);
    xfer_index_.init(l.block1_transfers);
    pub_exch_gen_ = make_zarray<uint32_t>(l.exchanges);
    pub_exch_obs_ = make_zarray<uint64_t>(l.exchanges);
    pub_obs_gen_ = make_zarray<uint32_t>(l.observations);
    out_buf_ = make_zarray<uint8_t>(std::size_t{batch_cap} * l.datagram_capacity);
    scratch_ = make_zarray<uint8_t>(l.datagram_capacity);
    body_buf_ = make_zarray<uint8_t>(l.datagram_capacity);
}

shard::~shard() {
    for (uint32_t t = 0; t < xfers_.high_water(); ++t) {
        if (xfers_[t].buf == nullptr) continue;
        eng_.block1_bytes().fetch_sub(xfers_[t].cap, std::memory_order_relaxed);
        std::free(xfers_[t].buf);
        xfers_[t].buf = nullptr;
    }
    queue_.discard();
}

uint64_t shard::random() noexcept {
    // xorshift128+: fast, and good enough for MIDs and back-off jitter.
    uint64_t s1 = rng_[0];
    const uint64_t s0 = rng_[1];
    rng_[0] = s0;
    s1 ^= s1 << 23;
    rng_[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng_[1] + s0;
}

void shard::log(tern_log_level level, std::string_view msg) noexcept { env_.log(level, msg); }

// ---- peers -----------------------------------------------------------------------------

uint32_t shard::peer_hash(uint32_t transport, const tern_peer& p) const noexcept {
    uint8_t k[40];
    std::size_t n = 0;
    k[n++] = static_cast<uint8_t>(transport);
    if (p.session != 0) {
        k[n++] = 1;
        std::memcpy(k + n, &p.session, 8);
        n += 8;
    } else {
        k[n++] = 0;
        std::memcpy(k + n, &p.endpoint.family, 2);
        std::memcpy(k + n + 2, &p.endpoint.port, 2);
        std::memcpy(k + n + 4, &p.endpoint.scope_id, 4);
        n += 8;
        const std::size_t a = p.endpoint.family == 6 ? 16 : 4;
        std::memcpy(k + n, p.endpoint.addr, a);
        n += a;
    }
    return static_cast<uint32_t>(hash_bytes(k, n, hash_seed_));
}

bool shard::peer_same(const peer_rec& r, uint32_t transport, const tern_peer& p) const noexcept {
    if (r.transport != transport) return false;
    if (p.session != 0) return r.addr.session == p.session;
    if (r.addr.session != 0) return false;
    const tern_endpoint& a = r.addr.endpoint;
    const tern_endpoint& b = p.endpoint;
    return a.family == b.family && a.port == b.port && a.scope_id == b.scope_id &&
           std::memcmp(a.addr, b.addr, b.family == 6 ? 16 : 4) == 0;
}

uint32_t shard::peer_find(uint32_t transport, const tern_peer& p) const noexcept {
    return peer_index_.find(peer_hash(transport, p), [&](uint32_t s) {
        return peer_same(peers_[s], transport, p);
    });
}

uint64_t shard::prefix_key(uint32_t transport, const tern_peer& p) const noexcept {
    uint8_t key[18] = {};
    key[0] = static_cast<uint8_t>(transport);
    const tern_endpoint& e = p.endpoint;
    key[1] = static_cast<uint8_t>(e.family);
    const uint32_t bytes = e.family == 6 ? 16 : 4;
    const uint32_t bits = e.family == 6 ? cfg_.peer_prefix_v6 : cfg_.peer_prefix_v4;
    for (uint32_t i = 0; i < bytes && i * 8 < bits; ++i) {
        const uint32_t keep = bits - i * 8 >= 8 ? 8 : bits - i * 8;
        key[2 + i] = static_cast<uint8_t>(e.addr[i] & (0xFFu << (8 - keep)));
    }
    // Seeded and 64 bits wide: two networks share a record only by a collision nobody can
    // aim for.
    return hash_bytes(key, sizeof key, hash_seed_ ^ 0x70726566ull);
}

uint32_t shard::prefix_get(uint32_t transport, const tern_peer& p) noexcept {
    const uint64_t key = prefix_key(transport, p);
    const uint32_t h = static_cast<uint32_t>(key);
    uint32_t s = prefix_index_.find(h, [&](uint32_t i) { return prefixes_[i].key == key; });
    if (s != nil) return s;
    s = prefixes_.alloc();  // never nil: at most one prefix per peer
    prefix_rec& r = prefixes_[s];
    r.hash = h;
    r.key = key;
    r.count = 0;
    r.idle = slot_list{};
    prefix_index_.insert(h, s);
    return s;
}

void shard::idle_link(uint32_t p) noexcept {
    peer_rec& r = peers_[p];
    if (r.idle_listed) return;
    r.idle_listed = 1;
    idle_peers_[r.trusted].push_back(p, [this](uint32_t i) -> list_link& { return peers_[i].idle; });
    prefixes_[r.prefix].idle.push_back(p, [this](uint32_t i) -> list_link& { return peers_[i].pidle; });
}

void shard::idle_unlink(uint32_t p) noexcept {
    peer_rec& r = peers_[p];
    if (!r.idle_listed) return;
    r.idle_listed = 0;
    idle_peers_[r.trusted].remove(p, [this](uint32_t i) -> list_link& { return peers_[i].idle; });
    prefixes_[r.prefix].idle.remove(p, [this](uint32_t i) -> list_link& { return peers_[i].pidle; });
}

void shard::peer_touch(uint32_t p) noexcept {
    peers_[p].last_ns = now_;
    if (peers_[p].idle_listed) {  // to the back: least recently used first
        idle_unlink(p);
        idle_link(p);
    }
}

void shard::peer_trust(uint32_t p) noexcept {
    peer_rec& r = peers_[p];
    if (r.trusted) return;
    const bool listed = r.idle_listed;
    idle_unlink(p);
    r.trusted = 1;
    if (listed) idle_link(p);
}

void shard::peer_evict(uint32_t p) noexcept {
    // Reclaiming a peer before EXCHANGE_LIFETIME risks reusing a MID it saw, and its
    // dedup entries go with it.
    if (peers_[p].last_ns + cfg_.exchange_lifetime_ms() * 1000000 > now_)
        m_.inc(ctr::drop_peer_evicted);
    peer_free(p);
}

uint32_t shard::peer_get(uint32_t transport, const tern_peer& p) noexcept {
    const uint32_t h = peer_hash(transport, p);
    uint32_t s = peer_index_.find(h, [&](uint32_t i) { return peer_same(peers_[i], transport, p); });
    if (s != nil) {
        peer_rec& r = peers_[s];
        // A DTLS session keeps its identity when its address changes (Connection ID):
        // answers and notifications follow the current address.
        if (p.session != 0) r.addr.endpoint = p.endpoint;
        peer_touch(s);
        return s;
    }
    // One source network holds at most peers_per_prefix peers: past it, it recycles its
    // own least recently used evictable peer, never someone else's.
    if (lim_.peers_per_prefix < lim_.peers) {
        const uint64_t key = prefix_key(transport, p);
        const uint32_t pf = prefix_index_.find(static_cast<uint32_t>(key),
                                               [&](uint32_t i) { return prefixes_[i].key == key; });
        if (pf != nil && prefixes_[pf].count >= lim_.peers_per_prefix) {
            if (prefixes_[pf].idle.empty()) {
                m_.inc(ctr::shed_peers_per_prefix);
                return nil;
            }
            m_.inc(ctr::peers_recycled_prefix);
            peer_evict(prefixes_[pf].idle.head);
        }
    }
    if (peers_.full()) {
        // The least recently used evictable peer, untrusted ones first.
        const uint32_t victim = !idle_peers_[0].empty() ? idle_peers_[0].head : idle_peers_[1].head;
        if (victim == nil) {
            m_.inc(ctr::shed_peers);
            return nil;
        }
        peer_evict(victim);
    }
    s = peers_.alloc();
    peer_rec& r = peers_[s];
    r.addr = p;
    r.transport = static_cast<uint8_t>(transport);
    r.last_ns = now_;
    r.next_mid = static_cast<uint16_t>(random());
    r.dedups = slot_list{};
    r.exchanges = slot_list{};
    r.relations = slot_list{};
    r.transfers = 0;
    r.indexed = 1;
    // A DTLS session's address was proven by its handshake.
    r.trusted = p.session != 0 ? 1 : 0;
    r.late_ping = 0;
    r.prefix = prefix_get(transport, p);
    ++prefixes_[r.prefix].count;
    peer_index_.insert(h, s);
    idle_link(s);
    m_.add(gge::peers, 1);
    return s;
}

void shard::peer_ref(uint32_t p) noexcept {
    if (peers_[p].refs++ == 0) idle_unlink(p);
}

void shard::peer_unref(uint32_t p) noexcept {
    peer_rec& r = peers_[p];
    if (--r.refs != 0) return;
    if (!r.indexed) {
        peer_free(p);  // its session ended: nothing can reach it any more
        return;
    }
    r.last_ns = now_;
    idle_link(p);
}

void shard::peer_free(uint32_t p) noexcept {
    // Its dedup entries are keyed by the slot number: they cannot outlive it.
    while (!peers_[p].dedups.empty()) dedup_.remove(peers_[p].dedups.head, false);
    peer_rec& r = peers_[p];
    if (r.indexed) peer_index_.erase(peer_hash(r.transport, r.addr), p);
    idle_unlink(p);
    prefix_rec& pr = prefixes_[r.prefix];
    if (--pr.count == 0) {
        prefix_index_.erase(pr.hash, r.prefix);
        prefixes_.free(r.prefix);
    }
    peers_.free(p);
    m_.add(gge::peers, -1);
}

uint16_t shard::next_mid(uint32_t peer) noexcept {
    if (peer == nil) return static_cast<uint16_t>(random());
    return peers_[peer].next_mid++;
}

void shard::peer_drop_state(uint32_t p) noexcept {
    // Exchanges first: they release their Observe reservations.
    while (!peers_[p].exchanges.empty()) {
        const uint32_t x = peers_[p].exchanges.head;
        if (exch_[x].state == exch_pending) m_.request(exch_[x].method, 0);
        exchange_.close(x);
    }
    observe_.end_peer(p, TERN_COAP_END_SESSION, nil);
    while (!peers_[p].dedups.empty()) dedup_.remove(peers_[p].dedups.head, false);
    for (uint32_t t = 0; t < xfers_.high_water(); ++t)
        if (xfers_[t].buf != nullptr && xfers_[t].peer == p) blockwise_.discard(t);
    peer_rec& r = peers_[p];
    if (r.indexed) {
        peer_index_.erase(peer_hash(r.transport, r.addr), p);
        r.indexed = 0;
    }
    // What is left (final responses of ended relations awaiting their ACK) lets go of the
    // peer when it finishes.
    if (r.refs == 0) peer_free(p);
}

void shard::on_session_end(uint32_t transport, const tern_peer* peer) noexcept {
    if (peer == nullptr || stopped_) return;
    scope sc(*this);
    const uint32_t p = peer_find(transport, *peer);
    if (p != nil) peer_drop_state(p);
}

// ---- coap_engine_v1 on the owning shard ----------------------------------------------------

tern_status shard::answer(uint64_t id, const tern_coap_response& r,
                          uint64_t* out_observation) noexcept {
    scope sc(*this);
    return exchange_.answer(id, r, out_observation);
}

tern_status shard::notify(uint64_t id, const tern_coap_response& r, uint64_t cookie,
                          uint32_t flags) noexcept {
    scope sc(*this);
    return observe_.notify(id, r, cookie, flags);
}

tern_status shard::end_observation(uint64_t id, const tern_coap_response* final_response) noexcept {
    scope sc(*this);
    return observe_.end_observation(id, final_response);
}

// ---- send batch ----------------------------------------------------------------------------

std::span<uint8_t> shard::out_slot() noexcept {
    if (out_n_ == batch_cap) flush();
    return {&out_buf_[std::size_t{out_n_} * lim_.datagram_capacity], lim_.datagram_capacity};
}

void shard::out_commit(uint32_t transport, const tern_peer& to, std::size_t len) noexcept {
    out_meta_[out_n_] = out_meta{transport, static_cast<uint32_t>(len), to};
    ++out_n_;
}

void shard::flush() noexcept {
    uint32_t i = 0;
    while (i < out_n_) {
        // One send per transport, in the order the first datagram of each was queued.
        const uint32_t t = out_meta_[i].transport;
        uint32_t k = 0;
        for (uint32_t j = i; j < out_n_; ++j) {
            if (out_meta_[j].transport != t) continue;
            out_dg_[k].peer = out_meta_[j].peer;
            out_dg_[k].data = tern_bytes{&out_buf_[std::size_t{j} * lim_.datagram_capacity],
                                         out_meta_[j].len};
            ++k;
            out_meta_[j].transport = UINT32_MAX;  // sent
        }
        env_.send(index_, t, out_dg_.data(), k);
        while (i < out_n_ && out_meta_[i].transport == UINT32_MAX) ++i;
    }
    out_n_ = 0;
}

void shard::send_empty(uint32_t transport, const tern_peer& to, msg_type type,
                       uint16_t mid) noexcept {
    const auto e = empty_message(type, mid);
    std::span<uint8_t> s = out_slot();
    std::memcpy(s.data(), e.data(), e.size());
    out_commit(transport, to, e.size());
}

// ---- the timer ------------------------------------------------------------------------------

void shard::on_timer() noexcept {
    if (stopped_) return;
    scope sc(*this);
    armed_ = 0;
    retransmit_.run_due();
}

// ---- completions --------------------------------------------------------------------------

void shard::drain() noexcept {
    if (stopped_) {
        queue_.discard();
        return;
    }
    scope sc(*this);
    queue_.drain([this](completion& c) { apply(c); });
}

void shard::apply(completion& c) noexcept {
    tern_status st = TERN_OK;
    if (c.kind == completion::op::end) {
        if (c.has_response()) {
            tern_coap_response r = c.response(completion_opts_.data());
            c.disown_body();
            st = end_observation(c.id, &r);
        } else {
            st = end_observation(c.id, nullptr);
        }
    } else {
        tern_coap_response r = c.response(completion_opts_.data());
        c.disown_body();
        st = c.kind == completion::op::respond ? answer(c.id, r, nullptr)
                                               : notify(c.id, r, c.cookie, c.notify_flags);
    }
    if (st == TERN_NOT_FOUND) m_.inc(ctr::drop_late_completion);
}

bool shard::exchange_maybe_live(uint64_t id, uint64_t* observation) const noexcept {
    const uint32_t slot = id_slot(id);
    if (slot >= lim_.exchanges) return false;
    std::atomic_ref<uint32_t> gen(pub_exch_gen_[slot]);
    const uint32_t g1 = gen.load(std::memory_order_acquire);
    if (g1 != id_gen(id) || g1 == 0) return false;
    if (observation != nullptr) {
        *observation = std::atomic_ref<uint64_t>(pub_exch_obs_[slot]).load(std::memory_order_acquire);
        if (gen.load(std::memory_order_acquire) != g1) return false;
    }
    return true;
}

bool shard::observation_maybe_live(uint64_t id) const noexcept {
    const uint32_t slot = id_slot(id);
    if (slot >= lim_.observations) return false;
    const uint32_t g =
        std::atomic_ref<uint32_t>(pub_obs_gen_[slot]).load(std::memory_order_acquire);
    return g != 0 && g == id_gen(id);
}

// ---- start-stop -----------------------------------------------------------------------------

void shard::set_routes(const route_table* routes, std::size_t well_known_size) {
    routes_ = routes;
    if (well_known_size > well_known_cap_) {
        well_known_buf_ = make_zarray<char>(well_known_size);
        well_known_cap_ = well_known_size;
    }
}

void shard::remove_resource(const resource_entry* res) noexcept {
    if (stopped_) return;
    scope sc(*this);
    for (uint32_t x = 0; x < exch_.high_water(); ++x) {
        exchange_rec& e = exch_[x];
        if (e.state == exch_free || e.res != res) continue;
        if (e.state == exch_pending) {
            m_.request(e.method, 0);
            exchange_.close(x);
        } else {
            e.res = nullptr;  // answered already: only its ACK is awaited
        }
    }
    for (uint32_t r = 0; r < rels_.high_water(); ++r) {
        relation_rec& rel = rels_[r];
        if (rel.res != res) continue;
        if (rel.state == rel_live || rel.state == rel_ending)
            observe_.end(r, TERN_COAP_END_SHUTDOWN, true, TERN_COAP_NOTIFY_DROPPED, nil);
        else if (rel.state == rel_closing)
            rel.res = nullptr;
    }
}

void shard::shutdown() noexcept {
    if (stopped_) return;
    stopped_ = true;
    queue_.discard();
    for (uint32_t t = 0; t < xfers_.high_water(); ++t)
        if (xfers_[t].buf != nullptr) blockwise_.discard(t);
    // The state is abandoned, not unwound (no handler is called during a stop): take it
    // out of the gauges.
    int64_t live = 0;
    for (uint32_t r = 0; r < rels_.high_water(); ++r)
        if (rels_[r].state == rel_live || rels_[r].state == rel_ending) ++live;
    m_.add(gge::observations, -live);
    m_.add(gge::exchanges, -static_cast<int64_t>(exch_.used()));
    m_.add(gge::peers, -static_cast<int64_t>(peers_.used()));
    for (std::size_t i = 0; i < mem_reported_.bytes.size(); ++i)
        m_.memory(static_cast<mem>(i), -mem_reported_.bytes[i], -mem_reported_.entries[i]);
    mem_reported_ = table_figures{};
    routes_ = nullptr;
}

shard::counts shard::census() const noexcept {
    counts c{};
    c.peers = peers_.used();
    c.exchanges = exch_.used();
    c.relations = rels_.used();
    c.dedup = dedups_.used();
    c.transfers = xfers_.used();
    c.notes = notes_.used();
    c.idle_peers = idle_peers_[0].size + idle_peers_[1].size;
    c.heap = heap_.size();
    c.note_chunks_free = note_chunks_.free_chunks();
    c.tx_chunks_free = tx_chunks_.free_chunks();
    return c;
}

relation_cost shard::cost_of_relation() noexcept {
    relation_cost c{};
    c.record = sizeof(relation_rec);
    c.free_list = sizeof(uint32_t);
    c.published = sizeof(uint32_t);
    c.timer = sizeof(uint32_t);
    return c;
}

}  // namespace tern::coap

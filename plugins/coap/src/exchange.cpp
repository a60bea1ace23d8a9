#include "exchange.hpp"

#include <atomic>
#include <cstring>

#include "shard_impl.hpp"

namespace tern::coap {

uint32_t exchange::open(const reply_to& to, const resource_entry* res, uint32_t rel) noexcept {
    const uint32_t x = s_.exch_.alloc();
    if (x == nil) return nil;
    const uint32_t p = to.peer;
    exchange_rec& e = s_.exch_[x];
    s_.amp_.request_len[x] = static_cast<uint16_t>(to.request_len);
    e.peer = p;
    e.arrival_ns = s_.now_;
    e.dedup_seq = to.dedup_seq;
    e.res = res;
    e.obs = rel;
    e.obs_gen = rel != nil ? s_.rels_[rel].gen : 0;
    e.tx_chunks = nil;
    e.held_chunks = nil;
    e.mid = to.mid;
    e.state = exch_pending;
    e.type = to.type;
    e.method = to.method;
    e.tkl = static_cast<uint8_t>(to.token.size());
    std::memcpy(e.token, to.token.data(), to.token.size());
    e.no_response = to.no_response;
    e.flags = static_cast<uint8_t>((to.block2 ? xf_block2 : 0) | (to.size2 ? xf_size2 : 0) |
                                   (to.block1 ? xf_block1 : 0));
    if (to.block2) {
        e.block2_num = to.block2_num;
        e.block2_szx = to.block2_szx;
    }
    e.block1_num = to.block1_num;
    e.block1_szx = to.block1_szx;
    if (dedup_rec* d = s_.dedup_.get(to.dedup_seq)) d->exchange = x;
    s_.pending_.push_back(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].pending_link; });
    if (to.type == static_cast<uint8_t>(msg_type::con) && s_.cfg_.piggyback_timeout_ms != 0) {
        s_.piggy_.push_back(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].piggy_link; });
        e.in_piggy = 1;
    }
    s_.peers_[p].exchanges.push_back(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].peer_link; });
    s_.peer_ref(p);
    s_.m_.add(gge::exchanges, 1);
    std::atomic_ref<uint64_t>(s_.pub_exch_obs_[x])
        .store(rel != nil ? make_id(s_.index_, rel, s_.rels_[rel].gen) : 0, std::memory_order_relaxed);
    std::atomic_ref<uint32_t>(s_.pub_exch_gen_[x]).store(e.gen, std::memory_order_release);
    return x;
}

void exchange::close(uint32_t x) noexcept {
    exchange_rec& e = s_.exch_[x];
    unqueue(x);
    if (e.state == exch_awaiting_ack) {
        s_.retransmit_.stop(x, e.peer, e.tx_mid);
        s_.tx_chunks_.release(e.tx_chunks);
    } else if (e.state == exch_held) {
        s_.amp_unhold(x, nil);
    }
    if (e.obs != nil && s_.rels_[e.obs].gen == e.obs_gen && s_.rels_[e.obs].state == rel_reserved)
        s_.observe_.cancel_reservation(e.obs);
    if (dedup_rec* d = s_.dedup_.get(e.dedup_seq); d != nullptr && d->exchange == x) d->exchange = nil;
    const uint32_t p = e.peer;
    s_.peers_[p].exchanges.remove(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].peer_link; });
    std::atomic_ref<uint32_t>(s_.pub_exch_gen_[x]).store(0, std::memory_order_release);
    std::atomic_ref<uint64_t>(s_.pub_exch_obs_[x]).store(0, std::memory_order_relaxed);
    s_.exch_.free(x);
    s_.m_.add(gge::exchanges, -1);
    s_.peer_unref(p);
}

void exchange::unqueue(uint32_t x) noexcept {
    exchange_rec& e = s_.exch_[x];
    if (e.state == exch_pending)
        s_.pending_.remove(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].pending_link; });
    if (e.in_piggy) {
        s_.piggy_.remove(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].piggy_link; });
        e.in_piggy = 0;
    }
}

void exchange::ack_now(uint32_t x) noexcept {
    exchange_rec& e = s_.exch_[x];
    if (e.in_piggy) {
        s_.piggy_.remove(x, [this](uint32_t i) -> list_link& { return s_.exch_[i].piggy_link; });
        e.in_piggy = 0;
    }
    if (e.acked) return;
    e.acked = 1;
    const peer_rec& p = s_.peers_[e.peer];
    s_.send_empty(p.transport, p.addr, msg_type::ack, e.mid);
    s_.dedup_.mark(e.dedup_seq, dedup_acked);
}

reply_to exchange::reply_of(uint32_t x) noexcept {
    const exchange_rec& e = s_.exch_[x];
    reply_to to;
    to.peer = e.peer;
    to.transport = s_.peers_[e.peer].transport;
    to.addr = &s_.peers_[e.peer].addr;
    to.token = std::span<const uint8_t>{e.token, e.tkl};
    to.mid = e.mid;
    to.type = e.type;
    to.method = e.method;
    to.acked = e.acked != 0;
    to.no_response = e.no_response;
    to.dedup_seq = e.dedup_seq;
    to.block2 = (e.flags & xf_block2) != 0;
    to.block2_num = e.block2_num;
    to.block2_szx = e.block2_szx;
    to.size2 = (e.flags & xf_size2) != 0;
    to.block1 = (e.flags & xf_block1) != 0;
    to.block1_num = e.block1_num;
    to.block1_szx = e.block1_szx;
    to.request_len = s_.amp_.request_len[x];
    return to;
}

// ---- answers ----------------------------------------------------------------------------------

[[gnu::flatten]] tern_status exchange::answer(uint64_t id, const tern_coap_response& r,
                                              uint64_t* out_observation) noexcept {
    // A handler's 2.xx (never the engine's own 2.31 Continue or /.well-known/core, which
    // answer anyone) shows that the peer holds valid credentials, which a spoofed source
    // cannot: its dedup entries are kept in preference to unproven peers' and it is
    // evicted last.
    const uint32_t x = id_slot(id);
    uint32_t peer = nil;
    uint32_t peer_gen = 0;
    uint64_t dseq = 0;
    if (id_shard(id) == s_.index_ && x < s_.lim_.exchanges && s_.exch_[x].gen == id_gen(id) &&
        s_.exch_[x].state == exch_pending) {
        peer = s_.exch_[x].peer;
        peer_gen = s_.peers_[peer].gen;
        dseq = s_.exch_[x].dedup_seq;
    }
    const tern_status st = respond(id, r, out_observation);
    if (st == TERN_OK && peer != nil && s_.peers_[peer].gen == peer_gen &&
        code_class_of(r.code) == 2 && r.code != code::continue_) {
        s_.peer_trust(peer);
        if (dedup_rec* e = s_.dedup_.get(dseq))
            s_.dedup_.relist(static_cast<uint32_t>(dseq), static_cast<uint8_t>(2 + (e->list & 1)));
    }
    return st;
}

tern_status exchange::respond(uint64_t id, const tern_coap_response& r, uint64_t* out_observation) noexcept {
    if (out_observation != nullptr) *out_observation = 0;
    const uint32_t x = id_slot(id);
    if (s_.stopped_ || id_shard(id) != s_.index_ || x >= s_.exch_.high_water() || s_.exch_[x].gen != id_gen(id) ||
        s_.exch_[x].state != exch_pending) {
        if (r.body != nullptr) r.body->release();
        return TERN_NOT_FOUND;
    }
    if (!response_valid(r)) {
        if (r.body != nullptr) r.body->release();
        return TERN_INVALID_ARGUMENT;
    }
    const uint32_t cls = code_class_of(r.code);
    exchange_rec& e = s_.exch_[x];
    s_.m_.latency(static_cast<double>(s_.now_ - e.arrival_ns) * 1e-9);

    reply_to to = reply_of(x);
    uint32_t rel = nil;
    if (e.obs != nil && s_.rels_[e.obs].gen == e.obs_gen && s_.rels_[e.obs].state == rel_reserved) {
        if ((r.flags & TERN_COAP_RESPONSE_OBSERVE) != 0 && cls == 2) {
            rel = e.obs;
            s_.observe_.activate(rel);
            // Activation may have ended an older twin relation, calling its handler.
            if (s_.exch_[x].gen != id_gen(id) || s_.exch_[x].state != exch_pending) {
                if (r.body != nullptr) r.body->release();
                return TERN_OK;
            }
            to.observe = s_.rels_[rel].seq;
            if (out_observation != nullptr) *out_observation = make_id(s_.index_, rel, s_.rels_[rel].gen);
        } else {
            s_.observe_.cancel_reservation(e.obs);
        }
        e.obs = rel;
    }
    if ((r.flags & TERN_COAP_RESPONSE_SILENT) != 0) {
        if (e.type == static_cast<uint8_t>(msg_type::con) && !e.acked) ack_now(x);
        if (r.body != nullptr) r.body->release();
        s_.m_.request(e.method, 0);
        close(x);
        return TERN_OK;
    }
    const uint32_t rgen = rel != nil ? s_.rels_[rel].gen : 0;
    if (s_.send_response(to, r, x) == shard::sent::done) close(x);
    // The response actually sent was an error (block out of range, unencodable): no
    // relation can live on it.
    if (rel != nil && s_.rels_[rel].gen == rgen && code_class_of(s_.last_code_) != 2 &&
        (s_.rels_[rel].state == rel_live || s_.rels_[rel].state == rel_ending))
        s_.observe_.end(rel, TERN_COAP_END_ERROR, true, TERN_COAP_NOTIFY_DROPPED, nil);
    return TERN_OK;
}

}  // namespace tern::coap

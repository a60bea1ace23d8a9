// Observe (RFC 7641): relations, notification queues (one CON in flight, FIFO, bounded,
// mergeable), NON notifications with periodic CON liveness checks (§4.5), and the ways a
// relation ends.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"

namespace tern::coap {

uint32_t shard::relation_hash(uint32_t peer, std::span<const uint8_t> token) const noexcept {
    return static_cast<uint32_t>(
        hash_bytes(token.data(), token.size(), hash_seed_ ^ mix64(uint64_t{peer} + 0x51)));
}

uint32_t shard::relation_find(uint32_t peer, std::span<const uint8_t> token) const noexcept {
    return rel_index_.find(relation_hash(peer, token), [&](uint32_t r) {
        const relation_rec& x = rels_[r];
        return x.peer == peer && x.tkl == token.size() &&
               (token.empty() || std::memcmp(x.token, token.data(), token.size()) == 0);
    });
}

void shard::relation_activate(uint32_t r) noexcept {
    {
        const relation_rec& rel = rels_[r];
        // Two registrations with one token raced: the later one wins (RFC 7641 §4.1).
        const uint32_t old = relation_find(rel.peer, std::span<const uint8_t>{rel.token, rel.tkl});
        if (old != nil) relation_end(old, TERN_COAP_END_REPLACED, true, TERN_COAP_NOTIFY_DROPPED, nil);
    }
    relation_rec& rel = rels_[r];
    rel.state = rel_live;
    rel.hash = relation_hash(rel.peer, std::span<const uint8_t>{rel.token, rel.tkl});
    rel_index_.insert(rel.hash, r);
    rel.last_con_ns = now_;
    std::atomic_ref<uint32_t>(pub_obs_gen_[r]).store(rel.gen, std::memory_order_release);
    m_.add(gge::observations, 1);
}

void shard::relation_free(uint32_t r) noexcept {
    const uint32_t p = rels_[r].peer;
    rels_.free(r);
    peer_unref(p);
}

void shard::relation_release_reservation(uint32_t r) noexcept {
    relation_rec& rel = rels_[r];
    std::atomic_ref<uint32_t>(pub_obs_gen_[r]).store(0, std::memory_order_release);
    peers_[rel.peer].relations.remove(r, [this](uint32_t i) -> list_link& { return rels_[i].peer_link; });
    --peers_[rel.peer].observations;
    relation_free(r);
}

void shard::note_free(uint32_t n) noexcept {
    note_chunks_.release(notes_[n].chunks);
    notes_.free(n);
}

void shard::note_result(const resource_entry* res, uint64_t id, uint64_t cookie,
                        int32_t result) noexcept {
    switch (result) {
    case TERN_COAP_NOTIFY_DELIVERED: m_.inc(ctr::notify_delivered); break;
    case TERN_COAP_NOTIFY_TIMEOUT: m_.inc(ctr::notify_timeout); break;
    case TERN_COAP_NOTIFY_RESET: m_.inc(ctr::notify_reset); break;
    case TERN_COAP_NOTIFY_MERGED: m_.inc(ctr::notify_merged); break;
    default: m_.inc(ctr::notify_dropped); break;
    }
    if (res != nullptr) res->handler->on_notification_result(id, cookie, result);
}

void shard::relation_end(uint32_t r, int32_t reason, bool call_end, int32_t inflight_result,
                         uint32_t final_note) noexcept {
    relation_rec& rel = rels_[r];
    if (rel.state != rel_live && rel.state != rel_ending) {
        if (final_note != nil) note_free(final_note);
        return;
    }
    const resource_entry* res = rel.res;
    const uint64_t id = make_id(index_, r, rel.gen);
    const uint32_t p = rel.peer;
    // Detach first: whatever the callbacks below call sees the relation gone.
    rel_index_.erase(rel.hash, r);
    std::atomic_ref<uint32_t>(pub_obs_gen_[r]).store(0, std::memory_order_release);
    m_.add(gge::observations, -1);
    peers_[p].relations.remove(r, [this](uint32_t i) -> list_link& { return rels_[i].peer_link; });
    --peers_[p].observations;
    rel.state = rel_closing;  // not live, not findable, slot still held
    if (rel.inflight != nil) {
        tx_stop(lim_.exchanges + r, p, rel.tx_mid);
        const uint32_t n = rel.inflight;
        const uint64_t cookie = notes_[n].cookie;
        note_free(n);
        rels_[r].inflight = nil;
        note_result(res, id, cookie, inflight_result);
    }
    while (rels_[r].q_head != nil) {
        const uint32_t n = rels_[r].q_head;
        rels_[r].q_head = notes_[n].next;
        --rels_[r].q_count;
        const uint64_t cookie = notes_[n].cookie;
        note_free(n);
        note_result(res, id, cookie, TERN_COAP_NOTIFY_DROPPED);
    }
    rels_[r].q_tail = nil;
    if (call_end && res != nullptr) res->handler->on_observation_end(id, reason);

    relation_rec& rl = rels_[r];
    if (final_note == nil) {
        relation_free(r);
        return;
    }
    // end_observation's final response: no Observe option, the registration's type.
    const uint16_t mid = next_mid(p);
    notes_[final_note].mid = mid;
    if (rl.type == static_cast<uint8_t>(msg_type::con)) {
        rl.inflight = final_note;
        rl.tx_mid = mid;
        rl.attempts = 0;
        rl.res = nullptr;
        send_note(r, final_note, true);
        tx_start(lim_.exchanges + r, p, mid, rl.tx_timeout_ms);
    } else {
        send_note(r, final_note, false);
        note_free(final_note);
        relation_free(r);
    }
}

void shard::peer_relations_end(uint32_t peer, int32_t reason, uint32_t timed_out) noexcept {
    for (;;) {
        uint32_t r = nil;
        for (uint32_t i = peers_[peer].relations.head; i != nil; i = rels_[i].peer_link.next) {
            if (rels_[i].state == rel_live || rels_[i].state == rel_ending) {
                r = i;
                break;
            }
        }
        if (r == nil) return;
        relation_end(r, reason, true,
                     r == timed_out ? TERN_COAP_NOTIFY_TIMEOUT : TERN_COAP_NOTIFY_DROPPED, nil);
    }
}

void shard::send_note(uint32_t r, uint32_t n, bool con) noexcept {
    const relation_rec& rel = rels_[r];
    const note_rec& note = notes_[n];
    peer_rec& p = peers_[rel.peer];
    const std::span<uint8_t> slot = out_slot();
    uint8_t* d = slot.data();
    d[0] = static_cast<uint8_t>(0x40u | (con ? 0u : 1u) << 4 | rel.tkl);
    d[1] = note.code;
    d[2] = static_cast<uint8_t>(note.mid >> 8);
    d[3] = static_cast<uint8_t>(note.mid);
    std::memcpy(d + 4, rel.token, rel.tkl);
    std::size_t pos = 4u + rel.tkl;
    if ((note.flags & nf_final) != 0) {
        note_chunks_.read(note.chunks, 0, d + pos, note.len);
        pos += note.len;
    } else {
        note_chunks_.read(note.chunks, 0, d + pos, note.obs_at);
        pos += note.obs_at;
        std::array<uint8_t, 8> v{};
        const std::size_t k = encode_uint(note.seq, v);
        d[pos++] = static_cast<uint8_t>(((opt::observe - note.prev_opt) << 4) | k);
        std::memcpy(d + pos, v.data(), k);
        pos += k;
        note_chunks_.read(note.chunks, note.suffix_at, d + pos, note.len - note.suffix_at);
        pos += note.len - note.suffix_at;
    }
    out_commit(p.transport, p.addr, pos);
    p.last_ns = now_;
}

uint32_t shard::make_note(uint32_t r, const tern_coap_response& resp, uint64_t cookie,
                          uint8_t flags, bool& no_memory) noexcept {
    no_memory = false;
    const relation_rec& rel = rels_[r];
    // Room for the real Observe value (up to 3 bytes) where the template has a 0-byte one.
    writer w(std::span<uint8_t>{scratch_.get(), lim_.datagram_capacity - 4});
    w.header(msg_type::con, resp.code, 0, std::span<const uint8_t>{rel.token, rel.tkl});
    build_opts o;
    o.observe = (flags & nf_final) != 0 ? -1 : 0;
    if (build(w, resp.code, resp, o) != built::ok) return nil;
    const std::size_t hdr = 4u + rel.tkl;
    const std::size_t len = w.size() - hdr;
    const uint32_t n = notes_.alloc();
    if (n == nil) {
        no_memory = true;
        return nil;
    }
    const uint32_t chunks = note_chunks_.store(scratch_.get() + hdr, len);
    if (chunks == nil) {
        notes_.free(n);
        no_memory = true;
        return nil;
    }
    note_rec& note = notes_[n];
    note.next = nil;
    note.cookie = cookie;
    note.chunks = chunks;
    note.len = static_cast<uint16_t>(len);
    if ((flags & nf_final) == 0) {
        note.obs_at = static_cast<uint16_t>(o.obs_at - hdr);
        note.suffix_at = static_cast<uint16_t>(o.suffix_at - hdr);
        note.prev_opt = static_cast<uint8_t>(o.prev_opt);
    }
    note.code = resp.code;
    note.flags = flags;
    if (o.first_block) m_.inc(ctr::block_out);
    return n;
}

void shard::pump(uint32_t r) noexcept {
    if ((rels_[r].flags & rf_pumping) != 0) return;
    const uint32_t gen = rels_[r].gen;
    rels_[r].flags |= rf_pumping;
    auto alive = [&] {
        const relation_rec& x = rels_[r];
        return x.gen == gen && (x.state == rel_live || x.state == rel_ending);
    };
    while (alive() && rels_[r].inflight == nil && rels_[r].q_head != nil) {
        relation_rec& rl = rels_[r];
        const uint32_t n = rl.q_head;
        rl.q_head = notes_[n].next;
        if (rl.q_head == nil) rl.q_tail = nil;
        --rl.q_count;
        rl.seq = (rl.seq + 1) & 0xFFFFFFu;
        notes_[n].seq = rl.seq;
        bool con = rl.type == static_cast<uint8_t>(msg_type::con);
        // RFC 7641 §4.5: a NON observer is asked to acknowledge now and then, so a peer
        // that went away is noticed.
        if (!con && cfg_.observe_con_every != 0 && rl.non_since_con >= cfg_.observe_con_every)
            con = true;
        if (!con && cfg_.observe_con_period_ms != 0 &&
            now_ - rl.last_con_ns >= cfg_.observe_con_period_ms * 1000000)
            con = true;
        const uint16_t mid = next_mid(rl.peer);
        notes_[n].mid = mid;
        send_note(r, n, con);
        if (con) {
            rl.inflight = n;
            rl.tx_mid = mid;
            rl.attempts = 0;
            rl.non_since_con = 0;
            rl.last_con_ns = now_;
            tx_start(lim_.exchanges + r, rl.peer, mid, rl.tx_timeout_ms);
            break;
        }
        rl.last_non_mid = mid;
        rl.flags |= rf_has_non_mid;
        if (rl.non_since_con != 0xFFFF) ++rl.non_since_con;
        const uint64_t cookie = notes_[n].cookie;
        const bool error = code_class_of(notes_[n].code) != 2;
        note_free(n);
        const resource_entry* res = rl.res;
        note_result(res, make_id(index_, r, gen), cookie, TERN_COAP_NOTIFY_DELIVERED);
        if (error && alive()) relation_end(r, TERN_COAP_END_ERROR, true, TERN_COAP_NOTIFY_DROPPED, nil);
    }
    if (rels_[r].gen == gen) rels_[r].flags &= static_cast<uint8_t>(~rf_pumping);
}

void shard::relation_acked(uint32_t r) noexcept {
    relation_rec& rel = rels_[r];
    const uint32_t n = rel.inflight;
    tx_stop(lim_.exchanges + r, rel.peer, rel.tx_mid);
    rel.inflight = nil;
    if (rel.state == rel_closing) {
        note_free(n);
        relation_free(r);
        return;
    }
    const uint64_t cookie = notes_[n].cookie;
    const bool error = code_class_of(notes_[n].code) != 2;
    note_free(n);
    const uint32_t gen = rel.gen;
    note_result(rel.res, make_id(index_, r, gen), cookie, TERN_COAP_NOTIFY_DELIVERED);
    if (rels_[r].gen != gen) return;
    if (error) {
        relation_end(r, TERN_COAP_END_ERROR, true, TERN_COAP_NOTIFY_DROPPED, nil);
    } else {
        pump(r);
    }
}

void shard::relation_reset(uint32_t r) noexcept {
    relation_rec& rel = rels_[r];
    if (rel.state == rel_closing) {
        tx_stop(lim_.exchanges + r, rel.peer, rel.tx_mid);
        note_free(rel.inflight);
        rel.inflight = nil;
        relation_free(r);
        return;
    }
    relation_end(r, TERN_COAP_END_RESET, true, TERN_COAP_NOTIFY_RESET, nil);
}

namespace {
bool response_ok(const tern_coap_response& r) noexcept {
    const uint32_t cls = code_class_of(r.code);
    return cls >= 2 && cls <= 5 && r.option_count <= 64 &&
           (r.option_count == 0 || r.options != nullptr) &&
           (r.payload.size == 0 || r.payload.data != nullptr || r.body != nullptr);
}
}  // namespace

tern_status shard::notify(uint64_t id, const tern_coap_response& r, uint64_t cookie,
                          uint32_t flags) noexcept {
    scope sc(*this);
    const uint32_t rs = id_slot(id);
    if (stopped_ || id_shard(id) != index_ || rs >= rels_.high_water() ||
        rels_[rs].gen != id_gen(id) || rels_[rs].state != rel_live) {
        if (r.body != nullptr) r.body->release();
        return TERN_NOT_FOUND;
    }
    if (!response_ok(r)) {
        if (r.body != nullptr) r.body->release();
        return TERN_INVALID_ARGUMENT;
    }
    relation_rec& rel = rels_[rs];
    const resource_entry* res = rel.res;
    const bool success = code_class_of(r.code) == 2;
    // MERGEABLE replaces the newest queued (not in-flight) mergeable notification.
    uint32_t merge_into = nil;
    if ((flags & TERN_COAP_NOTIFY_MERGEABLE) != 0 && success) {
        for (uint32_t n = rel.q_head; n != nil; n = notes_[n].next)
            if ((notes_[n].flags & nf_mergeable) != 0) merge_into = n;
    }
    if (merge_into == nil && rel.q_count >= cfg_.max_queued_notifications) {
        if (r.body != nullptr) r.body->release();
        m_.inc(ctr::shed_notification_queue);
        if ((rel.flags & rf_warned_full) == 0) {
            rel.flags |= rf_warned_full;
            log(TERN_LOG_WARN, "an observation's notification queue is full "
                               "(max_queued_notifications): newer notifications are dropped");
        }
        note_result(res, id, cookie, TERN_COAP_NOTIFY_DROPPED);
        return TERN_OK;
    }
    bool no_memory = false;
    const uint8_t nflags = (flags & TERN_COAP_NOTIFY_MERGEABLE) != 0 && success ? nf_mergeable : 0;
    const uint32_t n = make_note(rs, r, cookie, nflags, no_memory);
    if (r.body != nullptr) r.body->release();
    if (n == nil) {
        m_.inc(no_memory ? ctr::shed_notification_memory : ctr::drop_response_too_large);
        note_result(res, id, cookie, TERN_COAP_NOTIFY_DROPPED);
        return TERN_OK;
    }
    if (merge_into != nil) {
        note_rec& old = notes_[merge_into];
        const uint64_t old_cookie = old.cookie;
        const uint32_t next = old.next;
        const uint32_t gen = old.gen;
        note_chunks_.release(old.chunks);
        old = notes_[n];
        old.next = next;
        old.gen = gen;
        notes_.free(n);  // its chunks now belong to merge_into
        note_result(res, id, old_cookie, TERN_COAP_NOTIFY_MERGED);
        return TERN_OK;
    }
    if (rel.q_tail != nil) notes_[rel.q_tail].next = n;
    else rel.q_head = n;
    rel.q_tail = n;
    ++rel.q_count;
    if (!success) rel.state = rel_ending;  // the error notification is the last one
    pump(rs);
    return TERN_OK;
}

tern_status shard::end_observation(uint64_t id, const tern_coap_response* final_response) noexcept {
    scope sc(*this);
    const uint32_t rs = id_slot(id);
    if (stopped_ || id_shard(id) != index_ || rs >= rels_.high_water() ||
        rels_[rs].gen != id_gen(id) ||
        (rels_[rs].state != rel_live && rels_[rs].state != rel_ending)) {
        if (final_response != nullptr && final_response->body != nullptr)
            final_response->body->release();
        return TERN_NOT_FOUND;
    }
    uint32_t fnote = nil;
    if (final_response != nullptr) {
        if (!response_ok(*final_response)) {
            if (final_response->body != nullptr) final_response->body->release();
            return TERN_INVALID_ARGUMENT;
        }
        bool no_memory = false;
        fnote = make_note(rs, *final_response, 0, nf_final, no_memory);
        if (final_response->body != nullptr) final_response->body->release();
        if (fnote == nil)
            m_.inc(no_memory ? ctr::shed_notification_memory : ctr::drop_response_too_large);
    }
    relation_end(rs, 0, false, TERN_COAP_NOTIFY_DROPPED, fnote);
    return TERN_OK;
}

}  // namespace tern::coap

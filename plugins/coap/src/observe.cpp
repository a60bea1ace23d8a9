#include "observe.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "shard_impl.hpp"

namespace tern::coap {

uint32_t observe::find(uint32_t peer, std::span<const uint8_t> token) const noexcept {
    // A peer holds at most max_observations_per_peer relations: its list is the index.
    for (uint32_t r = s_.peers_[peer].relations.head; r != nil; r = s_.rels_[r].peer_link.next) {
        const relation_rec& x = s_.rels_[r];
        if ((x.state == rel_live || x.state == rel_ending) && x.tkl == token.size() &&
            (token.empty() || std::memcmp(x.token, token.data(), token.size()) == 0))
            return r;
    }
    return nil;
}

bool observe::reserve(reply_to& to, const request_options& o, const resource_entry* res,
                      uint32_t transfer, uint32_t& rel) noexcept {
    rel = nil;
    if (to.method != code_get || (o.observe != 0 && o.observe != 1)) return true;
    const uint32_t p = to.peer;
    const std::span<const uint8_t> token = s_.msg_.token;
    uint32_t seq_start = 0;
    const uint32_t old = find(p, token);
    if (old != nil) {
        if (o.observe == 1) {
            end(old, TERN_COAP_END_DEREGISTERED, true, TERN_COAP_NOTIFY_DROPPED, nil);
        } else if (res->observable()) {
            // Re-registration: the new relation continues the old sequence so the
            // client's freshness check (§3.4) accepts its first response.
            seq_start = (s_.rels_[old].seq + 1) & 0xFFFFFFu;
            end(old, TERN_COAP_END_REPLACED, true, TERN_COAP_NOTIFY_DROPPED, nil);
        }
    }
    if (o.observe != 0 || !res->observable()) return true;
    const bool total_full = s_.rels_.full();
    if (total_full || s_.peers_[p].relations.size >= s_.cfg_.max_observations_per_peer) {
        if (transfer != nil) s_.blockwise_.discard(transfer);
        s_.m_.inc(total_full ? ctr::shed_observations : ctr::shed_observations_per_peer);
        s_.reply_error(to, code::service_unavailable, "observation limit reached",
                       s_.cfg_.overload_max_age);
        return false;
    }
    rel = s_.rels_.alloc();
    relation_rec& r = s_.rels_[rel];
    r.state = rel_reserved;
    r.peer = p;
    r.res = res;
    r.type = to.type;
    r.tkl = static_cast<uint8_t>(token.size());
    std::memcpy(r.token, token.data(), token.size());
    r.seq = seq_start;
    r.q_head = r.q_tail = r.inflight = nil;
    s_.peers_[p].relations.push_back(rel, [this](uint32_t i) -> list_link& { return s_.rels_[i].peer_link; });
    s_.peer_ref(p);
    // Published now, so a notify() from another thread right after its respond()
    // is queued behind it instead of refused.
    std::atomic_ref<uint32_t>(s_.pub_obs_gen_[rel]).store(r.gen, std::memory_order_release);
    return true;
}

void observe::activate(uint32_t r) noexcept {
    {
        const relation_rec& rel = s_.rels_[r];
        // Two registrations with one token raced: the later one wins (RFC 7641 §4.1).
        const uint32_t old = find(rel.peer, std::span<const uint8_t>{rel.token, rel.tkl});
        if (old != nil) end(old, TERN_COAP_END_REPLACED, true, TERN_COAP_NOTIFY_DROPPED, nil);
    }
    relation_rec& rel = s_.rels_[r];
    rel.state = rel_live;
    rel.last_con_ns = s_.now_;
    std::atomic_ref<uint32_t>(s_.pub_obs_gen_[r]).store(rel.gen, std::memory_order_release);
    s_.m_.add(gge::observations, 1);
}

void observe::release(uint32_t r) noexcept {
    const uint32_t p = s_.rels_[r].peer;
    s_.rels_.free(r);
    s_.peer_unref(p);
}

void observe::cancel_reservation(uint32_t r) noexcept {
    relation_rec& rel = s_.rels_[r];
    std::atomic_ref<uint32_t>(s_.pub_obs_gen_[r]).store(0, std::memory_order_release);
    s_.peers_[rel.peer].relations.remove(r, [this](uint32_t i) -> list_link& { return s_.rels_[i].peer_link; });
    release(r);
}

void observe::note_free(uint32_t n) noexcept {
    s_.note_chunks_.release(s_.notes_[n].chunks);
    s_.notes_.free(n);
}

void observe::note_result(const resource_entry* res, uint64_t id, uint64_t cookie,
                        int32_t result) noexcept {
    switch (result) {
    case TERN_COAP_NOTIFY_DELIVERED: s_.m_.inc(ctr::notify_delivered); break;
    case TERN_COAP_NOTIFY_TIMEOUT: s_.m_.inc(ctr::notify_timeout); break;
    case TERN_COAP_NOTIFY_RESET: s_.m_.inc(ctr::notify_reset); break;
    case TERN_COAP_NOTIFY_MERGED: s_.m_.inc(ctr::notify_merged); break;
    default: s_.m_.inc(ctr::notify_dropped); break;
    }
    if (res != nullptr) res->handler->on_notification_result(id, cookie, result);
}

void observe::end(uint32_t r, int32_t reason, bool call_end, int32_t inflight_result,
                         uint32_t final_note) noexcept {
    relation_rec& rel = s_.rels_[r];
    if (rel.state != rel_live && rel.state != rel_ending) {
        if (final_note != nil) note_free(final_note);
        return;
    }
    const resource_entry* res = rel.res;
    const uint64_t id = make_id(s_.index_, r, rel.gen);
    const uint32_t p = rel.peer;
    // Detach first: whatever the callbacks below call sees the relation gone.
    std::atomic_ref<uint32_t>(s_.pub_obs_gen_[r]).store(0, std::memory_order_release);
    s_.m_.add(gge::observations, -1);
    s_.peers_[p].relations.remove(r, [this](uint32_t i) -> list_link& { return s_.rels_[i].peer_link; });
    rel.state = rel_closing;  // not live, not findable, slot still held
    if (rel.inflight != nil) {
        const uint32_t n = rel.inflight;
        s_.retransmit_.stop(s_.lim_.exchanges + r, p, s_.notes_[n].mid);
        const uint64_t cookie = s_.notes_[n].cookie;
        note_free(n);
        s_.rels_[r].inflight = nil;
        note_result(res, id, cookie, inflight_result);
    }
    while (s_.rels_[r].q_head != nil) {
        const uint32_t n = s_.rels_[r].q_head;
        s_.rels_[r].q_head = s_.notes_[n].next;
        --s_.rels_[r].q_count;
        const uint64_t cookie = s_.notes_[n].cookie;
        note_free(n);
        note_result(res, id, cookie, TERN_COAP_NOTIFY_DROPPED);
    }
    s_.rels_[r].q_tail = nil;
    if (call_end && res != nullptr) res->handler->on_observation_end(id, reason);

    relation_rec& rl = s_.rels_[r];
    if (final_note == nil) {
        release(r);
        return;
    }
    // end_observation's final response: no Observe option, the registration's type.
    const uint16_t mid = s_.next_mid(p);
    s_.notes_[final_note].mid = mid;
    if (rl.type == static_cast<uint8_t>(msg_type::con)) {
        rl.inflight = final_note;
        s_.notes_[final_note].attempts = 0;
        rl.res = nullptr;
        send_note(r, final_note, true);
        s_.retransmit_.start(s_.lim_.exchanges + r, p, mid, s_.notes_[final_note].tx_timeout_ms);
    } else {
        send_note(r, final_note, false);
        note_free(final_note);
        release(r);
    }
}

void observe::end_peer(uint32_t peer, int32_t reason, uint32_t timed_out) noexcept {
    for (;;) {
        uint32_t r = nil;
        for (uint32_t i = s_.peers_[peer].relations.head; i != nil; i = s_.rels_[i].peer_link.next) {
            if (s_.rels_[i].state == rel_live || s_.rels_[i].state == rel_ending) {
                r = i;
                break;
            }
        }
        if (r == nil) return;
        end(r, reason, true,
                     r == timed_out ? TERN_COAP_NOTIFY_TIMEOUT : TERN_COAP_NOTIFY_DROPPED, nil);
    }
}

void observe::send_note(uint32_t r, uint32_t n, bool con) noexcept {
    const relation_rec& rel = s_.rels_[r];
    const note_rec& note = s_.notes_[n];
    peer_rec& p = s_.peers_[rel.peer];
    const std::span<uint8_t> slot = s_.out_slot();
    uint8_t* d = slot.data();
    d[0] = static_cast<uint8_t>(0x40u | (con ? 0u : 1u) << 4 | rel.tkl);
    d[1] = note.code;
    d[2] = static_cast<uint8_t>(note.mid >> 8);
    d[3] = static_cast<uint8_t>(note.mid);
    std::memcpy(d + 4, rel.token, rel.tkl);
    std::size_t pos = 4u + rel.tkl;
    if ((note.flags & nf_final) != 0) {
        s_.note_chunks_.read(note.chunks, 0, d + pos, note.len);
        pos += note.len;
    } else {
        s_.note_chunks_.read(note.chunks, 0, d + pos, note.obs_at);
        pos += note.obs_at;
        std::array<uint8_t, 8> v{};
        const std::size_t k = encode_uint(note.seq, v);
        d[pos++] = static_cast<uint8_t>(((opt::observe - note.prev_opt) << 4) | k);
        std::memcpy(d + pos, v.data(), k);
        pos += k;
        s_.note_chunks_.read(note.chunks, note.suffix_at, d + pos, note.len - note.suffix_at);
        pos += note.len - note.suffix_at;
    }
    s_.out_commit(p.transport, p.addr, pos);
    p.last_ns = s_.now_;
}

uint32_t observe::make_note(uint32_t r, const tern_coap_response& resp, uint64_t cookie,
                          uint8_t flags, bool& no_memory) noexcept {
    no_memory = false;
    const relation_rec& rel = s_.rels_[r];
    // Room for the real Observe value (up to 3 bytes) where the template has a 0-byte one.
    writer w(std::span<uint8_t>{s_.scratch_.get(), s_.lim_.datagram_capacity - 4});
    w.header(msg_type::con, resp.code, 0, std::span<const uint8_t>{rel.token, rel.tkl});
    build_opts o;
    o.observe = (flags & nf_final) != 0 ? -1 : 0;
    if (s_.build(w, resp.code, resp, o) != shard::built::ok) return nil;
    const std::size_t hdr = 4u + rel.tkl;
    const std::size_t len = w.size() - hdr;
    const uint32_t n = s_.notes_.alloc();
    if (n == nil) {
        no_memory = true;
        return nil;
    }
    const uint32_t chunks = s_.note_chunks_.store(s_.scratch_.get() + hdr, len);
    if (chunks == nil) {
        s_.notes_.free(n);
        no_memory = true;
        return nil;
    }
    note_rec& note = s_.notes_[n];
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
    if (o.first_block) s_.m_.inc(ctr::block_out);
    return n;
}

void observe::pump(uint32_t r) noexcept {
    if ((s_.rels_[r].flags & rf_pumping) != 0) return;
    const uint32_t gen = s_.rels_[r].gen;
    s_.rels_[r].flags |= rf_pumping;
    auto alive = [&] {
        const relation_rec& x = s_.rels_[r];
        return x.gen == gen && (x.state == rel_live || x.state == rel_ending);
    };
    while (alive() && s_.rels_[r].inflight == nil && s_.rels_[r].q_head != nil) {
        relation_rec& rl = s_.rels_[r];
        const uint32_t n = rl.q_head;
        rl.q_head = s_.notes_[n].next;
        if (rl.q_head == nil) rl.q_tail = nil;
        --rl.q_count;
        rl.seq = (rl.seq + 1) & 0xFFFFFFu;
        s_.notes_[n].seq = rl.seq;
        bool con = rl.type == static_cast<uint8_t>(msg_type::con);
        // RFC 7641 §4.5: a NON observer is asked to acknowledge now and then, so a peer
        // that went away is noticed.
        if (!con && s_.cfg_.observe_con_every != 0 && rl.non_since_con >= s_.cfg_.observe_con_every)
            con = true;
        if (!con && s_.cfg_.observe_con_period_ms != 0 &&
            s_.now_ - rl.last_con_ns >= s_.cfg_.observe_con_period_ms * 1000000)
            con = true;
        const uint16_t mid = s_.next_mid(rl.peer);
        s_.notes_[n].mid = mid;
        send_note(r, n, con);
        if (con) {
            rl.inflight = n;
            s_.notes_[n].attempts = 0;
            rl.non_since_con = 0;
            rl.last_con_ns = s_.now_;
            s_.retransmit_.start(s_.lim_.exchanges + r, rl.peer, mid, s_.notes_[n].tx_timeout_ms);
            break;
        }
        rl.last_non_mid = mid;
        rl.flags |= rf_has_non_mid;
        if (rl.non_since_con != 0xFFFF) ++rl.non_since_con;
        const uint64_t cookie = s_.notes_[n].cookie;
        const bool error = code_class_of(s_.notes_[n].code) != 2;
        note_free(n);
        const resource_entry* res = rl.res;
        note_result(res, make_id(s_.index_, r, gen), cookie, TERN_COAP_NOTIFY_DELIVERED);
        if (error && alive()) end(r, TERN_COAP_END_ERROR, true, TERN_COAP_NOTIFY_DROPPED, nil);
    }
    if (s_.rels_[r].gen == gen) s_.rels_[r].flags &= static_cast<uint8_t>(~rf_pumping);
}

void observe::acked(uint32_t r) noexcept {
    relation_rec& rel = s_.rels_[r];
    const uint32_t n = rel.inflight;
    s_.retransmit_.stop(s_.lim_.exchanges + r, rel.peer, s_.notes_[n].mid);
    rel.inflight = nil;
    if (rel.state == rel_closing) {
        note_free(n);
        release(r);
        return;
    }
    const uint64_t cookie = s_.notes_[n].cookie;
    const bool error = code_class_of(s_.notes_[n].code) != 2;
    note_free(n);
    const uint32_t gen = rel.gen;
    note_result(rel.res, make_id(s_.index_, r, gen), cookie, TERN_COAP_NOTIFY_DELIVERED);
    if (s_.rels_[r].gen != gen) return;
    if (error) {
        end(r, TERN_COAP_END_ERROR, true, TERN_COAP_NOTIFY_DROPPED, nil);
    } else {
        pump(r);
    }
}

bool observe::keeps_on_timeout(uint32_t r) const noexcept {
    const relation_rec& rel = s_.rels_[r];
    return (rel.state == rel_live || rel.state == rel_ending) && rel.inflight != nil &&
           (s_.notes_[rel.inflight].flags & nf_keep) != 0;
}

void observe::timed_out_kept(uint32_t r) noexcept {
    relation_rec& rel = s_.rels_[r];
    const uint32_t n = rel.inflight;
    s_.retransmit_.stop(s_.lim_.exchanges + r, rel.peer, s_.notes_[n].mid);  // a late ACK matches nothing
    rel.inflight = nil;
    // The queue is detached before any result is reported: a notify() from a result callback
    // starts a new queue and is sent as usual.
    uint32_t q = rel.q_head;
    rel.q_head = rel.q_tail = nil;
    rel.q_count = 0;
    const resource_entry* res = rel.res;
    const uint32_t gen = rel.gen;
    const uint64_t id = make_id(s_.index_, r, gen);
    const bool ending = rel.state == rel_ending;
    s_.m_.inc(ctr::observations_kept);
    const uint64_t cookie = s_.notes_[n].cookie;
    note_free(n);
    note_result(res, id, cookie, TERN_COAP_NOTIFY_TIMEOUT);
    while (q != nil) {
        const uint32_t next = s_.notes_[q].next;
        const uint64_t c = s_.notes_[q].cookie;
        note_free(q);
        note_result(res, id, c, TERN_COAP_NOTIFY_TIMEOUT);
        q = next;
    }
    // A non-2.xx notification was to be the relation's last one: it ends as if it had gone.
    if (ending && s_.rels_[r].gen == gen && s_.rels_[r].state == rel_ending)
        end(r, TERN_COAP_END_ERROR, true, TERN_COAP_NOTIFY_DROPPED, nil);
}

void observe::reset(uint32_t r) noexcept {
    relation_rec& rel = s_.rels_[r];
    if (rel.state == rel_closing) {
        s_.retransmit_.stop(s_.lim_.exchanges + r, rel.peer, s_.notes_[rel.inflight].mid);
        note_free(rel.inflight);
        rel.inflight = nil;
        release(r);
        return;
    }
    end(r, TERN_COAP_END_RESET, true, TERN_COAP_NOTIFY_RESET, nil);
}

bool observe::reset_by_non_mid(uint32_t peer, uint16_t mid) noexcept {
    // An RST answering a NON notification (RFC 7641 §3.6) ends that relation.
    for (uint32_t r = s_.peers_[peer].relations.head; r != nil; r = s_.rels_[r].peer_link.next) {
        const relation_rec& rel = s_.rels_[r];
        if ((rel.flags & rf_has_non_mid) != 0 && rel.last_non_mid == mid &&
            (rel.state == rel_live || rel.state == rel_ending)) {
            end(r, TERN_COAP_END_RESET, true, TERN_COAP_NOTIFY_DROPPED, nil);
            return true;
        }
    }
    return false;
}

tern_status observe::notify(uint64_t id, const tern_coap_response& r, uint64_t cookie,
                          uint32_t flags) noexcept {
    const uint32_t rs = id_slot(id);
    if (s_.stopped_ || id_shard(id) != s_.index_ || rs >= s_.rels_.high_water() ||
        s_.rels_[rs].gen != id_gen(id) || s_.rels_[rs].state != rel_live) {
        if (r.body != nullptr) r.body->release();
        return TERN_NOT_FOUND;
    }
    if (!response_valid(r)) {
        if (r.body != nullptr) r.body->release();
        return TERN_INVALID_ARGUMENT;
    }
    relation_rec& rel = s_.rels_[rs];
    const resource_entry* res = rel.res;
    const bool success = code_class_of(r.code) == 2;
    // MERGEABLE replaces the newest queued (not in-flight) mergeable notification.
    uint32_t merge_into = nil;
    if ((flags & TERN_COAP_NOTIFY_MERGEABLE) != 0 && success) {
        for (uint32_t n = rel.q_head; n != nil; n = s_.notes_[n].next)
            if ((s_.notes_[n].flags & nf_mergeable) != 0) merge_into = n;
    }
    if (merge_into == nil && rel.q_count >= s_.cfg_.max_queued_notifications) {
        if (r.body != nullptr) r.body->release();
        s_.m_.inc(ctr::shed_notification_queue);
        if ((rel.flags & rf_warned_full) == 0) {
            rel.flags |= rf_warned_full;
            s_.log(TERN_LOG_WARN, "an observation's notification queue is full "
                               "(max_queued_notifications): newer notifications are dropped");
        }
        note_result(res, id, cookie, TERN_COAP_NOTIFY_DROPPED);
        return TERN_OK;
    }
    bool no_memory = false;
    const uint8_t nflags = static_cast<uint8_t>(
        ((flags & TERN_COAP_NOTIFY_MERGEABLE) != 0 && success ? nf_mergeable : 0) |
        ((flags & TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT) != 0 ? nf_keep : 0));
    const uint32_t n = make_note(rs, r, cookie, nflags, no_memory);
    if (r.body != nullptr) r.body->release();
    if (n == nil) {
        s_.m_.inc(no_memory ? ctr::shed_notification_memory : ctr::drop_response_too_large);
        note_result(res, id, cookie, TERN_COAP_NOTIFY_DROPPED);
        return TERN_OK;
    }
    if (merge_into != nil) {
        note_rec& old = s_.notes_[merge_into];
        const uint64_t old_cookie = old.cookie;
        const uint32_t next = old.next;
        const uint32_t gen = old.gen;
        s_.note_chunks_.release(old.chunks);
        old = s_.notes_[n];
        old.next = next;
        old.gen = gen;
        s_.notes_.free(n);  // its chunks now belong to merge_into
        note_result(res, id, old_cookie, TERN_COAP_NOTIFY_MERGED);
        return TERN_OK;
    }
    if (rel.q_tail != nil) s_.notes_[rel.q_tail].next = n;
    else rel.q_head = n;
    rel.q_tail = n;
    ++rel.q_count;
    if (!success) rel.state = rel_ending;  // the error notification is the last one
    pump(rs);
    return TERN_OK;
}

tern_status observe::end_observation(uint64_t id, const tern_coap_response* final_response) noexcept {
    const uint32_t rs = id_slot(id);
    if (s_.stopped_ || id_shard(id) != s_.index_ || rs >= s_.rels_.high_water() ||
        s_.rels_[rs].gen != id_gen(id) ||
        (s_.rels_[rs].state != rel_live && s_.rels_[rs].state != rel_ending)) {
        if (final_response != nullptr && final_response->body != nullptr)
            final_response->body->release();
        return TERN_NOT_FOUND;
    }
    uint32_t fnote = nil;
    if (final_response != nullptr) {
        if (!response_valid(*final_response)) {
            if (final_response->body != nullptr) final_response->body->release();
            return TERN_INVALID_ARGUMENT;
        }
        bool no_memory = false;
        fnote = make_note(rs, *final_response, 0, nf_final, no_memory);
        if (final_response->body != nullptr) final_response->body->release();
        if (fnote == nil)
            s_.m_.inc(no_memory ? ctr::shed_notification_memory : ctr::drop_response_too_large);
    }
    end(rs, 0, false, TERN_COAP_NOTIFY_DROPPED, fnote);
    return TERN_OK;
}

}  // namespace tern::coap

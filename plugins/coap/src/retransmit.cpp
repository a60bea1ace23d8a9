#include "retransmit.hpp"

#include <algorithm>
#include <cstring>

#include "shard_impl.hpp"

namespace tern::coap {

namespace {
inline uint32_t mid_hash(uint64_t seed, uint32_t peer, uint16_t mid) noexcept {
    return static_cast<uint32_t>(mix64(seed ^ 0x6d69645f696e6478ull ^ ((uint64_t{peer} << 16) | mid)));
}
}  // namespace

// ---- CON messages awaiting their ACK ---------------------------------------------------------

uint32_t retransmit::initial_timeout_ms() noexcept {
    // RFC 7252 §4.2: a random duration between ACK_TIMEOUT and ACK_TIMEOUT * ACK_RANDOM_FACTOR.
    const double u = static_cast<double>(s_.random() >> 11) * 0x1.0p-53;
    const double t = static_cast<double>(s_.cfg_.ack_timeout_ms) * (1.0 + (s_.cfg_.ack_random_factor - 1.0) * u);
    return static_cast<uint32_t>(std::min(t, 4.0e9));
}

void retransmit::start(uint32_t owner, uint32_t peer, uint16_t mid, uint32_t& timeout_ms) noexcept {
    timeout_ms = initial_timeout_ms();
    s_.mid_index_.insert(mid_hash(s_.hash_seed_, peer, mid), owner);
    s_.heap_.schedule(owner, s_.now_ + uint64_t{timeout_ms} * 1000000);
}

void retransmit::stop(uint32_t owner, uint32_t peer, uint16_t mid) noexcept {
    s_.mid_index_.erase(mid_hash(s_.hash_seed_, peer, mid), owner);
    s_.heap_.cancel(owner);
}

uint32_t retransmit::find(uint32_t peer, uint16_t mid) const noexcept {
    return s_.mid_index_.find(mid_hash(s_.hash_seed_, peer, mid), [&](uint32_t owner) {
        if (owner < s_.lim_.exchanges)
            return s_.exch_[owner].peer == peer && s_.exch_[owner].tx_mid == mid &&
                   s_.exch_[owner].state == exch_awaiting_ack;
        const relation_rec& r = s_.rels_[owner - s_.lim_.exchanges];
        return r.peer == peer && r.inflight != nil && s_.notes_[r.inflight].mid == mid;
    });
}

bool retransmit::await_ack(uint32_t exchange, std::span<const uint8_t> bytes, uint16_t mid) noexcept {
    const uint32_t chunks = s_.tx_chunks_.store(bytes.data(), bytes.size());
    if (chunks == nil) {
        s_.m_.inc(ctr::drop_no_transmission_memory);
        return false;
    }
    exchange_rec& x = s_.exch_[exchange];
    s_.exchange_.unqueue(exchange);
    x.state = exch_awaiting_ack;
    x.tx_chunks = chunks;
    x.tx_len = static_cast<uint16_t>(bytes.size());
    x.tx_mid = mid;
    x.attempts = 0;
    start(exchange, x.peer, mid, x.tx_timeout_ms);
    return true;
}

void retransmit::on_ack(uint32_t transport, const tern_peer& from, uint16_t mid) noexcept {
    const uint32_t p = s_.peer_find(transport, from);
    const uint32_t owner = p == nil ? nil : find(p, mid);
    if (owner == nil) {
        // A ping is answered by RST (RFC 7252 §4.3); an ACK naming its MID proves as much.
        if (!s_.amp_ping_answered(transport, p, mid) && !s_.amp_ping_late(transport, p, mid))
            s_.m_.inc(ctr::drop_unmatched_ack);
        return;
    }
    s_.peers_[p].last_ns = s_.now_;
    s_.amp_proved(transport, from);  // the ACK names a MID only that address has seen
    if (owner < s_.lim_.exchanges) {
        s_.exchange_.close(owner);  // the separate response arrived
    } else {
        s_.observe_.acked(owner - s_.lim_.exchanges);
    }
}

void retransmit::on_reset(uint32_t transport, const tern_peer& from, uint16_t mid) noexcept {
    const uint32_t p = s_.peer_find(transport, from);
    if (p == nil) {
        s_.m_.inc(ctr::drop_unmatched_rst);
        return;
    }
    const uint32_t owner = find(p, mid);
    if (owner != nil) {
        s_.amp_proved(transport, from);
        if (owner < s_.lim_.exchanges) {
            // The client rejected a separate response; if it carried an Observe
            // registration, the client does not want that relation either (RFC 7641 §3.6).
            const exchange_rec& x = s_.exch_[owner];
            const uint32_t r = x.obs;
            const uint32_t g = x.obs_gen;
            s_.exchange_.close(owner);
            if (r != nil && s_.rels_[r].gen == g &&
                (s_.rels_[r].state == rel_live || s_.rels_[r].state == rel_ending))
                s_.observe_.end(r, TERN_COAP_END_RESET, true, TERN_COAP_NOTIFY_DROPPED, nil);
        } else {
            s_.observe_.reset(owner - s_.lim_.exchanges);
        }
        return;
    }
    if (s_.amp_ping_answered(transport, p, mid)) return;  // the Reset to our ping
    if (s_.observe_.reset_by_non_mid(p, mid)) return;  // the Reset to a NON notification
    if (s_.amp_ping_late(transport, p, mid)) return;  // the Reset to a ping that timed out
    if (s_.amp_ping_wrong(transport, p)) return;      // a guess at the ping's MID
    s_.m_.inc(ctr::drop_unmatched_rst);
}

void retransmit::fire(uint32_t owner) noexcept {
    if (owner < s_.lim_.exchanges && s_.exch_[owner].state == exch_held) {
        s_.amp_ping_expired(owner);  // no Reset to the address's ping in time
    } else if (owner < s_.lim_.exchanges) {
        fire_exchange(owner);
    } else {
        fire_relation(owner - s_.lim_.exchanges);
    }
}

void retransmit::fire_exchange(uint32_t owner) noexcept {
    exchange_rec& x = s_.exch_[owner];
    if (x.attempts >= s_.cfg_.max_retransmit) {
        s_.m_.inc(ctr::drop_retransmit_timeout);
        const uint32_t r = x.obs;
        const uint32_t g = x.obs_gen;
        const uint32_t p = x.peer;
        s_.exchange_.close(owner);
        // The response carried an Observe registration the client never acknowledged:
        // the peer is unreachable (RFC 7641 §4.5), as for a notification.
        if (r != nil && s_.rels_[r].gen == g &&
            (s_.rels_[r].state == rel_live || s_.rels_[r].state == rel_ending))
            s_.observe_.end_peer(p, TERN_COAP_END_TIMEOUT, nil);
        return;
    }
    ++x.attempts;
    x.tx_timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{x.tx_timeout_ms} * 2, 0xFFFFFFFFu));
    // Past the amplification budget of an unverified address the timer still runs (a
    // late ACK completes the exchange) but nothing is sent again.
    if (s_.amp_may_resend(owner)) {
        const std::span<uint8_t> s = s_.out_slot();
        s_.tx_chunks_.read(x.tx_chunks, 0, s.data(), x.tx_len);
        const peer_rec& p = s_.peers_[x.peer];
        s_.out_commit(p.transport, p.addr, x.tx_len);
        s_.m_.inc(ctr::retransmissions);
    }
    s_.heap_.schedule(owner, s_.now_ + uint64_t{x.tx_timeout_ms} * 1000000);
}

void retransmit::fire_relation(uint32_t r) noexcept {
    const uint32_t owner = s_.lim_.exchanges + r;
    relation_rec& rel = s_.rels_[r];
    note_rec& note = s_.notes_[rel.inflight];  // its CON message out
    if (note.attempts >= s_.cfg_.max_retransmit) {
        if (rel.state == rel_closing) {
            stop(owner, rel.peer, note.mid);
            s_.observe_.note_free(rel.inflight);
            rel.inflight = nil;
            s_.observe_.release(r);
            return;
        }
        if (s_.observe_.keeps_on_timeout(r)) {
            // A sleeping device (TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT): the relation stays, and
            // with it the peer it pins; timed_out_kept stopped the retransmission.
            s_.observe_.timed_out_kept(r);
            return;
        }
        s_.observe_.end_peer(rel.peer, TERN_COAP_END_TIMEOUT, r);
        // observe::end stopped the retransmission; never leave a due timer behind (the
        // caller loops while the heap's top is due).
        if (s_.heap_.scheduled(owner) && s_.heap_.top_owner() == owner && s_.heap_.top_deadline() <= s_.now_)
            s_.heap_.cancel(owner);
        return;
    }
    ++note.attempts;
    note.tx_timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{note.tx_timeout_ms} * 2, 0xFFFFFFFFu));
    s_.observe_.send_note(r, rel.inflight, true);
    s_.heap_.schedule(owner, s_.now_ + uint64_t{note.tx_timeout_ms} * 1000000);
    s_.m_.inc(ctr::retransmissions);
}

// ---- the shard's timer ---------------------------------------------------------------------

void retransmit::run_due() noexcept {
    const uint64_t pb = s_.cfg_.piggyback_timeout_ms * 1000000;
    while (!s_.piggy_.empty() && s_.exch_[s_.piggy_.head].arrival_ns + pb <= s_.now_)
        s_.exchange_.ack_now(s_.piggy_.head);
    const uint64_t to = s_.cfg_.timeout_ms * 1000000;
    while (!s_.pending_.empty() && s_.exch_[s_.pending_.head].arrival_ns + to <= s_.now_) {
        // A handler past `timeout` gets no response at all (docs/device-api.md §1.3); a CON
        // request already had its empty ACK.
        const uint32_t x = s_.pending_.head;
        s_.m_.inc(ctr::drop_exchange_timeout);
        s_.m_.request(s_.exch_[x].method, 0);
        s_.exchange_.close(x);
    }
    while (!s_.heap_.empty() && s_.heap_.top_deadline() <= s_.now_) fire(s_.heap_.top_owner());
    s_.dedup_.expire();
    s_.blockwise_.expire();
    const uint64_t idle = s_.cfg_.exchange_lifetime_ms() * 1000000;
    for (slot_list& l : s_.idle_peers_)
        while (!l.empty() && s_.peers_[l.head].last_ns + idle <= s_.now_) s_.peer_free(l.head);
}

void retransmit::rearm() noexcept {
    uint64_t next = UINT64_MAX;
    const uint64_t pb = s_.cfg_.piggyback_timeout_ms * 1000000;
    if (!s_.piggy_.empty()) next = std::min(next, s_.exch_[s_.piggy_.head].arrival_ns + pb);
    if (!s_.pending_.empty())
        next = std::min(next, s_.exch_[s_.pending_.head].arrival_ns + s_.cfg_.timeout_ms * 1000000);
    if (!s_.heap_.empty()) next = std::min(next, s_.heap_.top_deadline());
    for (const slot_list& l : s_.dedup_age_)
        if (!l.empty()) next = std::min(next, s_.dedups_[l.head].expires_ns);
    if (!s_.xfer_lru_.empty())
        next = std::min(next, s_.xfers_[s_.xfer_lru_.head].last_ns +
                                  s_.cfg_.blockwise_status_lifetime_ms * 1000000);
    for (const slot_list& l : s_.idle_peers_)
        if (!l.empty())
            next = std::min(next, s_.peers_[l.head].last_ns + s_.cfg_.exchange_lifetime_ms() * 1000000);
    if (s_.mem_dirty_) next = std::min(next, s_.mem_due_ns_);
    if (next == UINT64_MAX) return;
    if (s_.armed_ != 0 && s_.armed_ <= next) return;
    s_.armed_ = next;
    s_.env_.arm_timer(s_.index_, next > s_.now_ ? next - s_.now_ : 0);
}

}  // namespace tern::coap

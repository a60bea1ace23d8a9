// CON messages of ours awaiting their ACK (RFC 7252 §4.2): separate CON responses and CON
// notifications, found by (peer, Message ID), retransmitted with exponential back-off from a
// random first timeout, given up after max_retransmit; the empty ACK and RST that match them;
// and the shard's one timer, whose deadlines (piggyback, handler timeout, retransmissions,
// dedup and upload expiry, idle peers) are run here.
#pragma once

#include <cstdint>
#include <span>

#include "tern/abi/transport.h"

namespace tern::coap {

class shard;

class retransmit {
public:
    explicit retransmit(shard& s) noexcept : s_(s) {}

    // owner: an exchange slot, or max exchanges + a relation slot.
    void start(uint32_t owner, uint32_t peer, uint16_t mid, uint32_t& timeout_ms) noexcept;
    void stop(uint32_t owner, uint32_t peer, uint16_t mid) noexcept;
    uint32_t find(uint32_t peer, uint16_t mid) const noexcept;
    // Exchange x's separate CON response (bytes, sent once already) awaits its ACK; false
    // when retransmission_memory cannot keep it (it was sent once all the same).
    bool await_ack(uint32_t x, std::span<const uint8_t> bytes, uint16_t mid) noexcept;
    // An empty ACK or RST from a peer.
    void on_ack(uint32_t transport, const tern_peer& from, uint16_t mid) noexcept;
    void on_reset(uint32_t transport, const tern_peer& from, uint16_t mid) noexcept;

    // The shard's timer: runs what is due, and arms it for the next deadline.
    void run_due() noexcept;
    void rearm() noexcept;

private:
    void fire(uint32_t owner) noexcept;
    void fire_exchange(uint32_t x) noexcept;
    void fire_relation(uint32_t r) noexcept;
    uint32_t initial_timeout_ms() noexcept;

    shard& s_;
};

}  // namespace tern::coap

// Exchanges: a request handed to its handler, from its arrival to its answer (piggy-backed
// in the ACK, or separate after an empty ACK at piggyback_timeout) or its timeout. Each has
// an id ([shard:8][slot:24][generation:32]) published for other threads' liveness checks.
#pragma once

#include <cstdint>

#include "tern/abi/coap.h"

namespace tern::coap {

class shard;
struct reply_to;
struct resource_entry;

class exchange {
public:
    explicit exchange(shard& s) noexcept : s_(s) {}

    // Opens an exchange for the request `to` describes (rel: its reserved Observe relation
    // or nil); nil when the table is full.
    uint32_t open(const reply_to& to, const resource_entry* res, uint32_t rel) noexcept;
    void close(uint32_t x) noexcept;
    // Takes it out of the handler-timeout and piggyback FIFOs.
    void unqueue(uint32_t x) noexcept;
    // Sends the CON request's empty ACK now (the answer will go separately).
    void ack_now(uint32_t x) noexcept;
    // Where and how exchange x's answer goes.
    reply_to reply_of(uint32_t x) noexcept;

    // A handler's answer [the owning shard]; a 2.xx marks the peer proven.
    tern_status answer(uint64_t id, const tern_coap_response& r, uint64_t* out_observation) noexcept;

private:
    tern_status respond(uint64_t id, const tern_coap_response& r, uint64_t* out_observation) noexcept;

    shard& s_;
};

}  // namespace tern::coap

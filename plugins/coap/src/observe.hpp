// Observe (RFC 7641): relations identified by (peer, token), reserved when a registration
// reaches its handler and live once it answers 2.xx with the observe flag; notifications
// queued per relation (one CON in flight, FIFO, bounded, mergeable) and sent from templates
// with the Observe value filled in; NON notifications with a periodic CON liveness check
// (§4.5); and every way a relation ends.
#pragma once

#include <cstdint>
#include <span>

#include "tern/abi/coap.h"

namespace tern::coap {

class shard;
struct reply_to;
struct request_options;
struct resource_entry;

class observe {
public:
    explicit observe(shard& s) noexcept : s_(s) {}

    // The request stage: a GET with Observe 0 or 1 ends the (peer, token) relation it
    // replaces or deregisters, and Observe 0 to an observable resource reserves one (rel).
    // False when the Observe caps refused it (answered 5.03; transfer discarded).
    bool reserve(reply_to& to, const request_options& o, const resource_entry* res,
                 uint32_t transfer, uint32_t& rel) noexcept;
    uint32_t find(uint32_t peer, std::span<const uint8_t> token) const noexcept;
    void activate(uint32_t r) noexcept;
    void cancel_reservation(uint32_t r) noexcept;
    // Ends a live relation: queued notifications get DROPPED, the in-flight one
    // inflight_result, the handler on_observation_end(reason) when call_end; final_note
    // (a final response, or nil) is sent last.
    void end(uint32_t r, int32_t reason, bool call_end, int32_t inflight_result,
             uint32_t final_note) noexcept;
    // Ends every live relation of the peer; timed_out's in-flight notification gets TIMEOUT.
    void end_peer(uint32_t peer, int32_t reason, uint32_t timed_out) noexcept;
    void release(uint32_t r) noexcept;

    // notify() and end_observation() [the owning shard]
    tern_status notify(uint64_t id, const tern_coap_response& r, uint64_t cookie,
                       uint32_t flags) noexcept;
    tern_status end_observation(uint64_t id, const tern_coap_response* final_response) noexcept;

    // The in-flight CON notification of r was acknowledged, or reset.
    void acked(uint32_t r) noexcept;
    // Whether r's in-flight CON notification, never acknowledged, leaves r in place
    // (TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT), and doing so: it and every queued one get TIMEOUT.
    bool keeps_on_timeout(uint32_t r) const noexcept;
    void timed_out_kept(uint32_t r) noexcept;
    void reset(uint32_t r) noexcept;
    // An RST naming the MID of a NON notification to peer ends that relation; true if so.
    bool reset_by_non_mid(uint32_t peer, uint16_t mid) noexcept;
    // Sends note n of relation r (again), as CON or NON.
    void send_note(uint32_t r, uint32_t n, bool con) noexcept;
    void note_free(uint32_t n) noexcept;

private:
    void pump(uint32_t r) noexcept;
    void note_result(const resource_entry* res, uint64_t id, uint64_t cookie,
                     int32_t result) noexcept;
    uint32_t make_note(uint32_t r, const tern_coap_response& resp, uint64_t cookie,
                       uint8_t flags, bool& no_memory) noexcept;

    shard& s_;
};

}  // namespace tern::coap

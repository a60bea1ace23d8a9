// Datagram transports: plain UDP, DTLS, and whatever a vendor adds. A transport moves
// datagrams between the network and one sink (the CoAP engine) and tells who the peer is.
// The engine never knows which transport it serves. See host.h for the interface rules
// and thread tags.
#ifndef TERN_ABI_TRANSPORT_H
#define TERN_ABI_TRANSPORT_H

#ifndef __cplusplus
#error "tern/abi/transport.h declares C++ interfaces; include it from C++"
#endif

#include <stdint.h>

#include "status.h"
#include "types.h"

#define TERN_IID_TRANSPORT_V1 "tern.transport/1"

extern "C" {

// One datagram and who it is from (received) or for (sent).
typedef struct tern_datagram {
    tern_peer peer;
    tern_bytes data;
} tern_datagram;

typedef int32_t tern_auth_kind;
enum {
    TERN_AUTH_NONE = 0, // no transport-level identity (plain UDP, DTLS without a client cert)
    TERN_AUTH_X509 = 1, // chain holds the client's certificates, DER, leaf first
    TERN_AUTH_PSK = 2   // psk_identity holds the identity the client used
};

// What a transport knows of a peer's identity. OWNERSHIP: the transport.
// LIFETIME: the sink call it is passed to.
typedef struct tern_peer_auth {
    uint32_t struct_size;
    tern_auth_kind kind;
    const tern_bytes* chain;
    uint32_t chain_count;
    uint32_t reserved; // zero
    tern_str psk_identity;
} tern_peer_auth;

typedef void (*tern_peer_auth_sink)(void* ctx, const tern_peer_auth* auth);

}  // extern "C"

namespace tern {

// Implemented by whoever consumes datagrams (the CoAP engine).
struct datagram_sink_v1 {
    // Datagrams that arrived on shard, in arrival order. Peers stick to a shard: every
    // datagram of one peer arrives on the same shard for as long as its address (or, for
    // DTLS, its session) lasts. OWNERSHIP: the transport. LIFETIME: the call. [shard]
    virtual void on_datagrams(uint32_t shard, const tern_datagram* batch,
                              uint32_t count) noexcept = 0;
    // A transport session ended (DTLS close or eviction): state keyed by peer->session
    // should be dropped. Not called by sessionless transports. [shard]
    virtual void on_session_end(uint32_t shard, const tern_peer* peer) noexcept = 0;

protected:
    ~datagram_sink_v1() = default;
};

struct transport_v1 {
    // URI scheme served: "coap" or "coaps". LIFETIME: the instance. [any-thread]
    virtual tern_str scheme() noexcept = 0;
    // The largest datagram payload it will send without fragmenting. [any-thread]
    virtual uint32_t max_datagram_size() noexcept = 0;
    // Connects the sink; null disconnects. Datagrams arriving while no sink is attached
    // are dropped and counted. Disconnecting waits until no shard is inside the sink.
    // OWNERSHIP: the caller keeps sink. LIFETIME: sink until attach(nullptr) returns.
    // [start-stop]
    virtual tern_status attach(datagram_sink_v1* sink) noexcept = 0;
    // Sends datagrams from shard (the shard the peer belongs to). Returns TERN_OK when
    // all were handed to the network; datagrams that could not be sent are dropped and
    // counted. OWNERSHIP: caller; copied or sent before return. [shard]
    virtual tern_status send(uint32_t shard, const tern_datagram* batch,
                             uint32_t count) noexcept = 0;
    // Calls sink(ctx, auth) once, synchronously, with what the transport knows of the
    // peer's identity; TERN_NOT_FOUND when the peer's session is gone. [the peer's shard]
    virtual tern_status peer_auth(const tern_peer* peer, tern_peer_auth_sink sink,
                                  void* ctx) noexcept = 0;

protected:
    ~transport_v1() = default;
};

}  // namespace tern

#endif

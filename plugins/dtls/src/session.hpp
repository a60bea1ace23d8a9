// One DTLS session as a shard keeps it, and the wolfSSL callbacks that reach it. A session
// belongs to one shard for its whole life and is touched only by that shard's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "identity.hpp"
#include "metrics.hpp"
#include "tern/abi/types.h"

struct WOLFSSL;
struct WOLFSSL_X509_STORE_CTX;

namespace tern::dtls {

class shard;
struct session;

// Sessions threaded through a pair of their pointers, oldest first.
struct session_list {
    session* oldest = nullptr;
    session* newest = nullptr;
};

// What a shard keeps per source (a peer's address cut to source_prefix_ipv4/ipv6): its
// sessions (for the per-source caps) and its handshake token bucket. An entry lives while
// the source has sessions, and after that among the shard's idle sources until its bucket
// is full again or room is needed (rate_limited_sources).
struct source_entry {
    uint8_t key[24] = {};   // the shard's address key of the masked address (port 0)
    uint32_t sessions = 0;  // established and handshaking
    uint32_t handshakes = 0;
    session_list hs;        // its handshakes, by start
    session_list anon;      // its established anonymous sessions, least recently active first
    session_list known;     // its other established sessions, likewise
    double tokens = 0;      // handshake tokens left
    uint64_t refilled_ns = 0;
    source_entry* idle_older = nullptr;  // among the idle sources (no session), by last use
    source_entry* idle_newer = nullptr;
    bool idle = false;
};

enum class session_state : uint8_t { handshake, established };

// What only a handshake in progress needs; freed when it ends, so an established session
// carries none of it.
struct handshake_state {
    uint64_t started_ns = 0;
    handshake_result failure = handshake_result::count_;  // set by callbacks on refusal
    identity_ptr ident;          // proved by this handshake (certificate, PSK identity)
    identity_ptr resumed_ident;  // carried by the ticket it resumes
    bool ticket_opened = false;
    bool dtls13_probe = false;   // a DTLS 1.3 ClientHello handed over to see if it is answered by HRR
    bool sent_hrr = false;       // wolfSSL answered with a HelloRetryRequest
    std::vector<uint8_t> client_session_id;  // of the ClientHello (cache resumption)
    std::vector<uint8_t> server_session_id;  // of our ServerHello (what the cache keys)
    std::string psk_awaited;     // identity being looked up in the core
    // The core's answer for this handshake (used whatever psk_cache_ttl keeps in the cache)
    std::string psk_answered;    // the identity answered; empty: none yet
    std::vector<uint8_t> psk_answer;  // its key; empty: no such identity (or the core failed)
    std::vector<std::vector<uint8_t>> held;  // datagrams held meanwhile
    struct session* older = nullptr;  // handshakes in flight, oldest first
    struct session* newer = nullptr;
};

struct session {
    uint64_t id = 0;
    tern_endpoint addr{};      // where the peer is now (follows CID address changes)
    WOLFSSL* ssl = nullptr;    // null while compacted
    shard* home = nullptr;
    session_state state = session_state::handshake;
    bool indexed_by_addr = false;
    bool dtls13 = false;       // negotiated DTLS 1.3 (retransmits after the handshake too)
    bool keep_object = false;  // wolfSSL could not export it: never compacted
    // Established without a peer identity (no client certificate, no PSK) and no response
    // has vouched for it yet (README, per-source limits): a shorter idle timeout, and the
    // first to go when the table is full.
    bool anonymous = false;
    uint8_t cid_len = 0;       // 0: no CID (none offered, or the client did not take it)
    uint8_t cid[16] = {};
    // DTLS 1.2 CID: the highest epoch << 48 | sequence known to have authenticated (the
    // oldest record number of each datagram that did); only a newer record moves the
    // session to a new address (RFC 9146 §6).
    uint64_t cid_newest = 0;
    uint64_t last_ns = 0;      // last datagram received
    uint64_t timer_ns = 0;     // the retransmission deadline armed; 0: none
    uint64_t used_ns = 0;      // last datagram either way (compaction waits for quiet)
    session* older = nullptr;  // established sessions by last activity (LRU), oldest first
    session* newer = nullptr;
    source_entry* src = nullptr;   // the source it counts against; null: none
    session* src_older = nullptr;  // in one of src's lists (hs, anon, known)
    session* src_newer = nullptr;
    identity_ptr ident;
    std::unique_ptr<handshake_state> hs;
    // The datagram being fed to wolfSSL (its receive callback reads it once).
    const uint8_t* in = nullptr;
    // A compacted idle session: wolfSSL's exported state (packed) instead of its object; in
    // a slot of the shard's blob slab when it fits one, else on the heap (compaction.cpp).
    uint8_t* blob = nullptr;
    uint32_t in_len = 0;
    uint32_t blob_len = 0;  // (the two lengths side by side: no padding; the record is a slab slot)

    tern_peer peer() const noexcept {
        tern_peer p{};
        p.endpoint = addr;
        p.session = id;
        return p;
    }
};

// The session a WOLFSSL object belongs to (its I/O context).
session* session_of(WOLFSSL* ssl) noexcept;
// The identity of a peer that proved none (no client certificate, no PSK).
const identity_ptr& no_identity();

// Callbacks installed on the WOLFSSL_CTX (context.cpp); they run inside wolfSSL calls the
// session's shard makes, on that shard's thread.
int io_recv(WOLFSSL* ssl, char* buf, int sz, void* ctx);
int io_send(WOLFSSL* ssl, char* buf, int sz, void* ctx);
int verify_callback(int preverify, WOLFSSL_X509_STORE_CTX* store);
unsigned int psk_callback(WOLFSSL* ssl, const char* identity, unsigned char* key,
                          unsigned int key_max);

}  // namespace tern::dtls

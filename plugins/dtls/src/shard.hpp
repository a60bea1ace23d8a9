// One reactor shard of the DTLS transport: its socket, its sessions (by id, by address,
// by Connection ID), its stateless cookie secrets, its PSK cache, its timers. Everything
// here is touched only by the shard's thread; other threads reach a shard by posting.
// One class keeps the tables the hot path needs together; its methods live in files named
// after the behaviour they implement (declared below by file): io, cookies, handshake,
// psk, sessions, compaction, and shard.cpp for construction and the shared timer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "context.hpp"
#include "flat_index.hpp"
#include "hash_mix.hpp"
#include "chain.hpp"
#include "metrics.hpp"
#include "record.hpp"
#include "session.hpp"
#include "settings.hpp"
#include "slab.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"
#include "tern/abi/transport.h"
#include "tern/sdk/host.hpp"
#include "tern/udp_io/batch.hpp"
#include "tern/udp_io/sink_slot.hpp"

namespace tern::dtls {

class shard;

// What outlives the transport's stop for work still queued elsewhere (posted datagrams,
// PSK look-ups the core answers later): they check running and count themselves in
// in_flight, which stop() waits to see at zero before freeing the shards.
struct liveness {
    std::atomic<bool> running{false};
    std::atomic<int64_t> in_flight{0};
    std::vector<shard*> shards;
    reactor_v1* reactor = nullptr;
};

// The transport-wide things a shard uses.
struct environment {
    sdk::logger log;
    reactor_v1* reactor = nullptr;
    counters m;
    const settings* cfg = nullptr;
    context* tls = nullptr;
    identity_store* identities = nullptr;
    core_auth_v1* core = nullptr;  // tern.core.auth/1; null: PSK identities cannot be looked up
    udp_io::sink_slot* sink = nullptr;
    std::shared_ptr<liveness> alive;
    uint32_t shard_count = 1;
};

class shard {
public:
    shard(environment& env, uint32_t index, int fd, int family);
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    static constexpr uint64_t ms = 1000000;  // nanoseconds per millisecond

    uint32_t index() const noexcept { return index_; }
    int fd() const noexcept { return fd_; }

    // Reactor side. [this shard's thread]
    void start_timer();         // [start-stop]
    void stop_timer() noexcept; // [start-stop]
    bool drain() noexcept;      // true: the socket may still hold datagrams
    void handle(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept;
    void deliver() noexcept;    // plaintexts collected so far, to the sink
    void flush() noexcept;      // ciphertexts queued so far, to the network
    void on_timer() noexcept;
    // A PSK look-up finished: cache the answer and go on with the held handshake.
    void psk_answer(uint64_t session_id, const std::string& identity, tern_status status,
                    std::vector<uint8_t> key) noexcept;
    // Frees every session without telling anybody (the transport is stopping).
    void clear() noexcept;

    // Engine side. [this shard's thread]
    tern_status send(const tern_datagram* batch, uint32_t count) noexcept;
    tern_status peer_auth(const tern_peer& peer, tern_peer_auth_sink sink, void* ctx) noexcept;

    // wolfSSL side (callbacks during calls this shard makes).
    int emit(session& s, const uint8_t* data, size_t size) noexcept;
    // The cached PSK of identity; false when unknown (or known not to exist).
    bool psk_key(std::string_view identity, std::vector<uint8_t>& key) noexcept;
    const settings& cfg() const noexcept { return *env_.cfg; }
    // A client chain of more than one certificate was walked (verify callback).
    void count_chain(link_fault f) noexcept {
        const auto i = static_cast<size_t>(f);
        if (i < std::size(env_.m.chains)) env_.m.chains[i].inc();
    }
    context& tls() noexcept { return *env_.tls; }
    // A resumption's identity was looked up in the store (ticket callback, session ID).
    void count_identity_lookup(bool found) noexcept {
        (found ? env_.m.identity_found : env_.m.identity_forgotten).inc();
    }

    // For tests and the memory benchmark.
    size_t session_count() const noexcept { return by_id_.size(); }
    size_t compact_count() const noexcept { return compacted_; }
    // The shard's share of dtls_memory_bytes as last reported (memory.cpp).
    int64_t memory_reported(table t) const noexcept { return reported_[static_cast<size_t>(t)]; }

private:
    struct addr_key {
        uint8_t bytes[24] = {};
        bool operator==(const addr_key& o) const noexcept;
    };
    struct addr_hash {
        size_t operator()(const addr_key& k) const noexcept;
    };
    struct cid_key {
        uint8_t len = 0;
        uint8_t bytes[16] = {};
        bool operator==(const cid_key& o) const noexcept;
    };
    struct cid_hash {
        size_t operator()(const cid_key& k) const noexcept;
    };
    struct psk_entry {
        std::vector<uint8_t> key;
        bool found = false;
        uint64_t expires_ns = 0;
    };
    static addr_key key_of(const tern_endpoint& ep) noexcept;
    // The session indexes' keys (flat_index.hpp), read from the session.
    struct id_traits {
        using key_type = uint64_t;
        static uint64_t key(const session& s) noexcept { return s.id; }
        static uint64_t hash(uint64_t k) noexcept { return mix(k); }
        static bool equal(uint64_t a, uint64_t b) noexcept { return a == b; }
    };
    struct addr_traits {
        using key_type = addr_key;
        static addr_key key(const session& s) noexcept { return key_of(s.addr); }
        static uint64_t hash(const addr_key& k) noexcept { return addr_hash{}(k); }
        static bool equal(const addr_key& a, const addr_key& b) noexcept { return a == b; }
    };
    struct cid_traits {
        using key_type = cid_key;
        static cid_key key(const session& s) noexcept;
        static uint64_t hash(const cid_key& k) noexcept { return cid_hash{}(k); }
        static bool equal(const cid_key& a, const cid_key& b) noexcept { return a == b; }
    };
    struct source_traits {
        using key_type = addr_key;
        static addr_key key(const source_entry& e) noexcept;
        static uint64_t hash(const addr_key& k) noexcept { return addr_hash{}(k); }
        static bool equal(const addr_key& a, const addr_key& b) noexcept { return a == b; }
    };

    // io.cpp: datagrams in and out
    void on_plaintext_record(const record_header& r, const uint8_t* data, size_t size,
                             const tern_endpoint& from) noexcept;
    void on_unified_record(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept;
    void forward(uint32_t to_shard, const uint8_t* data, size_t size, const tern_endpoint& from) noexcept;
    void on_tls12_cid_record(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept;
    void on_unknown_cid(bytes_view cid, const uint8_t* data, size_t size, const tern_endpoint& from) noexcept;
    // record: the oldest record number (epoch << 48 | sequence) of a tls12_cid datagram,
    // no_record for any other datagram
    static constexpr uint64_t no_record = UINT64_MAX;
    void feed(session& s, const uint8_t* data, size_t size, const tern_endpoint& from,
              uint64_t record = no_record) noexcept;
    void read_application_data(session& s, const tern_endpoint& from, uint64_t record) noexcept;
    void follow(session& s, const tern_endpoint& from, uint64_t record) noexcept;

    // cookies.cpp: stateless cookies (RFC 6347 §4.2.1), computed exactly as wolfSSL computes
    // them so that the WOLFSSL object made for a verified ClientHello accepts it
    void on_client_hello(const client_hello& ch, const uint8_t* data, size_t size,
                         const tern_endpoint& from, session* existing) noexcept;
    void cookie(const uint8_t secret[32], const client_hello& ch, const tern_endpoint& from,
                uint8_t out[32]) noexcept;
    int verify_cookie(const client_hello& ch, const tern_endpoint& from) noexcept;  // secret index or -1
    void rotate_cookie_secret(uint64_t now) noexcept;

    // handshake.cpp: the WOLFSSL object, wolfSSL_accept, success and failure, retransmission
    bool open_ssl(session* s, const tern_endpoint& from, int cookie_secret, bool dtls13) noexcept;
    void advance_handshake(session& s) noexcept;
    void handshake_done(session& s) noexcept;
    void cid_negotiated(session& s) noexcept;  // keeps s in by_cid_ only if the client took its CID
    void handshake_failed(session& s, handshake_result why) noexcept;
    void note_flight(session& s, const uint8_t* data, size_t size) noexcept;  // what we sent
    void schedule(session& s) noexcept;
    void retransmit_due() noexcept;

    // psk.cpp
    bool psk_hold(session& s, const uint8_t* data, size_t size) noexcept;

    // compaction.cpp
    bool restore(session& s) noexcept;   // a compacted session gets its wolfSSL object back
    void compact(session& s) noexcept;   // an idle session gives it up
    void compact_idle() noexcept;        // the pass over idle sessions (on the timer)
    void drop_blob(session& s) noexcept; // frees a compacted session's exported state
    uint64_t compaction_due() const noexcept;  // when that pass next has work; UINT64_MAX: never

    // sessions.cpp: the table, making room, a session's life, per-source limits
    bool make_room(source_entry* src) noexcept;
    bool make_room_for(session& newcomer) noexcept;
    bool evict_anonymous() noexcept;     // the least recently active anonymous session goes
    session* create(const tern_endpoint& from, int cookie_secret, bool dtls13, source_entry* src) noexcept;
    void leave_handshakes(session& s) noexcept;  // off the handshakes in flight
    void end(session& s, end_reason why, bool notify_peer) noexcept;
    void destroy(session& s) noexcept;
    void move_to(session& s, const tern_endpoint& from) noexcept;
    void move_source(session& s, const tern_endpoint& from) noexcept;  // per-source accounting follows
    void cid_unindex(session& s) noexcept;  // out of by_cid_, cid_len 0
    void lru_remove(session& s) noexcept;
    void lru_push(session& s) noexcept;
    void vouch(session& s) noexcept;  // no longer anonymous
    void end_idle_sessions() noexcept;  // inactivity and anonymous timeouts (on the timer)
    uint64_t idle_due() const noexcept; // when the next one is due; UINT64_MAX: none
    session* find(uint64_t id) const noexcept;
    addr_key source_key(const tern_endpoint& ep) const noexcept;
    source_entry* source_for(const tern_endpoint& from) noexcept;  // null: not tracked
    bool take_token(source_entry& e) noexcept;
    bool bucket_full(const source_entry& e) const noexcept;
    void source_idle(source_entry& e) noexcept;
    void source_busy(source_entry& e) noexcept;
    void source_erase(source_entry& e) noexcept;

    // memory.cpp: dtls_memory_bytes and the entry counts beside it, refreshed by the timer
    void report_memory() noexcept;
    void unreport_memory() noexcept;  // the shard's share back to zero (clear)

    // shard.cpp
    void arm(uint64_t at_ns) noexcept;
    void count_drop(drop why, uint64_t n = 1, int err = 0) noexcept;

    environment& env_;
    uint32_t index_;
    int fd_;
    int family_;
    uint64_t next_serial_ = 0;
    uint64_t now_ = 0;

    flat_index<session, id_traits> by_id_;
    flat_index<session, addr_traits> by_addr_;  // a session is here while indexed_by_addr
    flat_index<session, cid_traits> by_cid_;    // while cid_len != 0
    session_list known_;  // established sessions with an identity (or vouched for), LRU
    session_list anon_;   // anonymous established sessions, LRU
    session* hs_oldest_ = nullptr;
    session* hs_newest_ = nullptr;
    size_t established_ = 0;
    size_t handshakes_ = 0;
    size_t session_cap_;
    size_t handshake_cap_;

    flat_index<source_entry, source_traits> sources_;
    slab source_slab_{(sizeof(source_entry) + 7) / 8 * 8, 256};
    source_entry* idle_oldest_ = nullptr;  // sources without a session, by last use
    source_entry* idle_newest_ = nullptr;
    size_t idle_sources_ = 0;
    bool sources_on_ = false;     // any per-source limit configured
    size_t source_session_cap_ = 0;    // this shard's share; 0: none
    size_t source_handshake_cap_ = 0;
    size_t idle_source_cap_ = 1;
    double tokens_per_ns_ = 0;    // 0: no rate limit
    double burst_ = 0;
    uint64_t anon_idle_ns_ = 0;

    using deadline = std::pair<uint64_t, uint64_t>;  // (time, session id)
    std::priority_queue<deadline, std::vector<deadline>, std::greater<deadline>> timers_;
    uint64_t timer_ = 0;
    bool timer_made_ = false;
    uint64_t armed_at_ = 0;  // 0: not armed

    uint8_t cookie_secrets_[2][32] = {};  // [0] current, [1] previous
    uint64_t cookie_rotated_ns_ = 0;
    // When the idle-compaction scan next has work: the earliest compaction deadline seen by
    // the last scan, lowered by sessions that joined or were restored since. The scan walks
    // every session, so it runs at most every compact_scan_min_gap (not on every tick).
    uint64_t compact_due_ns_ = UINT64_MAX;
    uint64_t compact_scanned_ns_ = 0;
    size_t compacted_since_trim_ = 0;
    std::vector<uint8_t> export_buf_;  // an export and its packing (compaction.cpp)
    // Session records and packed exported state (slab.hpp). 240 bytes hold the packed state
    // of the AES-128 and AES-256 GCM and CCM suites (205 to 236 bytes); larger ones go to
    // the heap.
    static constexpr size_t blob_slot = 240;
    slab sessions_{(sizeof(session) + 7) / 8 * 8, 256};
    slab blobs_{blob_slot, 256};

    // What the memory gauges need that the tables do not say (memory.cpp)
    size_t compacted_ = 0;    // sessions held as exported state
    size_t heap_blob_bytes_ = 0;  // chunk() of the exported states too large for a slot
    size_t ident_bytes_ = 0;  // identity_heap() of the established sessions' identities
    int64_t reported_[count_of<table>()] = {};
    int64_t reported_objects_ = 0, reported_psk_ = 0, reported_identities_ = 0;
    uint64_t memory_due_ns_ = 0;

    std::unordered_map<std::string, psk_entry> psk_cache_;

    // I/O scratch
    udp_io::receive_batch rx_;
    udp_io::send_batch tx_;
    std::vector<uint8_t> tx_arena_;
    size_t tx_slot_;
    uint32_t tx_used_ = 0;
    udp_io::send_stats tx_stats_;
    std::vector<uint8_t> plain_arena_;
    std::vector<tern_datagram> plain_;
    uint32_t plain_used_ = 0;
    std::vector<uint8_t> hvr_;
    std::vector<uint8_t> read_buf_;

    uint64_t drops_logged_[count_of<drop>()] = {};

    friend int io_recv(WOLFSSL*, char*, int, void*);
};

}  // namespace tern::dtls

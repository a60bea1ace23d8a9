// One engine shard: every piece of CoAP state about the peers whose datagrams arrive on one
// reactor shard (dedup entries, exchanges, Observe relations, Block1 reassembly, CON
// messages awaiting their ACK), touched only from that shard's thread. All tables are
// allocated when the shard is made; the datagram-in → response-out path neither allocates
// nor locks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "amplification.hpp"
#include "blockwise.hpp"
#include "codec.hpp"
#include "completion_queue.hpp"
#include "config.hpp"
#include "dedup.hpp"
#include "env.hpp"
#include "exchange.hpp"
#include "metrics.hpp"
#include "observe.hpp"
#include "retransmit.hpp"
#include "router.hpp"
#include "tables.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/transport.h"

namespace tern::coap {

class engine;
struct reply_to;
struct build_opts;
struct request_options;

// Exchange and observation ids: [shard:8][slot:24][generation:32].
constexpr uint64_t make_id(uint32_t shard, uint32_t slot, uint32_t gen) noexcept {
    return (uint64_t{shard} << 56) | (uint64_t{slot & 0xFFFFFFu} << 32) | gen;
}
constexpr uint32_t id_shard(uint64_t id) noexcept { return static_cast<uint32_t>(id >> 56); }
constexpr uint32_t id_slot(uint64_t id) noexcept {
    return static_cast<uint32_t>(id >> 32) & 0xFFFFFFu;
}
constexpr uint32_t id_gen(uint64_t id) noexcept { return static_cast<uint32_t>(id); }

// ---- per-shard records (all trivially copyable: they live in calloc'd tables) ------------

struct peer_rec {
    uint32_t gen;
    uint32_t prefix;      // its source-prefix record (prefix_rec slot)
    tern_peer addr;       // where to send (follows a DTLS session's current address)
    uint64_t last_ns;     // last datagram from or to it
    list_link idle;       // in an evictable list (by trust) while refs == 0, LRU order
    list_link pidle;      // in its source prefix's evictable list while refs == 0
    slot_list dedups;     // its dedup entries (pool slots), oldest first
    slot_list exchanges;
    slot_list relations;  // reserved, live and ending Observe relations (its size: how many)
    // What pins the peer: exchanges + relations + Block1 transfers. Dedup entries do not:
    // a peer holding only answered dedup entries can be evicted (they go with it).
    uint32_t refs;
    uint16_t next_mid;
    uint16_t transfers;   // Block1 uploads in progress
    uint16_t late_ping_mid;
    uint8_t transport;
    uint8_t indexed : 1;  // findable by address/session (0 after its session ended)
    uint8_t idle_listed : 1;
    uint8_t late_ping : 1;  // late_ping_mid: its last ping, whose answers went limited
    uint8_t trusted : 1;  // a handler answered it 2.xx, or it is a DTLS session
};
// Its index bucket holds the hash; peer_hash recomputes it from addr (a session's hash is
// of the session alone, so a DTLS peer's new address does not change it).
static_assert(sizeof(peer_rec) <= 112, "a peer's record");

// Peers per source network (IPv4 /peer_prefix_v4, IPv6 /peer_prefix_v6), so one network
// cannot take the whole peer table.
struct prefix_rec {
    uint32_t gen;
    uint32_t hash;
    uint32_t count;       // peers in this prefix
    uint64_t key;         // seeded 64-bit hash of transport, family and masked address
    slot_list idle;       // its evictable peers, LRU first
};

enum : uint8_t { dedup_pending = 0, dedup_cached = 1, dedup_acked = 2, dedup_done = 3 };

// A dedup entry's id (exchange_rec::dedup_seq, arena owner): generation << 32 | slot.
struct dedup_rec {
    uint32_t gen;
    uint32_t peer;
    uint64_t expires_ns;
    list_link peer_link;
    list_link age_link;   // in dedup_age_[list], oldest first
    uint32_t hash;
    uint32_t exchange;    // the pending exchange's slot, or nil
    uint32_t arena_off;   // cached response (dedup_cached)
    uint32_t arena_len;
    uint16_t mid;
    uint8_t state;
    uint8_t type;
    uint8_t live;
    uint8_t list;         // 2 * trusted + (type == CON)
};

// exch_held: answered, the answer held until the address answers a ping (verify_by_ping).
enum : uint8_t { exch_free = 0, exch_pending = 1, exch_awaiting_ack = 2, exch_held = 3 };
enum : uint8_t {
    xf_block2 = 1,      // the request carried Block2
    xf_size2 = 2,       // the request carried Size2 (asks for the total)
    xf_block1 = 4,      // echo Block1 (num, M=0) in the response
    xf_pinged = 8,      // its address got a ping for it (4 bytes of its budget)
    xf_ping_out = 16,   // held, and its ping is the one out to the address (amp_.pinging)
};

struct exchange_rec {
    uint32_t gen;
    uint32_t peer;
    uint64_t arrival_ns;
    uint64_t dedup_seq;   // 0: no dedup entry
    const resource_entry* res;
    list_link pending_link; // timeout FIFO (state pending)
    list_link piggy_link;   // piggyback deadline FIFO (CON, pending, not acked)
    list_link peer_link;
    uint32_t obs;         // reserved or activated relation slot, or nil
    uint32_t obs_gen;
    uint32_t tx_chunks;   // separate CON response awaiting its ACK (held: the full answer)
    uint32_t held_chunks; // held: the answer limited to the budget, or nil
    uint16_t held_len;
    uint16_t ping_mid;    // held, and its ping is the one out to the address
    uint32_t tx_timeout_ms;
    uint32_t block2_num;
    uint32_t block1_num;
    uint16_t mid;
    uint16_t tx_mid;
    uint16_t tx_len;
    uint8_t state;
    uint8_t type;
    uint8_t method;
    uint8_t tkl;
    uint8_t token[8];
    uint8_t acked;        // the CON request has had its empty ACK
    uint8_t no_response;  // RFC 7967 bits: 1 << class suppressed
    uint8_t flags;
    uint8_t block2_szx;
    uint8_t block1_szx;
    uint8_t attempts;
    uint8_t in_piggy;
};

enum : uint8_t {
    rel_free = 0,
    rel_reserved = 1, // registration passed to the handler, not answered yet
    rel_live = 2,
    rel_ending = 3,   // a non-2.xx notification is queued: no more notify()
    rel_closing = 4   // ended; its final CON response awaits an ACK
};
enum : uint8_t { rf_has_non_mid = 1, rf_warned_full = 2, rf_pumping = 4 };

struct relation_rec {
    uint32_t gen;
    uint32_t peer;
    const resource_entry* res;
    list_link peer_link;
    uint64_t last_con_ns;
    uint32_t seq : 24;    // the last Observe value sent
    uint32_t flags : 8;   // rf_*
    uint32_t q_head;      // queued notifications (note records), FIFO
    uint32_t q_tail;
    // The CON notification (or final response) awaiting its ACK, or nil; its MID, timeout
    // and attempts are in its note record, so an idle relation does not carry them.
    uint32_t inflight;
    uint16_t q_count;
    uint16_t last_non_mid;
    uint16_t non_since_con;
    uint8_t state : 4;
    uint8_t type : 4;     // the registration's type: the notifications' type
    uint8_t tkl;
    uint8_t token[8];
};
static_assert(sizeof(relation_rec) <= 64, "an idle relation's record");

// nf_keep: sent with TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT (unacknowledged, it leaves the relation).
enum : uint8_t { nf_mergeable = 1, nf_final = 2, nf_keep = 4 };

// A notification (or a relation's final response) kept as a template: the encoded options
// and payload after the header and token, with a hole where the Observe option goes, so
// the MID, the type (NON may turn CON) and the Observe value are set when it is sent.
struct note_rec {
    uint32_t gen;
    uint32_t next;
    uint64_t cookie;
    uint32_t chunks;
    uint32_t seq;         // its Observe value once sent
    uint16_t len;
    uint16_t obs_at;      // template offset of the Observe option
    uint16_t suffix_at;   // template offset just after it
    uint16_t mid;
    uint8_t code;
    uint8_t prev_opt;     // the option number before Observe (its delta base)
    uint8_t flags;
    uint8_t attempts;     // sent as CON and awaiting its ACK: retransmissions so far
    uint32_t tx_timeout_ms;  // and the current wait
};

struct transfer_rec {
    uint32_t gen;
    uint32_t peer;
    uint64_t key;         // RFC 7959 §2.5 request matching: method, path and query
    uint32_t hash;
    uint32_t last_num;
    uint8_t* buf;
    uint64_t size;        // bytes received
    uint64_t cap;
    uint64_t last_ns;
    uint64_t last_off;    // offset of the last block accepted (a repeat is re-acknowledged)
    list_link lru;
    uint8_t last_szx;
};

// Bytes an idle Observe relation costs (docs and the budget test): its record, its slot's
// free-list word, its published generation and its timer position. The (peer, MID) index and
// the timer heap's entries are sized for messages in flight (exchanges and notifications),
// not for relations; a relation is found by (peer, token) through its peer's list.
struct relation_cost {
    std::size_t record;       // relation_rec
    std::size_t free_list;    // slot pool free-list word
    std::size_t published;    // cross-thread generation word
    std::size_t timer;        // timer position word (owner number)
    std::size_t total() const noexcept { return record + free_list + published + timer; }
};

// What each table of a shard holds now (coap_memory_bytes / coap_entries), by mem.
struct table_figures {
    std::array<int64_t, static_cast<std::size_t>(mem::count_)> bytes{};
    std::array<int64_t, static_cast<std::size_t>(mem::count_)> entries{};
};

// The shard keeps every table (struct-of-tables: the hot path's layout); its behaviour is in
// the components named after what they do (dedup, exchange, retransmit, observe,
// blockwise, each in the file of its name), friends that work on these tables. What is left
// here: the entry points, the request stages (shard_request.cpp), response building
// (shard_response.cpp), peers and the send batch (shard.cpp), amplification limits
// (amplification.cpp).
class shard {
public:
    shard(engine& eng, uint32_t index, const shard_limits& limits);
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;
    ~shard();

    // ---- transport side [this shard] ----
    void on_datagrams(uint32_t transport, const tern_datagram* batch, uint32_t count) noexcept;
    void on_session_end(uint32_t transport, const tern_peer* peer) noexcept;
    void on_timer() noexcept;
    // Applies queued cross-thread completions.
    void drain() noexcept;

    // ---- coap_engine_v1 on the owning shard [this shard]: exchange.cpp, observe.cpp ----
    // A handler's answer; a 2.xx marks the peer proven (peer_trust).
    tern_status answer(uint64_t exchange, const tern_coap_response& r,
                       uint64_t* out_observation) noexcept;
    tern_status notify(uint64_t observation, const tern_coap_response& r, uint64_t cookie,
                       uint32_t flags) noexcept;
    tern_status end_observation(uint64_t observation, const tern_coap_response* final_response) noexcept;

    // ---- cross-thread support [any-thread] ----
    completion_queue& queue() noexcept { return queue_; }
    // Best-effort liveness checks for ids handed out by this shard.
    bool exchange_maybe_live(uint64_t id, uint64_t* observation) const noexcept;
    bool observation_maybe_live(uint64_t id) const noexcept;

    // ---- start-stop (run on the shard, or while it is quiescent) ----
    void set_routes(const route_table* routes, std::size_t well_known_size);
    // Ends the resource's relations (SHUTDOWN) and forgets its exchanges.
    void remove_resource(const resource_entry* res) noexcept;
    // Drops every piece of state silently (engine stop).
    void shutdown() noexcept;

    // ---- introspection (tests, fuzzing, docs) ----
    struct counts {
        uint32_t peers, exchanges, relations, dedup, transfers, notes, idle_peers;
        uint32_t heap, note_chunks_free, tx_chunks_free;
    };
    counts census() const noexcept;
    const shard_limits& limits() const noexcept { return lim_; }
    static relation_cost cost_of_relation() noexcept;
    // Every table's bytes (as touched: records handed out, indexes as grown, buffers as
    // written) and entries now (memory.cpp).
    table_figures memory() const noexcept;
    uint32_t index() const noexcept { return index_; }
    const amplifier& amplification() const noexcept { return amp_; }

private:
    friend class engine;
    friend class dedup;
    friend class exchange;
    friend class retransmit;
    friend class observe;
    friend class blockwise;
    enum class built : uint8_t { ok, too_large, out_of_range, body_failed };
    class scope;

    // message layer and the request's stages, in order (shard_request.cpp). A stage that
    // answered (or dropped) the request says so: check_duplicate and well_known return true,
    // validate_options and read_options false, route nullptr.
    void datagram(uint32_t transport, const tern_datagram& dg) noexcept;
    void request(uint32_t transport, const tern_datagram& dg, bool too_many_options) noexcept;
    reply_to reply_for(uint32_t transport, const tern_datagram& dg) noexcept;
    bool check_duplicate(reply_to& to, const tern_datagram& dg) noexcept;
    bool validate_options(reply_to& to, request_options& o) noexcept;
    bool read_options(reply_to& to, request_options& o) noexcept;
    void split_path(request_options& o) noexcept;
    bool well_known(reply_to& to, const request_options& o) noexcept;
    const resource_entry* route(reply_to& to, request_options& o) noexcept;
    void open_exchange(reply_to& to, const request_options& o, const resource_entry* res,
                       uint32_t rel, uint32_t transfer, tern_bytes payload,
                       const tern_peer& from) noexcept;
    void call_handler(uint32_t x, const request_options& o, const resource_entry* res,
                      tern_bytes payload, const tern_peer& from) noexcept;
    void send_empty(uint32_t transport, const tern_peer& to, msg_type type, uint16_t mid) noexcept;

    // peers
    uint32_t peer_find(uint32_t transport, const tern_peer& p) const noexcept;
    uint32_t peer_get(uint32_t transport, const tern_peer& p) noexcept;
    uint32_t peer_hash(uint32_t transport, const tern_peer& p) const noexcept;
    bool peer_same(const peer_rec& r, uint32_t transport, const tern_peer& p) const noexcept;
    void peer_ref(uint32_t peer) noexcept;
    void peer_unref(uint32_t peer) noexcept;
    void peer_free(uint32_t peer) noexcept;
    void peer_drop_state(uint32_t peer) noexcept;
    // The evictable lists (refs == 0): LRU order, by trust and by source prefix.
    void idle_link(uint32_t peer) noexcept;
    void idle_unlink(uint32_t peer) noexcept;
    void peer_touch(uint32_t peer) noexcept;
    void peer_trust(uint32_t peer) noexcept;
    // Frees an evictable peer to make room (its dedup entries go with it).
    void peer_evict(uint32_t peer) noexcept;
    uint32_t prefix_get(uint32_t transport, const tern_peer& p) noexcept;
    uint64_t prefix_key(uint32_t transport, const tern_peer& p) const noexcept;
    uint16_t next_mid(uint32_t peer) noexcept;

    // responses
    enum class sent : uint8_t { done, separate_con, held };
    // Sends r as the answer `to` describes; base: extra build options (2.31, errors).
    sent send_response(reply_to& to, const tern_coap_response& r, uint32_t exchange,
                       const build_opts* base = nullptr) noexcept;
    void reply_error(reply_to& to, uint8_t code, std::string_view diagnostic,
                     int64_t max_age = -1, int64_t size1 = -1) noexcept;
    // send_response's stages: No-Response, the first build, verify_by_ping's held answer,
    // the amplification budget, a response that could not be built
    struct draft;
    bool suppressed(const reply_to& to, const tern_coap_response& r) noexcept;
    draft draft_for(const reply_to& to, const tern_coap_response& r, const build_opts* base) noexcept;
    void plan_ping(draft& d, const reply_to& to, const tern_coap_response& r, uint32_t exchange) noexcept;
    void fit_budget(draft& d, const reply_to& to, const tern_coap_response& r) noexcept;
    void build_failed(draft& d, const reply_to& to) noexcept;
    built build(writer& w, uint8_t code, const tern_coap_response& r,
                build_opts& o) noexcept;
    std::span<uint8_t> out_slot() noexcept;
    void out_commit(uint32_t transport, const tern_peer& to, std::size_t len) noexcept;
    void flush() noexcept;

    // completions
    void apply(completion& c) noexcept;

    // amplification limits (amplification.cpp)
    bool amp_verified(uint32_t transport, const tern_peer& p) noexcept;
    uint32_t amp_budget(const reply_to& to) noexcept;  // UINT32_MAX: no limit
    void amp_mark_verified(uint32_t transport, const tern_peer& p, ctr how) noexcept;
    void amp_proved(uint32_t transport, const tern_peer& from) noexcept;  // it ACKed/RST our CON
    bool amp_replay_ok(uint32_t transport, const tern_peer& from, std::size_t request_len,
                       std::size_t cached_len) noexcept;
    bool amp_may_resend(uint32_t exchange) noexcept;
    bool amp_gate(reply_to& to) noexcept;  // Echo check and challenge; true: answered
    // verify_by_ping (amplification.cpp)
    enum class ping_plan : uint8_t { none, ping, wait };
    ping_plan amp_ping_plan(const reply_to& to, uint32_t exchange, uint8_t code,
                            std::size_t full_len) noexcept;
    uint32_t amp_ping_budget(const reply_to& to) const noexcept;
    // Holds exchange x's answer (full and limited, stored), ACKs a CON request, pings.
    void amp_hold(uint32_t x, ping_plan plan, uint32_t full_chunks, std::size_t full_len,
                  uint32_t limited_chunks, std::size_t limited_len, uint16_t mid) noexcept;
    // Sends a held answer, full or limited; a CON one then awaits its ACK.
    void amp_release(uint32_t x, bool full) noexcept;
    void amp_release_peer(uint32_t peer, bool full) noexcept;
    // Forgets a held answer's state but the chunks in keep (exchange::close, release).
    void amp_unhold(uint32_t x, uint32_t keep) noexcept;
    // An empty RST (or ACK) from peer that no CON of ours matched: true when it names the
    // MID of the ping out to that address (verified; held answers go in full).
    bool amp_ping_answered(uint32_t transport, uint32_t peer, uint16_t mid) noexcept;
    // An RST that matched nothing at all from a peer with a ping out: a guess; the ping is
    // cancelled (held answers go limited) and the address held off. True when so.
    bool amp_ping_wrong(uint32_t transport, uint32_t peer) noexcept;
    // A Reset (or ACK) naming the MID of the peer's last ping that timed out: verifies the
    // address for later requests (its answers went limited already). True when so.
    bool amp_ping_late(uint32_t transport, uint32_t peer, uint16_t mid) noexcept;
    void amp_ping_expired(uint32_t x) noexcept;
    uint32_t amp_ping_of(uint32_t peer) const noexcept;  // the exchange whose ping is out
    void amp_ping_forget(uint32_t x) noexcept;            // its ping no longer counts

    // coap_memory_bytes / coap_entries: the shard's change since it last reported, at most
    // once a second (at the end of a run; a timer brings a skipped report in).
    void memory_tick() noexcept;

    uint64_t random() noexcept;
    void log(tern_log_level level, std::string_view msg) noexcept;

    engine& eng_;
    engine_env& env_;
    const engine_config& cfg_;
    const engine_metrics& m_;
    shard_limits lim_;
    uint32_t index_;
    const route_table* routes_ = nullptr;

    uint64_t now_ = 0;
    uint32_t depth_ = 0;
    uint64_t rng_[2] = {};
    uint64_t hash_seed_ = 0;
    uint64_t armed_ = 0;     // deadline the timer is armed for (0: none)
    uint8_t pref_szx_ = 6;
    uint8_t last_code_ = 0;  // the code send_response last sent (0: none)
    bool stopped_ = false;   // shutdown(): every entry point is a no-op from then on
    bool mem_dirty_ = false; // something may have changed since the last memory report
    uint64_t mem_due_ns_ = 0;  // the next memory report, at the earliest
    table_figures mem_reported_{};

    slot_pool<peer_rec> peers_;
    open_index peer_index_;
    slot_list idle_peers_[2];  // evictable peers (refs == 0), untrusted then trusted, LRU
    slot_pool<prefix_rec> prefixes_;
    open_index prefix_index_;

    slot_pool<dedup_rec> dedups_;
    slot_list dedup_age_[4];  // by dedup_rec::list: untrusted NON, CON, trusted NON, CON
    open_index dedup_index_;
    zarray<uint8_t> arena_;
    uint64_t arena_cap_ = 0;
    uint64_t arena_head_ = 0;
    uint64_t arena_tail_ = 0;
    uint64_t arena_touched_ = 0;  // the furthest the ring has been written (resident)

    slot_pool<exchange_rec> exch_;
    slot_list pending_;
    slot_list piggy_;

    slot_pool<relation_rec> rels_;  // found by (peer, token) through the peer's list
    slot_pool<note_rec> notes_;
    chunk_pool note_chunks_;
    chunk_pool tx_chunks_;
    open_index mid_index_;   // (peer, MID) of CON messages awaiting an ACK → owner
    timer_heap heap_;        // owners: exchange slots, then relation slots

    slot_pool<transfer_rec> xfers_;
    open_index xfer_index_;
    slot_list xfer_lru_;

    // published for other threads (std::atomic_ref): generation of live ids
    zarray<uint32_t> pub_exch_gen_;
    zarray<uint64_t> pub_exch_obs_;
    zarray<uint32_t> pub_obs_gen_;

    // send batch
    static constexpr uint32_t batch_cap = 64;
    struct out_meta {
        uint32_t transport;
        uint32_t len;
        tern_peer peer;
    };
    zarray<uint8_t> out_buf_;
    std::array<out_meta, batch_cap> out_meta_{};
    std::array<tern_datagram, batch_cap> out_dg_{};
    uint32_t out_n_ = 0;

    // per-request scratch
    message msg_;
    std::array<tern_str, max_path_segments> path_{};
    std::array<tern_str, max_path_segments> caps_{};
    std::array<tern_str, max_options> query_{};
    std::array<tern_coap_option, max_options> opts_{};
    std::array<tern_coap_option, max_response_options> completion_opts_{};
    zarray<uint8_t> scratch_;     // notification templates (datagram_capacity)
    zarray<uint8_t> body_buf_;    // body slices read from a coap_body_v1 (datagram_capacity)
    zarray<char> well_known_buf_; // filtered /.well-known/core
    std::size_t well_known_cap_ = 0;

    completion_queue queue_;
    std::atomic<uint32_t> posted_{0};  // drain tasks posted and not yet run

    amplifier amp_ = amplifier::make(cfg_, lim_, env_);  // after cfg_, lim_ and env_

    // behaviour over the tables above
    dedup dedup_{*this};
    exchange exchange_{*this};
    retransmit retransmit_{*this};
    observe observe_{*this};
    blockwise blockwise_{*this};
};

}  // namespace tern::coap

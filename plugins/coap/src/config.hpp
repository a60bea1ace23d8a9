// The engine's settings ([plugins.coap] in the manifest), each key declared once in
// engine_schema below (name, member, default, unit, range, doc: the descriptor's schema, the
// README's table and the values come from it), with RFC 7252's derived transmission
// parameters and the per-shard share of every bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tern/sdk/config.hpp"

namespace tern::coap {

// Zero until loaded: engine_schema.load(config) in the plugin, defaults() in tests.
struct engine_config {
    // exchanges (RFC 7252 §4.8, device-api §1.4 / §10)
    uint64_t timeout_ms{};
    uint64_t piggyback_timeout_ms{};
    uint32_t max_retransmit{};
    uint64_t ack_timeout_ms{};
    double ack_random_factor{};
    // block-wise (RFC 7959, device-api §1.1)
    uint32_t max_message_size{};
    uint32_t preferred_block_size{};
    uint64_t max_resource_body_size{};
    uint64_t blockwise_status_lifetime_ms{};
    uint32_t max_block1_transfers{};
    uint32_t max_block1_transfers_per_peer{};
    uint64_t block1_memory{};
    // bounds (totals over every shard, but completion_queue_size)
    uint32_t max_peers{};
    // share of max_peers one source network may hold, in percent, and the networks' sizes
    uint32_t max_peers_per_prefix_percent{};
    uint32_t peer_prefix_v4{};
    uint32_t peer_prefix_v6{};
    uint32_t max_exchanges{};
    uint32_t max_observations{};
    uint32_t max_observations_per_peer{};
    uint32_t max_queued_notifications{};
    uint64_t notification_memory{};
    uint64_t retransmission_memory{};
    uint32_t dedup_capacity{};
    uint32_t max_dedup_per_peer{};  // not split: a bound per peer
    uint64_t dedup_memory{};
    uint32_t completion_queue_size{};  // per shard
    // Observe (RFC 7641 §4.5)
    uint32_t observe_con_every{};
    uint64_t observe_con_period_ms{};
    uint32_t overload_max_age{};
    bool split_single_uri_path{};
    // amplification limits (RFC 7252 §11.3, RFC 9175): see amplification.hpp
    uint32_t amplification_factor{};  // 0: no limit
    uint32_t max_verified_addresses{};
    uint64_t verified_lifetime_ms{};
    bool echo_in_limited_responses{};
    bool require_echo{};
    // address verification by a CoAP ping (RFC 7252 §4.3) instead of cutting the answer
    bool verify_by_ping{};
    uint64_t ping_timeout_ms{};
    uint32_t max_pings{};  // answers held for a ping, over every shard
    uint64_t ping_holdoff_ms{};  // after an RST with a wrong MID: no pings
    std::vector<std::string> transports;

    // RFC 7252 §4.8.2 with MAX_LATENCY = 100 s and PROCESSING_DELAY = ACK_TIMEOUT.
    static constexpr uint64_t max_latency_ms = 100000;
    uint64_t max_transmit_span_ms() const noexcept {
        return static_cast<uint64_t>(static_cast<double>(ack_timeout_ms) *
                                     static_cast<double>((1ull << max_retransmit) - 1) *
                                     ack_random_factor);
    }
    uint64_t exchange_lifetime_ms() const noexcept {
        return max_transmit_span_ms() + 2 * max_latency_ms + ack_timeout_ms;
    }
    uint64_t non_lifetime_ms() const noexcept { return max_transmit_span_ms() + max_latency_ms; }

    // An empty string when the settings are consistent, else what is wrong.
    std::string check() const;
    // Every key at its default (engine_schema's).
    static engine_config defaults();
};

inline constexpr auto engine_schema = sdk::cfg::bind<engine_config>(
    sdk::cfg::integer("timeout", &engine_config::timeout_ms, 10000,
                 "A request whose handler has not answered by then gets no response at all "
                 "(a CON request already had its empty ACK)")
        .unit("ms").at_least(1),
    sdk::cfg::integer("piggyback_timeout", &engine_config::piggyback_timeout_ms, 500,
                 "A response ready within this time rides in the ACK of a CON request; later "
                 "ones get an empty ACK first and go separately (0: empty ACK at once unless "
                 "the handler answered synchronously)")
        .unit("ms").at_least(0),
    sdk::cfg::integer("max_message_size", &engine_config::max_message_size, 1024,
                 "Largest payload sent in one message; larger bodies go block-wise (Block2)")
        .unit("bytes").range(16, 65000),
    sdk::cfg::integer("preferred_block_size", &engine_config::preferred_block_size, 1024,
                 "Block size offered for Block1 and Block2 (power of two, 16 to 1024); a "
                 "client asking for smaller blocks gets them")
        .unit("bytes").range(16, 1024),
    sdk::cfg::integer("max_resource_body_size", &engine_config::max_resource_body_size, 65536,
                 "Largest request body reassembled from Block1 blocks: an upload whose Size1 or "
                 "received bytes pass it gets 4.13 with Size1 at once (keep it at "
                 "device_api.max_payload_size, the largest body the device API accepts)")
        .unit("bytes").at_least(1),
    sdk::cfg::integer("blockwise_status_lifetime", &engine_config::blockwise_status_lifetime_ms, 300000,
                 "A Block1 upload with no new block for this long is discarded")
        .unit("ms").at_least(1),
    sdk::cfg::integer("max_retransmit", &engine_config::max_retransmit, 4,
                 "Retransmissions of a CON message before giving up (RFC 7252 MAX_RETRANSMIT)")
        .unit("count").range(0, 20),
    sdk::cfg::integer("ack_timeout", &engine_config::ack_timeout_ms, 2000,
                 "First retransmission timeout of a CON message, doubled after each "
                 "retransmission (RFC 7252 ACK_TIMEOUT)")
        .unit("ms").at_least(1),
    sdk::cfg::number("ack_random_factor", &engine_config::ack_random_factor, 1.5,
                "The first timeout is random between ack_timeout and ack_timeout times this "
                "(RFC 7252 ACK_RANDOM_FACTOR)")
        .unit("factor").range(1.0, 10.0),
    sdk::cfg::integer("max_peers", &engine_config::max_peers, 2000000,
                 "Peers (addresses or DTLS sessions) the engine keeps state for, over all "
                 "shards; past it a new peer takes the place of the least recently used peer "
                 "that holds only answered requests (unproven peers first), and gets 5.03 "
                 "only when every peer has an exchange, observation or upload open")
        .unit("count").range(1, 8388608),
    sdk::cfg::integer("max_peers_per_prefix_percent", &engine_config::max_peers_per_prefix_percent, 25,
                 "Share of max_peers that one source network (peer_prefix_v4 / peer_prefix_v6) "
                 "may hold; past it a new peer of that network takes the place of its least "
                 "recently used evictable peer, or gets 5.03")
        .unit("percent").range(1, 100),
    sdk::cfg::integer("peer_prefix_v4", &engine_config::peer_prefix_v4, 24,
                 "Prefix length that makes one IPv4 source network for max_peers_per_prefix_percent")
        .unit("bits").range(0, 32),
    sdk::cfg::integer("peer_prefix_v6", &engine_config::peer_prefix_v6, 56,
                 "Prefix length that makes one IPv6 source network for max_peers_per_prefix_percent")
        .unit("bits").range(0, 128),
    sdk::cfg::integer("max_exchanges", &engine_config::max_exchanges, 65536,
                 "Requests awaiting their handler plus separate responses awaiting an ACK, "
                 "over all shards; past it requests get 5.03")
        .unit("count").range(1, 8388608),
    sdk::cfg::integer("max_observations", &engine_config::max_observations, 4000000,
                 "Observe relations over all shards; past it registrations get 5.03")
        .unit("count").range(1, 8388608),
    sdk::cfg::integer("max_observations_per_peer", &engine_config::max_observations_per_peer, 8,
                 "Observe relations one peer may hold; past it registrations get 5.03")
        .unit("count").at_least(1),
    sdk::cfg::integer("max_queued_notifications", &engine_config::max_queued_notifications, 32,
                 "Notifications waiting behind an unacknowledged CON notification, per "
                 "relation; past it a new one is reported DROPPED")
        .unit("count").range(1, 65535),
    sdk::cfg::integer("notification_memory", &engine_config::notification_memory, 67108864,
                 "Memory for queued and unacknowledged notifications, over all shards")
        .unit("bytes").at_least(65536),
    sdk::cfg::integer("retransmission_memory", &engine_config::retransmission_memory, 33554432,
                 "Memory for separate CON responses awaiting their ACK, over all shards")
        .unit("bytes").at_least(65536),
    sdk::cfg::integer("dedup_capacity", &engine_config::dedup_capacity, 262144,
                 "Requests remembered for duplicate detection (EXCHANGE_LIFETIME for CON, "
                 "NON_LIFETIME for NON), over all shards; when full, the entry nearest its expiry "
                 "leaves first, taken from peers no handler has answered 2.xx before any other")
        .unit("count").range(1, 16777216),
    sdk::cfg::integer("max_dedup_per_peer", &engine_config::max_dedup_per_peer, 1024,
                 "Requests remembered for duplicate detection per peer; past it the peer's own "
                 "oldest entry leaves, so no peer pushes out another's")
        .unit("count").range(1, 16777216),
    sdk::cfg::integer("dedup_memory", &engine_config::dedup_memory, 67108864,
                 "Memory for cached piggy-backed responses replayed to duplicates, over all "
                 "shards")
        .unit("bytes").at_least(65536),
    sdk::cfg::integer("max_block1_transfers", &engine_config::max_block1_transfers, 1024,
                 "Block1 uploads in progress, over all shards; past it a new upload takes the "
                 "place of the least recently advanced one")
        .unit("count").at_least(1),
    sdk::cfg::integer("max_block1_transfers_per_peer", &engine_config::max_block1_transfers_per_peer, 4,
                 "Block1 uploads one peer may have in progress; past it its least recently "
                 "advanced upload is discarded")
        .unit("count").range(1, 65535),
    sdk::cfg::integer("block1_memory", &engine_config::block1_memory, 536870912,
                 "Memory for Block1 uploads in progress, over all shards; past it the least "
                 "recently advanced uploads are discarded, and 5.03 when none is left to discard")
        .unit("bytes").at_least(1024),
    sdk::cfg::integer("completion_queue_size", &engine_config::completion_queue_size, 4096,
                 "Responses and notifications from other threads queued per shard without "
                 "allocating (more are queued in an allocating overflow list)")
        .unit("count").range(16, 1048576),
    sdk::cfg::integer("observe_con_every", &engine_config::observe_con_every, 100,
                 "After this many NON notifications the next one goes CON, to check the "
                 "observer is still there (0: never)")
        .unit("count").at_least(0),
    sdk::cfg::integer("observe_con_period", &engine_config::observe_con_period_ms, 120000,
                 "A NON notification this long after the last CON one goes CON (0: never)")
        .unit("ms").at_least(0),
    sdk::cfg::integer("overload_max_age", &engine_config::overload_max_age, 5,
                 "Max-Age of the 5.03 sent when a bound is reached: when to try again")
        .unit("s").range(0, 4294967295.0),
    sdk::cfg::boolean("split_single_uri_path", &engine_config::split_single_uri_path, true,
                 "A request with exactly one Uri-Path option holding '/' is split on '/' "
                 "(some firmware sends the whole path in one option)"),
    sdk::cfg::integer("amplification_factor", &engine_config::amplification_factor, 3,
                 "No answer to a request from an unverified source address (plain UDP, not yet "
                 "proven by Echo or by acknowledging our CON) is larger than this many times "
                 "the request's bytes: 2.05 to GET/FETCH goes in smaller Block2 blocks, "
                 "diagnostics are cut (0: no limit; RFC 7252 section 11.3)")
        .unit("factor").range(0, 1000),
    sdk::cfg::integer("max_verified_addresses", &engine_config::max_verified_addresses, 100000,
                 "Verified source addresses remembered, over all shards; when full, the entry "
                 "that expires first leaves")
        .unit("count").range(8, 16777216),
    sdk::cfg::integer("verified_lifetime", &engine_config::verified_lifetime_ms, 3600000,
                 "How long an address stays verified after its last proof (Echo value or ACK of "
                 "our CON); also how long an Echo value we issued is accepted")
        .unit("ms").at_least(1000),
    sdk::cfg::boolean("echo_in_limited_responses", &engine_config::echo_in_limited_responses, true,
                 "An answer cut down to the amplification budget carries an Echo option "
                 "(RFC 9175); a client that sends it back verifies its address (clients that "
                 "do not know Echo ignore it)"),
    sdk::cfg::boolean("require_echo", &engine_config::require_echo, false,
                 "Every request from an unverified plain-UDP address gets 4.01 with an Echo "
                 "option until the client repeats it with that Echo value (RFC 9175 section "
                 "2.4); clients without Echo support then cannot talk to the server"),
    sdk::cfg::boolean("verify_by_ping", &engine_config::verify_by_ping, true,
                 "A 2.05 to GET/FETCH that is over the amplification budget of an unverified "
                 "address is held (with the ACK of a CON request), the address gets a CoAP "
                 "ping (Empty CON, RFC 7252 section 4.3), and its Reset verifies the address and "
                 "releases the whole answer in the ACK (a NON answer for a NON request); "
                 "without a Reset within ping_timeout the answer is limited as with false "
                 "(smaller Block2 blocks), which is also what false does at once"),
    sdk::cfg::integer("ping_timeout", &engine_config::ping_timeout_ms, 2000,
                 "How long a held answer (and a CON request's ACK) waits for the Reset to its "
                 "address's ping before it goes limited to the amplification budget; keep it "
                 "below the clients' ACK_TIMEOUT (2 s), a retransmission meanwhile is absorbed")
        .unit("ms").range(1, 60000),
    sdk::cfg::integer("max_pings", &engine_config::max_pings, 4096,
                 "Answers held while their address is being verified by a ping, over all "
                 "shards (one ping per address at a time; the others wait on it); past it "
                 "answers are limited at once")
        .unit("count").range(1, 1048576),
    sdk::cfg::integer("ping_holdoff", &engine_config::ping_holdoff_ms, 600000,
                 "An address from which a Reset with a wrong Message ID came while its ping was "
                 "outstanding (a guess by someone forging that address) gets no ping for this "
                 "long: its answers are limited at once")
        .unit("ms").at_least(0),
    sdk::cfg::strings("transports", &engine_config::transports, "[]",
                 "Names of the transport instances to serve; empty: every instance providing "
                 "tern.transport/1"));

// One shard's share of the totals (rounded up, never below a small floor).
struct shard_limits {
    uint32_t peers;
    uint32_t peers_per_prefix;
    uint32_t exchanges;
    uint32_t observations;
    uint32_t notifications; // queued-notification records
    std::size_t notification_bytes;
    std::size_t retransmission_bytes;
    uint32_t dedup_entries;
    std::size_t dedup_bytes;
    uint32_t block1_transfers;
    uint32_t verified_addresses;
    uint32_t pings;         // answers held while their address is pinged
    uint32_t completion_records;
    // the largest datagram the engine builds
    uint32_t datagram_capacity;

    static shard_limits of(const engine_config& c, uint32_t shards) noexcept;
};

}  // namespace tern::coap

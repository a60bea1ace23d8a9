// The engine's settings ([plugins.coap] in the manifest), with RFC 7252's derived
// transmission parameters and the per-shard share of every bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tern::coap {

struct engine_config {
    // exchanges (RFC 7252 §4.8, device-api §1.4 / §10)
    uint64_t timeout_ms = 10000;
    uint64_t piggyback_timeout_ms = 500;
    uint32_t max_retransmit = 4;
    uint64_t ack_timeout_ms = 2000;
    double ack_random_factor = 1.5;
    // block-wise (RFC 7959, device-api §1.1)
    uint32_t max_message_size = 1024;
    uint32_t preferred_block_size = 1024;
    uint64_t max_resource_body_size = 65536;
    uint64_t blockwise_status_lifetime_ms = 300000;
    uint32_t max_block1_transfers = 1024;
    uint32_t max_block1_transfers_per_peer = 4;
    uint64_t block1_memory = 536870912;
    // bounds (totals over every shard, but completion_queue_size)
    uint32_t max_peers = 100000;
    // share of max_peers one source network may hold, in percent, and the networks' sizes
    uint32_t max_peers_per_prefix_percent = 25;
    uint32_t peer_prefix_v4 = 24;
    uint32_t peer_prefix_v6 = 56;
    uint32_t max_exchanges = 65536;
    uint32_t max_observations = 200000;
    uint32_t max_observations_per_peer = 8;
    uint32_t max_queued_notifications = 32;
    uint64_t notification_memory = 67108864;
    uint64_t retransmission_memory = 33554432;
    uint32_t dedup_capacity = 262144;
    uint32_t max_dedup_per_peer = 1024;  // not split: a bound per peer
    uint64_t dedup_memory = 67108864;
    uint32_t completion_queue_size = 4096;  // per shard
    // Observe (RFC 7641 §4.5)
    uint32_t observe_con_every = 100;
    uint64_t observe_con_period_ms = 120000;
    uint32_t overload_max_age = 5;
    bool split_single_uri_path = true;
    // amplification limits (RFC 7252 §11.3, RFC 9175): see amplification.hpp
    uint32_t amplification_factor = 3;   // 0: no limit
    uint32_t max_verified_addresses = 100000;
    uint64_t verified_lifetime_ms = 3600000;
    bool echo_in_limited_responses = true;
    bool require_echo = false;
    // address verification by a CoAP ping (RFC 7252 §4.3) instead of cutting the answer
    bool verify_by_ping = true;
    uint64_t ping_timeout_ms = 2000;
    uint32_t max_pings = 4096;           // answers held for a ping, over every shard
    uint64_t ping_holdoff_ms = 600000;   // after an RST with a wrong MID: no pings
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
};

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

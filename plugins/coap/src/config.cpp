#include "config.hpp"

#include <algorithm>
#include <bit>

#include "tables.hpp"

namespace tern::coap {

engine_config engine_config::defaults() { return engine_schema.defaults(); }

std::string engine_config::check() const {
    const uint32_t b = preferred_block_size;
    if (b < 16 || b > 1024 || !std::has_single_bit(b))
        return "preferred_block_size must be a power of two from 16 to 1024 (RFC 7959 §2.2)";
    if (max_message_size < 16 || max_message_size > 65000)
        return "max_message_size must be between 16 and 65000 bytes";
    if (ack_random_factor < 1.0 || ack_random_factor > 10.0)
        return "ack_random_factor must be between 1.0 and 10.0 (RFC 7252 §4.8: at least 1.0)";
    if (max_retransmit > 20) return "max_retransmit must be at most 20";
    if (ack_timeout_ms == 0) return "ack_timeout must be at least 1 ms";
    if (timeout_ms == 0) return "timeout must be at least 1 ms";
    if (max_peers == 0 || max_exchanges == 0 || max_observations == 0 ||
        dedup_capacity == 0 || max_block1_transfers == 0 || completion_queue_size == 0)
        return "max_peers, max_exchanges, max_observations, dedup_capacity, "
               "max_block1_transfers and completion_queue_size must be at least 1";
    if (max_observations_per_peer == 0) return "max_observations_per_peer must be at least 1";
    if (max_queued_notifications == 0) return "max_queued_notifications must be at least 1";
    if (max_peers_per_prefix_percent == 0 || max_peers_per_prefix_percent > 100)
        return "max_peers_per_prefix_percent must be between 1 and 100";
    if (peer_prefix_v4 > 32) return "peer_prefix_v4 must be at most 32";
    if (peer_prefix_v6 > 128) return "peer_prefix_v6 must be at most 128";
    if (max_dedup_per_peer == 0) return "max_dedup_per_peer must be at least 1";
    if (max_block1_transfers_per_peer == 0) return "max_block1_transfers_per_peer must be at least 1";
    if (max_resource_body_size == 0) return "max_resource_body_size must be at least 1";
    if (max_exchanges > (1u << 23) || max_observations > (1u << 23) || max_peers > (1u << 23))
        return "max_peers, max_exchanges and max_observations must be at most 8388608";
    if (ping_timeout_ms == 0) return "ping_timeout must be at least 1 ms";
    if (max_pings == 0) return "max_pings must be at least 1";
    return {};
}

namespace {
uint32_t share(uint64_t total, uint32_t shards, uint32_t floor) noexcept {
    const uint64_t s = (total + shards - 1) / shards;
    return static_cast<uint32_t>(std::max<uint64_t>(s, floor));
}
std::size_t share_bytes(uint64_t total, uint32_t shards, std::size_t floor) noexcept {
    const uint64_t s = (total + shards - 1) / shards;
    return static_cast<std::size_t>(std::max<uint64_t>(s, floor));
}
}  // namespace

shard_limits shard_limits::of(const engine_config& c, uint32_t shards) noexcept {
    if (shards == 0) shards = 1;
    shard_limits l{};
    l.datagram_capacity = std::max(c.max_message_size, c.preferred_block_size) + 512;
    l.peers = share(c.max_peers, shards, 4);
    l.peers_per_prefix = static_cast<uint32_t>(
        std::max<uint64_t>(1, uint64_t{l.peers} * c.max_peers_per_prefix_percent / 100));
    l.exchanges = share(c.max_exchanges, shards, 4);
    l.observations = share(c.max_observations, shards, 4);
    // At least a few whole messages fit, so one large notification is never refused
    // because the budget was divided too thinly.
    l.notification_bytes = share_bytes(c.notification_memory, shards, 4 * l.datagram_capacity);
    l.notifications = static_cast<uint32_t>(l.notification_bytes / chunk_pool::chunk_size);
    l.retransmission_bytes =
        share_bytes(c.retransmission_memory, shards, 4 * l.datagram_capacity);
    l.dedup_entries = share(c.dedup_capacity, shards, 4);
    l.dedup_bytes = share_bytes(c.dedup_memory, shards, 4 * l.datagram_capacity);
    l.block1_transfers = share(c.max_block1_transfers, shards, 1);
    l.verified_addresses = share(c.max_verified_addresses, shards, 8);
    l.pings = share(c.max_pings, shards, 1);
    l.completion_records = std::max<uint32_t>(c.completion_queue_size, 16);  // per shard
    return l;
}

}  // namespace tern::coap

// Every metric the engine exports, named in one place (the README's list is this table),
// registered through the SDK's host (sdk::host::counter, gauge, histogram) and updated
// through its lock-free sdk::metric handles; no host (unit tests that do not care) turns
// them into no-ops.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "tern/abi/host.h"
#include "tern/sdk/host.hpp"

namespace tern::coap {

enum class ctr : uint16_t {
    retransmissions,
    duplicates,
    notify_delivered,
    notify_timeout,
    notify_reset,
    notify_merged,
    notify_dropped,
    block_in,
    block_out,
    // coap_dropped_total{reason}: input ignored or state given up
    drop_too_short,
    drop_bad_version,
    drop_malformed,       // format error in a NON/ACK/RST: ignored
    drop_malformed_con,   // format error in a CON: answered with RST
    drop_unexpected,      // a response code in a CON/NON, a request code in an ACK/RST
    drop_unmatched_ack,
    drop_unmatched_rst,
    drop_duplicate_non,
    drop_exchange_timeout, // the handler never answered within `timeout`
    drop_retransmit_timeout, // a separate CON response never acknowledged
    drop_dedup_evicted,    // a duplicate-detection entry left early (capacity or memory)
    drop_peer_evicted,     // an idle peer's state (MID counter) reclaimed early
    drop_response_too_large,
    drop_send_failed,
    drop_late_completion,  // respond/notify for an exchange/observation already gone
    drop_no_transmission_memory, // a separate CON response sent without retransmission
    dedup_recycled_per_peer, // a peer over max_dedup_per_peer gave up its oldest entry
    peers_recycled_prefix, // a source prefix at its share gave up its LRU evictable peer
    block1_recycled_per_peer, // a peer at max_block1_transfers_per_peer gave up its oldest upload
    block1_evicted,        // an upload gave way to a new one (table or memory full)
    block1_too_large,      // an upload over the resource's limit got 4.13
    // coap_shed_total{reason}: refused with 5.03 (or TERN_BUSY) because a bound was hit
    shed_peers,
    shed_peers_per_prefix,
    shed_exchanges,
    shed_observations,
    shed_observations_per_peer,
    shed_block1_transfers,
    shed_block1_memory,
    shed_notification_queue,
    shed_notification_memory,
    // amplification limits (amplification.hpp)
    amp_block,               // a 2.xx to an unverified address went in smaller blocks
    amp_truncated,           // a diagnostic was cut (or dropped) to fit the budget
    amp_replay_dropped,      // a cached response was not replayed to a smaller duplicate
    amp_retransmit_skipped,  // a separate CON response was not sent again (budget spent)
    amp_challenged,          // 4.01 with Echo (require_echo)
    amp_exceeded,            // a non-GET/FETCH 2.xx sent whole over the budget
    verified_echo,           // an address verified by an Echo value we issued
    verified_ack,            // an address verified by acknowledging our CON
    echo_rejected,           // an Echo value that is not ours, or too old
    drop_verified_evicted,   // a verified address left the full table early
    // verification by a CoAP ping (verify_by_ping)
    verified_ping,           // an address verified by the Reset to our ping
    ping_sent,               // a ping went to an unverified address (an answer held)
    ping_waited,             // an answer held behind the ping already out to its address
    ping_timeout,            // a held answer went limited: no Reset within ping_timeout
    ping_wrong_mid,          // a Reset with a wrong MID cancelled the address's ping
    ping_held_off,           // no ping: the address sent a wrong-MID Reset lately
    ping_table_full,         // no ping: max_pings answers held already
    ping_no_memory,          // no ping: retransmission_memory could not hold the answer
    ping_late,               // a Reset to a ping that had timed out (verifies the address)
    // an unacknowledged CON notification sent with TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT left its
    // observation in place (the device sleeps)
    observations_kept,
    count_
};

enum class gge : uint16_t { observations, exchanges, peers, count_ };

// The tables whose memory coap_memory_bytes{table} and coap_entries{table} report (README
// "Memory"): what each holds now, from the engine's own accounting.
enum class mem : uint8_t {
    peers,              // peer records, their index, source prefixes and their index
    observations,       // relation records, published generations, timer positions
    exchanges,          // exchange records, published words, request sizes, timer positions
    dedup,              // remembered requests, their index, the cached responses' ring
    notifications,      // queued and unacknowledged notifications (records and bytes)
    retransmissions,    // CON messages awaiting an ACK: the (peer, MID) index, timer heap, bytes
    block1,             // Block1 uploads in progress: records, index, buffers
    verified_addresses, // verified source addresses, held-off addresses, pings out
    count_
};
inline constexpr const char* mem_names[] = {"peers",         "observations",    "exchanges",
                                            "dedup",         "notifications",   "retransmissions",
                                            "block1",        "verified_addresses"};
static_assert(std::size(mem_names) == static_cast<std::size_t>(mem::count_));

// A row of the tables in metrics.cpp: counters in ctr order, gauges in gge order.
struct metric_def {
    const char* name;
    const char* labels;
    const char* help;
};

inline constexpr const char* requests_metric = "coap_requests_total";
inline constexpr const char* latency_metric = "coap_handler_latency_seconds";

// Response codes pre-registered as coap_requests_total{method,code} label values; any
// other code is counted under code="other", no response at all under code="none".
std::string_view method_label(uint8_t method) noexcept;

class engine_metrics {
public:
    // Registers everything (nothing without a host); throws sdk::error naming the metric
    // the kernel refused.
    void init(const sdk::host* host);

    void inc(ctr c, uint64_t n = 1) const noexcept { ctr_[static_cast<int>(c)].inc(n); }
    void add(gge g, int64_t d) const noexcept { gauge_[static_cast<int>(g)].add(d); }
    // Changes a table's coap_memory_bytes and coap_entries (each shard adds its own change).
    void memory(mem t, int64_t bytes, int64_t entries) const noexcept {
        mem_bytes_[static_cast<int>(t)].add(bytes);
        mem_entries_[static_cast<int>(t)].add(entries);
    }
    // code 0: no response was sent.
    void request(uint8_t method, uint8_t code) const noexcept;
    void latency(double seconds) const noexcept { latency_.observe(seconds); }

private:
    static constexpr int methods = 8;  // GET..iPATCH and "other"
    static constexpr int codes = 25;   // see metrics.cpp
    std::array<sdk::metric, static_cast<int>(ctr::count_)> ctr_{};
    std::array<sdk::metric, static_cast<int>(gge::count_)> gauge_{};
    std::array<sdk::metric, static_cast<int>(mem::count_)> mem_bytes_{};
    std::array<sdk::metric, static_cast<int>(mem::count_)> mem_entries_{};
    std::array<sdk::metric, methods * codes> req_{};
    sdk::metric latency_;
};

}  // namespace tern::coap

// The metric handles the store updates. Default-constructed handles do nothing, so the
// store runs the same without a kernel (tests, the benchmark).
#pragma once

#include <array>
#include <cstddef>
#include <iterator>

#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

// The core's tables that grow with devices (core_memory_bytes{table}, core_entries{table}).
enum class mem_table : unsigned {
    auth_cache,        // cached authentications (credential_cache_size)
    sessions,          // devices with an open session or unflushed activity
    sleeping_devices,  // devices a transport reported asleep
    subscriptions,     // devices subscribed to attributes or RPC at the core
    event_masks,       // tern.core.events/1: each subscribed device's subscriber masks
    device_keys,       // the writer's cache of each posting device's telemetry key ids
    rpcs,              // devices with server-side RPCs not yet final, and those RPCs
    count
};
inline constexpr const char* mem_table_names[] = {"auth_cache",    "sessions",    "sleeping_devices", "subscriptions",
                                                 "event_masks",   "device_keys", "rpcs"};
static_assert(std::size(mem_table_names) == static_cast<size_t>(mem_table::count));

struct table_figure {
    size_t entries = 0;
    size_t bytes = 0;
};
using memory_figures = std::array<table_figure, static_cast<size_t>(mem_table::count)>;

struct core_metrics {
    sdk::metric write_queue_depth;      // gauge: ops waiting for the writer
    sdk::metric write_rejected;         // counter: ops refused because the queue was full
    sdk::metric write_queue_bytes;      // gauge: bytes of write ops submitted and not finished
    sdk::metric write_rejected_bytes;   // counter: ops refused because of write_queue_max_bytes
    sdk::metric commits;                // counter: committed transactions
    sdk::metric commit_errors;          // counter: transactions that failed
    sdk::metric ops_per_commit;         // histogram: ops in one transaction
    sdk::metric commit_seconds;         // histogram: BEGIN..COMMIT latency
    sdk::metric read_queue_depth;       // gauge
    sdk::metric read_rejected;          // counter
    sdk::metric read_queue_bytes;       // gauge: bytes of request text held by waiting reads
    sdk::metric read_rejected_bytes;    // counter: reads refused because of read_queue_max_bytes
    sdk::metric auth_cache_hits;        // counter
    sdk::metric auth_cache_misses;      // counter
    sdk::metric auth_cache_size;        // gauge
    sdk::metric telemetry_values;       // counter: key/values stored
    sdk::metric telemetry_keys;         // gauge: names in the telemetry key dictionary
    sdk::metric key_length_refused;     // counter: messages refused: a key over max_key_length
    sdk::metric telemetry_keys_refused_device; // counter: refused by max_telemetry_keys_per_device
    sdk::metric telemetry_keys_refused_total;  // counter: refused by max_telemetry_keys
    sdk::metric attribute_keys_refused; // counter: attributes refused by max_attributes_per_device
    sdk::metric telemetry_purge_devices; // gauge: deleted devices whose history is being removed
    sdk::metric telemetry_purged;       // counter: history points of deleted devices removed
    sdk::metric rpc_by_status[7];       // counters: RPCs reaching each status
    sdk::metric client_rpc_queue_depth; // gauge
    sdk::metric client_rpc_rejected;    // counter
    sdk::metric sessions;               // gauge: live sessions
    sdk::metric devices_asleep;         // gauge: devices a transport reported asleep, not active since
    sdk::metric wal_checkpoints;        // counter: WAL checkpoints run off the writer thread
    sdk::metric wal_restarts;           // counter: checkpoints that had to wait for the writer
    sdk::metric wal_frames;             // gauge: frames in the WAL at the last checkpoint
    sdk::metric memory_bytes[static_cast<size_t>(mem_table::count)];  // gauges, per mem_table
    sdk::metric table_entries[static_cast<size_t>(mem_table::count)]; // gauges, per mem_table
};

}  // namespace tern::core_embedded

// The plugin's metrics (sdk::metric sdk::metrics). Every one is a no-op when no metrics service
// is given (tests).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "tern/abi/coap.h"
#include "action.hpp"
#include "tern/abi/host.h"
#include "tern/sdk/heap_size.hpp"
#include "tern/sdk/host.hpp"

namespace tern::device_api {

// The response codes the plugin sends, for device_api_requests_total{code}.
enum class code_slot : uint8_t {
    c201, c203, c205, c400, c401, c404, c405, c413, c429, c500, c503, none, other, count_
};

code_slot slot_of(uint8_t code, bool silent) noexcept;

enum class dl_kind : uint8_t { attributes, rpc, count_ };

// The tables that grow with devices, for device_api_memory_bytes{table} and
// device_api_entries{table} (README "Memory"): what each holds now, from the plugin's own
// accounting (entries x footprint with the index's share, plus heap the entries own).
enum class mem : uint8_t {
    device_states,      // per device with observations: the record and its slot in the shard's index
    device_records,     // the device's info from the core (shared by the caches, the state, requests)
    observation_ids,    // observation id -> device, on the observation's shard
    pending_downlinks,  // attribute changes and RPCs not yet delivered (their own heap)
    power_states,       // the power-saving part of devices whose mode a policy decides
    auth_cache,         // access token -> device, with the device's rate buckets on the shard
    dtls_sessions,      // DTLS session -> device
    unknown_tokens,     // the negative token cache
    source_limits,      // per-source rate-limit buckets (a table fixed at start)
    count_
};
inline constexpr const char* mem_names[] = {"device_states",     "device_records", "observation_ids",
                                            "pending_downlinks", "power_states",   "auth_cache",     "dtls_sessions",
                                            "unknown_tokens",    "source_limits"};
static_assert(std::size(mem_names) == static_cast<std::size_t>(mem::count_));
inline constexpr std::size_t mem_count = static_cast<std::size_t>(mem::count_);

// The heap an allocation takes, for the accounting above (the SDK's, glibc's chunks).
using sdk::heap_chunk;
using sdk::string_heap;
enum class dl_result : uint8_t { sent, delivered, merged, timeout, dropped, reset, failed, count_ };

struct metrics {
    std::array<std::array<sdk::metric, static_cast<size_t>(code_slot::count_)>,
               static_cast<size_t>(action::count_)> requests{};
    sdk::metric token_hits, token_misses, token_evictions, token_entries;
    sdk::metric session_hits, session_misses, session_evictions, session_entries;
    sdk::metric auth_ok, auth_unknown, auth_error;
    std::array<sdk::metric, 2> observations{};  // attributes, rpc
    sdk::metric states, states_refused, states_expired, states_evicted, sessions;
    std::array<std::array<sdk::metric, static_cast<size_t>(dl_result::count_)>, 2> downlinks{};
    sdk::metric rpc_sent, rpc_delivered, rpc_timeout, rpc_failed, rpc_replies, rpc_refused;
    sdk::metric client_rpc_ok, client_rpc_timeout, client_rpc_error;
    sdk::metric payload_too_large, activity_reports;
    // rate limits (libs/ratelimit): device_api_rate_limited_total{limit}
    sdk::metric limited_provision, limited_token, limited_messages, limited_datapoints;
    sdk::metric source_evictions, source_buckets;
    // power saving: devices of a sleeping mode by state (awake, asleep), RPCs and updates held
    // for them, downlinks held by kind, bounds hit, wake-to-delivery latency (seconds)
    std::array<sdk::metric, 2> power_devices{};
    sdk::metric held_rpcs, held_updates;
    std::array<sdk::metric, 2> held{};
    sdk::metric held_limit_rpcs, held_limit_update;
    sdk::metric wake_delivery;
    // the negative token cache: device_api_auth_cache_*{cache="unknown_token"}
    sdk::metric unknown_hits, unknown_evictions, unknown_entries;
    // memory by table (mem)
    std::array<sdk::metric, mem_count> mem_bytes{}, mem_entries{};

    // Registers everything through the host; throws on a refused registration. h may be
    // null (tests): every handle is then a no-op.
    void init(const sdk::host* h);

    void request(action k, uint8_t code, bool silent = false) const noexcept {
        requests[static_cast<size_t>(k)][static_cast<size_t>(slot_of(code, silent))].inc();
    }
    // Changes a table's device_api_memory_bytes and device_api_entries (each shard adds its
    // own change).
    void memory(mem t, int64_t bytes, int64_t entries) const noexcept {
        if (bytes != 0) mem_bytes[static_cast<size_t>(t)].add(bytes);
        if (entries != 0) mem_entries[static_cast<size_t>(t)].add(entries);
    }
    void downlink(dl_kind k, dl_result r) const noexcept {
        downlinks[static_cast<size_t>(k)][static_cast<size_t>(r)].inc();
    }
};

}  // namespace tern::device_api

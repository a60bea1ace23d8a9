// Everything the device API keeps per reactor shard, touched only on that shard (no locks):
// the authentication caches and lookups in flight (authenticator), the pool of uplink
// contexts (uplinks), observation id -> device for observations living here
// (observations), the states of devices homed here and their idle list (state_table), the
// deadlines of its timer (downlinks, observations), and scratch buffers reused so the hot
// path does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "action.hpp"
#include "auth_cache.hpp"
#include "decoded_uplink.hpp"
#include "device_state.hpp"
#include "metrics.hpp"
#include "tern/sdk/id_table.hpp"
#include "tern/sdk/shard_pool.hpp"
#include "tern/lru/lru_map.hpp"
#include "tern/ratelimit/ratelimit.hpp"

namespace tern::device_api {

using tern::lru::lru_map;
using tern::lru::string_hash;
using tern::ratelimit::address_buckets;

class service;
class uplinks;
struct pending_auth;

// A hot-path core call's context (telemetry, attributes, RPC reply, claim, GET
// attributes, client RPC), recycled through the shard's sdk::shard_pool.
struct uplink_op {
    uplink_op* pool_next = nullptr;
    uplinks* self = nullptr;
    uint32_t shard = 0;
    action kind = action::other;
    uint64_t exchange = 0;
    int32_t format = -1;  // response Content-Format
    std::shared_ptr<const device_entry> dev;  // only flows that encode an answer
};

// An uplink of a device whose power mode sleeps, on its way from the request's shard to the
// device's home (its policy hears of it there); recycled through the request shard's pool.
class downlinks;
struct power_hop {
    power_hop* pool_next = nullptr;
    downlinks* self = nullptr;
    uint32_t shard = 0;  // whose pool it returns to
    uint64_t device_id = 0;
    int64_t now_ms = 0;
};

// rpc_ack: a CON RPC notification not acknowledged in the device's window is TIMEOUT;
// grace: a REPLACED observation's re-registration did not come; power: the device's
// wake_check_ms (rpc_id holds it) has come.
enum class deadline_kind : uint8_t { rpc_ack, grace, power };
struct deadline {
    uint64_t when_ns = 0;
    uint64_t device_id = 0;
    deadline_kind kind = deadline_kind::rpc_ack;
    int64_t rpc_id = 0;
    uint64_t obs = 0;
    bool operator>(const deadline& o) const noexcept { return when_ns > o.when_ns; }
};

struct shard_tables {
    // Both in runtime.cpp, where pending_auth is complete.
    shard_tables(uint32_t i, std::size_t token_cap, std::size_t session_cap, std::size_t unknown_cap,
                 std::size_t source_cap, uint64_t seed);
    ~shard_tables();
    shard_tables(const shard_tables&) = delete;
    shard_tables& operator=(const shard_tables&) = delete;

    uint32_t index;
    service* owner = nullptr;  // whose timer callback this shard's timer calls

    // ---- authenticator ----
    lru_map<std::string, token_val, string_hash> tokens;
    lru_map<session_key, session_val, session_hash> sessions;
    // access tokens the core did not know (negative cache), and per-source buckets of
    // unauthenticated work
    lru_map<std::string, char, string_hash> unknown;
    address_buckets sources;
    // access tokens being looked up in the core -> the requests waiting for that answer, so
    // a token reaches the core once at a time per shard (at most max_token_waiters wait)
    std::unordered_map<std::string, std::vector<std::unique_ptr<pending_auth>>, string_hash, std::equal_to<>>
        token_lookups;
    uint64_t epoch = 0;  // bumped by every invalidation: a late authentication does not cache
    // profile id -> the newest device_profile shared by this shard's devices of it
    std::unordered_map<uint64_t, std::weak_ptr<device_profile>> profiles;

    // ---- uplinks ----
    sdk::shard_pool<uplink_op> ops;
    decoded_uplink decoded;                // the body being stored, copied out of the adaptor
    std::vector<tern_str> keys_a, keys_b;  // GET attributes key lists

    sdk::shard_pool<power_hop> hops;  // uplinks of sleeping devices homed elsewhere

    // ---- observations: those living on this shard -> their device ----
    sdk::id_table<uint64_t> obs_device;
    // set while this shard answers an Observe registration: an end of the new relation
    // inside respond() (before its id is known here) is noticed
    bool in_observe_respond = false;
    bool observe_respond_ended = false;

    // ---- state_table: devices homed here ----
    sdk::id_table<std::unique_ptr<device_state>> states;
    device_state* idle_head = nullptr;
    device_state* idle_tail = nullptr;

    // ---- the shard timer: deadlines, and the idle list's expiry ----
    std::priority_queue<deadline, std::vector<deadline>, std::greater<>> deadlines;
    uint64_t timer = 0;
    uint64_t armed_ns = 0;  // 0: not armed

    // ---- memory accounting (runtime::refresh_memory): what this shard last added to each
    // table's device_api_memory_bytes and device_api_entries, and the heap of the access
    // tokens cached and remembered as unknown (keys past the short-string buffer), summed
    // over every key put, for their average ----
    std::array<int64_t, mem_count> mem_bytes{}, mem_entries{};
    uint64_t token_key_heap = 0, token_keys = 0;
    uint64_t unknown_key_heap = 0, unknown_keys = 0;

    // ---- downlinks: encoding scratch ----
    std::vector<tern_kv> kv_scratch;
    std::vector<tern_str> str_scratch;
    std::string bytes_scratch;
};

}  // namespace tern::device_api

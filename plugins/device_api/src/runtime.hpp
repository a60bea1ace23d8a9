// What every component of the device API shares: the settings and durations derived from
// them, the services it talks to, its logger and metrics, the per-shard tables, the clock,
// and posting work to a shard.
//
// Threads (host.h tags):
//   - A request runs on its peer's shard S (the engine's choice). Authentication is cached
//     per shard, so the hot path (a telemetry POST with a cached token) takes no lock and
//     allocates nothing of its own.
//   - Everything about one device's observations and downlinks lives on its HOME shard
//     H = device_id % shards: requests, core listener calls (any thread) and engine
//     callbacks (the observation's shard) reach it only by post().
//   - Engine operations on an observation's registration and end run on the observation's
//     shard, which keeps observation id -> device (engine callbacks name only the id).
//   - Core completions run on any thread; they answer with engine respond() directly, or
//     post back to a shard when shard state must change.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "metrics.hpp"
#include "settings.hpp"
#include "shard_tables.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"
#include "tern/abi/transport.h"
#include "tern/sdk/host.hpp"
#include "tern/sdk/payload.hpp"
#include "tern/sdk/power.hpp"

namespace tern::device_api {

// The core's capabilities the device API uses (tern/abi/core_capabilities.h); every one but
// the PSK keys of tern.core.auth/1.
struct core_links {
    core_auth_v1* auth = nullptr;
    core_telemetry_v1* telemetry = nullptr;
    core_attributes_v1* attributes = nullptr;
    core_rpc_v1* rpc = nullptr;
    core_provisioning_v1* provisioning = nullptr;
    core_ota_v1* ota = nullptr;
    core_sessions_v1* sessions = nullptr;
    core_events_v1* events = nullptr;

    // All of them from one object that provides each (a core, or a test's fake).
    template <class C>
    static core_links of(C& c) noexcept {
        return {&c, &c, &c, &c, &c, &c, &c, &c};
    }
    bool complete() const noexcept {
        return auth && telemetry && attributes && rpc && provisioning && ota && sessions && events;
    }
};

// The services the device API talks to; all borrowed for its lifetime.
struct services {
    reactor_v1* reactor = nullptr;
    coap_engine_v1* engine = nullptr;
    core_links core;
    // The payload adaptors running, by the payload type they serve (tern/sdk/payload.hpp);
    // JSON's must be there.
    sdk::payload_catalog adaptors;
    // The power-saving policies running (tern/sdk/power.hpp); empty: no device sleeps.
    sdk::power_catalog powers;
    struct transport_ref {
        std::string name;
        transport_v1* transport = nullptr;
    };
    std::vector<transport_ref> transports;  // to ask a DTLS transport who the peer is
    const sdk::host* host = nullptr;  // registers the metrics; null: none (tests)
    log_v1* log = nullptr;          // may be null
    int64_t (*wall_ms)() = nullptr; // ms since the epoch; null: the system clock
};

class runtime {
public:
    // Throws sdk::error when a required service is missing.
    runtime(const settings& s, services w);
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    const settings s;
    const services w;
    sdk::logger log;
    metrics m;
    uint32_t shard_count = 1;
    std::vector<std::unique_ptr<shard_tables>> shards;

    // Durations from the settings, in ns.
    uint64_t report_ns = 0, grace_ns = 0, ttl_ns = 0, dtls_ttl_ns = 0, inactivity_ns = 0, unknown_ttl_ns = 0;
    std::size_t states_per_shard = 0;
    // Why a device whose payload type's adaptor is not loaded gets 5.00 (the SDK's text),
    // by payload type (sdk::payload_kinds' order), made once.
    std::array<std::string, sdk::payload_kinds.size()> missing_adaptor;
    // RPCs one device may have waiting at all (held, or sent and not yet acknowledged): past
    // it a new one is answered TIMEOUT at once.
    std::size_t rpc_cap = 256;
    static constexpr std::size_t max_token_waiters = 64;

    uint64_t now_ns() const noexcept { return w.reactor->now_ns(); }
    int64_t wall_ms() const noexcept;
    uint32_t home_of(uint64_t device_id) const noexcept { return static_cast<uint32_t>(device_id % shard_count); }
    shard_tables& home_tables(uint64_t device_id) const noexcept { return *shards[home_of(device_id)]; }
    // The device's state on its home shard (call there), or null.
    device_state* state_of(uint64_t device_id) const noexcept;
    // Finds the policy of the device's power mode (none: no power saving); a mode no policy
    // decides is warned about once. [any-thread; locks only for a mode without a policy]
    void resolve_power(device_entry& e) noexcept;
    // The index of a transport by instance name; UINT32_MAX when unknown.
    uint32_t transport_index(std::string_view name) const noexcept;
    // A transport instance name interned, so observations and sessions keep 4 bytes instead
    // of the name: the running transports have their transport_index, a name no transport
    // registered (tests) is added (at most max_transport_names; past it UINT16_MAX, whose
    // name is empty). [any-thread; locks only to add a name]
    uint16_t transport_id(std::string_view name) noexcept;
    std::string_view transport_name(uint32_t id) const noexcept;
    static constexpr uint32_t max_transport_names = 64;
    // "192.0.2.1:5683" or "[2001:db8::1]:5683" into buf.
    static std::string_view format_address(const tern_peer& p, char (&buf)[64]) noexcept;
    static std::string_view format_address(const tern_endpoint& e, char (&buf)[64]) noexcept;

    // Runs f on shard s (a heap task); false when stopping or the reactor refused.
    template <class F>
    bool post(uint32_t s, F&& f);
    // Runs fn(ctx) on shard s without allocating: ctx is the caller's (pooled), and fn calls
    // raw_done() when it ran, stopping or not. false when stopping or the reactor refused.
    bool post_raw(uint32_t s, tern_task_fn fn, void* ctx) noexcept;
    void raw_done() noexcept { posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel); }
    bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
    void set_stopping(bool v) noexcept { stopping_.store(v); }
    // Waits (bounded by give_up) until no posted task is left.
    void drain(std::chrono::steady_clock::time_point give_up) const noexcept;

    // The device API's subscription to the core's events (0: none), and a device's
    // downlinks through it.
    uint64_t events_handle = 0;
    void subscribe_device(uint64_t device_id, uint32_t flags) noexcept {
        w.core.events->subscribe_device(events_handle, device_id, flags);
    }
    void unsubscribe_device(uint64_t device_id, uint32_t flags) noexcept {
        w.core.events->unsubscribe_device(events_handle, device_id, flags);
    }

    // Brings the shard's share of device_api_memory_bytes / device_api_entries up to date for
    // the tables whose size it can read at once (device states, observation ids, the caches,
    // the source table): a few multiplications, an atomic add per table that changed. Called
    // after each change of those tables. [shard sd]
    void refresh_memory(shard_tables& sd) noexcept;
    // What an access token kept as a cache key costs beyond the entry (its heap), for the
    // average refresh_memory uses. [shard sd]
    static void token_key_put(uint64_t& heap, uint64_t& keys, std::size_t length) noexcept {
        heap += string_heap(length);
        ++keys;
    }

    // Arms shard sd's timer for when_ns unless it fires earlier already.
    void schedule(shard_tables& sd, uint64_t when_ns) noexcept;

private:
    struct task_base {
        runtime* rt = nullptr;
        virtual void run() = 0;
        virtual ~task_base() = default;
    };
    template <class F>
    struct task_impl final : task_base {
        explicit task_impl(F&& fn) : f(std::move(fn)) {}
        void run() override { f(); }
        F f;
    };
    static void run_task(void* ctx) noexcept;

    std::atomic<bool> stopping_{false};
    std::atomic<int64_t> posts_in_flight_{0};
    std::mutex names_mu_;
    std::array<std::string, max_transport_names> names_;
    std::atomic<uint32_t> name_count_{0};  // names_[0, count) are set and never change
    std::mutex power_warned_mu_;
    std::set<std::string, std::less<>> power_warned_;  // modes without a policy, warned about
};

template <class F>
bool runtime::post(uint32_t s, F&& f) {
    posts_in_flight_.fetch_add(1, std::memory_order_acq_rel);
    if (stopping()) {
        posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    auto* t = new task_impl<std::decay_t<F>>(std::forward<F>(f));
    t->rt = this;
    if (w.reactor->post(s, &runtime::run_task, static_cast<task_base*>(t)) != TERN_OK) {
        delete t;
        posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    return true;
}

}  // namespace tern::device_api

// The Efento resources: the engine's handler for /<prefix>/** and the aliases, and a core
// listener for device events. A request is routed here (resource.cpp: path, method, time);
// an uplink is parsed, its cloud_token resolved through the shard's cache or the core,
// converted and stored, and answered once the core says it is durable (uplink.cpp).
//
// Threads (host.h tags): a request runs on its peer's shard, which owns that shard's caches
// and pool (no lock). Core completions run on any thread: a lookup's answer is posted back to
// the request's shard (the pending operation itself is the posted task); a write's answer
// responds from wherever it runs. Device events are posted to every shard.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "decoder.hpp"
#include "metrics.hpp"
#include "pending.hpp"
#include "settings.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"
#include "tern/sdk/host.hpp"
#include "token_cache.hpp"

namespace tern::efento {

// The core's capabilities the plugin uses.
struct core_links {
    core_auth_v1* auth = nullptr;
    core_telemetry_v1* telemetry = nullptr;
    core_attributes_v1* attributes = nullptr;
    core_sessions_v1* sessions = nullptr;
    core_events_v1* events = nullptr;

    // All of them from one object that provides each (a core, or a test's fake).
    template <class C>
    static core_links of(C& c) noexcept {
        return {&c, &c, &c, &c, &c};
    }
    bool complete() const noexcept { return auth && telemetry && attributes && sessions && events; }
};

// The services the resource talks to; all borrowed for its lifetime.
struct services {
    reactor_v1* reactor = nullptr;
    coap_engine_v1* engine = nullptr;
    core_links core;
    const sdk::host* host = nullptr;  // registers the metrics; null: none (tests)
    log_v1* log = nullptr;            // may be null
    int64_t (*wall_ms)() = nullptr;   // ms since the epoch; null: the system clock
};

// The answer an uplink gets for a refusal or a failure.
struct refusal {
    outcome what;
    uint8_t code;
    std::string_view text;
    int64_t max_age = -1;
};

class resource final : public core_listener_v1 {
public:
    // s must have passed check(). Throws sdk::error when a service is missing.
    resource(const settings& s, services w);
    ~resource();
    resource(const resource&) = delete;
    resource& operator=(const resource&) = delete;

    // Subscribes to the core's events and registers the resources. Throws sdk::error.
    // [start-stop]
    void start();
    // Unregisters; waits (bounded) for the core's completions still on their way; after
    // return nothing is answered. [start-stop]
    void stop() noexcept;
    // "/efento/{m,i,c,t} (aliases: /coap/measurements, ...)", for the start-up line.
    std::string describe() const;

    // core_listener_v1 [any-thread]: only device events matter (Efento sensors get no downlinks).
    void on_attributes_updated(uint64_t, const tern_kv*, uint32_t, const tern_str*, uint32_t) noexcept override {}
    void on_rpc_request(uint64_t, const tern_rpc_request*) noexcept override {}
    void on_device_event(uint64_t device_id, tern_device_event event) noexcept override;

    // For tests: shard s's cache (read it on that shard) and how many contexts its pool made.
    const token_cache& cache(uint32_t s) const noexcept { return shards_[s]->cache; }
    std::size_t contexts_made(uint32_t s) const noexcept { return shards_[s]->pool.made(); }

private:
    // Which entry point a request came through.
    enum class entry : uint8_t { prefix, measurements, device_info, configuration, count_ };
    struct entry_point final : coap_handler_v1 {
        resource* self = nullptr;
        entry which = entry::prefix;
        void on_request(const tern_coap_request* req) noexcept override;
        void on_observation_end(uint64_t, tern_coap_end_reason) noexcept override {}
        void on_notification_result(uint64_t, uint64_t, tern_coap_notify_result) noexcept override {}
    };
    struct shard_state {
        shard_state(const cache_limits& l, metrics& m, uint64_t seed) : cache(l, m, seed) {}
        token_cache cache;
        pending_pool pool;
        std::string err;  // the decoder's reasons, reused
    };
    // An uplink as the steps after routing need it, from the request or from a pending lookup.
    struct uplink_ref {
        uint32_t shard;
        uint64_t exchange;
        message_kind kind;
        bool con;
        std::string_view transport;
        tern_peer peer;
    };

    // ---- resource.cpp: routing, time, answers, events
    void on_request(const tern_coap_request& req, entry which) noexcept;
    void route(const tern_coap_request& req);
    void time(uint64_t exchange) noexcept;
    void bad_request(uint64_t exchange, std::string_view text) noexcept;
    void respond(uint64_t exchange, uint8_t code, std::string_view text, int64_t max_age = -1,
                 uint32_t flags = 0) noexcept;
    void refuse(const uplink_ref& u, const refusal& r) noexcept;
    void core_failed(const uplink_ref& u, tern_status status, std::string_view what, std::string_view message) noexcept;
    void warn_core(std::string_view what, tern_status status, std::string_view message) noexcept;
    int64_t wall_ms() const noexcept;
    bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

    // ---- uplink.cpp: cloud_token, conversion, storing
    void uplink(const tern_coap_request& req, message_kind kind);
    void look_up(shard_state& sd, const tern_coap_request& req, message_kind kind, std::string_view token);
    static void looked_up(void* ctx, tern_status status, const tern_device_record* record) noexcept;
    static void resume_task(void* ctx) noexcept;
    void resume(pending* p) noexcept;
    void serve(shard_state& sd, const uplink_ref& u, const token_entry& dev, pending* p);
    void report_activity(uint64_t device_id, const uplink_ref& u) noexcept;
    static void written(void* ctx, tern_status status, tern_str message) noexcept;
    pending* take(shard_state& sd, const uplink_ref& u);
    void recycle(pending* p) noexcept;

    const settings s_;
    const services w_;
    sdk::logger log_;
    metrics m_;
    decode_limits limits_;
    uint32_t shard_count_ = 1;
    std::vector<std::unique_ptr<shard_state>> shards_;
    std::array<entry_point, static_cast<std::size_t>(entry::count_)> entries_{};
    std::string paths_text_;  // "/efento/m, /efento/i, /efento/c or /efento/t"
    std::vector<uint64_t> registered_;
    uint64_t events_handle_ = 0;
    std::atomic<bool> stopping_{false};
    // Contexts out of their pool (a lookup or write in the core, a posted task), and device
    // events posted to shards: stop() waits for both to come back.
    std::atomic<int64_t> in_flight_{0};
    std::atomic<uint64_t> last_warn_ns_{0};
};

}  // namespace tern::efento

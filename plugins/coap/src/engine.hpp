// The CoAP engine as other plugins see it (coap_engine_v1): resources, responses,
// notifications. It owns one shard per reactor shard and routes every call to the shard
// that owns the id: directly on that shard's thread, through its completion queue from any
// other thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "env.hpp"
#include "metrics.hpp"
#include "response_check.hpp"
#include "router.hpp"
#include "shard.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/transport.h"

namespace tern::coap {

class engine final : public coap_engine_v1 {
public:
    // Registers the metrics through host (none without one); throws sdk::error when the
    // kernel refuses one.
    engine(const engine_config& cfg, engine_env& env, const sdk::host* host, uint32_t shards);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // A transport instance the engine serves; returns its number. Before start().
    uint32_t add_transport(std::string_view name);
    // The sink to attach to transport number t: its datagrams and session ends reach the
    // shards with that number. Owned by the engine.
    datagram_sink_v1* sink(uint32_t t) noexcept;
    // Allocates every shard's tables (throws std::bad_alloc). [start-stop]
    void start();
    // Drops all state on every shard; later API calls get TERN_UNAVAILABLE. [start-stop]
    void stop() noexcept;

    // ---- from transports and timers [the shard] ----
    void on_datagrams(uint32_t shard, uint32_t transport, const tern_datagram* batch,
                      uint32_t count) noexcept;
    void on_session_end(uint32_t shard, uint32_t transport, const tern_peer* peer) noexcept;
    void on_timer(uint32_t shard) noexcept;

    // ---- coap_engine_v1 ----
    tern_status add_resource(const tern_coap_resource* desc, coap_handler_v1* handler,
                             uint64_t* out_resource) noexcept override;
    void remove_resource(uint64_t resource) noexcept override;
    tern_status respond(uint64_t exchange, const tern_coap_response* response,
                        uint64_t* out_observation) noexcept override;
    tern_status notify(uint64_t observation, const tern_coap_response* notification,
                       uint64_t cookie, uint32_t flags) noexcept override;
    tern_status end_observation(uint64_t observation,
                                const tern_coap_response* final_response) noexcept override;

    // ---- for shards, the plugin and tests ----
    engine_env& env() noexcept { return env_; }
    const engine_config& config() const noexcept { return cfg_; }
    const engine_metrics& metrics() const noexcept { return metrics_; }
    uint64_t seed() const noexcept { return seed_; }
    tern_str transport_name(uint32_t t) const noexcept;
    uint32_t transport_count() const noexcept { return static_cast<uint32_t>(transports_.size()); }
    std::atomic<uint64_t>& block1_bytes() noexcept { return block1_bytes_; }
    uint32_t shard_count() const noexcept { return shard_count_; }
    bool started() const noexcept { return started_; }
    shard& at(uint32_t s) noexcept { return *shards_[s]; }
    const shard_limits& limits() const noexcept { return limits_; }

private:
    struct transport_sink;
    template <class F>
    void each_shard(F&& f) noexcept;
    void publish(const resource_entry* removed) noexcept;
    // respond, notify and end_observation: on the owning shard's thread the shard takes the
    // call at once; from any other thread the response is checked, the id's liveness too,
    // and it travels in a completion record (has_response false: no response at all).
    tern_status route_to_shard(completion::op op, uint64_t id, const tern_coap_response* in,
                               bool has_response, uint64_t cookie, uint32_t flags,
                               uint64_t* out_observation) noexcept;
    tern_status enqueue(uint32_t shard, completion&& c) noexcept;
    static void drain_task(void* ctx) noexcept;

    engine_config cfg_;
    engine_env& env_;
    engine_metrics metrics_;
    uint64_t seed_;
    uint32_t shard_count_;
    shard_limits limits_{};
    std::vector<std::string> transports_;
    std::vector<std::unique_ptr<transport_sink>> sinks_;
    std::vector<std::unique_ptr<shard>> shards_;
    std::vector<std::unique_ptr<resource_entry>> resources_;
    std::shared_ptr<const route_table> routes_;
    uint64_t next_resource_ = 1;
    std::atomic<uint64_t> block1_bytes_{0};
    std::atomic<bool> accepting_{false};
    bool started_ = false;
};

}  // namespace tern::coap

// downlinks: the core's events towards the transport nodes, and who owns which device.
//
//   - the listener of the bridge's one tern.core.events/1 subscription: attribute updates and
//     RPCs go to the subject of the node that hears the device, device events to every node;
//   - the route cache device -> node (bounded LRU), fed by the live puts of the KV bucket
//     <P>_device_node (a plain subscription to $KV.<P>_device_node.>) and by events.subscribe;
//     a miss reads the bucket;
//   - events.subscribe: the owner of each subscribed device (node, flags) and the core
//     subscription of the bridge's handle that follows it.
//
// Threads: listener calls come from the core's threads, the KV and events.subscribe handlers
// from their subscriptions' nats.c threads. No lock is held across a core call.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common.hpp"
#include "tern/core_wire/codec.hpp"
#include "tern/lru/lru_map.hpp"
#include "tern/nats_link/link.hpp"

namespace tern::nats_bridge {

class downlinks final : public core_listener_v1 {
public:
    downlinks(const core_caps& core, bridge_metrics& metrics, sdk::logger log, const names& n);
    ~downlinks();
    downlinks(const downlinks&) = delete;
    downlinks& operator=(const downlinks&) = delete;

    void configure(uint32_t route_cache_size, uint32_t max_subscribed_devices);
    void attach(nats_link::link* l) noexcept { link_.store(l); }

    // The bridge's subscriber handle at the core's tern.core.events/1.
    tern_status open_events();
    // No listener call runs or will run once it returns.
    void close_events();

    // [nats thread] A live put (or delete) of the bucket <P>_device_node.
    void on_route(const nats_link::message& m);
    // [nats thread] events.subscribe; the status for the reply.
    tern_status on_subscribe(const core_wire::subscribe_device_request& req, std::string& message);

    // The node the cache knows for a device, or "" (tests).
    std::string owner_of(uint64_t device_id);
    std::string cached_route(uint64_t device_id);

    // ---- core_listener_v1
    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept override;
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override;
    void on_device_event(uint64_t device_id, tern_device_event event) noexcept override;

private:
    struct owner {
        std::string node;
        uint32_t flags = 0;
    };
    using route_map = lru::lru_map<uint64_t, std::string>;

    void remember(uint64_t device_id, std::string_view node);
    void route_and_publish(uint64_t device_id, downlink_kind kind, const std::string& payload);
    void publish_to(std::string_view node, downlink_kind kind, std::string_view payload);

    const core_caps& core_;
    bridge_metrics& metrics_;
    sdk::logger log_;
    const names& names_;
    std::atomic<nats_link::link*> link_{nullptr};
    std::atomic<uint64_t> handle_{0};  // read by request threads while stop closes it
    uint32_t max_subscribed_ = 1000000;

    std::mutex route_mu_;
    std::unique_ptr<route_map> routes_;

    std::mutex owner_mu_;
    std::unordered_map<uint64_t, owner> owners_;
};

}  // namespace tern::nats_bridge

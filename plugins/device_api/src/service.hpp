// The device API's face to the other plugins: it implements the engine's handler and the
// core's listener, owns the components and wires them, and runs the lifecycle. A request
// comes in here (on_request: shape, size, provisioning's source limit), goes to the
// authenticator, then to uplinks (or observations); engine callbacks and core events are
// routed to observations and downlinks on the device's home shard.
#pragma once

#include <cstdint>
#include <vector>

#include "authenticator.hpp"
#include "downlinks.hpp"
#include "observations.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "state_table.hpp"
#include "uplinks.hpp"

namespace tern::device_api {

class service final : public coap_handler_v1, public core_listener_v1 {
public:
    // Throws sdk::error when a required service is missing.
    service(const settings& s, services w);
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    // Registers the resources, the core listener and the shard timers. Throws
    // tern::sdk::error. [start-stop]
    void start();
    // Unregisters; after return no callback of this service runs on a shard. [start-stop]
    void stop() noexcept;

    // coap_handler_v1 [the request's or observation's shard]
    void on_request(const tern_coap_request* req) noexcept override;
    void on_observation_end(uint64_t observation, int32_t reason) noexcept override;
    void on_notification_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept override;

    // core_listener_v1 [any-thread]
    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept override;
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override;
    void on_device_event(uint64_t device_id, int32_t event) noexcept override;

    // For tests: the device state on its home shard (call on that shard), or null.
    const device_state* state_of(uint64_t device_id) const noexcept { return rt_.state_of(device_id); }
    uint32_t home_of(uint64_t device_id) const noexcept { return rt_.home_of(device_id); }
    const shard_tables& shard(uint32_t s) const noexcept { return *rt_.shards[s]; }

private:
    void handle(const request& v);
    static void timer_fired(void* ctx) noexcept;
    void on_timer(shard_tables& sd) noexcept;

    runtime rt_;
    responder out_;
    authenticator auth_;
    uplinks up_;
    observations obs_;
    downlinks down_;
    state_table states_;
    std::vector<uint64_t> resources_;
    bool listening_ = false;
};

}  // namespace tern::device_api

// The core's capabilities (ABI 1.1, tern/abi/core_capabilities.h) over its tern.core/1
// implementation: thin adapters, so the embedded core keeps one implementation of each
// service and both generations of plugins reach it.
//
//   core_front         tern.core/1 as plugins built against 1.0 see it, and tern.core.auth/1
//                      (with the transport-neutral device record), .telemetry/1,
//                      .attributes/1, .rpc/1, .provisioning/1, .ota/1, .sessions/1: one
//                      object, each call forwarded to the core, tern.core/1's one listener
//                      a subscriber of the event_fanout
//   event_fanout       tern.core.events/1 (event_fanout.hpp)
//   core_services      owns the two and answers the plugin's query(iid)
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "event_fanout.hpp"
#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

// A tern_device_info as a tern_device_record: the same views, and the CoAP profile fields
// as TERN_OPTION_* profile options ahead of the profile's own. Borrows from info: use it
// within the call that passed info.
class device_record_view {
public:
    explicit device_record_view(const tern_device_info& info);
    device_record_view(const device_record_view&) = delete;
    device_record_view& operator=(const device_record_view&) = delete;
    const tern_device_record& record() const noexcept { return record_; }

private:
    static constexpr uint32_t inline_options = 48;  // the core keeps at most 36 per profile
    void add(const tern_kv& kv);

    tern_device_record record_{};
    std::array<tern_kv, inline_options> inline_{};
    uint32_t count_ = 0;
    std::vector<tern_kv> more_;  // only past inline_options (a larger profile)
};

// tern.core/1 and the seven call capabilities of ABI 1.1 in one object: a method both
// generations declare with the same signature (post_telemetry, rpc_reply, ...) is written
// once and serves both vtables. Every call goes to the core; tern.core/1's one listener and
// its subscriptions go to the event_fanout, where that listener is one subscriber among
// others.
class core_front final : public core_v1,
                         public core_auth_v1,
                         public core_telemetry_v1,
                         public core_attributes_v1,
                         public core_rpc_v1,
                         public core_provisioning_v1,
                         public core_ota_v1,
                         public core_sessions_v1 {
public:
    core_front(core_v1& core, event_fanout& events) : core_(core), events_(events) {}

    // tern.core/1 only
    tern_status set_listener(core_listener_v1* listener) noexcept override;
    void subscribe(uint64_t device_id, uint32_t flags) noexcept override;
    void unsubscribe(uint64_t device_id, uint32_t flags) noexcept override;
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done,
                      void* ctx) noexcept override;
    // tern.core.auth/1 (with the transport-neutral device record)
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done,
                      void* ctx) noexcept override;
    void psk_key(tern_str identity, tern_core_psk_key_fn done, void* ctx) noexcept override;
    // both: tern.core.telemetry/1
    void post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                        tern_core_done_fn done, void* ctx) noexcept override;
    // both: tern.core.attributes/1
    void post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                         uint32_t count, tern_core_done_fn done, void* ctx) noexcept override;
    void get_attributes(uint64_t device_id, const tern_key_filter* client,
                        const tern_key_filter* shared, tern_core_attributes_fn done,
                        void* ctx) noexcept override;
    // both: tern.core.rpc/1
    void rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                    tern_str error) noexcept override;
    void rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                   void* ctx) noexcept override;
    void resend_pending_rpcs(uint64_t device_id) noexcept override;
    void client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                    tern_core_text_fn done, void* ctx) noexcept override;
    // both: tern.core.provisioning/1
    void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
               tern_core_done_fn done, void* ctx) noexcept override;
    void provision(const tern_provision_request* request, tern_core_provision_fn done,
                   void* ctx) noexcept override;
    // both: tern.core.ota/1
    void ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                     void* ctx) noexcept override;
    // both: tern.core.sessions/1
    void session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                       tern_str address) noexcept override;

private:
    core_v1& core_;
    event_fanout& events_;
};

// Everything the core_embedded instance provides for the core, by interface id.
class core_services {
public:
    explicit core_services(core_v1& core) : events_(core), front_(core, events_) {}

    // The bound on tern.core.events/1 subscribers and its refusal counter. [start-stop]
    void configure(uint32_t max_event_subscribers, sdk::metric refused) {
        events_.configure(max_event_subscribers, refused);
    }
    // The interface for iid, or null.
    void* query(std::string_view iid) noexcept;
    event_fanout& events() noexcept { return events_; }

private:
    event_fanout events_;
    core_front front_;
};

}  // namespace tern::core_embedded

// tern.core.auth/1, .telemetry/1, .attributes/1, .rpc/1, .provisioning/1, .ota/1 and
// .sessions/1 over NATS: one object, each call turned into a core_wire message for a core
// node (tern.core.events/1 is the events piece, events.hpp).
//
//   requests.cpp   request/reply: authenticate and psk_key (through the node's credential
//                  cache), get_attributes, client_rpc, claim, provision, ota_package (whose
//                  package the OTA cache makes local before the caller gets it)
//   uplinks.cpp    durable uplinks through JetStream (post_telemetry, post_attributes,
//                  rpc_reply, rpc_status), completed TERN_OK only on the stream's ack, and the
//                  fire-and-forget publishes (session_event, resend_pending_rpcs)
//
// Statuses (every call): link down -> TERN_UNAVAILABLE "core unreachable: NATS link is down";
// no answer in time -> TERN_TIMEOUT; a local bound -> TERN_BUSY; a message the codec refuses
// or larger than max_message_bytes -> TERN_INVALID_ARGUMENT; a reply that does not decode ->
// TERN_INTERNAL (logged); otherwise the reply's own status and message.
//
// Threads: every call from any thread, never blocking; completions run on a nats.c thread or
// the link's sweeper, or inline when the call fails before anything was sent.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "node.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/nats_link/link.hpp"

namespace tern::core_nats {

class requests final : public core_auth_v1,
                       public core_telemetry_v1,
                       public core_attributes_v1,
                       public core_rpc_v1,
                       public core_provisioning_v1,
                       public core_ota_v1,
                       public core_sessions_v1 {
public:
    explicit requests(node& n);
    requests(const requests&) = delete;
    requests& operator=(const requests&) = delete;

    // The interface for iid (one of the seven above), or null.
    void* query(std::string_view iid) noexcept;

    // tern.core.auth/1
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done,
                      void* ctx) noexcept override;
    void psk_key(tern_str identity, tern_core_psk_key_fn done, void* ctx) noexcept override;
    // tern.core.telemetry/1
    void post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                        tern_core_done_fn done, void* ctx) noexcept override;
    // tern.core.attributes/1
    void post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                         uint32_t count, tern_core_done_fn done, void* ctx) noexcept override;
    void get_attributes(uint64_t device_id, const tern_key_filter* client,
                        const tern_key_filter* shared, tern_core_attributes_fn done,
                        void* ctx) noexcept override;
    // tern.core.rpc/1
    void rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                    tern_str error) noexcept override;
    void rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                   void* ctx) noexcept override;
    void resend_pending_rpcs(uint64_t device_id) noexcept override;
    void client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                    tern_core_text_fn done, void* ctx) noexcept override;
    // tern.core.provisioning/1
    void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
               tern_core_done_fn done, void* ctx) noexcept override;
    void provision(const tern_provision_request* request, tern_core_provision_fn done,
                   void* ctx) noexcept override;
    // tern.core.ota/1
    void ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                     void* ctx) noexcept override;
    // tern.core.sessions/1
    void session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                       tern_str address) noexcept override;

private:
    // The failure a call gets before anything is sent: the message (static or in
    // text), or none when the call goes out.
    struct refusal {
        tern_status status = TERN_OK;
        const char* message = "";
        std::string text;  // when the message is built
        tern_str str() const noexcept {
            return text.empty() ? tern_str{message, std::char_traits<char>::length(message)}
                                : tern_str{text.data(), text.size()};
        }
    };
    // Encodes msg into the thread's codec output; a refusal when it cannot go out.
    template <class Msg>
    refusal encode(const Msg& msg);
    // Sends the thread's encoded message as a request of op. on_reply(bytes) decodes and
    // completes (counting a failure with counted() or bad_reply() BEFORE it completes, so that
    // whoever the completion wakes sees the metric); on_fail(status, message) completes a
    // transport failure, already counted. Exactly one of them runs.
    template <class OnReply, class OnFail>
    void send(request_op op, uint32_t timeout_ms, OnReply on_reply, OnFail on_fail);
    // s, counted in core_nats_request_failures_total{op} when it is not OK.
    tern_status counted(request_op op, tern_status s) const noexcept;
    // A status from the link, for a request.
    tern_status map_request(nats_link::status st, tern_str& message) const noexcept;
    // Publishes the thread's encoded message durably on <P>.up.<p>.<op>; done(status,
    // message) once JetStream answered (or the call failed).
    template <class Done>
    void publish_uplink(uplink_op op, uint64_t device_id, Done done);
    // Hands a package to the caller, its bytes made local by the OTA cache first when it is
    // a file on the core node (the fetch's outcome is the OTA cache's to count).
    void localize(uint64_t device_id, const tern_ota_package& package, tern_core_ota_fn done,
                  void* ctx) noexcept;
    // Publishes the thread's encoded message on op's subject, no answer (at most once).
    void publish(request_op op) noexcept;
    // Counts a reply that did not decode as INTERNAL and logs it (the 1st, 2nd, 4th, ...).
    void bad_reply(request_op op, const char* detail) noexcept;

    node& n_;
    std::array<std::string, static_cast<std::size_t>(request_op::count_)> subjects_;
    std::string up_prefix_;  // "<P>.up."
    std::atomic<uint64_t> bad_replies_{0}, lost_uplinks_{0};
};

}  // namespace tern::core_nats

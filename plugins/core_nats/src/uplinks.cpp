// The durable uplinks (JetStream, completed on the stream's ack) and the fire-and-forget
// publishes of requests.hpp.
#include "requests_impl.hpp"

namespace tern::core_nats {

namespace {

// A completion for publish_uplink() that calls a tern_core_done_fn.
struct done_call {
    tern_core_done_fn done;
    void* ctx;
    void operator()(tern_status s, tern_str message) const noexcept { done(ctx, s, message); }
};

}  // namespace

void requests::post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                              tern_core_done_fn done, void* ctx) noexcept {
    n_.metrics().uplink(uplink_op::telemetry);
    try {
        if (refusal r = encode(core_wire::post_telemetry_request{device_id, records, count}); r.status != TERN_OK) {
            n_.metrics().uplink_failed(uplink_op::telemetry, r.status);
            done(ctx, r.status, r.str());
            return;
        }
        publish_uplink(uplink_op::telemetry, device_id, done_call{done, ctx});
    } catch (...) {
        n_.metrics().uplink_failed(uplink_op::telemetry, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, str_of("out of memory"));
    }
}

void requests::post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                               uint32_t count, tern_core_done_fn done, void* ctx) noexcept {
    n_.metrics().uplink(uplink_op::attributes);
    try {
        if (refusal r = encode(core_wire::post_attributes_request{device_id, scope, values, count});
            r.status != TERN_OK) {
            n_.metrics().uplink_failed(uplink_op::attributes, r.status);
            done(ctx, r.status, r.str());
            return;
        }
        publish_uplink(uplink_op::attributes, device_id, done_call{done, ctx});
    } catch (...) {
        n_.metrics().uplink_failed(uplink_op::attributes, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, str_of("out of memory"));
    }
}

void requests::rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                         void* ctx) noexcept {
    n_.metrics().uplink(uplink_op::rpc_reply);
    try {
        if (refusal r = encode(core_wire::rpc_reply_request{device_id, rpc_id, result}); r.status != TERN_OK) {
            n_.metrics().uplink_failed(uplink_op::rpc_reply, r.status);
            done(ctx, r.status, r.str());
            return;
        }
        publish_uplink(uplink_op::rpc_reply, device_id, done_call{done, ctx});
    } catch (...) {
        n_.metrics().uplink_failed(uplink_op::rpc_reply, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, str_of("out of memory"));
    }
}

void requests::rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status, tern_str error) noexcept {
    n_.metrics().uplink(uplink_op::rpc_status);
    // No completion: a status JetStream did not store is counted and logged sparsely (the
    // core's RPC tracking times the RPC out, and a persistent one is sent again).
    auto lost = [this, device_id, rpc_id](tern_status s, tern_str message) noexcept {
        if (s == TERN_OK) return;
        const uint64_t seen = lost_uplinks_.fetch_add(1) + 1;
        if ((seen & (seen - 1)) != 0) return;
        try {
            n_.log().warn("the status of RPC ", rpc_id, " of device ", device_id, " was not stored: ", message,
                          " [occurrence ", seen, "]");
        } catch (...) {
        }
    };
    try {
        if (refusal r = encode(core_wire::rpc_status_request{device_id, rpc_id, status, error}); r.status != TERN_OK) {
            n_.metrics().uplink_failed(uplink_op::rpc_status, r.status);
            lost(r.status, r.str());
            return;
        }
        publish_uplink(uplink_op::rpc_status, device_id, lost);
    } catch (...) {
        n_.metrics().uplink_failed(uplink_op::rpc_status, TERN_INTERNAL);
    }
}

void requests::publish(request_op op) noexcept {
    nats_link::link* l = n_.link();
    tern_status s = TERN_UNAVAILABLE;
    if (l != nullptr && l->connected()) {
        switch (l->publish(subjects_[static_cast<std::size_t>(op)], codec().out)) {
            case nats_link::status::ok: s = TERN_OK; break;
            case nats_link::status::unavailable: s = TERN_UNAVAILABLE; break;
            case nats_link::status::busy: s = TERN_BUSY; break;
            default: s = TERN_INTERNAL; break;
        }
    }
    if (s != TERN_OK) n_.metrics().request_failed(op, s);
}

void requests::resend_pending_rpcs(uint64_t device_id) noexcept {
    n_.metrics().request(request_op::resend_pending_rpcs);
    try {
        if (refusal r = encode(core_wire::resend_pending_rpcs_request{device_id}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::resend_pending_rpcs, r.status);
            return;
        }
        publish(request_op::resend_pending_rpcs);
    } catch (...) {
        n_.metrics().request_failed(request_op::resend_pending_rpcs, TERN_INTERNAL);
    }
}

void requests::session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                             tern_str address) noexcept {
    n_.metrics().request(request_op::session_event);
    if (event == TERN_SESSION_OPEN || event == TERN_SESSION_ACTIVITY) n_.heard(device_id);
    try {
        // The core node lists sessions of every transport node: "<node_id>/<transport instance>".
        thread_local std::string where;
        where.assign(n_.id()).push_back('/');
        if (transport.data != nullptr) where.append(transport.data, transport.size);
        const tern_str t{where.data(), where.size()};
        if (refusal r = encode(core_wire::session_event_request{device_id, event, t, address}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::session_event, r.status);
            return;
        }
        publish(request_op::session_event);
    } catch (...) {
        n_.metrics().request_failed(request_op::session_event, TERN_INTERNAL);
    }
}

}  // namespace tern::core_nats

// An uplink's way after routing: parse, find the device by cloud_token (shard cache, else the
// core), convert, report activity, store, answer once durable.
#include <arpa/inet.h>

#include <cstdio>

#include "resource.hpp"
#include "tern/ratelimit/ratelimit.hpp"
#include "tern/sdk/record.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::efento {

namespace {

constexpr uint8_t code_created = TERN_COAP_CODE(2, 1);
constexpr uint8_t code_bad_request = TERN_COAP_CODE(4, 0);
constexpr uint8_t code_unauthorized = TERN_COAP_CODE(4, 1);
constexpr uint8_t code_too_many = TERN_COAP_CODE(4, 29);  // RFC 8516
constexpr uint8_t code_internal = TERN_COAP_CODE(5, 0);

// A pending context keeps a body buffer this large at most between messages (a larger one's
// buffer is let go when it comes back): Efento messages are a few hundred bytes, and the pool
// holds as many contexts as lookups were ever in the core at once (which the core bounds: its
// read queue answers TERN_BUSY past read_queue_capacity).
constexpr std::size_t kept_body_capacity = 4096;

// The decoder's reason, or the status's name when it gave none.
std::string_view reason(const std::string& err, decode_status st) noexcept {
    return err.empty() ? std::string_view(status_name(st)) : std::string_view(err);
}

// The profile's CoAP device type, as the core puts it among the profile options (the first
// occurrence of the key counts).
bool efento_profile(const tern_device_record& r) noexcept {
    if (r.profile_options == nullptr) return false;
    for (uint32_t i = 0; i < r.profile_option_count; ++i) {
        const tern_kv& kv = r.profile_options[i];
        if (sdk::to_sv(kv.key) != TERN_OPTION_COAP_DEVICE_TYPE) continue;
        return kv.value.type == TERN_VALUE_STR && sdk::to_sv(kv.value.u.s) == "EFENTO";
    }
    return false;
}

// "192.0.2.1:5683" or "[2001:db8::1]:5683" into buf.
std::string_view address_text(const tern_peer& p, char (&buf)[64]) noexcept {
    const tern_endpoint& e = p.endpoint;
    char a[INET6_ADDRSTRLEN] = {};
    int n = 0;
    if (e.family == 6) {
        inet_ntop(AF_INET6, e.addr, a, sizeof a);
        n = std::snprintf(buf, sizeof buf, "[%s]:%u", a, static_cast<unsigned>(e.port));
    } else {
        inet_ntop(AF_INET, e.addr, a, sizeof a);
        n = std::snprintf(buf, sizeof buf, "%s:%u", a, static_cast<unsigned>(e.port));
    }
    if (n < 0) n = 0;
    if (n >= static_cast<int>(sizeof buf)) n = sizeof buf - 1;
    return std::string_view(buf, static_cast<std::size_t>(n));
}

}  // namespace

// ---- a fresh request [shard] -----------------------------------------------------------------

void resource::uplink(const tern_coap_request& req, message_kind kind) {
    shard_state& sd = *shards_[req.shard < shard_count_ ? req.shard : 0];
    const uplink_ref u{req.shard, req.exchange, kind, req.type == TERN_COAP_CON, sdk::to_sv(req.transport), req.peer};
    decoder& dec = thread_decoder();
    if (const decode_status st = dec.parse(kind, req.payload, sd.err); st != decode_status::ok) {
        refuse(u, {outcome_of(st), status_code(st), reason(sd.err, st)});
        return;
    }
    const std::string_view token = dec.cloud_token();
    if (token.empty()) {
        refuse(u, {outcome::unknown_token, code_unauthorized, "the message carries no cloud_token"});
        return;
    }
    const uint64_t now = w_.reactor->now_ns();
    if (const token_entry* dev = sd.cache.find(token, now)) {
        serve(sd, u, *dev, nullptr);
        return;
    }
    // A token the core said it did not know, a moment ago: the same answer, without the core.
    if (sd.cache.known_unknown(token, now)) {
        refuse(u, {outcome::unknown_token, code_unauthorized, "unknown cloud_token"});
        return;
    }
    // Asking the core is unauthenticated work until the token proves valid (then it is given
    // back): limited per source address.
    if (const uint64_t wait = sd.cache.take_source(req.peer.endpoint, now); wait != 0) {
        refuse(u, {outcome::rate_limited, code_too_many, "too many unknown cloud_tokens from this address",
                   tern::ratelimit::retry_seconds(wait)});
        return;
    }
    look_up(sd, req, kind, token);
}

void resource::look_up(shard_state& sd, const tern_coap_request& req, message_kind kind, std::string_view token) {
    const uplink_ref u{req.shard, req.exchange, kind, req.type == TERN_COAP_CON, {}, req.peer};
    pending* p = take(sd, u);
    try {
        // The decoder's views end with the next parse on this thread: the lookup keeps its own
        // copy of the body and parses it again when the answer is back.
        p->token.assign(token);
        p->body.assign(reinterpret_cast<const char*>(req.payload.data), req.payload.size);
        p->transport.assign(sdk::to_sv(req.transport));
    } catch (...) {
        recycle(p);
        throw;
    }
    p->peer = req.peer;
    p->epoch = sd.cache.epoch();
    w_.core.auth->authenticate(TERN_CREDENTIAL_ACCESS_TOKEN, sdk::to_str(p->token), &resource::looked_up, p);
}

// ---- the core's answer [any-thread] -> the request's shard ------------------------------------------

void resource::looked_up(void* ctx, tern_status status, const tern_device_record* record) noexcept {
    auto* p = static_cast<pending*>(ctx);
    resource* self = p->self;
    p->status = status;
    if (status == TERN_OK) {
        if (record == nullptr) {
            p->status = TERN_INTERNAL;
        } else {
            const tern_device_record r = sdk::read_record(record);
            p->found.device_id = r.device_id;
            p->found.profiled = r.profile_id != 0;
            p->found.efento = efento_profile(r);
            try {
                p->found.profile.assign(sdk::to_sv(r.profile_name));
            } catch (...) {
                p->found.profile.clear();
            }
        }
    }
    if (self->stopping()) {
        self->recycle(p);
        return;
    }
    reactor_v1& rx = *self->w_.reactor;
    if (rx.current_shard() == p->shard) {
        self->resume(p);
        return;
    }
    // The pending context is the posted task itself: nothing is allocated to get there.
    if (rx.post(p->shard, &resource::resume_task, p) != TERN_OK) self->recycle(p);
}

void resource::resume_task(void* ctx) noexcept {
    auto* p = static_cast<pending*>(ctx);
    if (p->self->stopping()) {
        p->self->recycle(p);
        return;
    }
    p->self->resume(p);
}

void resource::resume(pending* p) noexcept {
    shard_state& sd = *shards_[p->shard];
    const uplink_ref u{p->shard, p->exchange, p->kind, p->con, p->transport, p->peer};
    const uint64_t now = w_.reactor->now_ns();
    try {
        if (p->status == TERN_OK) {
            m_.lookups_ok.inc();
            sd.cache.refund_source(p->peer.endpoint, now);  // a valid token was no stranger's work
            sd.cache.remember(p->token, p->found, p->epoch, now);
            decoder& dec = thread_decoder();
            const tern_bytes body{reinterpret_cast<const uint8_t*>(p->body.data()), p->body.size()};
            if (const decode_status st = dec.parse(p->kind, body, sd.err); st != decode_status::ok) {
                refuse(u, {outcome_of(st), status_code(st), reason(sd.err, st)});
                recycle(p);
                return;
            }
            serve(sd, u, p->found, p);
            return;
        }
        if (p->status == TERN_NOT_FOUND) {
            m_.lookups_unknown.inc();
            // Remembered for unknown_token_cache_ttl, so a flood of made-up tokens reaches the
            // core once per token (per shard) and period.
            sd.cache.remember_unknown(p->token, p->epoch, now);
            refuse(u, {outcome::unknown_token, code_unauthorized, "unknown cloud_token"});
        } else {
            m_.lookups_error.inc();
            core_failed(u, p->status, "cannot look the cloud_token up", {});
        }
    } catch (...) {
        respond(p->exchange, code_internal, "internal error");
    }
    recycle(p);
}

// ---- a known device: convert, store [shard] ------------------------------------------------------

// p: the pending lookup, which goes on to carry the write (null: take one). Either way the
// context is handed to the core or recycled before this returns.
void resource::serve(shard_state& sd, const uplink_ref& u, const token_entry& dev, pending* p) {
    const uint64_t device_id = dev.device_id;
    refusal no{outcome::stored, 0, {}};
    if (!dev.profiled) no = {outcome::unknown_token, code_unauthorized, "the device has no profile"};
    else if (!dev.efento) no = {outcome::wrong_profile, code_bad_request, "device profile is not of the EFENTO CoAP type"};
    if (no.code != 0) {
        if (log_.enabled(TERN_LOG_DEBUG)) log_.debug("device ", device_id, " (profile '", dev.profile, "') refused");
        refuse(u, no);
        if (p != nullptr) recycle(p);
        return;
    }
    decoder& dec = thread_decoder();
    if (const decode_status st = dec.convert(wall_ms(), limits_, sd.err); st != decode_status::ok) {
        refuse(u, {outcome_of(st), status_code(st), reason(sd.err, st)});
        if (p != nullptr) recycle(p);
        return;
    }
    report_activity(device_id, u);
    if (p == nullptr) p = take(sd, u);
    p->values = dec.value_count();
    // The records and attributes are views into this thread's decoder, valid until its next
    // parse: the core copies what it stores during the call (views cross the ABI borrowed for
    // the call; core_embedded copies them into its write op before queueing it).
    if (u.kind == message_kind::configuration) {
        const std::span<const tern_kv> a = dec.attributes();
        w_.core.attributes->post_attributes(device_id, TERN_SCOPE_CLIENT, a.data(), static_cast<uint32_t>(a.size()),
                                            &resource::written, p);
    } else {
        const std::span<const tern_ts_record> r = dec.records();
        w_.core.telemetry->post_telemetry(device_id, r.data(), static_cast<uint32_t>(r.size()), &resource::written, p);
    }
}

void resource::report_activity(uint64_t device_id, const uplink_ref& u) noexcept {
    char buf[64];
    w_.core.sessions->session_event(device_id, TERN_SESSION_ACTIVITY, sdk::to_str(u.transport),
                                    sdk::to_str(address_text(u.peer, buf)));
    m_.activity_reports.inc();
}

// [any-thread]: the core's write is durable, or refused.
void resource::written(void* ctx, tern_status status, tern_str message) noexcept {
    auto* p = static_cast<pending*>(ctx);
    resource* self = p->self;
    if (status == TERN_OK) {
        self->m_.values_stored.inc(p->values);
        self->m_.message(p->kind, outcome::stored);
        // NON: no answer at all, which saves the sensor's battery (it listens for nothing).
        self->respond(p->exchange, code_created, {}, -1, p->con ? 0u : static_cast<uint32_t>(TERN_COAP_RESPONSE_SILENT));
    } else {
        const uplink_ref u{p->shard, p->exchange, p->kind, p->con, {}, {}};
        self->core_failed(u, status, "the core could not store it", sdk::to_sv(message));
    }
    self->recycle(p);
}

// ---- contexts -------------------------------------------------------------------------------------

pending* resource::take(shard_state& sd, const uplink_ref& u) {
    pending* p = sd.pool.get();
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
    p->self = this;
    p->shard = u.shard < shard_count_ ? u.shard : 0;
    p->exchange = u.exchange;
    p->kind = u.kind;
    p->con = u.con;
    p->values = 0;
    p->status = TERN_OK;
    p->token.clear();
    p->body.clear();
    p->transport.clear();
    return p;
}

void resource::recycle(pending* p) noexcept {
    if (p->body.capacity() > kept_body_capacity) std::string().swap(p->body);
    shards_[p->shard]->pool.put(p);
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace tern::efento

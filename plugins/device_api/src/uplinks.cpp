#include "uplinks.hpp"

#include <algorithm>
#include <cstdio>

#include "content_format.hpp"
#include "decoded_uplink.hpp"
#include "downlinks.hpp"
#include "observations.hpp"
#include "query.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

namespace {

// What a decode sink saw: a body to store (copied into the shard's decoded_uplink, since the
// adaptor's views end with the sink call), nothing to store, or no memory for the copy.
// Nothing may leave the sink by exception: it is called from inside the adaptor.
struct decode_note {
    decoded_uplink* out;
    bool got = false;
    bool none = false;
    bool no_memory = false;
    int64_t number = 0;  // a claim's duration

    template <class F>
    void keep(F&& copy) noexcept {
        try {
            copy();
            got = true;
        } catch (...) {
            no_memory = true;
        }
    }
};

}  // namespace

void uplinks::serve(shard_tables& sd, const request& v, const route& r, const std::shared_ptr<const device_entry>& dev,
                    device_meter& meter) {
    const action k = r.what;
    std::string_view why;
    if (const uint8_t refusal = profile_refusal(*dev, r.api, why); refusal != 0) {
        out_.error(v.exchange, k, refusal, why);
        return;
    }
    // Per-device message limit (OTA downloads are many small Block2 requests by design and
    // are not counted). Nothing is done for a limited request.
    if (r.what != action::ota) {
        const int64_t rate = dev->profile->limits.message_rate >= 0 ? dev->profile->limits.message_rate : rt_.s.device_message_rate;
        const int64_t burst = dev->profile->limits.message_burst >= 1 ? dev->profile->limits.message_burst : rt_.s.device_message_burst;
        if (const uint64_t wait = meter.messages.take(rt_.now_ns(), rate, burst, 1); wait != 0) {
            rt_.m.limited_messages.inc();
            out_.limited(v.exchange, k, wait, "device message rate limit exceeded");
            return;
        }
    }
    // Real traffic (docs/device-api.md §0.7): every authenticated request.
    report_activity(*dev, v.transport, v.peer, meter.last_report_ns);
    // A sleeping device is awake now (its policy hears of it at home); an Observe
    // registration tells it there itself, with the state it may create.
    if (r.what != action::attributes_observe && r.what != action::rpc_observe) down_.uplink(sd, *dev);
    if (r.what != action::ota && dev->profile->adaptor == nullptr) {
        // A profile saved while its adaptor ran, served after a restart without it.
        const sdk::payload_kind* kind = sdk::payload_kind_of(dev->profile->payload_type);
        out_.error(v.exchange, k, code::internal,
                   kind != nullptr ? std::string_view(rt_.missing_adaptor[kind - sdk::payload_kinds.data()])
                                   : std::string_view("no payload adaptor for the device profile's payload type"));
        return;
    }
    switch (r.what) {
        case action::telemetry: telemetry(sd, v, *dev, meter); break;
        case action::attributes_post: attributes(sd, v, *dev); break;
        case action::attributes_get: get_attributes(sd, v, dev); break;
        case action::attributes_observe:
        case action::rpc_observe: obs_.start_registration(v, r, dev); break;
        case action::rpc_reply: rpc_reply(sd, v, r, *dev); break;
        case action::rpc_call: rpc_call(sd, v, dev); break;
        case action::claim: claim(sd, v, *dev); break;
        case action::ota: ota(v, r, *dev); break;
        case action::provision: provision(v); break;
        case action::other:
        case action::count_: break;
    }
}

void uplinks::report_activity(const device_entry& dev, std::string_view transport, const tern_peer& peer,
                              uint64_t& last_report_ns) noexcept {
    const uint64_t now = rt_.now_ns();
    if (last_report_ns != 0 && now - last_report_ns < rt_.report_ns) return;
    last_report_ns = now == 0 ? 1 : now;
    char buf[64];
    rt_.w.core.sessions->session_event(dev.device_id, TERN_SESSION_ACTIVITY, sdk::to_str(transport),
                              sdk::to_str(runtime::format_address(peer, buf)));
    rt_.m.activity_reports.inc();
}

uplink_op* uplinks::start_op(shard_tables& sd, const request& v, action kind) {
    uplink_op* o = sd.ops.get();
    o->self = this;
    o->shard = v.shard;
    o->kind = kind;
    o->exchange = v.exchange;
    return o;
}

void uplinks::recycle(uplink_op* o) noexcept {
    o->dev.reset();
    rt_.shards[o->shard]->ops.put(o);
}

void uplinks::write_done(void* ctx, tern_status status, tern_str message) noexcept {
    auto* o = static_cast<uplink_op*>(ctx);
    uplinks* self = o->self;
    if (status == TERN_OK) {
        self->out_.answer(o->exchange, o->kind, code::created);
    } else if (o->kind == action::rpc_reply && status == TERN_NOT_FOUND) {
        // ThingsBoard acknowledges a reply to an RPC it no longer knows.
        self->out_.answer(o->exchange, o->kind, code::created);
    } else {
        const std::string_view why = message.size != 0 ? sdk::to_sv(message) : sdk::status_name(status);
        char text[160];
        const int n = std::snprintf(text, sizeof text, "%s: %.*s",
                                    status == TERN_BUSY        ? "the core is busy"
                                    : come_back_later(status) ? "the core cannot be reached now"
                                                              : "the core could not store it",
                                    static_cast<int>(why.size()), why.data());
        self->out_.core_error(o->exchange, o->kind, status,
                              std::string_view(text, n > 0 ? std::min<std::size_t>(n, sizeof text - 1) : 0));
    }
    self->recycle(o);
}

// ---- decoded by the profile's adaptor into the shard's scratch, then to the core ---------------

void uplinks::telemetry(shard_tables& sd, const request& v, const device_entry& dev, device_meter& meter) {
    decode_note note{&sd.decoded};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    const tern_status st = dev.profile->adaptor->decode_telemetry(
        &pc, v.payload, rt_.wall_ms(),
        [](void* c, const tern_ts_record* recs, uint32_t n) {
            auto* s = static_cast<decode_note*>(c);
            bool any = false;
            for (uint32_t i = 0; i < n && !any; ++i) any = recs[i].count != 0;
            if (!any) {
                s->none = n == 0;
                return;
            }
            s->keep([&] { s->out->copy_records(recs, n); });
        },
        &note, &err);
    if (note.no_memory) {
        out_.error(v.exchange, action::telemetry, code::internal, "out of memory");
        return;
    }
    if (!note.got) {
        if (st != TERN_OK)
            out_.error(v.exchange, action::telemetry, code::bad_request, reason_or(err, "bad telemetry payload"));
        else if (note.none)
            out_.silent(v.exchange, action::telemetry);  // `[]`: only the empty ACK (docs/device-api.md §1.3)
        else
            out_.answer(v.exchange, action::telemetry, code::created);  // `{}`: nothing to store
        return;
    }
    // Per-device data point limit: the whole message or nothing.
    const std::span<const tern_ts_record> records = sd.decoded.records();
    int64_t points = 0;
    for (const tern_ts_record& r : records) points += r.count;
    const int64_t rate = dev.profile->limits.datapoint_rate >= 0 ? dev.profile->limits.datapoint_rate : rt_.s.device_datapoint_rate;
    const int64_t burst = dev.profile->limits.datapoint_burst >= 1 ? dev.profile->limits.datapoint_burst : rt_.s.device_datapoint_burst;
    if (const uint64_t wait = meter.datapoints.take(rt_.now_ns(), rate, burst, points); wait != 0) {
        rt_.m.limited_datapoints.inc();
        out_.limited(v.exchange, action::telemetry, wait, "device data point rate limit exceeded");
        return;
    }
    rt_.w.core.telemetry->post_telemetry(dev.device_id, records.data(), static_cast<uint32_t>(records.size()),
                                         &uplinks::write_done, start_op(sd, v, action::telemetry));
}

void uplinks::attributes(shard_tables& sd, const request& v, const device_entry& dev) {
    decode_note note{&sd.decoded};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    const tern_status st = dev.profile->adaptor->decode_attributes(
        &pc, v.payload,
        [](void* c, const tern_kv* kv, uint32_t n) {
            auto* s = static_cast<decode_note*>(c);
            if (n != 0) s->keep([&] { s->out->copy_values(kv, n); });
        },
        &note, &err);
    if (note.no_memory) {
        out_.error(v.exchange, action::attributes_post, code::internal, "out of memory");
    } else if (!note.got) {
        if (st != TERN_OK)
            out_.error(v.exchange, action::attributes_post, code::bad_request, reason_or(err, "bad attributes payload"));
        else
            out_.answer(v.exchange, action::attributes_post, code::created);
    } else {
        const std::span<const tern_kv> values = sd.decoded.values();
        rt_.w.core.attributes->post_attributes(dev.device_id, TERN_SCOPE_CLIENT, values.data(),
                                               static_cast<uint32_t>(values.size()), &uplinks::write_done,
                                               start_op(sd, v, action::attributes_post));
    }
}

void uplinks::rpc_reply(shard_tables& sd, const request& v, const route& r, const device_entry& dev) {
    decode_note note{&sd.decoded};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    dev.profile->adaptor->decode_rpc_reply(
        &pc, v.payload,
        [](void* c, tern_bytes json) {
            auto* s = static_cast<decode_note*>(c);
            s->keep([&] { s->out->copy_texts(sdk::to_str(sdk::as_text(json))); });
        },
        &note, &err);
    if (note.got) {
        rt_.m.rpc_replies.inc();
        rt_.w.core.rpc->rpc_reply(dev.device_id, r.rpc_id, sd.decoded.text(0), &uplinks::write_done,
                                  start_op(sd, v, action::rpc_reply));
    } else if (note.no_memory) {
        out_.error(v.exchange, action::rpc_reply, code::internal, "out of memory");
    } else {
        // JSON profiles: ThingsBoard fails on a non-object reply at run time, which answers
        // 5.00 (docs/device-api.md §1.3); a protobuf decoding failure is the adaptor's 4.00 (docs/device-api.md §8).
        out_.error(v.exchange, action::rpc_reply,
                   dev.profile->payload_type == TERN_PAYLOAD_JSON ? code::internal : code::bad_request,
                   reason_or(err, "bad RPC reply payload"));
    }
}

void uplinks::rpc_call(shard_tables& sd, const request& v, const std::shared_ptr<const device_entry>& dev) {
    decode_note note{&sd.decoded};
    const tern_payload_context pc = dev->payload_context(v.content_format);
    tern_error err{};
    dev->profile->adaptor->decode_rpc_call(
        &pc, v.payload,
        [](void* c, tern_str method, tern_str params) {
            auto* s = static_cast<decode_note*>(c);
            s->keep([&] { s->out->copy_texts(method, params); });
        },
        &note, &err);
    if (note.got) {
        uplink_op* o = start_op(sd, v, action::rpc_call);
        o->format = v.content_format;
        o->dev = dev;
        rt_.w.core.rpc->client_rpc(dev->device_id, sd.decoded.text(0), sd.decoded.text(1), rt_.s.client_rpc_timeout_ms,
                                   &uplinks::client_rpc_done, o);
    } else if (note.no_memory) {
        out_.error(v.exchange, action::rpc_call, code::internal, "out of memory");
    } else {
        out_.error(v.exchange, action::rpc_call,
                   dev->profile->payload_type == TERN_PAYLOAD_JSON ? code::internal : code::bad_request,
                   reason_or(err, "bad client-side RPC payload"));
    }
}

void uplinks::client_rpc_done(void* ctx, tern_status status, tern_str text) noexcept {
    auto* o = static_cast<uplink_op*>(ctx);
    uplinks* self = o->self;
    if (status == TERN_OK && o->dev) {
        const device_entry& dev = *o->dev;
        const tern_payload_context pc = dev.payload_context(o->format);
        encoded_answer so{&self->out_, o->exchange, action::rpc_call, code::content,
                          response_format(dev.profile->payload_type, o->format)};
        tern_error err{};
        dev.profile->adaptor->encode_rpc_response(&pc, text, tern_str{}, &encoded_answer::put, &so, &err);
        if (so.sent) self->rt_.m.client_rpc_ok.inc();
        else
            self->out_.error(o->exchange, action::rpc_call, code::internal,
                             reason_or(err, "cannot encode the RPC answer"));
    } else if (status == TERN_TIMEOUT || status == TERN_NOT_FOUND) {
        // Nobody answered in time: the device gets no response (docs/device-api.md §4.2).
        self->rt_.m.client_rpc_timeout.inc();
        self->out_.silent(o->exchange, action::rpc_call);
    } else {
        self->rt_.m.client_rpc_error.inc();
        char msg[96];
        const int n = std::snprintf(msg, sizeof msg, "client-side RPC failed: core %s", sdk::status_name(status));
        self->out_.core_error(o->exchange, action::rpc_call, status,
                              std::string_view(msg, n > 0 ? static_cast<std::size_t>(n) : 0));
    }
    self->recycle(o);
}

void uplinks::claim(shard_tables& sd, const request& v, const device_entry& dev) {
    decode_note note{&sd.decoded};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    dev.profile->adaptor->decode_claim(
        &pc, v.payload,
        [](void* c, tern_str secret, int64_t duration_ms) {
            auto* s = static_cast<decode_note*>(c);
            s->number = duration_ms;
            s->keep([&] { s->out->copy_texts(secret); });
        },
        &note, &err);
    if (note.got)
        rt_.w.core.provisioning->claim(dev.device_id, sd.decoded.text(0), note.number, &uplinks::write_done,
                                       start_op(sd, v, action::claim));
    else if (note.no_memory)
        out_.error(v.exchange, action::claim, code::internal, "out of memory");
    else
        out_.error(v.exchange, action::claim, code::bad_request, reason_or(err, "bad claim payload"));
}

// ---- GET attributes (docs/device-api.md §2.4) ------------------------------------------------------------------

void uplinks::get_attributes(shard_tables& sd, const request& v, const std::shared_ptr<const device_entry>& dev) {
    const auto client_keys = query_param(v.query, "clientKeys");
    const auto shared_keys = query_param(v.query, "sharedKeys");
    sd.keys_a.clear();
    sd.keys_b.clear();
    tern_key_filter cf{}, sf{};
    const tern_key_filter* cp = nullptr;
    const tern_key_filter* sp = nullptr;
    if (!client_keys && !shared_keys) {
        // No keys at all: every client and every shared attribute.
        cf.selection = sf.selection = TERN_KEYS_ALL;
        cp = &cf;
        sp = &sf;
    } else {
        if (client_keys) {
            split_keys(*client_keys, sd.keys_a);
            cf = tern_key_filter{TERN_KEYS_LISTED, static_cast<uint32_t>(sd.keys_a.size()), sd.keys_a.data()};
            cp = &cf;
        }
        if (shared_keys) {
            split_keys(*shared_keys, sd.keys_b);
            sf = tern_key_filter{TERN_KEYS_LISTED, static_cast<uint32_t>(sd.keys_b.size()), sd.keys_b.data()};
            sp = &sf;
        }
    }
    uplink_op* o = start_op(sd, v, action::attributes_get);
    o->format = v.content_format;
    o->dev = dev;
    rt_.w.core.attributes->get_attributes(dev->device_id, cp, sp, &uplinks::attributes_read, o);
}

void uplinks::attributes_read(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                              const tern_kv* shared, uint32_t ns) noexcept {
    auto* o = static_cast<uplink_op*>(ctx);
    uplinks* self = o->self;
    if (status != TERN_OK || nc + ns == 0 || !o->dev) {
        self->out_.error(o->exchange, action::attributes_get, code::not_found,
                         status == TERN_OK ? "no attributes found" : "attributes cannot be read now");
    } else {
        const device_entry& dev = *o->dev;
        const tern_payload_context pc = dev.payload_context(o->format);
        encoded_answer so{&self->out_, o->exchange, action::attributes_get, code::content,
                          response_format(dev.profile->payload_type, o->format)};
        tern_error err{};
        dev.profile->adaptor->encode_attributes(&pc, client, nc, shared, ns, &encoded_answer::put, &so, &err);
        if (!so.sent)
            self->out_.error(o->exchange, action::attributes_get, code::internal,
                             reason_or(err, "cannot encode the attributes"));
    }
    self->recycle(o);
}

}  // namespace tern::device_api

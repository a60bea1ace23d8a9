// Requests on their peer's shard: shape (route.cpp), identity (transport identity or
// access token, cached per shard), profile checks (spec §1.3), then the uplink itself.
#include <cstring>

#include "api_impl.hpp"
#include "file_body.hpp"
#include "query.hpp"
#include "rules.hpp"
#include "x509.hpp"

namespace tern::device_api {

namespace {

// What an uplink's decode callback needs to post its op to the core.
struct uplink_sink {
    api* self;
    op* o;
    uint64_t device;
    bool posted = false;
};


std::string_view err_text(const tern_error& e, std::string_view fallback) noexcept {
    const std::size_t n = e.len < sizeof e.msg ? e.len : sizeof e.msg - 1;
    return n == 0 ? fallback : std::string_view(e.msg, n);
}

}  // namespace

// ---- entry -------------------------------------------------------------------------------------

void api::on_request(const tern_coap_request* req) noexcept {
    if (req == nullptr) return;
    try {
        request v;
        v.exchange = req->exchange;
        v.shard = req->shard < shard_count_ ? req->shard : 0;
        v.type = req->type;
        v.method = req->code;
        v.observe = req->observe;
        v.content_format = req->content_format;
        v.coap_token = req->token;
        v.peer = req->peer;
        v.transport = sv(req->transport);
        v.path = std::span<const tern_str>(req->path, req->path_count);
        v.query = std::span<const tern_str>(req->query, req->query_count);
        v.payload = req->payload;
        handle(v);
    } catch (const std::exception& e) {
        log_.error("device_api request failed: ", e.what());
        answer_error(req->exchange, req_kind::other, code::internal, "internal error");
    } catch (...) {
        answer_error(req->exchange, req_kind::other, code::internal, "internal error");
    }
}

void api::handle(const request& v) {
    const classified c = classify(v.path, v.method, v.observe);
    if (c.error != 0) {
        answer_error(v.exchange, c.kind, c.error, c.reason);
        return;
    }
    if (v.method == TERN_COAP_POST && s_.max_payload_size > 0 &&
        v.payload.size > static_cast<uint64_t>(s_.max_payload_size)) {
        // RFC 7959 §4: Size1 tells the client the largest body we take.
        uint8_t size1[4];
        const auto lim = static_cast<uint32_t>(s_.max_payload_size);
        size1[0] = static_cast<uint8_t>(lim >> 24);
        size1[1] = static_cast<uint8_t>(lim >> 16);
        size1[2] = static_cast<uint8_t>(lim >> 8);
        size1[3] = static_cast<uint8_t>(lim);
        std::size_t skip = 0;
        while (skip < 3 && size1[skip] == 0) ++skip;
        const tern_coap_option opt{TERN_COAP_OPT_SIZE1, 0, 0, tern_bytes{size1 + skip, 4 - skip}};
        char text[96];
        const int n = std::snprintf(text, sizeof text, "request body of %zu bytes exceeds max_payload_size (%u bytes)",
                                    v.payload.size, lim);
        m_.payload_too_large.inc();
        answer(v.exchange, c.kind, code::too_large,
               tern_bytes{reinterpret_cast<const uint8_t*>(text), n > 0 ? static_cast<std::size_t>(n) : 0}, -1, 0,
               &opt, 1);
        return;
    }
    if (c.r.what == action::provision) {
        // Unauthenticated work: limited per source address before anything is decoded.
        if (const uint64_t wait = take_source(*shards_[v.shard], v.peer); wait != 0) {
            m_.limited_provision.inc();
            answer_limited(v.exchange, req_kind::provision, wait, "too many provisioning requests from this address");
            return;
        }
        provision(v);
        return;
    }
    resolve(*shards_[v.shard], v, c.r, nullptr);
}

// ---- identity ----------------------------------------------------------------------------------

void api::resolve(shard_data& sd, const request& v, const route& r, std::unique_ptr<pending_auth> p) {
    if (v.peer.session != 0) {
        const uint64_t now = now_ns();
        const uint32_t ti = transport_index(v.transport);
        const session_key key{ti, v.peer.session};
        if (auto* n = sd.sessions.find(key, now)) {
            m_.session_hits.inc();
            if (n->value.dev) {
                // Identity lasts while the session is used (spec §7, inactivity eviction).
                n->expires_ns = now + dtls_ttl_ns_;
                const std::shared_ptr<const device_entry> dev = n->value.dev;
                run(sd, v, r, dev, n->value.meter);
                return;
            }
        } else if (ti != UINT32_MAX && w_.transports[ti].transport != nullptr) {
            m_.session_misses.inc();
            struct seen {
                tern_auth_kind kind = TERN_AUTH_NONE;
                std::vector<std::string> chain;
                std::string psk;
            } got;
            const tern_status st = w_.transports[ti].transport->peer_auth(
                &v.peer,
                [](void* ctx, const tern_peer_auth* a) {
                    auto* g = static_cast<seen*>(ctx);
                    if (a == nullptr) return;
                    if (a->kind == TERN_AUTH_X509 && a->chain_count >= 1 && a->chain != nullptr) {
                        // Any certificate of the chain may be the device's credential, the
                        // first registered one from the leaf wins (spec §7): keep them all,
                        // as many as a DTLS transport hands over.
                        g->kind = TERN_AUTH_X509;
                        const uint32_t n = a->chain_count < max_client_chain ? a->chain_count : max_client_chain;
                        g->chain.reserve(n);
                        for (uint32_t i = 0; i < n; ++i)
                            g->chain.push_back(base64(std::span<const uint8_t>(a->chain[i].data, a->chain[i].size)));
                    } else if (a->kind == TERN_AUTH_PSK) {
                        g->kind = TERN_AUTH_PSK;
                        g->psk.assign(sv(a->psk_identity));
                    }
                },
                &got);
            if (st == TERN_OK && got.kind == TERN_AUTH_X509) {
                if (!p) p = pending_auth::copy(this, v);
                p->chain = std::move(got.chain);
                p->chain_next = 1;
                std::string leaf = std::move(p->chain[0]);
                credential c{TERN_CREDENTIAL_X509, sha3_256_hex(leaf), std::move(leaf)};
                start_auth(sd, v, r, std::move(p), std::move(c), pending_auth::x509);
                return;
            }
            if (st == TERN_OK && got.kind == TERN_AUTH_PSK) {
                start_auth(sd, v, r, std::move(p), credential{TERN_CREDENTIAL_PSK, std::move(got.psk), {}},
                           pending_auth::psk);
                return;
            }
            // No transport identity: remember that for the session, then the token decides.
            std::size_t evicted = 0;
            const std::size_t before = sd.sessions.size();
            sd.sessions.put(key, session_val{}, 0, now + dtls_ttl_ns_, &evicted);
            m_.session_evictions.inc(evicted);
            m_.session_entries.add(static_cast<int64_t>(sd.sessions.size()) - static_cast<int64_t>(before));
        }
    }
    resolve_token(sd, v, r, std::move(p));
}

void api::resolve_token(shard_data& sd, const request& v, const route& r, std::unique_ptr<pending_auth> p) {
    if (!r.token) {
        answer_error(v.exchange, kind_of(r.what), code::unauthorized,
                     "no access token in the path and no DTLS client identity");
        return;
    }
    const uint64_t now = now_ns();
    if (auto* n = sd.tokens.find(*r.token, now)) {
        m_.token_hits.inc();
        run(sd, v, r, n->value.dev, n->value.meter);
        return;
    }
    // A token the core said it did not know, a moment ago: the same answer, without the core.
    if (sd.unknown.find(*r.token, now) != nullptr) {
        m_.unknown_hits.inc();
        answer_error(v.exchange, kind_of(r.what), code::unauthorized, "unknown access token");
        return;
    }
    // The same token already on its way to the core (a burst of one device's requests, or
    // of a made-up token from many addresses): wait for that answer instead of asking again.
    if (auto it = sd.token_lookups.find(*r.token); it != sd.token_lookups.end() &&
                                                    it->second.size() < max_token_waiters_) {
        if (!p) p = pending_auth::copy(this, v);
        p->stage = pending_auth::token;
        p->cred = credential{TERN_CREDENTIAL_ACCESS_TOKEN, std::string(*r.token), {}};
        it->second.push_back(std::move(p));
        return;
    }
    // Asking the core is unauthenticated work until the token proves valid (then it is
    // given back): limited per source address.
    const uint64_t wait = take_source(sd, v.peer);
    if (wait != 0) {
        m_.limited_token.inc();
        answer_limited(v.exchange, kind_of(r.what), wait, "too many unknown access tokens from this address");
        return;
    }
    m_.token_misses.inc();
    if (!p) p = pending_auth::copy(this, v);
    p->source_charged = true;
    sd.token_lookups.try_emplace(std::string(*r.token));
    start_auth(sd, v, r, std::move(p), credential{TERN_CREDENTIAL_ACCESS_TOKEN, std::string(*r.token), {}},
               pending_auth::token);
}

void api::start_auth(shard_data& sd, const request& v, const route&, std::unique_ptr<pending_auth> p,
                     credential cred, int stage) {
    if (!p) p = pending_auth::copy(this, v);
    p->stage = stage;
    p->cred = std::move(cred);
    p->epoch = sd.epoch;
    ask_core(std::move(p));
    // NOTE: v may point into the pending auth, which the completion may have freed:
    // nothing after this.
}

void api::ask_core(std::unique_ptr<pending_auth> p) {
    p->status = TERN_OK;
    p->result.reset();
    pending_auth* raw = p.release();
    w_.core->authenticate(raw->cred.kind, ts(raw->cred.value), &api::auth_done, raw);
}

void api::next_in_chain(std::unique_ptr<pending_auth> p) {
    std::string text = std::move(p->chain[p->chain_next]);
    ++p->chain_next;
    p->cred = credential{TERN_CREDENTIAL_X509, sha3_256_hex(text), std::move(text)};
    // p->epoch stays the one of the leaf's lookup: after an invalidation anywhere in the
    // walk (credentials changed, perhaps to a certificate already passed) its end still
    // answers this request but is not kept for the session.
    ask_core(std::move(p));
}

void api::auth_done(void* ctx, tern_status status, const tern_device_info* info) noexcept {
    std::unique_ptr<pending_auth> p(static_cast<pending_auth*>(ctx));
    api* self = p->self;
    if (self->stopping_.load(std::memory_order_acquire)) return;
    try {
        p->status = status;
        if (status == TERN_OK && info == nullptr) p->status = TERN_INTERNAL;
        if (p->status == TERN_OK) {
            // X.509: the hash found a credential; it is this certificate only if the stored
            // text is the same (spec §7).
            if (p->cred.kind == TERN_CREDENTIAL_X509) {
                tern_device_info d{};
                std::memcpy(&d, info, info->struct_size < sizeof d ? info->struct_size : sizeof d);
                const std::string_view stored(reinterpret_cast<const char*>(d.credential_value.data),
                                              d.credential_value.size);
                if (stored != p->cred.expected) p->status = TERN_NOT_FOUND;
            }
            if (p->status == TERN_OK)
                p->result = copy_device(*info, p->cred, self->adaptor_for(info->payload_type), nullptr);
        }
    } catch (...) {
        p->status = TERN_INTERNAL;
    }
    if (p->status == TERN_OK) self->m_.auth_ok.inc();
    else if (p->status == TERN_NOT_FOUND) self->m_.auth_unknown.inc();
    else self->m_.auth_error.inc();
    if (self->w_.reactor->current_shard() == p->shard) {
        try {
            self->auth_resume(std::move(p));
        } catch (...) {
            self->log_.error("device_api: request failed after authentication");
        }
        return;
    }
    const uint32_t s = p->shard;
    // A refused post (stopping) drops the request: its exchange expires unanswered.
    self->post(s, [self, q = std::move(p)]() mutable { self->auth_resume(std::move(q)); });
}

void api::share_profile(shard_data& sd, device_entry& e) {
    if (!e.options) return;
    std::weak_ptr<const profile_options>& slot = sd.profiles[e.profile_id];
    std::shared_ptr<const profile_options> known = slot.lock();
    if (known && known != e.options && known->same_as(e.options->kvs.data(), static_cast<uint32_t>(e.options->kvs.size())))
        e.options = known;
    else
        slot = e.options;
    if (sd.profiles.size() > 4096) std::erase_if(sd.profiles, [](const auto& kv) { return kv.second.expired(); });
}

void api::auth_resume(std::unique_ptr<pending_auth> p) {
    shard_data& sd = *shards_[p->shard];
    std::vector<std::unique_ptr<pending_auth>> waiters;
    std::shared_ptr<const device_entry> found;
    tern_status token_status = TERN_OK;
    if (p->stage == pending_auth::token) {
        if (auto it = sd.token_lookups.find(p->cred.value); it != sd.token_lookups.end()) {
            waiters = std::move(it->second);
            sd.token_lookups.erase(it);
        }
        token_status = p->status;
        found = p->result;
    }
    if (waiters.empty()) {
        auth_resume_one(sd, std::move(p));
        return;
    }
    auth_resume_one(sd, std::move(p));
    resume_token_waiters(sd, std::move(waiters), token_status, found);
}

void api::resume_token_waiters(shard_data& sd, std::vector<std::unique_ptr<pending_auth>> waiters,
                               tern_status status, const std::shared_ptr<const device_entry>& dev) {
    for (std::unique_ptr<pending_auth>& w : waiters) {
        try {
            const request v = w->view();
            const classified c = classify(v.path, v.method, v.observe);
            if (status == TERN_OK && dev) {
                // the first request cached it (unless an invalidation came in between)
                device_meter no_cache;
                device_meter* meter = &no_cache;
                if (auto* n = sd.tokens.find(w->cred.value, now_ns()); n != nullptr && n->value.dev == dev)
                    meter = &n->value.meter;
                run(sd, v, c.r, dev, *meter);
            } else if (status == TERN_NOT_FOUND) {
                m_.unknown_hits.inc();
                answer_error(v.exchange, c.kind, code::unauthorized, "unknown access token");
            } else {
                answer_core_error(v.exchange, c.kind, status == TERN_OK ? TERN_INTERNAL : status,
                                  "authentication failed: core busy or failing");
            }
        } catch (...) {
            log_.error("device_api: request failed after authentication");
        }
    }
}

void api::auth_resume_one(shard_data& sd, std::unique_ptr<pending_auth> p) {
    const request v = p->view();
    const classified c = classify(v.path, v.method, v.observe);
    const route r = c.r;
    const req_kind k = c.kind;
    const uint64_t now = now_ns();
    const bool via_session = p->stage != pending_auth::token;
    const session_key key{transport_index(v.transport), v.peer.session};
    if (p->source_charged && p->stage == pending_auth::token && p->status == TERN_OK) {
        // A valid token was no unauthenticated work after all.
        refund_source(sd, p->peer);
    }
    if (p->status == TERN_OK) {
        share_profile(sd, *p->result);
        std::shared_ptr<const device_entry> dev = std::move(p->result);
        device_meter no_cache;
        device_meter* last = &no_cache;
        // An invalidation while the core was asked makes the answer unfit to keep.
        if (p->epoch == sd.epoch) {
            std::size_t evicted = 0;
            if (via_session) {
                const std::size_t before = sd.sessions.size();
                if (auto* n = sd.sessions.put(key, session_val{dev, {}}, dev->device_id, now + dtls_ttl_ns_, &evicted))
                    last = &n->value.meter;
                m_.session_evictions.inc(evicted);
                m_.session_entries.add(static_cast<int64_t>(sd.sessions.size()) - static_cast<int64_t>(before));
            } else {
                const std::size_t before = sd.tokens.size();
                if (auto* n = sd.tokens.put(p->cred.value, token_val{dev, {}}, dev->device_id, now + ttl_ns_, &evicted))
                    last = &n->value.meter;
                m_.token_evictions.inc(evicted);
                m_.token_entries.add(static_cast<int64_t>(sd.tokens.size()) - static_cast<int64_t>(before));
            }
        }
        run(sd, v, r, dev, *last);
        return;
    }
    if (p->status == TERN_NOT_FOUND) {
        if (p->stage == pending_auth::x509 && p->chain_next < p->chain.size()) {
            // Not this certificate's device (unknown hash, or another stored text): the next
            // one towards the root may be (spec §7). At most max_client_chain lookups, once
            // per session.
            next_in_chain(std::move(p));  // v points into *p: nothing after this
            return;
        }
        if (via_session) {
            // No certificate of the chain, or an unknown PSK identity: ThingsBoard falls
            // back to the token. Remembered (group 0) as long as a known identity would be,
            // so the chain is walked once per session; a credential created or changed
            // anywhere clears group 0 (on_device_event), so a certificate registered later
            // takes effect on the session's next request.
            std::size_t evicted = 0;
            const std::size_t before = sd.sessions.size();
            if (p->epoch == sd.epoch) sd.sessions.put(key, session_val{}, 0, now + dtls_ttl_ns_, &evicted);
            m_.session_evictions.inc(evicted);
            m_.session_entries.add(static_cast<int64_t>(sd.sessions.size()) - static_cast<int64_t>(before));
            resolve_token(sd, v, r, std::move(p));  // v points into *p: nothing after this
            return;
        }
        if (p->epoch == sd.epoch && sd.unknown.capacity() != 0) {
            // Remember it for unknown_token_cache_ttl, so a flood of made-up tokens reaches
            // the core once per token (per shard) and period.
            std::size_t evicted = 0;
            const std::size_t before = sd.unknown.size();
            sd.unknown.put(p->cred.value, char{0}, 0, now + unknown_ttl_ns_, &evicted);
            m_.unknown_evictions.inc(evicted);
            m_.unknown_entries.add(static_cast<int64_t>(sd.unknown.size()) - static_cast<int64_t>(before));
        }
        answer_error(v.exchange, k, code::unauthorized, "unknown access token");
        return;
    }
    char text[96];
    const int n = std::snprintf(text, sizeof text, "authentication failed: core %s",
                                std::string(status_text(p->status)).c_str());
    answer_core_error(v.exchange, k, p->status, std::string_view(text, n > 0 ? static_cast<std::size_t>(n) : 0));
}

// ---- authenticated -----------------------------------------------------------------------------

uint8_t api::profile_refusal(const device_entry& dev, bool on_api, std::string_view& why) const noexcept {
    if (dev.profile_id == 0) {
        why = "the device has no profile";
        return code::unauthorized;
    }
    if (dev.transport_type != TERN_TRANSPORT_DEFAULT && dev.transport_type != TERN_TRANSPORT_COAP) {
        why = "the device profile's transport is not CoAP";
        return code::internal;
    }
    if (on_api && dev.coap_device_type != TERN_COAP_DEVICE_DEFAULT) {
        why = "the device profile's CoAP device type is not DEFAULT";
        return code::bad_request;
    }
    return 0;
}

void api::report_activity(const device_entry& dev, std::string_view transport, const tern_peer& peer,
                          uint64_t& last_report_ns) noexcept {
    const uint64_t now = now_ns();
    if (last_report_ns != 0 && now - last_report_ns < report_ns_) return;
    last_report_ns = now == 0 ? 1 : now;
    char buf[64];
    w_.core->session_event(dev.device_id, TERN_SESSION_ACTIVITY, ts(transport), ts(format_address(peer, buf)));
    m_.activity_reports.inc();
}

uint64_t api::take_source(shard_data& sd, const tern_peer& peer) noexcept {
    if (s_.source_rate <= 0 || sd.sources.capacity() == 0) return 0;
    const uint64_t now = now_ns();
    bool evicted = false;
    const std::size_t before = sd.sources.size();
    token_bucket* b = sd.sources.find_or_add(peer.endpoint, now, s_.source_rate, s_.source_burst, &evicted);
    if (sd.sources.size() != before) m_.source_buckets.add(static_cast<int64_t>(sd.sources.size() - before));
    if (evicted) m_.source_evictions.inc();
    return b == nullptr ? 0 : b->take(now, s_.source_rate, s_.source_burst, 1);
}

void api::refund_source(shard_data& sd, const tern_peer& peer) noexcept {
    if (s_.source_rate <= 0) return;
    if (token_bucket* b = sd.sources.find(peer.endpoint)) b->refund(now_ns(), s_.source_rate, s_.source_burst, 1);
}

void api::run(shard_data& sd, const request& v, const route& r, const std::shared_ptr<const device_entry>& dev,
              device_meter& meter) {
    const req_kind k = kind_of(r.what);
    std::string_view why;
    if (const uint8_t refusal = profile_refusal(*dev, r.api, why); refusal != 0) {
        answer_error(v.exchange, k, refusal, why);
        return;
    }
    // Per-device message limit (OTA downloads are many small Block2 requests by design and
    // are not counted). Nothing is done for a limited request.
    if (r.what != action::ota) {
        const int64_t rate = dev->limits.message_rate >= 0 ? dev->limits.message_rate : s_.device_message_rate;
        const int64_t burst = dev->limits.message_burst >= 1 ? dev->limits.message_burst : s_.device_message_burst;
        if (const uint64_t wait = meter.messages.take(now_ns(), rate, burst, 1); wait != 0) {
            m_.limited_messages.inc();
            answer_limited(v.exchange, k, wait, "device message rate limit exceeded");
            return;
        }
    }
    // Real traffic (spec §0.7): every authenticated request.
    report_activity(*dev, v.transport, v.peer, meter.last_report_ns);
    if (r.what != action::ota && dev->adaptor == nullptr) {
        answer_error(v.exchange, k, code::internal,
                     dev->payload_type == TERN_PAYLOAD_PROTOBUF
                         ? "the device profile uses protobuf payloads and no protobuf adaptor is loaded"
                         : "no payload adaptor for the device profile's payload type");
        return;
    }
    switch (r.what) {
        case action::telemetry: uplink_telemetry(sd, v, *dev, meter); break;
        case action::attributes_post: uplink_attributes(sd, v, *dev); break;
        case action::attributes_get: get_attributes(sd, v, dev); break;
        case action::attributes_observe:
        case action::rpc_observe: observe(v, r, dev); break;
        case action::rpc_reply: uplink_rpc_reply(sd, v, r, *dev); break;
        case action::rpc_call: uplink_rpc_call(sd, v, dev); break;
        case action::claim: uplink_claim(sd, v, *dev); break;
        case action::ota: ota(v, r, *dev); break;
        case action::provision: provision(v); break;
    }
}

// ---- uplinks -----------------------------------------------------------------------------------

void api::write_done(void* ctx, tern_status status, tern_str message) noexcept {
    op* o = static_cast<op*>(ctx);
    api* self = o->self;
    if (status == TERN_OK) {
        self->answer(o->exchange, o->kind, code::created);
    } else if (o->kind == req_kind::rpc_reply && status == TERN_NOT_FOUND) {
        // ThingsBoard acknowledges a reply to an RPC it no longer knows.
        self->answer(o->exchange, o->kind, code::created);
    } else {
        const std::string_view why = sv(message);
        char text[160];
        const int n = std::snprintf(text, sizeof text, "%s: %.*s",
                                    status == TERN_BUSY ? "the core is busy" : "the core could not store it",
                                    static_cast<int>(why.empty() ? status_text(status).size() : why.size()),
                                    why.empty() ? status_text(status).data() : why.data());
        self->answer_core_error(o->exchange, o->kind, status,
                                std::string_view(text, n > 0 ? std::min<std::size_t>(n, sizeof text - 1) : 0));
    }
    o->dev.reset();
    self->shards_[o->shard]->ops.put(o);
}

op* api::start_op(shard_data& sd, const request& v, req_kind kind) {
    op* o = sd.ops.get();
    o->self = this;
    o->shard = v.shard;
    o->kind = kind;
    o->exchange = v.exchange;
    return o;
}

void api::uplink_telemetry(shard_data& sd, const request& v, const device_entry& dev, device_meter& meter) {
    op* o = start_op(sd, v, req_kind::telemetry);
    struct sink_state {
        api* self;
        op* o;
        uint64_t device;
        token_bucket* points;
        int64_t rate, burst;
        bool posted = false;
        bool none = false;
        uint64_t limited_ns = 0;
    } ss{this, o, dev.device_id, &meter.datapoints,
         dev.limits.datapoint_rate >= 0 ? dev.limits.datapoint_rate : s_.device_datapoint_rate,
         dev.limits.datapoint_burst >= 1 ? dev.limits.datapoint_burst : s_.device_datapoint_burst};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    const tern_status st = dev.adaptor->decode_telemetry(
        &pc, v.payload, wall_ms(),
        [](void* c, const tern_ts_record* recs, uint32_t n) {
            auto* s = static_cast<sink_state*>(c);
            bool any = false;
            for (uint32_t i = 0; i < n && !any; ++i) any = recs[i].count != 0;
            if (!any) {
                s->none = n == 0;
                return;
            }
            // Per-device data point limit: the whole message or nothing.
            int64_t points = 0;
            for (uint32_t i = 0; i < n; ++i) points += recs[i].count;
            s->limited_ns = s->points->take(s->self->now_ns(), s->rate, s->burst, points);
            if (s->limited_ns != 0) return;
            s->posted = true;
            s->self->w_.core->post_telemetry(s->device, recs, n, &api::write_done, s->o);
        },
        &ss, &err);
    if (ss.posted) return;
    sd.ops.put_local(o);
    if (ss.limited_ns != 0) {
        m_.limited_datapoints.inc();
        answer_limited(v.exchange, req_kind::telemetry, ss.limited_ns, "device data point rate limit exceeded");
        return;
    }
    if (st != TERN_OK) answer_error(v.exchange, req_kind::telemetry, code::bad_request, err_text(err, "bad telemetry payload"));
    else if (ss.none) answer_silent(v.exchange, req_kind::telemetry);  // `[]`: only the empty ACK (spec §1.3)
    else answer(v.exchange, req_kind::telemetry, code::created);        // `{}`: nothing to store
}

void api::uplink_attributes(shard_data& sd, const request& v, const device_entry& dev) {
    op* o = start_op(sd, v, req_kind::attributes);
    uplink_sink ss{this, o, dev.device_id};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    const tern_status st = dev.adaptor->decode_attributes(
        &pc, v.payload,
        [](void* c, const tern_kv* kv, uint32_t n) {
            auto* s = static_cast<uplink_sink*>(c);
            if (n == 0) return;
            s->posted = true;
            s->self->w_.core->post_attributes(s->device, TERN_SCOPE_CLIENT, kv, n, &api::write_done, s->o);
        },
        &ss, &err);
    if (ss.posted) return;
    sd.ops.put_local(o);
    if (st != TERN_OK) answer_error(v.exchange, req_kind::attributes, code::bad_request, err_text(err, "bad attributes payload"));
    else answer(v.exchange, req_kind::attributes, code::created);
}

void api::uplink_rpc_reply(shard_data& sd, const request& v, const route& r, const device_entry& dev) {
    op* o = start_op(sd, v, req_kind::rpc_reply);
    struct sink_state {
        api* self;
        op* o;
        uint64_t device;
        int64_t id;
        bool posted = false;
    } ss{this, o, dev.device_id, r.rpc_id};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    const tern_status st = dev.adaptor->decode_rpc_reply(
        &pc, v.payload,
        [](void* c, tern_bytes json) {
            auto* s = static_cast<sink_state*>(c);
            s->posted = true;
            s->self->m_.rpc_replies.inc();
            s->self->w_.core->rpc_reply(s->device, s->id,
                                        tern_str{reinterpret_cast<const char*>(json.data), json.size},
                                        &api::write_done, s->o);
        },
        &ss, &err);
    if (ss.posted) return;
    sd.ops.put_local(o);
    (void)st;
    // JSON profiles: ThingsBoard fails on a non-object reply at run time, which answers 5.00
    // (spec §1.3); a protobuf decoding failure is the adaptor's 4.00 (spec §8).
    answer_error(v.exchange, req_kind::rpc_reply,
                 dev.payload_type == TERN_PAYLOAD_JSON ? code::internal : code::bad_request,
                 err_text(err, "bad RPC reply payload"));
}

void api::client_rpc_done(void* ctx, tern_status status, tern_str text) noexcept {
    op* o = static_cast<op*>(ctx);
    api* self = o->self;
    if (status == TERN_OK && o->dev) {
        const device_entry& dev = *o->dev;
        const tern_payload_context pc = dev.payload_context(o->format);
        struct out {
            api* self;
            op* o;
            int32_t format;
            bool sent = false;
        } so{self, o, response_format(dev.payload_type, o->format)};
        tern_error err{};
        dev.adaptor->encode_rpc_response(
            &pc, text, tern_str{},
            [](void* c, tern_bytes b) {
                auto* s = static_cast<out*>(c);
                s->sent = true;
                s->self->answer(s->o->exchange, req_kind::rpc_call, code::content, b, s->format);
            },
            &so, &err);
        if (so.sent) self->m_.client_rpc_ok.inc();
        else self->answer_error(o->exchange, req_kind::rpc_call, code::internal, err_text(err, "cannot encode the RPC answer"));
    } else if (status == TERN_TIMEOUT || status == TERN_NOT_FOUND) {
        // Nobody answered in time: the device gets no response (spec §4.2).
        self->m_.client_rpc_timeout.inc();
        self->answer_silent(o->exchange, req_kind::rpc_call);
    } else {
        self->m_.client_rpc_error.inc();
        char msg[96];
        const int n = std::snprintf(msg, sizeof msg, "client-side RPC failed: core %s",
                                    std::string(status_text(status)).c_str());
        self->answer_core_error(o->exchange, req_kind::rpc_call, status,
                                std::string_view(msg, n > 0 ? static_cast<std::size_t>(n) : 0));
    }
    o->dev.reset();
    self->shards_[o->shard]->ops.put(o);
}

void api::uplink_rpc_call(shard_data& sd, const request& v, const std::shared_ptr<const device_entry>& dev) {
    op* o = start_op(sd, v, req_kind::rpc_call);
    o->format = v.content_format;
    o->dev = dev;
    uplink_sink ss{this, o, dev->device_id};
    const tern_payload_context pc = dev->payload_context(v.content_format);
    tern_error err{};
    dev->adaptor->decode_rpc_call(
        &pc, v.payload,
        [](void* c, tern_str method, tern_str params) {
            auto* s = static_cast<uplink_sink*>(c);
            s->posted = true;
            s->self->w_.core->client_rpc(s->device, method, params, s->self->s_.client_rpc_timeout_ms,
                                         &api::client_rpc_done, s->o);
        },
        &ss, &err);
    if (ss.posted) return;
    o->dev.reset();
    sd.ops.put_local(o);
    answer_error(v.exchange, req_kind::rpc_call,
                 dev->payload_type == TERN_PAYLOAD_JSON ? code::internal : code::bad_request,
                 err_text(err, "bad client-side RPC payload"));
}

void api::uplink_claim(shard_data& sd, const request& v, const device_entry& dev) {
    op* o = start_op(sd, v, req_kind::claim);
    uplink_sink ss{this, o, dev.device_id};
    const tern_payload_context pc = dev.payload_context(v.content_format);
    tern_error err{};
    dev.adaptor->decode_claim(
        &pc, v.payload,
        [](void* c, tern_str secret, int64_t duration_ms) {
            auto* s = static_cast<uplink_sink*>(c);
            s->posted = true;
            s->self->w_.core->claim(s->device, secret, duration_ms, &api::write_done, s->o);
        },
        &ss, &err);
    if (ss.posted) return;
    sd.ops.put_local(o);
    answer_error(v.exchange, req_kind::claim, code::bad_request, err_text(err, "bad claim payload"));
}

// ---- GET attributes (spec §2.4) ------------------------------------------------------------------

void api::attributes_read(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                          const tern_kv* shared, uint32_t ns) noexcept {
    op* o = static_cast<op*>(ctx);
    api* self = o->self;
    if (status != TERN_OK || nc + ns == 0 || !o->dev) {
        self->answer_error(o->exchange, req_kind::attributes_get, code::not_found,
                           status == TERN_OK ? "no attributes found" : "attributes cannot be read now");
    } else {
        const device_entry& dev = *o->dev;
        const tern_payload_context pc = dev.payload_context(o->format);
        struct out {
            api* self;
            op* o;
            int32_t format;
            bool sent = false;
        } so{self, o, response_format(dev.payload_type, o->format)};
        tern_error err{};
        dev.adaptor->encode_attributes(
            &pc, client, nc, shared, ns,
            [](void* c, tern_bytes b) {
                auto* s = static_cast<out*>(c);
                s->sent = true;
                s->self->answer(s->o->exchange, req_kind::attributes_get, code::content, b, s->format);
            },
            &so, &err);
        if (!so.sent)
            self->answer_error(o->exchange, req_kind::attributes_get, code::internal,
                               err_text(err, "cannot encode the attributes"));
    }
    o->dev.reset();
    self->shards_[o->shard]->ops.put(o);
}

void api::get_attributes(shard_data& sd, const request& v, const std::shared_ptr<const device_entry>& dev) {
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
    op* o = start_op(sd, v, req_kind::attributes_get);
    o->format = v.content_format;
    o->dev = dev;
    w_.core->get_attributes(dev->device_id, cp, sp, &api::attributes_read, o);
}

// ---- provisioning (spec §5.2) -------------------------------------------------------------------

namespace {
struct provision_ctx {
    api* self = nullptr;
    uint64_t exchange = 0;
    payload_v1* codec = nullptr;
    int32_t format = -1;
};
}  // namespace

void api::provision_done(void* ctx, tern_status status, const tern_provision_result* result) noexcept {
    std::unique_ptr<provision_ctx> c(static_cast<provision_ctx*>(ctx));
    api* self = c->self;
    if (status != TERN_OK || result == nullptr) {
        char msg[96];
        const int n = std::snprintf(msg, sizeof msg, "provisioning failed: core %s",
                                    std::string(status_text(status != TERN_OK ? status : TERN_INTERNAL)).c_str());
        self->answer_core_error(c->exchange, req_kind::provision, status,
                                std::string_view(msg, n > 0 ? static_cast<std::size_t>(n) : 0));
        return;
    }
    tern_provision_result res{};
    std::memcpy(&res, result, result->struct_size < sizeof res ? result->struct_size : sizeof res);
    tern_payload_context pc{};
    pc.struct_size = sizeof pc;
    pc.content_format = c->format;
    struct out {
        api* self;
        uint64_t exchange;
        uint8_t code;
        int32_t format;
        bool sent = false;
    } so{self, c->exchange, res.status == TERN_PROVISION_SUCCESS ? code::created : code::bad_request,
         c->codec->content_format()};
    tern_error err{};
    c->codec->encode_provision_response(
        &pc, &res,
        [](void* x, tern_bytes b) {
            auto* s = static_cast<out*>(x);
            s->sent = true;
            s->self->answer(s->exchange, req_kind::provision, s->code, b, s->format);
        },
        &so, &err);
    if (!so.sent)
        self->answer_error(c->exchange, req_kind::provision, code::internal,
                           err_text(err, "cannot encode the provisioning answer"));
}

void api::provision(const request& v) {
    auto c = std::make_unique<provision_ctx>();
    c->self = this;
    c->exchange = v.exchange;
    c->format = v.content_format;
    struct sink_state {
        api* self;
        provision_ctx* c;
        bool called = false;
    } ss{this, c.get()};
    tern_payload_context pc{};
    pc.struct_size = sizeof pc;
    pc.content_format = v.content_format;
    auto sink = [](void* x, const tern_provision_request* req) {
        auto* s = static_cast<sink_state*>(x);
        s->called = true;
        // The core owns the context from here (it may finish before this returns).
        s->self->w_.core->provision(req, &api::provision_done, s->c);
    };
    // JSON first; on a JSON syntax or shape error, protobuf (spec §5.2). The answer uses the
    // codec that understood the request.
    c->codec = w_.json;
    tern_error err{};
    tern_status st = w_.json->decode_provision(&pc, v.payload, sink, &ss, &err);
    if (ss.called) {
        c.release();
        return;
    }
    if (st == TERN_INVALID_ARGUMENT && w_.protobuf != nullptr) {
        c->codec = w_.protobuf;
        tern_error err2{};
        st = w_.protobuf->decode_provision(&pc, v.payload, sink, &ss, &err2);
        if (ss.called) {
            c.release();
            return;
        }
    }
    answer_error(v.exchange, req_kind::provision, code::bad_request, err_text(err, "bad provisioning request"));
}

// ---- OTA (spec §6, §0.5) -----------------------------------------------------------------------

namespace {
struct ota_ctx {
    api* self = nullptr;
    uint64_t exchange = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
    std::optional<std::string> title, version;
    int64_t size = 0;
    int64_t chunk = 0;
};
}  // namespace

void api::ota_done(void* ctx, tern_status status, const tern_ota_package* package) noexcept {
    std::unique_ptr<ota_ctx> c(static_cast<ota_ctx*>(ctx));
    api* self = c->self;
    const char* what = c->type == TERN_OTA_FIRMWARE ? "firmware" : "software";
    char msg[200];
    auto say = [&](uint8_t code_, const char* fmt, const auto&... a) {
        const int n = std::snprintf(msg, sizeof msg, fmt, a...);
        self->answer_error(c->exchange, req_kind::ota, code_,
                           std::string_view(msg, n > 0 ? std::min<std::size_t>(n, sizeof msg - 1) : 0));
    };
    if (status == TERN_NOT_FOUND) return say(code::not_found, "no %s package is assigned to the device", what);
    if (status == TERN_BUSY) return self->answer_busy(c->exchange, req_kind::ota, "cannot look up the package: the core is busy");
    if (status != TERN_OK || package == nullptr)
        return say(code::internal, "cannot look up the %s package: core %s", what,
                   std::string(status_text(status != TERN_OK ? status : TERN_INTERNAL)).c_str());
    tern_ota_package pkg{};
    std::memcpy(&pkg, package, package->struct_size < sizeof pkg ? package->struct_size : sizeof pkg);
    if (pkg.path.size == 0)
        return say(code::not_found, "the %s package is only available from its URL: %.*s", what,
                   static_cast<int>(std::min<std::size_t>(pkg.url.size, 120)), pkg.url.data == nullptr ? "" : pkg.url.data);
    if (c->title && *c->title != sv(pkg.title))
        return say(code::bad_request, "title '%.*s' is not the assigned %s package's", 
                   static_cast<int>(std::min<std::size_t>(c->title->size(), 64)), c->title->c_str(), what);
    if (c->version && *c->version != sv(pkg.version))
        return say(code::bad_request, "version '%.*s' is not the assigned %s package's",
                   static_cast<int>(std::min<std::size_t>(c->version->size(), 64)), c->version->c_str(), what);
    std::string err;
    file_body* body = nullptr;
    try {
        body = file_body::open(std::string(sv(pkg.path)), err);
    } catch (...) {
        err = "out of memory";
    }
    if (body == nullptr) return say(code::internal, "cannot read the %s package: %s", what, err.c_str());
    const byte_range range = ota_slice(body->size(), c->size, c->chunk);
    if (range.length == 0) {
        // A chunk past the end: 2.05 with no payload (spec §0.5), not silence.
        body->release();
        self->answer(c->exchange, req_kind::ota, code::content);
        return;
    }
    body->narrow(range.offset, range.length);
    if (self->stopping_.load(std::memory_order_acquire)) {
        body->release();
        return;
    }
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::content;
    r.content_format = -1;
    r.max_age = -1;
    r.body = body;  // the engine releases it
    self->w_.engine->respond(c->exchange, &r, nullptr);
    self->m_.request(req_kind::ota, code::content);
}

void api::ota(const request& v, const route& r, const device_entry& dev) {
    auto c = std::make_unique<ota_ctx>();
    c->self = this;
    c->exchange = v.exchange;
    c->type = r.ota;
    if (auto t = query_param(v.query, "title")) c->title.emplace(*t);
    if (auto t = query_param(v.query, "version")) c->version.emplace(*t);
    struct {
        const char* name;
        int64_t* out;
    } ints[] = {{"size", &c->size}, {"chunk", &c->chunk}};
    for (auto& i : ints) {
        const auto text = query_param(v.query, i.name);
        if (!text) continue;
        const auto n = parse_java_int(*text);
        if (!n) {
            // ThingsBoard's Integer.parseInt throws here, which answers 5.00 (spec §6).
            char msg[96];
            const int len = std::snprintf(msg, sizeof msg, "query option %s is not an integer", i.name);
            answer_error(v.exchange, req_kind::ota, code::internal, std::string_view(msg, static_cast<std::size_t>(len)));
            return;
        }
        if (*n < 0) {
            char msg[96];
            const int len = std::snprintf(msg, sizeof msg, "query option %s must not be negative", i.name);
            answer_error(v.exchange, req_kind::ota, code::bad_request, std::string_view(msg, static_cast<std::size_t>(len)));
            return;
        }
        *i.out = *n;
    }
    ota_ctx* raw = c.release();
    w_.core->ota_package(dev.device_id, r.ota, &api::ota_done, raw);
}

// ---- Observe registrations go home ----------------------------------------------------------------

void api::observe(const request& v, const route& r, const std::shared_ptr<const device_entry>& dev) {
    auto t = std::make_unique<reg_request>();
    t->rpc = r.what == action::rpc_observe;
    t->dev = dev;
    t->exchange = v.exchange;
    observation& o = t->o;
    o.shard = v.shard;
    o.type = v.type;
    o.format = response_format(dev->payload_type, v.content_format);
    o.who.transport = transport_index(v.transport);
    o.who.session = v.peer.session;
    o.who.endpoint = v.peer.endpoint;
    o.who.tkl = static_cast<uint8_t>(std::min<std::size_t>(v.coap_token.size, sizeof o.who.token));
    if (o.who.tkl != 0) std::memcpy(o.who.token, v.coap_token.data, o.who.tkl);
    o.transport.assign(v.transport);
    char buf[64];
    o.address.assign(format_address(v.peer, buf));
    o.request_format = v.content_format;
    const uint32_t h = home_of(dev->device_id);
    post(h, [this, q = std::move(t)]() mutable { home_register(std::move(q)); });
}

}  // namespace tern::device_api

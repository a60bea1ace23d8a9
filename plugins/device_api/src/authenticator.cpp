#include "authenticator.hpp"

#include <cstdio>
#include <cstring>

#include "responder.hpp"
#include "runtime.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"
#include "tern/credential_id/credential_id.hpp"
#include "uplinks.hpp"

namespace tern::device_api {

// ---- a fresh request -------------------------------------------------------------------------

void authenticator::resolve(shard_tables& sd, const request& v, const route& r) {
    if (v.peer.session != 0) {
        const uint64_t now = rt_.now_ns();
        const uint32_t ti = rt_.transport_index(v.transport);
        const session_key key{ti, v.peer.session};
        if (auto* n = sd.sessions.find(key, now)) {
            rt_.m.session_hits.inc();
            if (n->value.dev) {
                // Identity lasts while the session is used (docs/device-api.md §7, inactivity eviction).
                n->expires_ns = now + rt_.dtls_ttl_ns;
                const std::shared_ptr<const device_entry> dev = n->value.dev;
                up_.serve(sd, v, r, dev, n->value.meter);
                return;
            }
        } else if (ti != UINT32_MAX && rt_.w.transports[ti].transport != nullptr) {
            rt_.m.session_misses.inc();
            if (ask_transport(sd, v, r, ti)) return;
            // No transport identity: remember that for the session, then the token decides.
            remember_no_identity(sd, key, now);
        }
    }
    resolve_token(sd, v, r);
}

bool authenticator::ask_transport(shard_tables& sd, const request& v, const route&, uint32_t ti) {
    struct seen {
        tern_auth_kind kind = TERN_AUTH_NONE;
        std::vector<std::string> chain;
        std::string psk;
    } got;
    const tern_status st = rt_.w.transports[ti].transport->peer_auth(
        &v.peer,
        [](void* ctx, const tern_peer_auth* a) {
            auto* g = static_cast<seen*>(ctx);
            if (a == nullptr) return;
            if (a->kind == TERN_AUTH_X509 && a->chain_count >= 1 && a->chain != nullptr) {
                // Any certificate of the chain may be the device's credential, the first
                // registered one from the leaf wins (docs/device-api.md §7): keep them all, as many as a
                // DTLS transport hands over.
                g->kind = TERN_AUTH_X509;
                const uint32_t n = a->chain_count < max_client_chain ? a->chain_count : max_client_chain;
                g->chain.reserve(n);
                for (uint32_t i = 0; i < n; ++i)
                    g->chain.push_back(
                        credential_id::x509_text(std::span<const uint8_t>(a->chain[i].data, a->chain[i].size)));
            } else if (a->kind == TERN_AUTH_PSK) {
                g->kind = TERN_AUTH_PSK;
                g->psk.assign(sdk::to_sv(a->psk_identity));
            }
        },
        &got);
    if (st != TERN_OK) return false;
    if (got.kind == TERN_AUTH_X509) {
        auto p = std::make_unique<pending_auth>(this, v);
        p->chain = std::move(got.chain);
        p->chain_next = 1;
        std::string leaf = std::move(p->chain[0]);
        credential c{TERN_CREDENTIAL_X509, credential_id::x509_id(leaf),
                     std::make_unique<const std::string>(std::move(leaf))};
        start(sd, std::move(p), std::move(c), pending_auth::x509);
        return true;
    }
    if (got.kind == TERN_AUTH_PSK) {
        start(sd, std::make_unique<pending_auth>(this, v), credential{TERN_CREDENTIAL_PSK, std::move(got.psk), {}},
              pending_auth::psk);
        return true;
    }
    return false;
}

void authenticator::remember_no_identity(shard_tables& sd, const session_key& key, uint64_t now) {
    std::size_t evicted = 0;
    const std::size_t before = sd.sessions.size();
    sd.sessions.put(key, session_val{}, 0, now + rt_.dtls_ttl_ns, &evicted);
    rt_.m.session_evictions.inc(evicted);
    rt_.m.session_entries.add(static_cast<int64_t>(sd.sessions.size()) - static_cast<int64_t>(before));
    rt_.refresh_memory(sd);
}

// ---- the access token --------------------------------------------------------------------------

authenticator::token_step authenticator::check_token(shard_tables& sd, const request& v, const route& r) {
    if (!r.token) {
        out_.error(v.exchange, r.what, code::unauthorized, "no access token in the path and no DTLS client identity");
        return token_step::answered;
    }
    const uint64_t now = rt_.now_ns();
    if (auto* n = sd.tokens.find(*r.token, now)) {
        rt_.m.token_hits.inc();
        up_.serve(sd, v, r, n->value.dev, n->value.meter);
        return token_step::answered;
    }
    // A token the core said it did not know, a moment ago: the same answer, without the core.
    if (sd.unknown.find(*r.token, now) != nullptr) {
        rt_.m.unknown_hits.inc();
        out_.error(v.exchange, r.what, code::unauthorized, "unknown access token");
        return token_step::answered;
    }
    // The same token already on its way to the core (a burst of one device's requests, or
    // of a made-up token from many addresses): wait for that answer instead of asking again.
    if (auto it = sd.token_lookups.find(*r.token);
        it != sd.token_lookups.end() && it->second.size() < runtime::max_token_waiters)
        return token_step::join;
    // Asking the core is unauthenticated work until the token proves valid (then it is
    // given back): limited per source address.
    if (const uint64_t wait = take_source(sd, v.peer); wait != 0) {
        rt_.m.limited_token.inc();
        out_.limited(v.exchange, r.what, wait, "too many unknown access tokens from this address");
        return token_step::answered;
    }
    rt_.m.token_misses.inc();
    return token_step::ask;
}

void authenticator::resolve_token(shard_tables& sd, const request& v, const route& r) {
    const token_step step = check_token(sd, v, r);
    if (step != token_step::answered) wait_for_token(sd, std::make_unique<pending_auth>(this, v), std::string(*r.token), step);
}

void authenticator::resolve_token(shard_tables& sd, std::unique_ptr<pending_auth> p) {
    std::string token;
    token_step step = token_step::answered;
    {
        const request& v = p->req.view();
        const route r = classify(v.path, v.method, v.observe).r;
        step = check_token(sd, v, r);
        if (step != token_step::answered) token.assign(*r.token);
    }
    if (step != token_step::answered) wait_for_token(sd, std::move(p), std::move(token), step);
}

void authenticator::wait_for_token(shard_tables& sd, std::unique_ptr<pending_auth> p, std::string token,
                                   token_step step) {
    if (step == token_step::join) {
        p->stage = pending_auth::token;
        p->cred = credential{TERN_CREDENTIAL_ACCESS_TOKEN, std::move(token), {}};
        sd.token_lookups.find(p->cred.value)->second.push_back(std::move(p));
        return;
    }
    p->source_charged = true;
    sd.token_lookups.try_emplace(token);
    start(sd, std::move(p), credential{TERN_CREDENTIAL_ACCESS_TOKEN, std::move(token), {}}, pending_auth::token);
}

// ---- asking the core -----------------------------------------------------------------------------

void authenticator::start(shard_tables& sd, std::unique_ptr<pending_auth> p, credential cred, int stage) {
    p->stage = stage;
    p->cred = std::move(cred);
    p->epoch = sd.epoch;
    ask_core(std::move(p));
}

void authenticator::ask_core(std::unique_ptr<pending_auth> p) {
    p->status = TERN_OK;
    p->result.reset();
    pending_auth* raw = p.release();
    rt_.w.core.auth->authenticate(raw->cred.kind, sdk::to_str(raw->cred.value), &authenticator::auth_done, raw);
}

void authenticator::next_in_chain(std::unique_ptr<pending_auth> p) {
    std::string text = std::move(p->chain[p->chain_next]);
    ++p->chain_next;
    p->cred = credential{TERN_CREDENTIAL_X509, credential_id::x509_id(text),
                         std::make_unique<const std::string>(std::move(text))};
    // p->epoch stays the one of the leaf's lookup: after an invalidation anywhere in the
    // walk (credentials changed, perhaps to a certificate already passed) its end still
    // answers this request but is not kept for the session.
    ask_core(std::move(p));
}

void authenticator::auth_done(void* ctx, tern_status status, const tern_device_record* record) noexcept {
    std::unique_ptr<pending_auth> p(static_cast<pending_auth*>(ctx));
    authenticator* self = p->self;
    runtime& rt = self->rt_;
    if (rt.stopping()) return;
    p->status = status;
    try {
        p->result = device_found(p->status, record, p->cred, rt.w.adaptors, &rt.m);
        if (p->result) rt.resolve_power(*p->result);
    } catch (...) {
        p->status = TERN_INTERNAL;
    }
    if (p->status == TERN_OK) rt.m.auth_ok.inc();
    else if (p->status == TERN_NOT_FOUND) rt.m.auth_unknown.inc();
    else rt.m.auth_error.inc();
    const uint32_t s = p->req.view().shard;
    if (rt.w.reactor->current_shard() == s) {
        try {
            self->resume(std::move(p));
        } catch (...) {
            rt.log.error("device_api: request failed after authentication");
        }
        return;
    }
    // A refused post (stopping) drops the request: its exchange expires unanswered.
    rt.post(s, [self, q = std::move(p)]() mutable { self->resume(std::move(q)); });
}

// ---- the core's answer, on the request's shard ---------------------------------------------------

void authenticator::resume(std::unique_ptr<pending_auth> p) {
    shard_tables& sd = *rt_.shards[p->req.view().shard];
    std::vector<std::unique_ptr<pending_auth>> waiters;
    std::shared_ptr<const device_entry> dev;
    const tern_status status = p->status;
    if (p->stage == pending_auth::token) {
        if (auto it = sd.token_lookups.find(p->cred.value); it != sd.token_lookups.end()) {
            waiters = std::move(it->second);
            sd.token_lookups.erase(it);
        }
        dev = p->result;
    }
    finish(sd, std::move(p));
    if (!waiters.empty()) resume_waiters(sd, std::move(waiters), status, dev);
}

void authenticator::finish(shard_tables& sd, std::unique_ptr<pending_auth> p) {
    if (p->source_charged && p->stage == pending_auth::token && p->status == TERN_OK) {
        // A valid token was no unauthenticated work after all.
        refund_source(sd, p->req.view().peer);
    }
    if (p->status == TERN_OK) {
        found(sd, *p);
        return;
    }
    if (p->status == TERN_NOT_FOUND) {
        not_found(sd, std::move(p));
        return;
    }
    const request& v = p->req.view();
    char text[96];
    const int n = std::snprintf(text, sizeof text, "authentication failed: core %s", sdk::status_name(p->status));
    out_.core_error(v.exchange, classify(v.path, v.method, v.observe).kind, p->status,
                    std::string_view(text, n > 0 ? static_cast<std::size_t>(n) : 0));
}

void authenticator::found(shard_tables& sd, pending_auth& p) {
    const request& v = p.req.view();
    const route r = classify(v.path, v.method, v.observe).r;
    const uint64_t now = rt_.now_ns();
    share_profile(sd, *p.result);
    std::shared_ptr<const device_entry> dev = std::move(p.result);
    device_meter no_cache;
    device_meter* meter = &no_cache;
    // An invalidation while the core was asked makes the answer unfit to keep.
    if (p.epoch == sd.epoch) {
        std::size_t evicted = 0;
        if (p.stage != pending_auth::token) {
            const session_key key{rt_.transport_index(v.transport), v.peer.session};
            const std::size_t before = sd.sessions.size();
            if (auto* n = sd.sessions.put(key, session_val{dev, {}}, dev->device_id, now + rt_.dtls_ttl_ns, &evicted))
                meter = &n->value.meter;
            rt_.m.session_evictions.inc(evicted);
            rt_.m.session_entries.add(static_cast<int64_t>(sd.sessions.size()) - static_cast<int64_t>(before));
        } else {
            const std::size_t before = sd.tokens.size();
            if (auto* n = sd.tokens.put(p.cred.value, token_val{dev, {}}, dev->device_id, now + rt_.ttl_ns, &evicted))
                meter = &n->value.meter;
            rt_.m.token_evictions.inc(evicted);
            rt_.m.token_entries.add(static_cast<int64_t>(sd.tokens.size()) - static_cast<int64_t>(before));
            if (sd.tokens.size() != before) runtime::token_key_put(sd.token_key_heap, sd.token_keys, p.cred.value.size());
        }
        rt_.refresh_memory(sd);
    }
    up_.serve(sd, v, r, dev, *meter);
}

void authenticator::not_found(shard_tables& sd, std::unique_ptr<pending_auth> p) {
    if (p->stage == pending_auth::x509 && p->chain_next < p->chain.size()) {
        // Not this certificate's device (unknown hash, or another stored text): the next
        // one towards the root may be (docs/device-api.md §7). At most max_client_chain lookups, once
        // per session.
        next_in_chain(std::move(p));
        return;
    }
    const uint64_t now = rt_.now_ns();
    if (p->stage != pending_auth::token) {
        // No certificate of the chain, or an unknown PSK identity: ThingsBoard falls back
        // to the token. Remembered (group 0) as long as a known identity would be, so the
        // chain is walked once per session; a credential created or changed anywhere clears
        // group 0 (forget), so a certificate registered later takes effect on the session's
        // next request.
        if (p->epoch == sd.epoch) {
            const request& v = p->req.view();
            remember_no_identity(sd, session_key{rt_.transport_index(v.transport), v.peer.session}, now);
        }
        resolve_token(sd, std::move(p));
        return;
    }
    if (p->epoch == sd.epoch && sd.unknown.capacity() != 0) {
        // Remember it for unknown_token_cache_ttl, so a flood of made-up tokens reaches the
        // core once per token (per shard) and period.
        std::size_t evicted = 0;
        const std::size_t before = sd.unknown.size();
        sd.unknown.put(p->cred.value, char{0}, 0, now + rt_.unknown_ttl_ns, &evicted);
        rt_.m.unknown_evictions.inc(evicted);
        rt_.m.unknown_entries.add(static_cast<int64_t>(sd.unknown.size()) - static_cast<int64_t>(before));
        if (sd.unknown.size() != before)
            runtime::token_key_put(sd.unknown_key_heap, sd.unknown_keys, p->cred.value.size());
        rt_.refresh_memory(sd);
    }
    const request& v = p->req.view();
    out_.error(v.exchange, classify(v.path, v.method, v.observe).kind, code::unauthorized, "unknown access token");
}

void authenticator::resume_waiters(shard_tables& sd, std::vector<std::unique_ptr<pending_auth>> waiters,
                                   tern_status status, const std::shared_ptr<const device_entry>& dev) {
    for (std::unique_ptr<pending_auth>& w : waiters) {
        try {
            const request& v = w->req.view();
            const classified c = classify(v.path, v.method, v.observe);
            if (status == TERN_OK && dev) {
                // the first request cached it (unless an invalidation came in between)
                device_meter no_cache;
                device_meter* meter = &no_cache;
                if (auto* n = sd.tokens.find(w->cred.value, rt_.now_ns()); n != nullptr && n->value.dev == dev)
                    meter = &n->value.meter;
                up_.serve(sd, v, c.r, dev, *meter);
            } else if (status == TERN_NOT_FOUND) {
                rt_.m.unknown_hits.inc();
                out_.error(v.exchange, c.kind, code::unauthorized, "unknown access token");
            } else {
                out_.core_error(v.exchange, c.kind, status == TERN_OK ? TERN_INTERNAL : status,
                                "authentication failed: core busy or failing");
            }
        } catch (...) {
            rt_.log.error("device_api: request failed after authentication");
        }
    }
}

// ---- per-source limit, profiles, invalidation ---------------------------------------------------------

uint64_t authenticator::take_source(shard_tables& sd, const tern_peer& peer) noexcept {
    if (rt_.s.source_rate <= 0 || sd.sources.capacity() == 0) return 0;
    const uint64_t now = rt_.now_ns();
    bool evicted = false;
    const std::size_t before = sd.sources.size();
    token_bucket* b = sd.sources.find_or_add(peer.endpoint, now, rt_.s.source_rate, rt_.s.source_burst, &evicted);
    if (sd.sources.size() != before) {
        rt_.m.source_buckets.add(static_cast<int64_t>(sd.sources.size() - before));
        rt_.refresh_memory(sd);
    }
    if (evicted) rt_.m.source_evictions.inc();
    return b == nullptr ? 0 : b->take(now, rt_.s.source_rate, rt_.s.source_burst, 1);
}

void authenticator::refund_source(shard_tables& sd, const tern_peer& peer) noexcept {
    if (rt_.s.source_rate <= 0) return;
    if (token_bucket* b = sd.sources.find(peer.endpoint)) b->refund(rt_.now_ns(), rt_.s.source_rate, rt_.s.source_burst, 1);
}

void authenticator::share_profile(shard_tables& sd, device_entry& e) {
    std::weak_ptr<device_profile>& slot = sd.profiles[e.profile->profile_id];
    std::shared_ptr<device_profile> known = slot.lock();
    if (known && known != e.profile && known->same_as(*e.profile)) e.profile = std::move(known);
    else slot = e.profile;
    if (sd.profiles.size() > 4096) std::erase_if(sd.profiles, [](const auto& kv) { return kv.second.expired(); });
}

void authenticator::forget(shard_tables& sd, uint64_t device_id, int32_t event) noexcept {
    ++sd.epoch;
    if (event == TERN_DEVICE_CREDENTIALS_CHANGED) {
        // New credentials (a new device, a changed token) may be a token remembered as
        // unknown: forget them all, they are cheap to learn again; and the DTLS sessions
        // remembered as having no device (group 0).
        if (sd.unknown.size() != 0) {
            rt_.m.unknown_entries.add(-static_cast<int64_t>(sd.unknown.size()));
            sd.unknown.clear();
        }
        rt_.m.session_entries.add(-static_cast<int64_t>(sd.sessions.erase_group(0)));
    }
    rt_.m.token_entries.add(-static_cast<int64_t>(sd.tokens.erase_group(device_id)));
    rt_.m.session_entries.add(-static_cast<int64_t>(sd.sessions.erase_group(device_id)));
    rt_.refresh_memory(sd);
}

}  // namespace tern::device_api

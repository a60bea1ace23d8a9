// A device's observations and downlinks, on its home shard (spec §3, §4.1, §10).
//
// Registration: request shard S --post--> home H (state, subscribe, snapshot) --post--> S
// (engine respond with Observe; S learns observation id -> device) --post--> H (live).
// Ends and notification results travel S -> H the same way, so H sees every fact about an
// observation in the order S produced them.
#include <cstring>

#include "api_impl.hpp"
#include "rules.hpp"

namespace tern::device_api {

namespace {

tern_bytes as_bytes(std::string_view s) noexcept {
    return tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// An encoder's output sink: keeps the encoded bytes in *p and notes that there were some.
struct bytes_into {
    std::string* p;
    bool ok = false;
    static void put(void* c, tern_bytes b) {
        auto* s = static_cast<bytes_into*>(c);
        if (b.size != 0) s->p->assign(reinterpret_cast<const char*>(b.data), b.size);
        s->ok = true;
    }
};

}  // namespace

// ---- the state table ---------------------------------------------------------------------------

device_state* api::state_for(shard_data& sd, const std::shared_ptr<const device_entry>& dev, bool create) {
    auto it = sd.states.find(dev->device_id);
    if (it != sd.states.end()) {
        device_state& st = *it->second;
        if (!st.dev || dev->revision >= st.dev->revision) st.dev = dev;
        return &st;
    }
    if (!create) return nullptr;
    if (sd.states.size() >= states_per_shard_) {
        if (sd.idle_head == nullptr) {
            m_.states_refused.inc();
            return nullptr;
        }
        m_.states_evicted.inc();
        drop_state(sd, *sd.idle_head);
    }
    auto st = std::make_unique<device_state>();
    st->device_id = dev->device_id;
    st->dev = dev;
    device_state* p = st.get();
    sd.states.emplace(dev->device_id, std::move(st));
    m_.states.add(1);
    return p;
}

void api::idle_push(shard_data& sd, device_state& st) noexcept {
    if (st.idle) idle_remove(sd, st);
    st.idle = true;
    st.idle_since_ns = now_ns();
    st.idle_prev = sd.idle_tail;
    st.idle_next = nullptr;
    if (sd.idle_tail != nullptr) sd.idle_tail->idle_next = &st;
    else sd.idle_head = &st;
    sd.idle_tail = &st;
    schedule(sd, st.idle_since_ns + inactivity_ns_);
}

void api::idle_remove(shard_data& sd, device_state& st) noexcept {
    if (!st.idle) return;
    if (st.idle_prev != nullptr) st.idle_prev->idle_next = st.idle_next;
    else sd.idle_head = st.idle_next;
    if (st.idle_next != nullptr) st.idle_next->idle_prev = st.idle_prev;
    else sd.idle_tail = st.idle_prev;
    st.idle_prev = st.idle_next = nullptr;
    st.idle = false;
}

void api::drop_state(shard_data& sd, device_state& st) {
    idle_remove(sd, st);
    const uint64_t id = st.device_id;
    if (st.attr.live.id != 0) end_obs(sd, st, false, code::not_found, "the device state was dropped");
    if (st.rpc.live.id != 0) end_obs(sd, st, true, code::not_found, "the device state was dropped");
    for (const pending_rpc& r : st.rpcs)
        if (!r.timed_out) rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the device has no RPC observation");
    st.rpcs.clear();
    if (st.subscribed != 0) w_.core->unsubscribe(id, st.subscribed);
    if (st.session_open) {
        w_.core->session_event(id, TERN_SESSION_CLOSE, ts(st.session_transport), ts(st.session_address));
        m_.sessions.add(-1);
    }
    sd.states.erase(id);
    m_.states.add(-1);
}

void api::rpc_status(device_state& st, int64_t id, tern_rpc_status s, std::string_view error) noexcept {
    w_.core->rpc_status(st.device_id, id, s, ts(error));
    switch (s) {
        case TERN_RPC_SENT: m_.rpc_sent.inc(); break;
        case TERN_RPC_DELIVERED: m_.rpc_delivered.inc(); break;
        case TERN_RPC_TIMEOUT: m_.rpc_timeout.inc(); break;
        case TERN_RPC_FAILED: m_.rpc_failed.inc(); break;
        default: break;
    }
}

void api::activity_home(device_state& st, const observation& o) noexcept {
    const uint64_t now = now_ns();
    if (st.last_report_ns != 0 && now - st.last_report_ns < report_ns_) return;
    st.last_report_ns = now == 0 ? 1 : now;
    w_.core->session_event(st.device_id, TERN_SESSION_ACTIVITY, ts(o.transport), ts(o.address));
    m_.activity_reports.inc();
}

// ---- registration ------------------------------------------------------------------------------

void api::home_register(std::unique_ptr<reg_request> t) {
    shard_data& sd = *shards_[home_of(t->dev->device_id)];
    const req_kind k = t->rpc ? req_kind::rpc_observe : req_kind::attributes_observe;
    device_state* st = state_for(sd, t->dev, true);
    if (st == nullptr) {
        answer_error(t->exchange, k, code::unavailable,
                     "too many devices with observations (max_devices_with_state); try later");
        return;
    }
    idle_remove(sd, *st);
    obs_slot& slot = t->rpc ? st->rpc : st->attr;
    t->gen = ++slot.gen;
    t->self = this;
    slot.registering = true;
    if (t->rpc) {
        const uint32_t s = t->o.shard;
        const uint64_t device = st->device_id;
        const uint32_t gen = t->gen;
        const uint64_t exchange = t->exchange;
        observation o = t->o;
        if (!post(s, [this, device, gen, exchange, o = std::move(o)]() mutable {
                obs_respond(home_of(device), device, true, gen, exchange, std::string(), -1, std::move(o));
            })) {
            slot.registering = false;
            settle(sd, *st);
        }
        return;
    }
    // Attributes: subscribe first, then read, so no change falls between the two (a change
    // seen by both arrives twice, which is harmless).
    if ((st->subscribed & TERN_SUBSCRIBE_ATTRIBUTES) == 0) {
        w_.core->subscribe(st->device_id, TERN_SUBSCRIBE_ATTRIBUTES);
        st->subscribed |= TERN_SUBSCRIBE_ATTRIBUTES;
    }
    const uint64_t device = st->device_id;
    const tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    w_.core->get_attributes(device, nullptr, &all, &api::snapshot_read, t.release());
}

void api::snapshot_read(void* ctx, tern_status status, const tern_kv*, uint32_t, const tern_kv* shared,
                        uint32_t ns) noexcept {
    std::unique_ptr<reg_request> t(static_cast<reg_request*>(ctx));
    api* self = t->self;
    if (self->stopping_.load(std::memory_order_acquire)) return;
    std::string payload;
    tern_status st = status;
    try {
        if (st == TERN_OK) {
            // The first answer is every shared attribute as a flat object (spec §3.1).
            const tern_payload_context pc = t->dev->payload_context(t->o.request_format);
            tern_error err{};
            bytes_into so{&payload};
            t->dev->adaptor->encode_attribute_update(
                &pc, shared, ns, nullptr, 0,
                &bytes_into::put,
                &so, &err);
            if (!so.ok) st = TERN_INTERNAL;
        }
    } catch (...) {
        st = TERN_INTERNAL;
    }
    const uint32_t h = self->home_of(t->dev->device_id);
    self->post(h, [self, q = std::move(t), st, p = std::move(payload)]() mutable {
        self->home_snapshot(std::move(q), st, std::move(p));
    });
}

void api::home_snapshot(std::unique_ptr<reg_request> t, tern_status status, std::string payload) {
    shard_data& sd = *shards_[home_of(t->dev->device_id)];
    auto it = sd.states.find(t->dev->device_id);
    device_state* st = it == sd.states.end() ? nullptr : it->second.get();
    if (st == nullptr || t->gen != st->attr.gen || !st->attr.registering) {
        // Overtaken by a newer registration (or the device went): a plain answer.
        if (status == TERN_OK)
            answer(t->exchange, req_kind::attributes_observe, code::content, as_bytes(payload), t->o.format);
        else
            answer_error(t->exchange, req_kind::attributes_observe, code::internal, "cannot read the shared attributes");
        return;
    }
    if (status != TERN_OK) {
        st->attr.registering = false;
        answer_error(t->exchange, req_kind::attributes_observe, code::internal, "cannot read the shared attributes");
        settle(sd, *st);
        return;
    }
    const uint32_t s = t->o.shard;
    const uint64_t device = st->device_id;
    const uint32_t gen = t->gen;
    const uint64_t exchange = t->exchange;
    const int32_t format = t->o.format;
    if (!post(s, [this, device, gen, exchange, format, p = std::move(payload), o = std::move(t->o)]() mutable {
            obs_respond(home_of(device), device, false, gen, exchange, std::move(p), format, std::move(o));
        })) {
        st->attr.registering = false;
        settle(sd, *st);
    }
}

// [the observation's shard]
void api::obs_respond(uint32_t home, uint64_t device_id, bool rpc, uint32_t gen, uint64_t exchange,
                      std::string payload, int32_t format, observation o) {
    shard_data& sd = *shards_[o.shard];
    tern_coap_response r{};
    r.struct_size = sizeof r;
    // RPC: 2.03 Valid with no payload; attributes: 2.05 with every shared attribute (§3.1).
    r.code = rpc ? code::valid : code::content;
    r.flags = TERN_COAP_RESPONSE_OBSERVE;
    r.content_format = rpc ? -1 : format;
    r.max_age = -1;
    r.payload = as_bytes(payload);
    uint64_t obs = 0;
    sd.in_observe_respond = true;
    sd.observe_respond_ended = false;
    const tern_status st = w_.engine->respond(exchange, &r, &obs);
    sd.in_observe_respond = false;
    if (st == TERN_OK) m_.request(rpc ? req_kind::rpc_observe : req_kind::attributes_observe, r.code);
    if (st != TERN_OK || sd.observe_respond_ended) obs = 0;
    if (obs != 0) sd.obs_device[obs] = device_id;
    o.id = obs;
    post(home, [this, device_id, rpc, gen, obs, o = std::move(o)]() mutable {
        home_registered(device_id, rpc, gen, obs, std::move(o));
    });
}

void api::home_registered(uint64_t device_id, bool rpc, uint32_t gen, uint64_t obs, observation o) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    if (it == sd.states.end()) {
        if (obs != 0) post(o.shard, [this, obs] { obs_end_on_shard(obs, code::not_found, "the device was deleted"); });
        return;
    }
    device_state& st = *it->second;
    obs_slot& slot = rpc ? st.rpc : st.attr;
    if (obs == 0) {
        // The exchange expired or the relation did not survive its first response.
        if (gen == slot.gen) {
            slot.registering = false;
            settle(sd, st);
        }
        return;
    }
    if (gen != slot.gen) {
        // A newer registration of the same kind is on its way: this one is already old.
        post(o.shard, [this, obs] { obs_end_on_shard(obs, code::deleted, {}); });
        return;
    }
    slot.registering = false;
    slot.grace_until_ns = 0;
    if (slot.live.id != 0) {
        // One observation of each kind per device (spec §3.1): another holder's old
        // relation gets 2.02 Deleted; the same holder's was replaced by the engine.
        if (!slot.live.who.same(o.who)) {
            const uint64_t old = slot.live.id;
            post(slot.live.shard, [this, old] { obs_end_on_shard(old, code::deleted, {}); });
        }
        obs_gone(sd, st, rpc, true);
    }
    slot.live = std::move(o);
    slot.live.id = obs;
    m_.observations[rpc ? 1 : 0].add(1);
    if (!st.session_open) {
        st.session_open = true;
        st.session_transport = slot.live.transport;
        st.session_address = slot.live.address;
        w_.core->session_event(device_id, TERN_SESSION_OPEN, ts(st.session_transport), ts(st.session_address));
        m_.sessions.add(1);
    }
    if (rpc) {
        // Subscribing sends what waits in the core; a device already subscribed (a
        // re-registration) has its pending persistent RPCs sent again instead.
        if ((st.subscribed & TERN_SUBSCRIBE_RPC) == 0) {
            w_.core->subscribe(device_id, TERN_SUBSCRIBE_RPC);
            st.subscribed |= TERN_SUBSCRIBE_RPC;
        } else {
            w_.core->resend_pending_rpcs(device_id);
        }
    } else {
        st.delta_sent = 0;  // what is pending goes to the new relation
    }
    flush(sd, st);
}

// ---- ends ------------------------------------------------------------------------------------------

// [the observation's shard]
void api::obs_end_on_shard(uint64_t obs, uint8_t c, std::string text) {
    const uint32_t s = w_.reactor->current_shard();
    if (s >= shard_count_) return;
    shard_data& sd = *shards_[s];
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = c;
    r.content_format = -1;
    r.max_age = -1;
    r.payload = as_bytes(text);
    // Ends at once on this shard; results of what was still queued come back first.
    w_.engine->end_observation(obs, &r);
    sd.obs_device.erase(obs);
}

void api::end_obs(shard_data& sd, device_state& st, bool rpc, uint8_t c, std::string_view text) {
    obs_slot& slot = rpc ? st.rpc : st.attr;
    if (slot.live.id == 0) return;
    const uint64_t obs = slot.live.id;
    post(slot.live.shard, [this, obs, c, t = std::string(text)]() mutable { obs_end_on_shard(obs, c, std::move(t)); });
    obs_gone(sd, st, rpc, false);
}

void api::obs_gone(shard_data&, device_state& st, bool rpc, bool keep) {
    obs_slot& slot = rpc ? st.rpc : st.attr;
    const uint64_t obs = slot.live.id;
    if (obs == 0) return;
    slot.live.id = 0;
    m_.observations[rpc ? 1 : 0].add(-1);
    if (rpc) {
        // What was sent on it either goes again on the next relation (keep) or is over.
        for (std::size_t i = 0; i < st.rpcs.size();) {
            pending_rpc& r = st.rpcs[i];
            if (r.sent_on != obs) {
                ++i;
                continue;
            }
            if (keep) {
                r.sent_on = 0;
                r.timed_out = false;
                ++i;
                continue;
            }
            if (!r.timed_out) rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the RPC observation ended");
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
        }
    } else {
        if (!keep) st.delta.clear();
        st.delta_sent = 0;
    }
}

void api::home_obs_end(uint64_t device_id, uint64_t obs, int32_t reason) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    if (it == sd.states.end()) return;
    device_state& st = *it->second;
    for (const bool rpc : {false, true}) {
        obs_slot& slot = rpc ? st.rpc : st.attr;
        if (slot.live.id != obs) continue;
        // REPLACED: the same holder registered again and that registration is on its way
        // here; keep subscriptions, session and RPCs for it a little while.
        const bool replaced = reason == TERN_COAP_END_REPLACED;
        obs_gone(sd, st, rpc, replaced || slot.registering);
        if (replaced) {
            slot.grace_until_ns = now_ns() + grace_ns_;
            sd.deadlines.push(deadline{slot.grace_until_ns, device_id, deadline_kind::grace, 0, 0});
            schedule(sd, slot.grace_until_ns);
        }
        settle(sd, st);
    }
}

void api::settle(shard_data& sd, device_state& st) {
    const uint64_t now = now_ns();
    if (!st.attr.active(now)) {
        if ((st.subscribed & TERN_SUBSCRIBE_ATTRIBUTES) != 0) {
            w_.core->unsubscribe(st.device_id, TERN_SUBSCRIBE_ATTRIBUTES);
            st.subscribed &= ~static_cast<uint32_t>(TERN_SUBSCRIBE_ATTRIBUTES);
        }
        st.delta.clear();
        st.delta_sent = 0;
    }
    if (!st.rpc.active(now)) {
        if ((st.subscribed & TERN_SUBSCRIBE_RPC) != 0) {
            w_.core->unsubscribe(st.device_id, TERN_SUBSCRIBE_RPC);
            st.subscribed &= ~static_cast<uint32_t>(TERN_SUBSCRIBE_RPC);
        }
        // No relation to carry them: TIMEOUT (a persistent RPC waits in the core).
        for (const pending_rpc& r : st.rpcs)
            if (!r.timed_out) rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the device has no RPC observation");
        st.rpcs.clear();
    }
    if (!st.attr.active(now) && !st.rpc.active(now)) {
        if (st.session_open) {
            w_.core->session_event(st.device_id, TERN_SESSION_CLOSE, ts(st.session_transport),
                                   ts(st.session_address));
            st.session_open = false;
            m_.sessions.add(-1);
        }
        if (!st.idle) idle_push(sd, st);
    }
}

// ---- downlinks ----------------------------------------------------------------------------------

void api::home_attributes(uint64_t device_id, attr_delta changes) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    if (it == sd.states.end()) return;
    device_state& st = *it->second;
    if (!st.attr.active(now_ns())) return;
    st.delta.merge_from(changes, ++st.delta_seq);
    flush(sd, st);
}

void api::home_rpc(uint64_t device_id, pending_rpc rpc) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    device_state* st = it == sd.states.end() ? nullptr : it->second.get();
    if (st == nullptr || !st->rpc.active(now_ns())) {
        w_.core->rpc_status(device_id, rpc.id, TERN_RPC_TIMEOUT, ts("the device has no RPC observation"));
        m_.rpc_timeout.inc();
        return;
    }
    for (pending_rpc& r : st->rpcs) {
        if (r.id != rpc.id) continue;
        // Sent again by the core while already on its way on the live relation: once is enough.
        if (r.sent_on != 0 && r.sent_on == st->rpc.live.id && !r.timed_out) return;
        r.flags = rpc.flags;
        r.expiration_ms = rpc.expiration_ms;
        r.method = std::move(rpc.method);
        r.params = std::move(rpc.params);
        r.sent_on = 0;
        r.timed_out = false;
        flush(sd, *st);
        return;
    }
    if (st->rpcs.size() >= max_pending_rpcs_) {
        m_.rpc_refused.inc();
        rpc_status(*st, rpc.id, TERN_RPC_TIMEOUT, "too many RPCs waiting for the device");
        return;
    }
    st->rpcs.push_back(std::move(rpc));
    flush(sd, *st);
}

bool api::downlink_allowed(const device_state&) const noexcept {
    // Power saving (spec §9) decides here: a PSM/eDRX device asleep keeps its merged
    // attribute delta and its RPCs until its next uplink. Without it: always now.
    return true;
}

void api::flush(shard_data& sd, device_state& st) {
    if (!downlink_allowed(st)) return;
    flush_attributes(sd, st);
    flush_rpcs(sd, st);
}

void api::flush_attributes(shard_data& sd, device_state& st) {
    const observation& o = st.attr.live;
    if (o.id == 0 || st.delta.empty()) return;
    const uint64_t newest = st.delta.newest();
    if (newest <= st.delta_sent) return;
    st.delta.view(sd.kv_scratch, sd.str_scratch);
    const tern_payload_context pc = st.dev->payload_context(o.request_format);
    tern_error err{};
    bytes_into so{&sd.bytes_scratch};
    sd.bytes_scratch.clear();
    if (st.dev->adaptor != nullptr)
        st.dev->adaptor->encode_attribute_update(
            &pc, sd.kv_scratch.data(), static_cast<uint32_t>(sd.kv_scratch.size()), sd.str_scratch.data(),
            static_cast<uint32_t>(sd.str_scratch.size()),
            &bytes_into::put,
            &so, &err);
    if (!so.ok) {
        log_.warn("device ", st.device_id, ": cannot encode an attribute update: ",
                  std::string_view(err.msg, err.len < sizeof err.msg ? err.len : 0));
        m_.downlink(dl_kind::attributes, dl_result::failed);
        st.delta.clear();
        st.delta_sent = 0;
        return;
    }
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::content;
    r.content_format = o.format;
    r.max_age = -1;
    r.payload = as_bytes(sd.bytes_scratch);
    // Everything pending is in it, so it may replace a queued older one (spec §0.2).
    if (w_.engine->notify(o.id, &r, newest, TERN_COAP_NOTIFY_MERGEABLE) == TERN_OK) {
        st.delta_sent = newest;
        m_.downlink(dl_kind::attributes, dl_result::sent);
    }
}

void api::flush_rpcs(shard_data& sd, device_state& st) {
    const observation& o = st.rpc.live;
    if (o.id == 0) return;
    const int64_t wall = wall_ms();
    const uint64_t now = now_ns();
    for (std::size_t i = 0; i < st.rpcs.size();) {
        pending_rpc& r = st.rpcs[i];
        if (r.sent_on == o.id) {
            ++i;
            continue;
        }
        if (r.expiration_ms > 0 && r.expiration_ms <= wall) {
            // The core expires it itself.
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        tern_rpc_request req{};
        req.struct_size = sizeof req;
        req.flags = r.flags;
        req.id = r.id;
        req.method = ts(r.method);
        req.params = ts(r.params);
        req.expiration_ms = r.expiration_ms;
        const tern_payload_context pc = st.dev->payload_context(o.request_format);
        tern_error err{};
        bytes_into so{&sd.bytes_scratch};
        sd.bytes_scratch.clear();
        if (st.dev->adaptor != nullptr)
            st.dev->adaptor->encode_rpc_request(
                &pc, &req,
                &bytes_into::put,
                &so, &err);
        if (!so.ok) {
            // Spec §4.1.5: the RPC fails and the RPC observation is cancelled.
            static constexpr std::string_view why = "Failed to convert device RPC command to CoAP msg";
            m_.downlink(dl_kind::rpc, dl_result::failed);
            rpc_status(st, r.id, TERN_RPC_FAILED, why);
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
            end_obs(sd, st, true, code::internal, why);
            settle(sd, st);
            return;
        }
        tern_coap_response resp{};
        resp.struct_size = sizeof resp;
        resp.code = code::content;
        resp.content_format = o.format;
        resp.max_age = -1;
        resp.payload = as_bytes(sd.bytes_scratch);
        // Never mergeable: an RPC is never given up for a newer one (spec §0.2).
        if (w_.engine->notify(o.id, &resp, static_cast<uint64_t>(r.id), 0) != TERN_OK) return;  // relation gone
        r.sent_on = o.id;
        r.timed_out = false;
        m_.downlink(dl_kind::rpc, dl_result::sent);
        if (o.type == TERN_COAP_CON) {
            // No ACK within the device's window (PSM activity timer, else the paging
            // transmission window; spec §4.1.3) or before expiry: TIMEOUT.
            const device_entry& d = *st.dev;
            int64_t window = d.power_mode == TERN_POWER_PSM
                                 ? (d.psm_activity_timer_ms > 0 ? d.psm_activity_timer_ms : s_.psm_activity_timer_ms)
                                 : (d.paging_transmission_window_ms > 0 ? d.paging_transmission_window_ms
                                                                        : s_.paging_transmission_window_ms);
            if (r.expiration_ms > 0 && r.expiration_ms - wall < window) window = r.expiration_ms - wall;
            if (window < 0) window = 0;
            const uint64_t when = now + static_cast<uint64_t>(window) * 1000000u;
            sd.deadlines.push(deadline{when, st.device_id, deadline_kind::rpc_ack, r.id, o.id});
            schedule(sd, when);
            if ((r.flags & TERN_RPC_PERSISTENT) != 0) rpc_status(st, r.id, TERN_RPC_SENT, {});
        }
        ++i;
    }
}

void api::home_result(uint64_t device_id, uint64_t obs, uint64_t cookie, int32_t result) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    if (it == sd.states.end()) return;
    device_state& st = *it->second;
    auto outcome = [](int32_t res) {
        switch (res) {
            case TERN_COAP_NOTIFY_DELIVERED: return dl_result::delivered;
            case TERN_COAP_NOTIFY_TIMEOUT: return dl_result::timeout;
            case TERN_COAP_NOTIFY_RESET: return dl_result::reset;
            case TERN_COAP_NOTIFY_MERGED: return dl_result::merged;
            default: return dl_result::dropped;
        }
    };
    if (obs != 0 && obs == st.attr.live.id) {
        m_.downlink(dl_kind::attributes, outcome(result));
        if (result == TERN_COAP_NOTIFY_DELIVERED) {
            st.delta.delivered(cookie);
            if (st.attr.live.type == TERN_COAP_CON) activity_home(st, st.attr.live);
        } else if (result != TERN_COAP_NOTIFY_MERGED) {
            // Not delivered: what it carried goes again with the next change.
            st.delta_sent = 0;
        }
        return;
    }
    for (std::size_t i = 0; i < st.rpcs.size(); ++i) {
        pending_rpc& r = st.rpcs[i];
        if (obs == 0 || r.sent_on != obs || r.id != static_cast<int64_t>(cookie)) continue;
        m_.downlink(dl_kind::rpc, outcome(result));
        if (result == TERN_COAP_NOTIFY_DELIVERED) {
            // Even after a TIMEOUT: the device has it, the core should know.
            rpc_status(st, r.id, TERN_RPC_DELIVERED, {});
            if (obs == st.rpc.live.id && st.rpc.live.type == TERN_COAP_CON) activity_home(st, st.rpc.live);
        } else if (!r.timed_out) {
            rpc_status(st, r.id, TERN_RPC_TIMEOUT,
                       result == TERN_COAP_NOTIFY_RESET ? "the device rejected the notification (RST)"
                                                        : "the notification was not acknowledged");
        }
        st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
        return;
    }
}

void api::home_deadline(shard_data& sd, const deadline& d) {
    auto it = sd.states.find(d.device_id);
    if (it == sd.states.end()) return;
    device_state& st = *it->second;
    if (d.kind == deadline_kind::grace) {
        const uint64_t now = now_ns();
        bool changed = false;
        for (obs_slot* slot : {&st.attr, &st.rpc}) {
            if (slot->grace_until_ns != 0 && slot->grace_until_ns <= now) {
                slot->grace_until_ns = 0;
                changed = true;
            }
        }
        if (changed) settle(sd, st);
        return;
    }
    for (pending_rpc& r : st.rpcs) {
        if (r.id != d.rpc_id || r.sent_on != d.obs || r.timed_out) continue;
        r.timed_out = true;
        m_.downlink(dl_kind::rpc, dl_result::timeout);
        rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the device did not acknowledge the RPC in time");
        return;
    }
}

// ---- device events --------------------------------------------------------------------------------

namespace {
struct reauth_ctx {
    api* self = nullptr;
    uint64_t device_id = 0;
    uint32_t gen = 0;
    credential cred;
};
}  // namespace

void api::reauth_done(void* ctx, tern_status status, const tern_device_info* info) noexcept {
    std::unique_ptr<reauth_ctx> c(static_cast<reauth_ctx*>(ctx));
    api* self = c->self;
    if (self->stopping_.load(std::memory_order_acquire)) return;
    std::shared_ptr<device_entry> dev;
    try {
        if (status == TERN_OK && info != nullptr) {
            tern_device_info d{};
            std::memcpy(&d, info, info->struct_size < sizeof d ? info->struct_size : sizeof d);
            const std::string_view stored(reinterpret_cast<const char*>(d.credential_value.data),
                                          d.credential_value.size);
            if (c->cred.kind == TERN_CREDENTIAL_X509 && stored != c->cred.expected) status = TERN_NOT_FOUND;
            else dev = copy_device(*info, c->cred, self->adaptor_for(d.payload_type), nullptr);
        } else if (status == TERN_OK) {
            status = TERN_INTERNAL;
        }
    } catch (...) {
        status = TERN_INTERNAL;
    }
    const uint64_t device = c->device_id;
    const uint32_t gen = c->gen;
    self->post(self->home_of(device), [self, device, gen, status, d = std::move(dev)]() mutable {
        self->home_reauth(device, gen, status, std::move(d));
    });
}

void api::home_device_event(uint64_t device_id, int32_t event) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    if (it == sd.states.end()) return;
    device_state& st = *it->second;
    const uint64_t now = now_ns();
    if (event == TERN_DEVICE_DELETED) {
        // Its RPCs went with it in the core: nothing to report.
        st.rpcs.clear();
        end_obs(sd, st, false, code::not_found, "the device was deleted");
        end_obs(sd, st, true, code::not_found, "the device was deleted");
        st.attr.registering = st.rpc.registering = false;
        st.attr.grace_until_ns = st.rpc.grace_until_ns = 0;
        settle(sd, st);
        drop_state(sd, st);
        return;
    }
    if (!st.attr.active(now) && !st.rpc.active(now)) {
        // Nothing observed: forget it; the next request finds the device anew.
        drop_state(sd, st);
        return;
    }
    // UPDATED / CREDENTIALS_CHANGED: look the device up again by the credential it used.
    auto c = std::make_unique<reauth_ctx>();
    c->self = this;
    c->device_id = device_id;
    c->gen = ++st.reauth_gen;
    c->cred = st.dev->cred;
    reauth_ctx* raw = c.release();
    w_.core->authenticate(raw->cred.kind, ts(raw->cred.value), &api::reauth_done, raw);
}

void api::home_reauth(uint64_t device_id, uint32_t gen, tern_status status, std::shared_ptr<device_entry> dev) {
    shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    if (it == sd.states.end()) return;
    device_state& st = *it->second;
    if (gen != st.reauth_gen) return;
    uint8_t refusal = 0;
    std::string_view why;
    if (status == TERN_OK && dev && dev->device_id == device_id) {
        share_profile(sd, *dev);
        refusal = profile_refusal(*dev, true, why);
        if (refusal == 0) {
            st.dev = std::move(dev);
            return;
        }
    } else if (status == TERN_OK || status == TERN_NOT_FOUND) {
        refusal = code::unauthorized;
        why = "the device's credentials changed";
    } else {
        log_.warn("device ", device_id, ": cannot re-check its credentials (core ", status_text(status),
                  "); keeping its observations");
        return;
    }
    // The observer may no longer act as this device: end its observations with the code a
    // new request would get.
    end_obs(sd, st, false, refusal, why);
    end_obs(sd, st, true, refusal, why);
    st.attr.registering = st.rpc.registering = false;
    st.attr.grace_until_ns = st.rpc.grace_until_ns = 0;
    settle(sd, st);
}

}  // namespace tern::device_api

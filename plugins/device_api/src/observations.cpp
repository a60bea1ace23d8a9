#include "observations.hpp"

#include <algorithm>
#include <cstring>

#include "bytes_sink.hpp"
#include "content_format.hpp"
#include "downlinks.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "state_table.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

bool obs_ident::same(const obs_ident& o) const noexcept {
    if (transport != o.transport || session != o.session || tkl != o.tkl) return false;
    if (std::memcmp(token, o.token, tkl) != 0) return false;
    // A DTLS session keeps its identity across address changes (docs/device-api.md §0.4).
    if (session != 0) return true;
    return endpoint.family == o.endpoint.family && endpoint.port == o.endpoint.port &&
           std::memcmp(endpoint.addr, o.endpoint.addr, endpoint.family == 6 ? 16 : 4) == 0;
}

// An Observe registration on its way from the request's shard to the device's home.
struct observations::registration {
    observations* self = nullptr;
    bool rpc = false;
    std::shared_ptr<const device_entry> dev;
    uint64_t exchange = 0;
    uint32_t gen = 0;  // set at home
    observation o;     // id 0 until the engine made it
};

// ---- registration ------------------------------------------------------------------------------

void observations::start_registration(const request& v, const route& r,
                                      const std::shared_ptr<const device_entry>& dev) {
    auto t = std::make_unique<registration>();
    t->rpc = r.what == action::rpc_observe;
    t->dev = dev;
    t->exchange = v.exchange;
    observation& o = t->o;
    o.who.shard = static_cast<uint16_t>(v.shard);
    o.who.type = v.type;
    o.format = response_format(dev->profile->payload_type, v.content_format);
    o.who.transport = rt_.transport_id(v.transport);
    o.who.session = v.peer.session;
    o.who.endpoint = v.peer.endpoint;
    o.who.tkl = static_cast<uint8_t>(std::min<std::size_t>(v.coap_token.size, sizeof o.who.token));
    if (o.who.tkl != 0) std::memcpy(o.who.token, v.coap_token.data, o.who.tkl);
    o.request_format = v.content_format;
    rt_.post(rt_.home_of(dev->device_id), [this, q = std::move(t)]() mutable { home_register(std::move(q)); });
}

void observations::home_register(std::unique_ptr<registration> t) {
    shard_tables& sd = rt_.home_tables(t->dev->device_id);
    const action k = t->rpc ? action::rpc_observe : action::attributes_observe;
    device_state* st = states_.state_for(sd, t->dev, true);
    if (st == nullptr) {
        out_.error(t->exchange, k, code::unavailable,
                   "too many devices with observations (max_devices_with_state); try later");
        return;
    }
    states_.idle_remove(sd, *st);
    // The registration is an uplink: a sleeping device is awake (what it held goes on its live
    // observations; the new one gets what is pending when it is made).
    if (st->dev->sleeps()) down_.power_event(sd, *st, TERN_POWER_EVENT_UPLINK, rt_.wall_ms());
    obs_slot& slot = t->rpc ? st->rpc : st->attr;
    t->gen = ++slot.gen;
    t->self = this;
    slot.registering = true;
    if (t->rpc) {
        const uint32_t s = t->o.who.shard;
        const uint64_t device = st->device_id();
        const uint32_t gen = t->gen;
        const uint64_t exchange = t->exchange;
        observation o = t->o;
        if (!rt_.post(s, [this, device, gen, exchange, o = std::move(o)]() mutable {
                respond(rt_.home_of(device), device, true, gen, exchange, std::string(), -1, std::move(o));
            })) {
            slot.registering = false;
            settle(sd, *st);
        }
        return;
    }
    // Attributes: subscribe first, then read, so no change falls between the two (a change
    // seen by both arrives twice, which is harmless).
    if ((st->subscribed & TERN_SUBSCRIBE_ATTRIBUTES) == 0) {
        rt_.subscribe_device(st->device_id(), TERN_SUBSCRIBE_ATTRIBUTES);
        st->subscribed |= TERN_SUBSCRIBE_ATTRIBUTES;
    }
    const uint64_t device = st->device_id();
    const tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    rt_.w.core.attributes->get_attributes(device, nullptr, &all, &observations::snapshot_read, t.release());
}

void observations::snapshot_read(void* ctx, tern_status status, const tern_kv*, uint32_t, const tern_kv* shared,
                                 uint32_t ns) noexcept {
    std::unique_ptr<registration> t(static_cast<registration*>(ctx));
    observations* self = t->self;
    if (self->rt_.stopping()) return;
    std::string payload;
    tern_status st = status;
    try {
        if (st == TERN_OK) {
            // The first answer is every shared attribute as a flat object (docs/device-api.md §3.1).
            const tern_payload_context pc = t->dev->payload_context(t->o.request_format);
            tern_error err{};
            bytes_into so{&payload};
            t->dev->profile->adaptor->encode_attribute_update(&pc, shared, ns, nullptr, 0, &bytes_into::put, &so, &err);
            if (!so.ok) st = TERN_INTERNAL;
        }
    } catch (...) {
        st = TERN_INTERNAL;
    }
    const uint32_t h = self->rt_.home_of(t->dev->device_id);
    self->rt_.post(h, [self, q = std::move(t), st, p = std::move(payload)]() mutable {
        self->home_snapshot(std::move(q), st, std::move(p));
    });
}

void observations::home_snapshot(std::unique_ptr<registration> t, tern_status status, std::string payload) {
    shard_tables& sd = rt_.home_tables(t->dev->device_id);
    device_state* st = rt_.state_of(t->dev->device_id);
    if (st == nullptr || t->gen != st->attr.gen || !st->attr.registering) {
        // Overtaken by a newer registration (or the device went): a plain answer.
        if (status == TERN_OK)
            out_.answer(t->exchange, action::attributes_observe, code::content, sdk::to_bytes(payload), t->o.format);
        else
            out_.error(t->exchange, action::attributes_observe, code::internal, "cannot read the shared attributes");
        return;
    }
    if (status != TERN_OK) {
        st->attr.registering = false;
        out_.error(t->exchange, action::attributes_observe, code::internal, "cannot read the shared attributes");
        settle(sd, *st);
        return;
    }
    const uint32_t s = t->o.who.shard;
    const uint64_t device = st->device_id();
    const uint32_t gen = t->gen;
    const uint64_t exchange = t->exchange;
    const int32_t format = t->o.format;
    if (!rt_.post(s, [this, device, gen, exchange, format, p = std::move(payload), o = std::move(t->o)]() mutable {
            respond(rt_.home_of(device), device, false, gen, exchange, std::move(p), format, std::move(o));
        })) {
        st->attr.registering = false;
        settle(sd, *st);
    }
}

// [the observation's shard]
void observations::respond(uint32_t home, uint64_t device_id, bool rpc, uint32_t gen, uint64_t exchange,
                           std::string payload, int32_t format, observation o) {
    shard_tables& sd = *rt_.shards[o.who.shard];
    tern_coap_response r{};
    r.struct_size = sizeof r;
    // RPC: 2.03 Valid with no payload; attributes: 2.05 with every shared attribute (§3.1).
    r.code = rpc ? code::valid : code::content;
    r.flags = TERN_COAP_RESPONSE_OBSERVE;
    r.content_format = rpc ? -1 : format;
    r.max_age = -1;
    r.payload = sdk::to_bytes(payload);
    uint64_t obs = 0;
    sd.in_observe_respond = true;
    sd.observe_respond_ended = false;
    const tern_status st = rt_.w.engine->respond(exchange, &r, &obs);
    sd.in_observe_respond = false;
    if (st == TERN_OK) rt_.m.request(rpc ? action::rpc_observe : action::attributes_observe, r.code);
    if (st != TERN_OK || sd.observe_respond_ended) obs = 0;
    if (obs != 0) {
        *sd.obs_device.try_emplace(obs).first = device_id;  // obs is not 0, the reserved id
        rt_.refresh_memory(sd);
    }
    o.id = obs;
    rt_.post(home, [this, device_id, rpc, gen, obs, o = std::move(o)]() mutable {
        home_registered(device_id, rpc, gen, obs, std::move(o));
    });
}

void observations::home_registered(uint64_t device_id, bool rpc, uint32_t gen, uint64_t obs, observation o) {
    shard_tables& sd = rt_.home_tables(device_id);
    device_state* found = rt_.state_of(device_id);
    if (found == nullptr) {
        if (obs != 0)
            rt_.post(o.who.shard, [this, obs] { end_on_shard(obs, code::not_found, "the device was deleted"); });
        return;
    }
    device_state& st = *found;
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
        rt_.post(o.who.shard, [this, obs] { end_on_shard(obs, code::deleted, {}); });
        return;
    }
    slot.registering = false;
    slot.grace_until_ns = 0;
    if (slot.live.id != 0) {
        // One observation of each kind per device (docs/device-api.md §3.1): another holder's old
        // relation gets 2.02 Deleted; the same holder's was replaced by the engine.
        if (!slot.live.who.same(o.who)) {
            const uint64_t old = slot.live.id;
            rt_.post(slot.live.who.shard, [this, old] { end_on_shard(old, code::deleted, {}); });
        }
        gone(st, rpc, true);
    }
    slot.live = std::move(o);
    slot.live.id = obs;
    rt_.m.observations[rpc ? 1 : 0].add(1);
    states_.open_session(st, slot.live);
    if (rpc) {
        // Subscribing sends what waits in the core; a device already subscribed (a
        // re-registration) has its pending persistent RPCs sent again instead.
        if ((st.subscribed & TERN_SUBSCRIBE_RPC) == 0) {
            rt_.subscribe_device(device_id, TERN_SUBSCRIBE_RPC);
            st.subscribed |= TERN_SUBSCRIBE_RPC;
        } else {
            rt_.w.core.rpc->resend_pending_rpcs(device_id);
        }
    } else {
        st.delta_sent = 0;  // what is pending goes to the new relation
    }
    down_.flush(sd, st);
}

// ---- ends ------------------------------------------------------------------------------------------

void observations::on_end(uint64_t observation, int32_t reason) noexcept {
    try {
        const uint32_t s = rt_.w.reactor->current_shard();
        if (s >= rt_.shard_count) return;
        shard_tables& sd = *rt_.shards[s];
        const uint64_t* it = sd.obs_device.find(observation);
        if (it == nullptr) {
            // The relation being registered right now ended inside respond().
            if (sd.in_observe_respond) sd.observe_respond_ended = true;
            return;
        }
        const uint64_t device = *it;
        sd.obs_device.erase(observation);
        rt_.refresh_memory(sd);
        rt_.post(rt_.home_of(device), [this, device, observation, reason] { home_end(device, observation, reason); });
    } catch (...) {
        rt_.log.error("device_api: cannot route the end of observation ", observation);
    }
}

void observations::on_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept {
    try {
        const uint32_t s = rt_.w.reactor->current_shard();
        if (s >= rt_.shard_count) return;
        shard_tables& sd = *rt_.shards[s];
        const uint64_t* it = sd.obs_device.find(observation);
        if (it == nullptr) return;
        const uint64_t device = *it;
        rt_.post(rt_.home_of(device), [this, device, observation, cookie, result] {
            down_.result(device, observation, cookie, result);
        });
    } catch (...) {
        rt_.log.error("device_api: cannot route a notification result of observation ", observation);
    }
}

// [the observation's shard]
void observations::end_on_shard(uint64_t obs, uint8_t c, std::string text) {
    const uint32_t s = rt_.w.reactor->current_shard();
    if (s >= rt_.shard_count) return;
    shard_tables& sd = *rt_.shards[s];
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = c;
    r.content_format = -1;
    r.max_age = -1;
    r.payload = sdk::to_bytes(text);
    // Ends at once on this shard; results of what was still queued come back first.
    rt_.w.engine->end_observation(obs, &r);
    if (sd.obs_device.erase(obs)) rt_.refresh_memory(sd);
}

void observations::end(shard_tables&, device_state& st, bool rpc, uint8_t c, std::string_view text) {
    obs_slot& slot = rpc ? st.rpc : st.attr;
    if (slot.live.id == 0) return;
    const uint64_t obs = slot.live.id;
    rt_.post(slot.live.who.shard,
             [this, obs, c, t = std::string(text)]() mutable { end_on_shard(obs, c, std::move(t)); });
    gone(st, rpc, false);
}

void observations::gone(device_state& st, bool rpc, bool keep) {
    obs_slot& slot = rpc ? st.rpc : st.attr;
    const uint64_t obs = slot.live.id;
    if (obs == 0) return;
    slot.live.id = 0;
    rt_.m.observations[rpc ? 1 : 0].add(-1);
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
            if (!r.timed_out) down_.rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the RPC observation ended");
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
        }
    } else {
        if (!keep) st.delta.clear();
        st.delta_sent = 0;
    }
}

void observations::home_end(uint64_t device_id, uint64_t obs, int32_t reason) {
    shard_tables& sd = rt_.home_tables(device_id);
    device_state* found = rt_.state_of(device_id);
    if (found == nullptr) return;
    device_state& st = *found;
    for (const bool rpc : {false, true}) {
        obs_slot& slot = rpc ? st.rpc : st.attr;
        if (slot.live.id != obs) continue;
        // REPLACED: the same holder registered again and that registration is on its way
        // here; keep subscriptions, session and RPCs for it a little while.
        const bool replaced = reason == TERN_COAP_END_REPLACED;
        gone(st, rpc, replaced || slot.registering);
        if (replaced) {
            slot.grace_until_ns = rt_.now_ns() + rt_.grace_ns;
            sd.deadlines.push(deadline{slot.grace_until_ns, device_id, deadline_kind::grace, 0, 0});
            rt_.schedule(sd, slot.grace_until_ns);
        }
        settle(sd, st);
    }
}

void observations::grace_over(shard_tables& sd, device_state& st, uint64_t now) {
    bool changed = false;
    for (obs_slot* slot : {&st.attr, &st.rpc}) {
        if (slot->grace_until_ns != 0 && slot->grace_until_ns <= now) {
            slot->grace_until_ns = 0;
            changed = true;
        }
    }
    if (changed) settle(sd, st);
}

void observations::settle(shard_tables& sd, device_state& st) {
    const uint64_t now = rt_.now_ns();
    if (!st.attr.active(now)) {
        if ((st.subscribed & TERN_SUBSCRIBE_ATTRIBUTES) != 0) {
            rt_.unsubscribe_device(st.device_id(), TERN_SUBSCRIBE_ATTRIBUTES);
            st.subscribed &= ~static_cast<uint32_t>(TERN_SUBSCRIBE_ATTRIBUTES);
        }
        st.delta.clear();
        st.delta_sent = 0;
    }
    if (!st.rpc.active(now)) {
        if ((st.subscribed & TERN_SUBSCRIBE_RPC) != 0) {
            rt_.unsubscribe_device(st.device_id(), TERN_SUBSCRIBE_RPC);
            st.subscribed &= ~static_cast<uint32_t>(TERN_SUBSCRIBE_RPC);
        }
        // No relation to carry them: TIMEOUT (a persistent RPC waits in the core).
        for (const pending_rpc& r : st.rpcs)
            if (!r.timed_out) down_.rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the device has no RPC observation");
        st.rpcs.clear();
    }
    if (!st.attr.active(now) && !st.rpc.active(now)) {
        states_.close_session(st);
        if (!st.idle) states_.idle_push(sd, st);
    }
    down_.account(st);
}

}  // namespace tern::device_api

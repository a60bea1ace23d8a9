#include "downlinks.hpp"

#include <cstring>

#include "bytes_sink.hpp"
#include "observations.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "state_table.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

// ---- from the core [any-thread] -----------------------------------------------------------------

void downlinks::on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                                      const tern_str* deleted, uint32_t deleted_count) noexcept {
    try {
        attr_delta changes;
        changes.apply(updated, updated_count, deleted, deleted_count, 0);
        rt_.post(rt_.home_of(device_id), [this, device_id, c = std::move(changes)]() mutable {
            home_attributes(device_id, std::move(c));
        });
    } catch (...) {
        rt_.log.error("device_api: attribute update for device ", device_id, " lost: out of memory");
    }
}

void downlinks::on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept {
    if (rpc == nullptr) return;
    try {
        tern_rpc_request r{};
        std::memcpy(&r, rpc, rpc->struct_size < sizeof r ? rpc->struct_size : sizeof r);
        pending_rpc p;
        p.id = r.id;
        p.flags = r.flags;
        p.expiration_ms = r.expiration_ms;
        p.method.assign(sdk::to_sv(r.method));
        p.params.assign(sdk::to_sv(r.params));
        if (!rt_.post(rt_.home_of(device_id),
                      [this, device_id, p = std::move(p)]() mutable { home_rpc(device_id, std::move(p)); }))
            rt_.w.core.rpc->rpc_status(device_id, r.id, TERN_RPC_TIMEOUT, sdk::to_str("the device API is stopping"));
    } catch (...) {
        rt_.log.error("device_api: RPC for device ", device_id, " lost: out of memory");
    }
}

// ---- on the home shard ---------------------------------------------------------------------------

void downlinks::home_attributes(uint64_t device_id, attr_delta changes) {
    device_state* st = rt_.state_of(device_id);
    if (st == nullptr || !st->attr.active(rt_.now_ns())) return;
    shard_tables& sd = rt_.home_tables(device_id);
    // Past its bound a held update keeps only deletions: the values are read on wake.
    if (st->pw().full_update && !st->pw().full_read) st->delta.merge_deletions_from(changes, ++st->delta_seq);
    else st->delta.merge_from(changes, ++st->delta_seq);
    flush(sd, *st);
    if (st->dev->sleeps() && (st->pw().full_update || st->delta.newest() > st->delta_sent)) {
        rt_.m.held[static_cast<size_t>(dl_kind::attributes)].inc();
        bound_update(*st);
        account(*st);
    }
}

void downlinks::home_rpc(uint64_t device_id, pending_rpc rpc) {
    device_state* st = rt_.state_of(device_id);
    if (st == nullptr || !st->rpc.active(rt_.now_ns())) {
        rt_.w.core.rpc->rpc_status(device_id, rpc.id, TERN_RPC_TIMEOUT, sdk::to_str("the device has no RPC observation"));
        rt_.m.rpc_timeout.inc();
        return;
    }
    shard_tables& sd = rt_.home_tables(device_id);
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
    if (st->dev->sleeps()) bound_rpcs(*st);
    if (st->rpcs.size() >= rt_.rpc_cap) {
        rt_.m.rpc_refused.inc();
        rpc_status(*st, rpc.id, TERN_RPC_TIMEOUT, "too many RPCs waiting for the device");
        return;
    }
    st->rpcs.push_back(std::move(rpc));
    flush(sd, *st);
    if (st->dev->sleeps() && !st->rpcs.empty() && st->rpcs.back().sent_on == 0) {
        rt_.m.held[static_cast<size_t>(dl_kind::rpc)].inc();
        account(*st);
    }
}

bool downlinks::allowed(shard_tables& sd, device_state& st) {
    // Power saving (docs/device-api.md §9): the device's policy decides, per downlink (eDRX lets
    // exactly one through outside its window). Without a policy: always now.
    power_policy_v1* p = st.dev->profile->power_policy;
    if (p == nullptr) return true;
    const tern_power_settings ps = st.dev->power_settings();
    const bool send = p->may_send(&ps, &st.pw_mut().power, rt_.wall_ms()) == TERN_POWER_SEND;
    after_policy(sd, st);
    return send;
}

void downlinks::flush(shard_tables& sd, device_state& st) {
    flush_attributes(sd, st);
    flush_rpcs(sd, st);
    account(st);
}

void downlinks::flush_attributes(shard_tables& sd, device_state& st) {
    const observation& o = st.attr.live;
    if (o.id == 0) return;
    if (st.pw().full_update) {
        // The held values went past their bound: read them all once the device is awake.
        if (!st.pw().full_read && (st.pw().power.flags & TERN_POWER_ASLEEP) == 0) start_full_read(st);
        return;
    }
    if (st.delta.empty()) return;
    const uint64_t newest = st.delta.newest();
    if (newest <= st.delta_sent) return;
    if (!allowed(sd, st)) return;
    st.delta.view(sd.kv_scratch, sd.str_scratch);
    const tern_payload_context pc = st.dev->payload_context(o.request_format);
    tern_error err{};
    bytes_into so{&sd.bytes_scratch};
    sd.bytes_scratch.clear();
    if (st.dev->profile->adaptor != nullptr)
        st.dev->profile->adaptor->encode_attribute_update(&pc, sd.kv_scratch.data(), static_cast<uint32_t>(sd.kv_scratch.size()),
                                                 sd.str_scratch.data(), static_cast<uint32_t>(sd.str_scratch.size()),
                                                 &bytes_into::put, &so, &err);
    if (!so.ok) {
        rt_.log.warn("device ", st.device_id(), ": cannot encode an attribute update: ",
                     sdk::error_text(err));
        rt_.m.downlink(dl_kind::attributes, dl_result::failed);
        st.delta.clear();
        st.delta_sent = 0;
        return;
    }
    // Everything pending is in it, so it may replace a queued older one (docs/device-api.md §0.2).
    if (notify(o, sd.bytes_scratch, newest, TERN_COAP_NOTIFY_MERGEABLE | keep_flag(st)) == TERN_OK) {
        st.delta_sent = newest;
        rt_.m.downlink(dl_kind::attributes, dl_result::sent);
    }
}

tern_status downlinks::notify(const observation& o, std::string_view payload, uint64_t cookie,
                              uint32_t flags) noexcept {
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::content;
    r.content_format = o.format;
    r.max_age = -1;
    r.payload = sdk::to_bytes(payload);
    return rt_.w.engine->notify(o.id, &r, cookie, flags);
}

int64_t downlinks::ack_window_ms(const device_entry& dev, const pending_rpc& r, int64_t wall) const noexcept {
    // PSM devices: their PSM activity timer, others: their paging transmission window; the
    // device's or profile's value, else the setting. Never past the RPC's expiry.
    const device_profile& d = *dev.profile;
    int64_t window = d.power_mode == TERN_POWER_PSM
                         ? (d.psm_activity_timer_ms > 0 ? d.psm_activity_timer_ms : rt_.s.psm_activity_timer_ms)
                         : (d.paging_transmission_window_ms > 0 ? d.paging_transmission_window_ms
                                                                : rt_.s.paging_transmission_window_ms);
    if (r.expiration_ms > 0 && r.expiration_ms - wall < window) window = r.expiration_ms - wall;
    return window < 0 ? 0 : window;
}

void downlinks::flush_rpcs(shard_tables& sd, device_state& st) {
    const observation& o = st.rpc.live;
    if (o.id == 0) return;
    const int64_t wall = rt_.wall_ms();
    const uint64_t now = rt_.now_ns();
    for (std::size_t i = 0; i < st.rpcs.size();) {
        pending_rpc& r = st.rpcs[i];
        if (r.sent_on == o.id) {
            ++i;
            continue;
        }
        if (r.expiration_ms > 0 && r.expiration_ms <= wall) {
            // The core expires it itself; never delivered late.
            if (st.pw().wake_rpc && r.id == st.pw().wake_last_rpc) {
                st.pw_mut().wake_rpc = false;
                st.pw_mut().wake_ns = 0;
            }
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
            wake_progress(st);
            continue;
        }
        if (!allowed(sd, st)) return;
        tern_rpc_request req{};
        req.struct_size = sizeof req;
        req.flags = r.flags;
        req.id = r.id;
        req.method = sdk::to_str(r.method);
        req.params = sdk::to_str(r.params);
        req.expiration_ms = r.expiration_ms;
        const tern_payload_context pc = st.dev->payload_context(o.request_format);
        tern_error err{};
        bytes_into so{&sd.bytes_scratch};
        sd.bytes_scratch.clear();
        if (st.dev->profile->adaptor != nullptr) st.dev->profile->adaptor->encode_rpc_request(&pc, &req, &bytes_into::put, &so, &err);
        if (!so.ok) {
            // Spec §4.1.5: the RPC fails and the RPC observation is cancelled.
            static constexpr std::string_view why = "Failed to convert device RPC command to CoAP msg";
            rt_.m.downlink(dl_kind::rpc, dl_result::failed);
            rpc_status(st, r.id, TERN_RPC_FAILED, why);
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
            obs_.end(sd, st, true, code::internal, why);
            obs_.settle(sd, st);
            return;
        }
        // Never mergeable: an RPC is never given up for a newer one (docs/device-api.md §0.2).
        if (notify(o, sd.bytes_scratch, static_cast<uint64_t>(r.id), keep_flag(st)) != TERN_OK) return;  // gone
        // timed_out stays: a TIMEOUT told to the core is not told again (a resend after the
        // device slept); whoever made it unsent for a new relation cleared it.
        r.sent_on = o.id;
        rt_.m.downlink(dl_kind::rpc, dl_result::sent);
        if (o.who.type == TERN_COAP_CON) {
            // No ACK within the device's window or before expiry: TIMEOUT.
            const uint64_t when = now + static_cast<uint64_t>(ack_window_ms(*st.dev, r, wall)) * 1000000u;
            sd.deadlines.push(deadline{when, st.device_id(), deadline_kind::rpc_ack, r.id, o.id});
            rt_.schedule(sd, when);
            if ((r.flags & TERN_RPC_PERSISTENT) != 0) rpc_status(st, r.id, TERN_RPC_SENT, {});
        }
        ++i;
    }
}

// ---- what became of them [shard H] ------------------------------------------------------------------

void downlinks::result(uint64_t device_id, uint64_t obs, uint64_t cookie, int32_t result) {
    device_state* found = rt_.state_of(device_id);
    if (found == nullptr) return;
    device_state& st = *found;
    auto outcome = [](int32_t res) {
        switch (res) {
            case TERN_COAP_NOTIFY_DELIVERED: return dl_result::delivered;
            case TERN_COAP_NOTIFY_TIMEOUT: return dl_result::timeout;
            case TERN_COAP_NOTIFY_RESET: return dl_result::reset;
            case TERN_COAP_NOTIFY_MERGED: return dl_result::merged;
            default: return dl_result::dropped;
        }
    };
    shard_tables& sd = rt_.home_tables(device_id);
    // A device whose mode sleeps keeps its observations when a CON goes unanswered (the
    // engine was told TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT): it is asleep, what the notification
    // carried waits for its wake.
    const bool sleeping = st.dev->sleeps() && result == TERN_COAP_NOTIFY_TIMEOUT;
    if (obs != 0 && obs == st.attr.live.id) {
        rt_.m.downlink(dl_kind::attributes, outcome(result));
        if (result == TERN_COAP_NOTIFY_DELIVERED) {
            st.delta.delivered(cookie);
            if (st.pw().wake_attr_seq != 0 && cookie >= st.pw().wake_attr_seq) {
                st.pw_mut().wake_attr_seq = 0;
                wake_progress(st);
            }
            if (st.attr.live.who.type == TERN_COAP_CON) {
                states_.activity(st, st.attr.live);
                power_event(sd, st, TERN_POWER_EVENT_ACK, rt_.wall_ms());
            }
        } else if (result != TERN_COAP_NOTIFY_MERGED) {
            // Not delivered: what it carried goes again with the next change, or on wake.
            st.delta_sent = 0;
            if (sleeping) power_event(sd, st, TERN_POWER_EVENT_UNREACHABLE, rt_.wall_ms());
        }
        account(st);
        return;
    }
    for (std::size_t i = 0; i < st.rpcs.size(); ++i) {
        pending_rpc& r = st.rpcs[i];
        if (obs == 0 || r.sent_on != obs || r.id != static_cast<int64_t>(cookie)) continue;
        rt_.m.downlink(dl_kind::rpc, outcome(result));
        if (sleeping && obs == st.rpc.live.id && (!r.timed_out || (r.flags & TERN_RPC_PERSISTENT) != 0)) {
            // Back to unsent, in its place: delivered on wake (never reported TIMEOUT for this;
            // a persistent one whose window passed the core queues again itself).
            r.sent_on = 0;
            rt_.m.held[static_cast<size_t>(dl_kind::rpc)].inc();
            power_event(sd, st, TERN_POWER_EVENT_UNREACHABLE, rt_.wall_ms());
            account(st);
            return;
        }
        // (A sleeping device's one-shot RPC whose window already ended it TIMEOUT is over: the
        // core and its caller have given up on it, so it is not delivered later.)
        const bool ack = result == TERN_COAP_NOTIFY_DELIVERED && obs == st.rpc.live.id &&
                         st.rpc.live.who.type == TERN_COAP_CON;
        if (result == TERN_COAP_NOTIFY_DELIVERED) {
            // Even after a TIMEOUT: the device has it, the core should know.
            rpc_status(st, r.id, TERN_RPC_DELIVERED, {});
            if (ack) states_.activity(st, st.rpc.live);
        } else if (!r.timed_out) {
            rpc_status(st, r.id, TERN_RPC_TIMEOUT,
                       result == TERN_COAP_NOTIFY_RESET ? "the device rejected the notification (RST)"
                                                        : "the notification was not acknowledged");
        }
        if (st.pw().wake_rpc && r.id == st.pw().wake_last_rpc) {
            st.pw_mut().wake_rpc = false;
            if (result != TERN_COAP_NOTIFY_DELIVERED) st.pw_mut().wake_ns = 0;  // not a delivery to time
        }
        st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
        wake_progress(st);
        if (ack) power_event(sd, st, TERN_POWER_EVENT_ACK, rt_.wall_ms());
        else if (sleeping) power_event(sd, st, TERN_POWER_EVENT_UNREACHABLE, rt_.wall_ms());
        account(st);
        return;
    }
}

void downlinks::ack_deadline(device_state& st, const deadline& d) {
    for (pending_rpc& r : st.rpcs) {
        if (r.id != d.rpc_id || r.sent_on != d.obs || r.timed_out) continue;
        r.timed_out = true;
        rt_.m.downlink(dl_kind::rpc, dl_result::timeout);
        rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the device did not acknowledge the RPC in time");
        return;
    }
}

void downlinks::rpc_status(device_state& st, int64_t id, tern_rpc_status s, std::string_view error) noexcept {
    rt_.w.core.rpc->rpc_status(st.device_id(), id, s, sdk::to_str(error));
    switch (s) {
        case TERN_RPC_SENT: rt_.m.rpc_sent.inc(); break;
        case TERN_RPC_DELIVERED: rt_.m.rpc_delivered.inc(); break;
        case TERN_RPC_TIMEOUT: rt_.m.rpc_timeout.inc(); break;
        case TERN_RPC_FAILED: rt_.m.rpc_failed.inc(); break;
        default: break;
    }
}

}  // namespace tern::device_api

// Power saving (docs/device-api.md §9) on the device's home shard: its policy
// (tern.power.policy/1) hears of every uplink, every acknowledged and every unanswered CON
// notification and the timer it asks for; downlinks() asks it before each downlink. While it
// holds, attribute changes merge into one update and RPCs wait in order; when the device wakes
// they go at once. The bounds of what a sleeping device has held, the ASLEEP session event
// and the power metrics are here too.
#include <string>

#include "downlinks.hpp"
#include "runtime.hpp"
#include "state_table.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

namespace {

// wake_attr_seq while the update on its way is a read not yet answered.
constexpr uint64_t read_pending = ~uint64_t{0};

// An RPC held (or sent) for longer than its expiration: the core ends it EXPIRED itself.
bool expired(const pending_rpc& r, int64_t wall) noexcept { return r.expiration_ms > 0 && r.expiration_ms <= wall; }

}  // namespace

uint32_t downlinks::keep_flag(const device_state& st) noexcept {
    return st.dev->sleeps() ? TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT : 0;
}

// ---- events ---------------------------------------------------------------------------------------

void downlinks::uplink(shard_tables& sd, const device_entry& dev) noexcept {
    if (!dev.sleeps()) return;
    try {
        const int64_t now = rt_.wall_ms();
        const uint32_t h = rt_.home_of(dev.device_id);
        if (h == sd.index) {
            home_uplink(dev.device_id, now);
            return;
        }
        // To the home shard in a context of this shard's pool: nothing allocated once warm.
        power_hop* p = sd.hops.get();
        p->self = this;
        p->shard = sd.index;
        p->device_id = dev.device_id;
        p->now_ms = now;
        if (!rt_.post_raw(h, &downlinks::run_hop, p)) sd.hops.put_local(p);
    } catch (const std::exception& e) {
        rt_.log.error("device_api: the uplink of device ", dev.device_id, " did not reach its power policy: ",
                      e.what());
    }
}

void downlinks::run_hop(void* ctx) noexcept {
    auto* p = static_cast<power_hop*>(ctx);
    downlinks* self = p->self;
    runtime& rt = self->rt_;
    if (!rt.stopping()) {
        try {
            self->home_uplink(p->device_id, p->now_ms);
        } catch (const std::exception& e) {
            rt.log.error("device_api: power event of device ", p->device_id, " failed: ", e.what());
        }
    }
    rt.shards[p->shard]->hops.put(p);
    rt.raw_done();
}

void downlinks::home_uplink(uint64_t device_id, int64_t now_ms) {
    // A device without state has nothing held; its first Observe registration makes one.
    device_state* st = rt_.state_of(device_id);
    if (st != nullptr) power_event(rt_.home_tables(device_id), *st, TERN_POWER_EVENT_UPLINK, now_ms);
}

void downlinks::power_event(shard_tables& sd, device_state& st, tern_power_event e, int64_t now_ms) {
    power_policy_v1* p = st.dev->power_policy;
    if (p == nullptr) return;
    const tern_power_settings ps = st.dev->power_settings();
    const bool woke = p->on_event(&ps, &st.power, e, now_ms);
    if (woke) mark_wake(st);
    after_policy(sd, st);
    // Awake again: what was held goes now, merged and in order. After any uplink or ACK,
    // whatever still waits is tried too (flush asks the policy only when something waits).
    if (woke || e == TERN_POWER_EVENT_UPLINK || e == TERN_POWER_EVENT_ACK) flush(sd, st);
    else account(st);
}

void downlinks::power_deadline(shard_tables& sd, device_state& st, const deadline& d) {
    // Only the deadline of the time the state now asks for counts (an earlier one replaced it).
    if (d.rpc_id != st.power_timer_ms) return;
    st.power_timer_ms = 0;
    power_policy_v1* p = st.dev->power_policy;
    const int64_t want = st.power.wake_check_ms;
    if (p == nullptr || want == 0) return;
    const int64_t wall = rt_.wall_ms();
    if (want <= wall) {
        const tern_power_settings ps = st.dev->power_settings();
        const bool woke = p->on_event(&ps, &st.power, TERN_POWER_EVENT_TIMER, wall);
        // A policy that leaves the time where it was wants no second call for it.
        if (st.power.wake_check_ms == want) st.power_timer_ms = want;
        if (woke) mark_wake(st);
        after_policy(sd, st);
        if (woke) flush(sd, st);
        else account(st);
        return;
    }
    after_policy(sd, st);  // moved later meanwhile (or the wall clock lags): wait for it
}

void downlinks::after_policy(shard_tables& sd, device_state& st) {
    const int64_t want = st.power.wake_check_ms;
    if (want != 0 && (st.power_timer_ms == 0 || want < st.power_timer_ms)) {
        // One deadline per device at a time: a later time is looked at when this one comes.
        const int64_t wall = rt_.wall_ms();
        const uint64_t when = rt_.now_ns() + (want > wall ? static_cast<uint64_t>(want - wall) * 1000000u : 0);
        sd.deadlines.push(deadline{when, st.device_id, deadline_kind::power, want, 0});
        rt_.schedule(sd, when);
        st.power_timer_ms = want;
    }
    const bool asleep = (st.power.flags & TERN_POWER_ASLEEP) != 0;
    if (asleep == st.asleep_reported) return;
    st.asleep_reported = asleep;
    // Once per transition. Waking is ACTIVITY (the uplink reports it too, throttled; this one
    // makes sure the core sees the device awake after it saw it asleep).
    const observation& o = st.attr.live.id != 0 ? st.attr.live : st.rpc.live;
    states_.session_event(st, asleep ? TERN_SESSION_ASLEEP : TERN_SESSION_ACTIVITY,
                          st.session_open ? st.session_transport : o.who.transport,
                          st.session_open ? st.session_endpoint : o.who.endpoint);
    if (!asleep) rt_.m.activity_reports.inc();
}

// ---- wake-to-delivery latency ---------------------------------------------------------------------

void downlinks::mark_wake(device_state& st) noexcept {
    st.wake_attr_seq = 0;
    st.wake_rpc = false;
    if (st.full_update) st.wake_attr_seq = read_pending;
    else if (!st.delta.empty() && st.delta.newest() > st.delta_sent) st.wake_attr_seq = st.delta.newest();
    for (const pending_rpc& r : st.rpcs) {
        if (r.sent_on != 0) continue;
        st.wake_last_rpc = r.id;
        st.wake_rpc = true;
    }
    st.wake_ns = st.wake_attr_seq != 0 || st.wake_rpc ? rt_.now_ns() : 0;
}

void downlinks::wake_progress(device_state& st) noexcept {
    if (st.wake_ns == 0 || st.wake_attr_seq != 0 || st.wake_rpc) return;
    rt_.m.wake_delivery.observe(static_cast<double>(rt_.now_ns() - st.wake_ns) / 1e9);
    st.wake_ns = 0;
}

// ---- bounds ---------------------------------------------------------------------------------------

void downlinks::bound_rpcs(device_state& st) {
    const int64_t wall = rt_.wall_ms();
    std::size_t held = 0;
    for (std::size_t i = 0; i < st.rpcs.size();) {
        if (st.rpcs[i].sent_on != 0) {
            ++i;
        } else if (expired(st.rpcs[i], wall)) {
            st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));  // EXPIRED in the core
        } else {
            ++held;
            ++i;
        }
    }
    if (held < static_cast<std::size_t>(rt_.s.max_pending_rpcs)) return;
    // Full: the oldest held one makes room, ended for the operator to see.
    for (std::size_t i = 0; i < st.rpcs.size(); ++i) {
        if (st.rpcs[i].sent_on != 0) continue;
        const int64_t id = st.rpcs[i].id;
        if (st.wake_rpc && id == st.wake_last_rpc) st.wake_rpc = false;
        st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
        rt_.m.held_limit_rpcs.inc();
        rpc_status(st, id, TERN_RPC_FAILED, "more than max_pending_rpcs held while the device sleeps");
        return;
    }
}

void downlinks::bound_update(device_state& st) noexcept {
    if (st.full_update || st.full_read) return;
    if (st.delta.bytes() <= static_cast<std::size_t>(rt_.s.max_pending_update_bytes)) return;
    // Honest past the bound: the values go (the core has them all) and every shared attribute
    // is read and sent when the device wakes; deletions stay, so they are still delivered.
    st.delta.drop_values();
    st.full_update = true;
    rt_.m.held_limit_update.inc();
    rt_.log.debug("device ", st.device_id, ": held attribute update over max_pending_update_bytes; every shared "
                  "attribute is sent when it wakes");
}

// ---- the read on wake of an update past its bound -------------------------------------------------

namespace {

struct full_read_ctx {
    downlinks* self = nullptr;
    runtime* rt = nullptr;
    uint64_t device_id = 0;
};

}  // namespace

void downlinks::start_full_read(device_state& st) {
    auto c = std::make_unique<full_read_ctx>();
    c->self = this;
    c->rt = &rt_;
    c->device_id = st.device_id;
    st.full_read = true;
    st.read_seq = ++st.delta_seq;  // changes after this are newer than the read
    const tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    rt_.w.core.attributes->get_attributes(st.device_id, nullptr, &all, &downlinks::full_read_done, c.release());
}

void downlinks::full_read_done(void* ctx, tern_status status, const tern_kv*, uint32_t, const tern_kv* shared,
                               uint32_t ns) noexcept {
    std::unique_ptr<full_read_ctx> c(static_cast<full_read_ctx*>(ctx));
    runtime& rt = *c->rt;
    if (rt.stopping()) return;
    try {
        attr_delta read;
        if (status == TERN_OK) read.apply(shared, ns, nullptr, 0, 0);
        downlinks* self = c->self;
        const uint64_t device = c->device_id;
        rt.post(rt.home_of(device), [self, device, status, r = std::move(read)]() mutable {
            self->home_full_read(device, status, std::move(r));
        });
    } catch (...) {
        rt.log.error("device_api: the shared attributes read for device ", c->device_id, " were lost: out of memory");
    }
}

void downlinks::home_full_read(uint64_t device_id, tern_status status, attr_delta read) {
    device_state* st = rt_.state_of(device_id);
    if (st == nullptr || !st->full_read) return;
    st->full_read = false;
    if (status != TERN_OK) {
        // Kept for the next wake (or the next change while awake).
        rt_.log.warn("device ", device_id, ": cannot read its shared attributes (core ", sdk::status_name(status),
                     "); they are sent at its next wake");
        if (st->wake_attr_seq == read_pending) st->wake_ns = 0;
        st->wake_attr_seq = 0;
        account(*st);
        return;
    }
    st->delta.merge_read(read, ++st->delta_seq, st->read_seq);
    st->full_update = false;
    st->delta_sent = 0;
    if (st->wake_attr_seq == read_pending) st->wake_attr_seq = st->delta.newest();
    flush(rt_.home_tables(device_id), *st);
}

// ---- gauges ---------------------------------------------------------------------------------------

void downlinks::account(device_state& st, bool gone) noexcept {
    const bool sleeps = !gone && st.dev && st.dev->sleeps();
    const int8_t power = sleeps ? ((st.power.flags & TERN_POWER_ASLEEP) != 0 ? 1 : 0) : -1;
    if (power != st.counted_power) {
        if (st.counted_power >= 0) rt_.m.power_devices[static_cast<size_t>(st.counted_power)].add(-1);
        if (power >= 0) rt_.m.power_devices[static_cast<size_t>(power)].add(1);
        st.counted_power = power;
    }
    uint32_t rpcs = 0;
    bool update = false;
    if (sleeps) {
        for (const pending_rpc& r : st.rpcs) rpcs += r.sent_on == 0 ? 1 : 0;
        update = st.full_update || (!st.delta.empty() && st.delta.newest() > st.delta_sent);
    }
    if (rpcs != st.counted_rpcs) {
        rt_.m.held_rpcs.add(static_cast<int64_t>(rpcs) - static_cast<int64_t>(st.counted_rpcs));
        st.counted_rpcs = rpcs;
    }
    if (update != st.counted_update) {
        rt_.m.held_updates.add(update ? 1 : -1);
        st.counted_update = update;
    }
}

}  // namespace tern::device_api

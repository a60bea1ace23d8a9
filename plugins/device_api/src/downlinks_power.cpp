// Power saving (docs/device-api.md §9) on the device's home shard: its policy
// (tern.power.policy/1) hears of every uplink, every acknowledged and every unanswered CON
// notification and the timer it asks for; downlinks() asks it before each downlink. While it
// holds, attribute changes merge into one update and RPCs wait in order; when the device wakes
// they go at once. The bounds of what a sleeping device has held, the ASLEEP session event
// and the power metrics are here too.
#include <new>
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
    power_policy_v1* p = st.dev->profile->power_policy;
    if (p == nullptr) return;
    const tern_power_settings ps = st.dev->power_settings();
    const bool woke = p->on_event(&ps, &st.pw_mut().power, e, now_ms);
    if (woke) mark_wake(st);
    after_policy(sd, st);
    // Awake again: what was held goes now, merged and in order. After any uplink or ACK,
    // whatever still waits is tried too (flush asks the policy only when something waits).
    if (woke || e == TERN_POWER_EVENT_UPLINK || e == TERN_POWER_EVENT_ACK) flush(sd, st);
    else account(st);
}

void downlinks::power_deadline(shard_tables& sd, device_state& st, const deadline& d) {
    // Only the deadline of the time the state now asks for counts (an earlier one replaced it).
    if (d.rpc_id != st.pw().power_timer_ms) return;
    st.pw_mut().power_timer_ms = 0;
    power_policy_v1* p = st.dev->profile->power_policy;
    const int64_t want = st.pw().power.wake_check_ms;
    if (p == nullptr || want == 0) return;
    const int64_t wall = rt_.wall_ms();
    if (want <= wall) {
        const tern_power_settings ps = st.dev->power_settings();
        const bool woke = p->on_event(&ps, &st.pw_mut().power, TERN_POWER_EVENT_TIMER, wall);
        // A policy that leaves the time where it was wants no second call for it.
        if (st.pw().power.wake_check_ms == want) st.pw_mut().power_timer_ms = want;
        if (woke) mark_wake(st);
        after_policy(sd, st);
        if (woke) flush(sd, st);
        else account(st);
        return;
    }
    after_policy(sd, st);  // moved later meanwhile (or the wall clock lags): wait for it
}

void downlinks::after_policy(shard_tables& sd, device_state& st) {
    const int64_t want = st.pw().power.wake_check_ms;
    if (want != 0 && (st.pw().power_timer_ms == 0 || want < st.pw().power_timer_ms)) {
        // One deadline per device at a time: a later time is looked at when this one comes.
        const int64_t wall = rt_.wall_ms();
        const uint64_t when = rt_.now_ns() + (want > wall ? static_cast<uint64_t>(want - wall) * 1000000u : 0);
        sd.deadlines.push(deadline{when, st.device_id(), deadline_kind::power, want, 0});
        rt_.schedule(sd, when);
        st.pw_mut().power_timer_ms = want;
    }
    const bool asleep = (st.pw().power.flags & TERN_POWER_ASLEEP) != 0;
    if (asleep == st.pw().asleep_reported) return;
    st.pw_mut().asleep_reported = asleep;
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
    // Only a policy's device wakes, and its power part exists since the policy's event.
    if (!st.power_) return;
    power_part& p = *st.power_;
    p.wake_attr_seq = 0;
    p.wake_rpc = false;
    if (p.full_update) p.wake_attr_seq = read_pending;
    else if (!st.delta.empty() && st.delta.newest() > st.delta_sent) p.wake_attr_seq = st.delta.newest();
    for (const pending_rpc& r : st.rpcs) {
        if (r.sent_on != 0) continue;
        p.wake_last_rpc = r.id;
        p.wake_rpc = true;
    }
    p.wake_ns = p.wake_attr_seq != 0 || p.wake_rpc ? rt_.now_ns() : 0;
}

void downlinks::wake_progress(device_state& st) noexcept {
    const power_part& p = st.pw();
    if (p.wake_ns == 0 || p.wake_attr_seq != 0 || p.wake_rpc) return;
    rt_.m.wake_delivery.observe(static_cast<double>(rt_.now_ns() - p.wake_ns) / 1e9);
    st.power_->wake_ns = 0;
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
        if (st.pw().wake_rpc && id == st.pw().wake_last_rpc) st.pw_mut().wake_rpc = false;
        st.rpcs.erase(st.rpcs.begin() + static_cast<std::ptrdiff_t>(i));
        rt_.m.held_limit_rpcs.inc();
        rpc_status(st, id, TERN_RPC_FAILED, "more than max_pending_rpcs held while the device sleeps");
        return;
    }
}

void downlinks::bound_update(device_state& st) noexcept {
    if (st.pw().full_update || st.pw().full_read) return;
    if (st.delta.bytes() <= static_cast<std::size_t>(rt_.s.max_pending_update_bytes)) return;
    // Honest past the bound: the values go (the core has them all) and every shared attribute
    // is read and sent when the device wakes; deletions stay, so they are still delivered.
    st.delta.drop_values();
    st.pw_mut().full_update = true;
    rt_.m.held_limit_update.inc();
    rt_.log.debug("device ", st.device_id(), ": held attribute update over max_pending_update_bytes; every shared "
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
    c->device_id = st.device_id();
    st.pw_mut().full_read = true;
    st.pw_mut().read_seq = ++st.delta_seq;  // changes after this are newer than the read
    const tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    rt_.w.core.attributes->get_attributes(st.device_id(), nullptr, &all, &downlinks::full_read_done, c.release());
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
    if (st == nullptr || !st->pw().full_read) return;
    st->pw_mut().full_read = false;
    if (status != TERN_OK) {
        // Kept for the next wake (or the next change while awake).
        rt_.log.warn("device ", device_id, ": cannot read its shared attributes (core ", sdk::status_name(status),
                     "); they are sent at its next wake");
        if (st->pw().wake_attr_seq == read_pending) st->pw_mut().wake_ns = 0;
        st->pw_mut().wake_attr_seq = 0;
        account(*st);
        return;
    }
    st->delta.merge_read(read, ++st->delta_seq, st->pw().read_seq);
    st->pw_mut().full_update = false;
    st->delta_sent = 0;
    if (st->pw().wake_attr_seq == read_pending) st->pw_mut().wake_attr_seq = st->delta.newest();
    flush(rt_.home_tables(device_id), *st);
}

// ---- gauges ---------------------------------------------------------------------------------------

void downlinks::account(device_state& st, bool gone) noexcept {
    const bool sleeps = !gone && st.dev && st.dev->sleeps();
    const power_part& had = st.pw();
    const int8_t power = sleeps ? ((had.power.flags & TERN_POWER_ASLEEP) != 0 ? 1 : 0) : -1;
    uint32_t rpcs = 0;
    bool update = false;
    if (sleeps) {
        for (const pending_rpc& r : st.rpcs) rpcs += r.sent_on == 0 ? 1 : 0;
        update = had.full_update || (!st.delta.empty() && st.delta.newest() > st.delta_sent);
    }
    // A sleeping device's counts live in its power part (made here when it has none yet).
    if (!st.power_ && (power != had.counted_power || rpcs != had.counted_rpcs || update != had.counted_update)) {
        auto* made = new (std::nothrow) power_part();
        if (made == nullptr) return;  // out of memory: the gauges catch up at its next change
        st.power_.reset(made);
    }
    if (power_part* p = st.power_.get()) {
        if (power != p->counted_power) {
            if (p->counted_power >= 0) rt_.m.power_devices[static_cast<size_t>(p->counted_power)].add(-1);
            if (power >= 0) rt_.m.power_devices[static_cast<size_t>(power)].add(1);
            p->counted_power = power;
        }
        if (rpcs != p->counted_rpcs) {
            rt_.m.held_rpcs.add(static_cast<int64_t>(rpcs) - static_cast<int64_t>(p->counted_rpcs));
            p->counted_rpcs = rpcs;
        }
        if (update != p->counted_update) {
            rt_.m.held_updates.add(update ? 1 : -1);
            p->counted_update = update;
        }
        // device_api_memory_bytes{table="power_states"}: the part, while its state lives.
        if (p->counted_memory == gone) {
            const auto bytes = static_cast<int64_t>(heap_chunk(sizeof(power_part)));
            rt_.m.memory(mem::power_states, gone ? -bytes : bytes, gone ? -1 : 1);
            p->counted_memory = !gone;
        }
    }
    // What its undelivered downlinks hold (device_api_memory_bytes{table="pending_downlinks"}).
    std::size_t heap = 0, items = 0;
    if (!gone) {
        heap = st.delta.heap_bytes();
        items = st.delta.size() + st.rpcs.size();
        if (st.rpcs.capacity() != 0)
            heap += heap_chunk(sizeof(std::vector<pending_rpc>)) + heap_chunk(st.rpcs.capacity() * sizeof(pending_rpc));
        for (const pending_rpc& r : st.rpcs) heap += string_heap(r.method.capacity()) + string_heap(r.params.capacity());
    }
    rt_.m.memory(mem::pending_downlinks, static_cast<int64_t>(heap) - st.counted_heap,
                 static_cast<int64_t>(items) - st.counted_items);
    st.counted_heap = static_cast<uint32_t>(heap);
    st.counted_items = static_cast<uint32_t>(items);
}

}  // namespace tern::device_api

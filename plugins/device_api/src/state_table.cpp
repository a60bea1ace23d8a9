#include "state_table.hpp"

#include "downlinks.hpp"
#include "observations.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

device_state* state_table::state_for(shard_tables& sd, const std::shared_ptr<const device_entry>& dev, bool create) {
    if (std::unique_ptr<device_state>* it = sd.states.find(dev->device_id)) {
        device_state& st = **it;
        if (!st.dev || dev->revision >= st.dev->revision) {
            st.dev = dev;
            down_.account(st);  // its power mode may have changed
        }
        return &st;
    }
    // 0 is the table's reserved id; no core gives it to a device.
    if (!create || dev->device_id == 0) return nullptr;
    if (sd.states.size() >= rt_.states_per_shard) {
        if (sd.idle_head == nullptr) {
            rt_.m.states_refused.inc();
            return nullptr;
        }
        rt_.m.states_evicted.inc();
        drop(sd, *sd.idle_head);
    }
    auto st = std::make_unique<device_state>();
    st->dev = dev;
    device_state* p = st.get();
    *sd.states.try_emplace(dev->device_id).first = std::move(st);
    rt_.m.states.add(1);
    rt_.refresh_memory(sd);
    return p;
}

void state_table::idle_push(shard_tables& sd, device_state& st) noexcept {
    if (st.idle) idle_remove(sd, st);
    st.idle = true;
    st.idle_since_ns = rt_.now_ns();
    st.idle_prev = sd.idle_tail;
    st.idle_next = nullptr;
    if (sd.idle_tail != nullptr) sd.idle_tail->idle_next = &st;
    else sd.idle_head = &st;
    sd.idle_tail = &st;
    rt_.schedule(sd, st.idle_since_ns + rt_.inactivity_ns);
}

void state_table::idle_remove(shard_tables& sd, device_state& st) noexcept {
    if (!st.idle) return;
    if (st.idle_prev != nullptr) st.idle_prev->idle_next = st.idle_next;
    else sd.idle_head = st.idle_next;
    if (st.idle_next != nullptr) st.idle_next->idle_prev = st.idle_prev;
    else sd.idle_tail = st.idle_prev;
    st.idle_prev = st.idle_next = nullptr;
    st.idle = false;
}

void state_table::drop(shard_tables& sd, device_state& st) {
    idle_remove(sd, st);
    const uint64_t id = st.device_id();
    if (st.attr.live.id != 0) obs_.end(sd, st, false, code::not_found, "the device state was dropped");
    if (st.rpc.live.id != 0) obs_.end(sd, st, true, code::not_found, "the device state was dropped");
    for (const pending_rpc& r : st.rpcs)
        if (!r.timed_out) down_.rpc_status(st, r.id, TERN_RPC_TIMEOUT, "the device has no RPC observation");
    st.rpcs.clear();
    if (st.subscribed != 0) rt_.unsubscribe_device(id, st.subscribed);
    close_session(st);
    down_.account(st, true);
    sd.states.erase(id);
    rt_.m.states.add(-1);
    rt_.refresh_memory(sd);
}

uint64_t state_table::expire(shard_tables& sd, uint64_t now) {
    while (sd.idle_head != nullptr && sd.idle_head->idle_since_ns + rt_.inactivity_ns <= now) {
        rt_.m.states_expired.inc();
        drop(sd, *sd.idle_head);
    }
    return sd.idle_head == nullptr ? 0 : sd.idle_head->idle_since_ns + rt_.inactivity_ns;
}

void state_table::close_all(shard_tables& sd) noexcept {
    sd.states.for_each([&](uint64_t id, std::unique_ptr<device_state>& st) {
        // The core has handed these over: tell it they did not arrive (a persistent one is
        // kept for the next run).
        for (pending_rpc& r : st->rpcs)
            if (!r.timed_out) down_.rpc_status(*st, r.id, TERN_RPC_TIMEOUT, "the device API stopped");
        st->rpcs.clear();
        if (st->subscribed != 0) rt_.unsubscribe_device(id, st->subscribed);
        st->subscribed = 0;
        close_session(*st);
        down_.account(*st, true);
        if (st->attr.live.id != 0) rt_.m.observations[0].add(-1);
        if (st->rpc.live.id != 0) rt_.m.observations[1].add(-1);
        st->attr.live.id = st->rpc.live.id = 0;
    });
    rt_.m.states.add(-static_cast<int64_t>(sd.states.size()));
    sd.states.clear();
    sd.idle_head = sd.idle_tail = nullptr;
    rt_.refresh_memory(sd);
}

void state_table::session_event(const device_state& st, tern_session_event e, uint32_t transport,
                                const tern_endpoint& endpoint) noexcept {
    char buf[64];
    rt_.w.core.sessions->session_event(st.device_id(), e, sdk::to_str(rt_.transport_name(transport)),
                                       sdk::to_str(runtime::format_address(endpoint, buf)));
}

void state_table::open_session(device_state& st, const observation& o) {
    if (st.session_open) return;
    st.session_open = true;
    st.session_transport = o.who.transport;
    st.session_endpoint = o.who.endpoint;
    session_event(st, TERN_SESSION_OPEN, st.session_transport, st.session_endpoint);
    rt_.m.sessions.add(1);
}

void state_table::close_session(device_state& st) noexcept {
    if (!st.session_open) return;
    session_event(st, TERN_SESSION_CLOSE, st.session_transport, st.session_endpoint);
    st.session_open = false;
    rt_.m.sessions.add(-1);
}

void state_table::activity(device_state& st, const observation& o) noexcept {
    const uint64_t now = rt_.now_ns();
    if (st.last_report_ns != 0 && now - st.last_report_ns < rt_.report_ns) return;
    st.last_report_ns = now == 0 ? 1 : now;
    session_event(st, TERN_SESSION_ACTIVITY, o.who.transport, o.who.endpoint);
    rt_.m.activity_reports.inc();
}

}  // namespace tern::device_api

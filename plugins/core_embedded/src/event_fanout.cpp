// event_fanout: one core listener, any number of subscribers (event_fanout.hpp).
#include "event_fanout.hpp"

namespace tern::core_embedded {

event_fanout::event_fanout(core_v1& core)
    : core_(core),
      subs_([this](const sdk::event_subscribers::union_change& c) { return on_union_change(c); }, legacy_slot + 1) {
    core_.set_listener(this);
}

event_fanout::~event_fanout() { core_.set_listener(nullptr); }

void event_fanout::configure(uint32_t max_subscribers, sdk::metric refused) {
    subs_.set_max_subscribers(max_subscribers);
    subs_.set_refused_metric(refused);
}

tern_status event_fanout::on_union_change(const sdk::event_subscribers::union_change& c) noexcept {
    // Every subscribe_device, as tern.core/1 callers did: subscribing RPCs sends the pending ones.
    if (c.subscribed != 0) core_.subscribe(c.device_id, c.subscribed);
    if (const uint32_t unheld = c.before & ~c.after; unheld != 0) core_.unsubscribe(c.device_id, unheld);
    return TERN_OK;
}

// ---- subscribers -----------------------------------------------------------------------------

tern_status event_fanout::subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept {
    return subs_.subscribe(listener, out_handle);
}

void event_fanout::close(uint64_t handle) noexcept { subs_.close(handle); }

void event_fanout::set_legacy_listener(core_listener_v1* listener) noexcept {
    subs_.set_reserved_listener(legacy_slot, listener);
}

uint32_t event_fanout::subscribers() noexcept { return subs_.subscribers(); }

tern_status event_fanout::subscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
    return subs_.subscribe_device(handle, device_id, flags);
}

void event_fanout::unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
    subs_.unsubscribe_device(handle, device_id, flags);
}

// ---- delivery --------------------------------------------------------------------------------

void event_fanout::on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                                         const tern_str* deleted, uint32_t deleted_count) noexcept {
    subs_.deliver(device_id, TERN_SUBSCRIBE_ATTRIBUTES, [&](core_listener_v1& l) {
        l.on_attributes_updated(device_id, updated, updated_count, deleted, deleted_count);
    });
}

void event_fanout::on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept {
    subs_.deliver(device_id, TERN_SUBSCRIBE_RPC, [&](core_listener_v1& l) { l.on_rpc_request(device_id, rpc); });
}

void event_fanout::on_device_event(uint64_t device_id, tern_device_event event) noexcept {
    subs_.deliver_all([&](core_listener_v1& l) { l.on_device_event(device_id, event); });
}

}  // namespace tern::core_embedded

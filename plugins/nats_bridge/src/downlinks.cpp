#include "downlinks.hpp"

#include <charconv>

#include "tern/sdk/views.hpp"

namespace tern::nats_bridge {

namespace {

constexpr uint32_t all_flags = TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC;

// One encoder per thread: listener calls come from several of the core's threads.
std::string& encode_buffer() {
    thread_local std::string buf;
    return buf;
}
core_wire::encoder& thread_encoder() {
    thread_local core_wire::encoder enc;
    return enc;
}

}  // namespace

downlinks::downlinks(const core_caps& core, bridge_metrics& metrics, sdk::logger log, const names& n)
    : core_(core), metrics_(metrics), log_(log), names_(n), routes_(std::make_unique<route_map>(100000)) {}

downlinks::~downlinks() { close_events(); }

void downlinks::configure(uint32_t route_cache_size, uint32_t max_subscribed_devices) {
    std::lock_guard lk(route_mu_);
    routes_ = std::make_unique<route_map>(route_cache_size);
    max_subscribed_ = max_subscribed_devices;
}

tern_status downlinks::open_events() {
    if (handle_.load() != 0) return TERN_OK;
    uint64_t h = 0;
    const tern_status st = core_.events->subscribe(this, &h);
    if (st == TERN_OK) handle_.store(h);
    return st;
}

void downlinks::close_events() {
    const uint64_t h = handle_.exchange(0);
    if (h != 0 && core_.events != nullptr) core_.events->close(h);
}

void downlinks::remember(uint64_t device_id, std::string_view node) {
    std::lock_guard lk(route_mu_);
    routes_->put(device_id, std::string(node), device_id, lru::no_expiry);
    metrics_.route_cache_entries.set(static_cast<int64_t>(routes_->size()));
}

std::string downlinks::owner_of(uint64_t device_id) {
    std::lock_guard lk(owner_mu_);
    if (auto it = owners_.find(device_id); it != owners_.end()) return it->second.node;
    return {};
}

std::string downlinks::cached_route(uint64_t device_id) {
    std::lock_guard lk(route_mu_);
    if (auto* n = routes_->find(device_id, 0)) return n->value;
    return {};
}

void downlinks::on_route(const nats_link::message& m) {
    const auto dot = m.subject.rfind('.');
    const std::string_view key = dot == std::string_view::npos ? m.subject : m.subject.substr(dot + 1);
    uint64_t device = 0;
    const auto r = std::from_chars(key.data(), key.data() + key.size(), device);
    if (r.ec != std::errc{} || r.ptr != key.data() + key.size()) return;  // not a device key
    if (m.data.empty()) {  // a delete or purge marker
        std::lock_guard lk(route_mu_);
        routes_->erase(device);
        metrics_.route_cache_entries.set(static_cast<int64_t>(routes_->size()));
        return;
    }
    if (!valid_token(m.data)) {
        log_.warn("device ", device, ": the bucket ", names_.device_node_bucket(), " names node '", m.data,
                  "', which is not a node id; ignored");
        return;
    }
    remember(device, m.data);
}

tern_status downlinks::on_subscribe(const core_wire::subscribe_device_request& req, std::string& message) {
    const std::string_view node = sdk::to_sv(req.node_id);
    if (!valid_token(node)) {
        message = "node_id must be 1 to 64 of [A-Za-z0-9_-]";
        return TERN_INVALID_ARGUMENT;
    }
    if ((req.flags & ~all_flags) != 0) {
        message = "unknown subscription flags";
        return TERN_INVALID_ARGUMENT;
    }
    const uint64_t device = req.device_id;
    std::string previous;
    uint32_t previous_flags = 0;
    {
        std::lock_guard lk(owner_mu_);
        auto it = owners_.find(device);
        if (req.flags == 0) {
            // Only the owner gives a device up; an older node's late goodbye changes nothing.
            if (it == owners_.end() || it->second.node != node) return TERN_OK;
            previous_flags = it->second.flags;
            owners_.erase(it);
            metrics_.subscribed_devices.set(static_cast<int64_t>(owners_.size()));
        } else {
            if (it == owners_.end()) {
                if (owners_.size() >= max_subscribed_) {
                    metrics_.subscriptions_refused.inc();
                    message = "max_subscribed_devices reached on the core node";
                    return TERN_BUSY;
                }
                it = owners_.emplace(device, owner{}).first;
            }
            previous = std::move(it->second.node);
            previous_flags = it->second.flags;
            it->second.node = std::string(node);
            it->second.flags = req.flags;
            metrics_.subscribed_devices.set(static_cast<int64_t>(owners_.size()));
        }
    }
    if (req.flags == 0) {
        core_.events->unsubscribe_device(handle_.load(), device, previous_flags);
        return TERN_OK;
    }
    // Routing follows the device_node bucket only, not this request: after a hello every node
    // re-sends its subscriptions, including one whose device has since gone to another node
    // without a word, and that stale one must not take the device's downlinks back.
    const tern_status st = core_.events->subscribe_device(handle_.load(), device, req.flags);
    if (st != TERN_OK) {
        std::lock_guard lk(owner_mu_);
        if (auto it = owners_.find(device); it != owners_.end() && it->second.node == node) owners_.erase(it);
        metrics_.subscribed_devices.set(static_cast<int64_t>(owners_.size()));
        message = "the core refused the subscription";
        return st;
    }
    if (const uint32_t dropped = previous_flags & ~req.flags; dropped != 0)
        core_.events->unsubscribe_device(handle_.load(), device, dropped);
    // The device moved: RPCs the core sent to the old node are sent again to the new one.
    if (!previous.empty() && previous != node && (req.flags & TERN_SUBSCRIBE_RPC) != 0) {
        log_.debug("device ", device, " moved from node ", previous, " to ", node, "; pending RPCs sent again");
        core_.rpc->resend_pending_rpcs(device);
    }
    return TERN_OK;
}

void downlinks::publish_to(std::string_view node, downlink_kind kind, std::string_view payload) {
    nats_link::link* l = link_.load();
    const size_t k = static_cast<size_t>(kind);
    if (l == nullptr || l->publish(names_.downlink(node, downlink_kind_names[k]), payload) != nats_link::status::ok) {
        log_.debug("a ", downlink_kind_names[k], " downlink for node ", node, " was not sent: NATS link is down");
        return;
    }
    metrics_.downlinks[k].inc();
}

void downlinks::route_and_publish(uint64_t device_id, downlink_kind kind, const std::string& payload) {
    std::string node = cached_route(device_id);
    if (!node.empty()) {
        publish_to(node, kind, payload);
        return;
    }
    nats_link::link* l = link_.load();
    const size_t k = static_cast<size_t>(kind);
    if (l == nullptr) {
        metrics_.downlinks_unrouted[k].inc();
        return;
    }
    l->kv_get(names_.device_node_bucket(), std::to_string(device_id),
              [this, device_id, kind, k, bytes = payload](nats_link::status s, std::string_view value) {
                  if (s == nats_link::status::ok && valid_token(value)) {
                      remember(device_id, value);
                      publish_to(value, kind, bytes);
                      return;
                  }
                  // Not in the bucket (yet): the node that subscribed the device.
                  if (const std::string owner = owner_of(device_id); !owner.empty()) {
                      publish_to(owner, kind, bytes);
                      return;
                  }
                  metrics_.downlinks_unrouted[k].inc();
                  log_.debug("a ", downlink_kind_names[k], " downlink for device ", device_id,
                             " has no node to go to (", nats_link::to_string(s), ")");
              });
}

void downlinks::on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                                      const tern_str* deleted, uint32_t deleted_count) noexcept {
    std::string& buf = encode_buffer();
    const core_wire::attributes_updated_event ev{device_id, updated, updated_count, deleted, deleted_count};
    if (auto r = thread_encoder().encode(ev, buf); !r) {
        log_.error("an attribute update of device ", device_id, " cannot be sent: ", r.detail);
        return;
    }
    route_and_publish(device_id, downlink_kind::attributes, buf);
}

void downlinks::on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept {
    std::string& buf = encode_buffer();
    if (auto r = thread_encoder().encode(core_wire::rpc_request_event{device_id, rpc}, buf); !r) {
        log_.error("an RPC for device ", device_id, " cannot be sent: ", r.detail);
        return;
    }
    route_and_publish(device_id, downlink_kind::rpc, buf);
}

void downlinks::on_device_event(uint64_t device_id, tern_device_event event) noexcept {
    {
        // A deleted device has no node any more.
        if (event == TERN_DEVICE_DELETED) {
            std::lock_guard lk(route_mu_);
            routes_->erase(device_id);
        }
    }
    std::string& buf = encode_buffer();
    if (auto r = thread_encoder().encode(core_wire::device_event{device_id, event}, buf); !r) return;
    nats_link::link* l = link_.load();
    const size_t k = static_cast<size_t>(downlink_kind::device_event);
    if (l != nullptr && l->publish(names_.device_events(), buf) == nats_link::status::ok) metrics_.downlinks[k].inc();
    else metrics_.downlinks_unrouted[k].inc();
}

}  // namespace tern::nats_bridge

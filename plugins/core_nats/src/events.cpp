// events: subscriptions told to the core nodes, downlinks and device events fanned out to the
// local subscribers (events.hpp).
#include "events.hpp"

#include <algorithm>
#include <new>

#include "node.hpp"
#include "tern/sdk/status.hpp"

namespace tern::core_nats {

namespace {

constexpr int64_t warn_interval_ns = 10'000'000'000;

uint64_t now_ns() noexcept {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

// The status a local caller would see for a link status (the contract's mapping).
tern_status link_status(nats_link::status st) noexcept {
    switch (st) {
        case nats_link::status::ok: return TERN_OK;
        case nats_link::status::timeout: return TERN_TIMEOUT;
        case nats_link::status::unavailable: return TERN_UNAVAILABLE;
        case nats_link::status::busy:
        case nats_link::status::refused: return TERN_BUSY;
        case nats_link::status::not_found: return TERN_NOT_FOUND;
        case nats_link::status::error: break;
    }
    return TERN_INTERNAL;
}

tern_bytes bytes_of(std::string_view s) { return tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

}  // namespace

events::events(node& n) : events(n, options{}) {}

events::events(node& n, options o)
    : node_(n),
      opt_(o),
      subscribe_subject_(n.subject("core.v1.events.subscribe")),
      subs_([this](const sdk::event_subscribers::union_change& c) { return on_union_change(c); }) {
    subs_.set_max_subscribers(n.config().event_subscribers);
    n.on_state([this](nats_link::link_state st) { on_link_state(st); });
}

events::~events() { stop(); }

void events::register_metrics(const sdk::host& h) {
    subs_.set_refused_metric(h.counter("core_nats_event_subscribers_refused_total",
                                       "tern.core.events/1 subscribers refused: event_subscribers were reached"));
}

void events::start() {
    {
        std::lock_guard lk(mu_);
        if (running_) return;
        stopping_ = false;
        running_ = true;
    }
    sync_ = std::thread([this] { sync_loop(); });
}

void events::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        running_ = false;
    }
    cv_.notify_all();
    if (sync_.joinable()) sync_.join();
}

void events::subscribe_subjects(nats_link::link& l) noexcept {
    try {
        const std::string subjects[] = {node_.subject(sdk::cat("node.", node_.id(), ".down.>")),
                                        node_.subject("core.v1.events.device"), node_.subject("core.v1.events.hello")};
        const nats_link::link::message_fn handlers[] = {
            [this](const nats_link::message& m) { on_downlink(m); },
            [this](const nats_link::message& m) { on_device_event(m); },
            [this](const nats_link::message& m) { on_hello(m); },
        };
        for (std::size_t i = 0; i < std::size(subjects); ++i) {
            const nats_link::status st = l.subscribe(subjects[i], "", handlers[i]);
            if (st != nats_link::status::ok)
                node_.log().error("core_nats: cannot subscribe to ", subjects[i], ": ", nats_link::to_string(st),
                                  "; this node gets no downlinks or device events until it restarts");
        }
    } catch (const std::bad_alloc&) {
        node_.log().error("core_nats: out of memory subscribing the event subjects");
    }
}

void events::on_link_state(nats_link::link_state s) noexcept {
    if (s == nats_link::link_state::connected) {
        // The first connection of this link (announced once): subscribe; nats.c renews the
        // subscriptions itself on every reconnect. Anything subscribed before it is queued.
        if (nats_link::link* l = node_.link()) subscribe_subjects(*l);
        resync();
    } else if (s == nats_link::link_state::reconnected) {
        resync();
    }
}

void events::resync() noexcept {
    std::size_t queued = 0;
    {
        std::lock_guard lk(mu_);
        ++epoch_;  // a reply to a request sent before this confirms nothing
        ready_.clear();
        later_.clear();
        for (auto& [id, d] : devices_) {
            d.queued = false;
            d.backoff_ms = 0;
            if (d.want != 0) d.confirmed = unknown;
            if (d.in_flight || d.want == d.confirmed) continue;
            try {
                ready_.push_back(id);
            } catch (const std::bad_alloc&) {
                break;
            }
            d.queued = true;
            ++queued;
        }
    }
    cv_.notify_all();
    if (queued != 0) node_.log().info("core_nats: sending ", queued, " device subscriptions to the core nodes again");
}

void events::reclaim(uint64_t device_id) noexcept {
    {
        std::lock_guard lk(mu_);
        auto it = devices_.find(device_id);
        if (it == devices_.end() || it->second.want == 0) return;
        device& d = it->second;
        d.confirmed = unknown;
        if (d.in_flight) {
            d.sending = unknown;  // its reply confirms nothing: the request went out before
        } else {
            settle(it);
        }
    }
    cv_.notify_one();
}

// ---- subscribers -----------------------------------------------------------------------------

tern_status events::subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept {
    return subs_.subscribe(listener, out_handle);
}

void events::close(uint64_t handle) noexcept { subs_.close(handle); }

uint32_t events::subscribers() noexcept { return subs_.subscribers(); }

// ---- per-device subscriptions -----------------------------------------------------------------

tern_status events::subscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
    const tern_status st = subs_.subscribe_device(handle, device_id, flags);
    if (st == TERN_OK && (flags & sdk::event_subscribers::known_flags) != 0) node_.heard(device_id);
    return st;
}

void events::unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept {
    subs_.unsubscribe_device(handle, device_id, flags);
}

tern_status events::on_union_change(const sdk::event_subscribers::union_change& c) noexcept {
    try {
        {
            std::lock_guard lk(mu_);
            // A device with a non-zero union is always here (settle keeps it).
            auto it = c.after != 0 ? devices_.try_emplace(c.device_id).first : devices_.find(c.device_id);
            if (it == devices_.end()) return TERN_OK;
            it->second.want = c.after;
            settle(it);
        }
        cv_.notify_all();
    } catch (const std::bad_alloc&) {
        return TERN_INTERNAL;
    }
    return TERN_OK;
}

void events::settle(std::unordered_map<uint64_t, device>::iterator it) {
    device& d = it->second;
    if (d.in_flight || d.queued) return;  // the reply, or the sync thread, looks again
    if (d.want == d.confirmed) {
        if (d.want == 0) devices_.erase(it);
        return;
    }
    try {
        ready_.push_back(it->first);
        d.queued = true;
    } catch (const std::bad_alloc&) {
        // Not queued now: the next change of the device, or a resync, queues it.
    }
}

uint32_t events::local_union(uint64_t device_id) noexcept { return subs_.union_of(device_id); }

uint32_t events::confirmed_union(uint64_t device_id) noexcept {
    std::lock_guard lk(mu_);
    auto it = devices_.find(device_id);
    return it == devices_.end() || it->second.confirmed == unknown ? 0 : it->second.confirmed;
}

std::size_t events::unsynced() noexcept {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& [id, d] : devices_) n += d.in_flight || d.want != d.confirmed;
    return n;
}

// ---- the sync thread --------------------------------------------------------------------------

void events::sync_loop() {
    const double rate = std::max<uint32_t>(node_.config().resubscribe_rate, 1);
    const double burst = std::max(1.0, rate / 10);  // a tenth of a second's worth at once
    double tokens = burst;
    uint64_t last = now_ns();
    std::unique_lock lk(mu_);
    while (!stopping_) {
        const uint64_t now = now_ns();
        tokens = std::min(burst, tokens + static_cast<double>(now - last) * rate / 1e9);
        last = now;
        while (!later_.empty() && later_.begin()->first <= now) {
            ready_.push_back(later_.begin()->second);
            later_.erase(later_.begin());
        }
        uint64_t wake = later_.empty() ? now + 1'000'000'000 : later_.begin()->first;
        const bool can_send = !ready_.empty() && in_flight_ < opt_.max_in_flight && node_.connected();
        if (can_send && tokens >= 1) {
            const uint64_t id = ready_.front();
            ready_.pop_front();
            auto it = devices_.find(id);
            if (it == devices_.end()) continue;
            device& d = it->second;
            d.queued = false;
            if (d.in_flight) continue;
            const uint32_t want = d.want;
            if (want == d.confirmed) {
                if (want == 0) devices_.erase(it);
                continue;
            }
            d.in_flight = true;
            d.sending = want;
            ++in_flight_;
            tokens -= 1;
            const uint64_t epoch = epoch_;
            lk.unlock();
            send(id, want, epoch);
            lk.lock();
            continue;
        }
        if (can_send) wake = std::min(wake, now + static_cast<uint64_t>((1 - tokens) / rate * 1e9) + 1);
        else if (!ready_.empty() && !node_.connected()) wake = std::min<uint64_t>(wake, now + 100'000'000);
        cv_.wait_for(lk, std::chrono::nanoseconds(wake - now));
    }
}

void events::send(uint64_t device_id, uint32_t flags, uint64_t epoch) {
    core_wire::subscribe_device_request req;
    req.device_id = device_id;
    req.flags = flags;
    req.node_id = tern_str{node_.id().data(), node_.id().size()};
    if (auto r = enc_.encode(req, wire_); !r) {
        warn_failure(device_id, "cannot encode the subscription", r.detail);
        on_reply(device_id, flags, epoch, nats_link::status::error, {});
        return;
    }
    node_.metrics().request(request_op::subscribe_device);
    nats_link::link* l = node_.link();
    if (l == nullptr) {
        on_reply(device_id, flags, epoch, nats_link::status::unavailable, {});
        return;
    }
    try {
        l->request(subscribe_subject_, wire_, static_cast<uint32_t>(node_.config().request_timeout.count()),
                      [this, device_id, flags, epoch](nats_link::status st, std::string_view reply) {
                          on_reply(device_id, flags, epoch, st, reply);
                      });
    } catch (const std::bad_alloc&) {
        on_reply(device_id, flags, epoch, nats_link::status::error, {});
    }
}

void events::on_reply(uint64_t device_id, uint32_t flags, uint64_t epoch, nats_link::status st,
                      std::string_view reply) noexcept {
    bool ok = false;
    tern_status failed = link_status(st);
    if (st == nats_link::status::ok) {
        std::lock_guard lk(reply_inbox_.mu);
        core_wire::status_reply r;
        r.op = core_wire::status_op::subscribe_device;
        const core_wire::result res = reply_inbox_.dec.decode(bytes_of(reply), r);
        if (!res)
            warn_failure(device_id, "a reply that does not decode", res.detail);
        else if (r.status != TERN_OK)
            warn_failure(device_id, sdk::status_name(r.status), std::string_view(r.message.data, r.message.size));
        else
            ok = true;
        failed = !res ? TERN_INTERNAL : r.status;
    } else if (st != nats_link::status::unavailable || node_.connected()) {
        // (Down: the reconnect sends everything again; no line per device.)
        warn_failure(device_id, nats_link::to_string(st),
                     st == nats_link::status::unavailable ? "no core node serves the subject" : "");
    }
    if (!ok) node_.metrics().request_failed(request_op::subscribe_device, failed);
    {
        std::lock_guard lk(mu_);
        --in_flight_;
        auto it = devices_.find(device_id);
        if (it != devices_.end()) {
            device& d = it->second;
            d.in_flight = false;
            if (ok) {
                // A resync or reclaim since the request was sent: it confirms nothing.
                d.confirmed = epoch == epoch_ && d.sending != unknown ? flags : unknown;
                d.backoff_ms = 0;
                settle(it);
            } else if (!d.queued && d.want != d.confirmed) {
                const auto lo = static_cast<uint32_t>(opt_.retry_min.count());
                const auto hi = static_cast<uint32_t>(opt_.retry_max.count());
                d.backoff_ms = d.backoff_ms == 0 ? lo : std::min(hi, d.backoff_ms * 2);
                try {
                    later_.emplace(now_ns() + uint64_t{d.backoff_ms} * 1'000'000, device_id);
                    d.queued = true;
                } catch (const std::bad_alloc&) {
                }
            } else {
                settle(it);
            }
        }
    }
    cv_.notify_all();
}

void events::warn_failure(uint64_t device_id, const char* what, std::string_view detail) noexcept {
    const uint64_t failed = failures_.fetch_add(1) + 1;
    const auto now = static_cast<int64_t>(now_ns());
    int64_t last = last_warn_ns_.load();
    if (last != 0 && now - last < warn_interval_ns) return;
    if (!last_warn_ns_.compare_exchange_strong(last, now)) return;
    node_.log().warn("core_nats: the subscription of device ", device_id, " was not taken by a core node: ", what,
              detail.empty() ? "" : " (", detail, detail.empty() ? "" : ")", "; retrying (", failed,
              " such failures so far)");
}

// ---- downlinks and device events ----------------------------------------------------------------

void events::on_downlink(const nats_link::message& m) noexcept {
    const std::size_t dot = m.subject.rfind('.');
    const std::string_view kind = dot == std::string_view::npos ? m.subject : m.subject.substr(dot + 1);
    std::lock_guard lk(down_inbox_.mu);
    if (kind == "attributes") {
        core_wire::attributes_updated_event e;
        if (auto r = down_inbox_.dec.decode(bytes_of(m.data), e); !r) {
            node_.log().warn("core_nats: an attribute update on ", m.subject, " does not decode: ", r.detail);
            return;
        }
        node_.metrics().downlinks[static_cast<std::size_t>(downlink_kind::attributes)].inc();
        fan_out_attributes(e);
    } else if (kind == "rpc") {
        core_wire::rpc_request_event e;
        if (auto r = down_inbox_.dec.decode(bytes_of(m.data), e); !r) {
            node_.log().warn("core_nats: an RPC on ", m.subject, " does not decode: ", r.detail);
            return;
        }
        node_.metrics().downlinks[static_cast<std::size_t>(downlink_kind::rpc)].inc();
        fan_out_rpc(e);
    } else {
        node_.log().debug("core_nats: ignoring a downlink of unknown kind on ", m.subject);
    }
}

void events::fan_out_attributes(const core_wire::attributes_updated_event& e) noexcept {
    const bool delivered = subs_.deliver(e.device_id, TERN_SUBSCRIBE_ATTRIBUTES, [&](core_listener_v1& l) {
        l.on_attributes_updated(e.device_id, e.updated, e.updated_count, e.deleted, e.deleted_count);
    });
    if (!delivered) node_.metrics().downlinks_dropped[static_cast<std::size_t>(downlink_kind::attributes)].inc();
}

void events::fan_out_rpc(const core_wire::rpc_request_event& e) noexcept {
    const bool delivered = e.rpc != nullptr && subs_.deliver(e.device_id, TERN_SUBSCRIBE_RPC, [&](core_listener_v1& l) {
        l.on_rpc_request(e.device_id, e.rpc);
    });
    if (!delivered) node_.metrics().downlinks_dropped[static_cast<std::size_t>(downlink_kind::rpc)].inc();
}

void events::on_device_event(const nats_link::message& m) noexcept {
    std::lock_guard lk(device_inbox_.mu);
    core_wire::device_event e;
    if (auto r = device_inbox_.dec.decode(bytes_of(m.data), e); !r) {
        node_.log().warn("core_nats: a device event does not decode: ", r.detail);
        return;
    }
    node_.auth_cache().forget(e.device_id);
    subs_.deliver_all([&](core_listener_v1& l) { l.on_device_event(e.device_id, e.event); });
}

void events::on_hello(const nats_link::message&) noexcept {
    node_.log().info("core_nats: a core node started (hello)");
    resync();
    node_.refresh_partitions();
}

}  // namespace tern::core_nats

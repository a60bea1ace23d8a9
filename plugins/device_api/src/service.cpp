#include "service.hpp"

#include <chrono>

#include "tern/sdk/status.hpp"

namespace tern::device_api {

service::service(const settings& s, services w)
    : rt_(s, std::move(w)),
      out_(rt_),
      auth_(rt_, out_, up_),
      up_(rt_, out_, obs_, down_),
      obs_(rt_, out_, states_, down_, auth_),
      down_(rt_, states_, obs_),
      states_(rt_, obs_, down_) {
    for (auto& sd : rt_.shards) sd->owner = this;
}

service::~service() {
    stop();
    for (auto& sd : rt_.shards) {
        if (sd->timer != 0) rt_.w.reactor->timer_destroy(sd->timer);
        sd->timer = 0;
    }
}

void service::start() {
    rt_.set_stopping(false);
    for (auto& sd : rt_.shards) {
        if (sd->timer != 0) continue;
        uint64_t t = 0;
        const tern_status st = rt_.w.reactor->timer_create(sd->index, &service::timer_fired, sd.get(), &t);
        if (st != TERN_OK) throw sdk::error(st, "cannot create a shard timer");
        sd->timer = t;
    }
    if (const tern_status st = rt_.w.core.events->subscribe(this, &rt_.events_handle); st != TERN_OK)
        throw sdk::error(st, sdk::cat("the core refused the device API's subscription to its events: ",
                                      sdk::status_name(st)));
    listening_ = true;
    struct res {
        const char* pattern;
        uint32_t methods;
        uint32_t flags;
    };
    // /api answers every method 4.05 (docs/device-api.md §1.1): a resource that accepts no method.
    const uint32_t get_post = TERN_COAP_METHOD_BIT(TERN_COAP_GET) | TERN_COAP_METHOD_BIT(TERN_COAP_POST);
    const res list[] = {
        {"api", 0, 0},
        {"api/v1/**", get_post, TERN_COAP_RESOURCE_OBSERVABLE},
        {"fw/**", TERN_COAP_METHOD_BIT(TERN_COAP_GET), 0},
        {"sw/**", TERN_COAP_METHOD_BIT(TERN_COAP_GET), 0},
    };
    for (const res& r : list) {
        tern_coap_resource d{};
        d.struct_size = sizeof d;
        d.methods = r.methods;
        d.pattern = r.pattern;
        d.flags = r.flags;
        uint64_t id = 0;
        const tern_status st = rt_.w.engine->add_resource(&d, this, &id);
        if (st != TERN_OK) {
            stop();
            throw sdk::error(st, sdk::cat("cannot register /", r.pattern, " with the CoAP engine: ",
                                          sdk::status_name(st)));
        }
        resources_.push_back(id);
    }
}

void service::stop() noexcept {
    // Removing the resources ends every observation (SHUTDOWN): their ends reach the home
    // shards as posted tasks, which still run (session CLOSE, RPC TIMEOUTs). Closing the
    // events subscription ends every device subscription with it.
    for (uint64_t r : resources_) rt_.w.engine->remove_resource(r);
    resources_.clear();
    if (listening_) {
        rt_.w.core.events->close(rt_.events_handle);
        listening_ = false;
    }
    // Bounded as a whole (the kernel's stop_timeout is 10 s by default): shards are running
    // while instances stop, so this normally takes a few milliseconds.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    if (!rt_.stopping()) {
        rt_.drain(give_up);
        // What is still live (a registration in flight, a grace period) is closed for the core.
        for (uint32_t s = 0; s < rt_.shard_count; ++s)
            rt_.post(s, [this, s] { states_.close_all(*rt_.shards[s]); });
        rt_.drain(give_up);
    }
    rt_.set_stopping(true);
    rt_.drain(give_up);
    for (auto& sd : rt_.shards) {
        if (sd->timer != 0) rt_.w.reactor->timer_destroy(sd->timer);
        sd->timer = 0;
        sd->armed_ns = 0;
    }
}

// ---- requests [shard S] ---------------------------------------------------------------------------

void service::on_request(const tern_coap_request* req) noexcept {
    if (req == nullptr) return;
    try {
        handle(view_of(*req, rt_.shard_count));
    } catch (const std::exception& e) {
        rt_.log.error("device_api request failed: ", e.what());
        out_.error(req->exchange, action::other, code::internal, "internal error");
    } catch (...) {
        out_.error(req->exchange, action::other, code::internal, "internal error");
    }
}

void service::handle(const request& v) {
    const classified c = classify(v.path, v.method, v.observe);
    if (c.error != 0) {
        out_.error(v.exchange, c.kind, c.error, c.reason);
        return;
    }
    if (v.method == TERN_COAP_POST && rt_.s.max_payload_size > 0 &&
        v.payload.size > static_cast<uint64_t>(rt_.s.max_payload_size)) {
        out_.too_large(v.exchange, c.kind, v.payload.size, static_cast<uint32_t>(rt_.s.max_payload_size));
        return;
    }
    shard_tables& sd = *rt_.shards[v.shard];
    if (c.r.what == action::provision) {
        // Unauthenticated work: limited per source address before anything is decoded.
        if (const uint64_t wait = auth_.take_source(sd, v.peer); wait != 0) {
            rt_.m.limited_provision.inc();
            out_.limited(v.exchange, action::provision, wait, "too many provisioning requests from this address");
            return;
        }
        up_.provision(v);
        return;
    }
    auth_.resolve(sd, v, c.r);
}

// ---- engine callbacks [the observation's shard] --------------------------------------------------

void service::on_observation_end(uint64_t observation, int32_t reason) noexcept { obs_.on_end(observation, reason); }

void service::on_notification_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept {
    obs_.on_result(observation, cookie, result);
}

// ---- core listener [any-thread] ------------------------------------------------------------------

void service::on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                                    const tern_str* deleted, uint32_t deleted_count) noexcept {
    down_.on_attributes_updated(device_id, updated, updated_count, deleted, deleted_count);
}

void service::on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept {
    down_.on_rpc_request(device_id, rpc);
}

void service::on_device_event(uint64_t device_id, int32_t event) noexcept {
    // Every shard forgets what it cached about the device; its home shard also tells its
    // observations.
    try {
        for (uint32_t s = 0; s < rt_.shard_count; ++s) {
            rt_.post(s, [this, s, device_id, event] {
                auth_.forget(*rt_.shards[s], device_id, event);
                if (s == rt_.home_of(device_id)) obs_.device_event(device_id, event);
            });
        }
    } catch (...) {
        rt_.log.error("device_api: device event for ", device_id, " lost: out of memory");
    }
}

// ---- the shard timer: deadlines and idle states -----------------------------------------------------

void service::timer_fired(void* ctx) noexcept {
    auto* sd = static_cast<shard_tables*>(ctx);
    sd->owner->on_timer(*sd);
}

void service::on_timer(shard_tables& sd) noexcept {
    if (rt_.stopping()) return;
    sd.armed_ns = 0;
    const uint64_t now = rt_.now_ns();
    uint64_t next_idle = 0;
    try {
        while (!sd.deadlines.empty() && sd.deadlines.top().when_ns <= now) {
            const deadline d = sd.deadlines.top();
            sd.deadlines.pop();
            device_state* st = rt_.state_of(d.device_id);
            if (st == nullptr) continue;
            if (d.kind == deadline_kind::grace) obs_.grace_over(sd, *st, rt_.now_ns());
            else if (d.kind == deadline_kind::power) down_.power_deadline(sd, *st, d);
            else down_.ack_deadline(*st, d);
        }
        next_idle = states_.expire(sd, now);
    } catch (const std::exception& e) {
        rt_.log.error("device_api timer: ", e.what());
        if (sd.idle_head != nullptr) next_idle = sd.idle_head->idle_since_ns + rt_.inactivity_ns;
    }
    uint64_t next = sd.deadlines.empty() ? 0 : sd.deadlines.top().when_ns;
    if (next_idle != 0 && (next == 0 || next_idle < next)) next = next_idle;
    if (next != 0) rt_.schedule(sd, next);
}

}  // namespace tern::device_api

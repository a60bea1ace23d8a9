#include "engine.hpp"

#include <algorithm>
#include <chrono>
#include <type_traits>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace tern::coap {

// One per transport: what the transport delivers, with the transport's number.
struct engine::transport_sink final : datagram_sink_v1 {
    engine* eng = nullptr;
    uint32_t transport = 0;
    void on_datagrams(uint32_t shard, const tern_datagram* batch, uint32_t count) noexcept override {
        eng->on_datagrams(shard, transport, batch, count);
    }
    void on_session_end(uint32_t shard, const tern_peer* peer) noexcept override {
        eng->on_session_end(shard, transport, peer);
    }
};

engine::engine(const engine_config& cfg, engine_env& env, const sdk::host* host, uint32_t shards)
    : cfg_(cfg), env_(env), seed_(env.random_seed()), shard_count_(shards == 0 ? 1 : shards) {
    metrics_.init(host);
    routes_ = std::make_shared<const route_table>(std::vector<const resource_entry*>{});
}

engine::~engine() {
    stop();
    // A drain task posted just before stop() may still be queued on a shard: wait (bounded)
    // until every posted task has run before the shards go away.
    for (auto& s : shards_) {
        for (int i = 0; i < 2000 && s->posted_.load(std::memory_order_acquire) != 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    shards_.clear();
}

uint32_t engine::add_transport(std::string_view name) {
    const auto t = static_cast<uint32_t>(transports_.size());
    auto sink = std::make_unique<transport_sink>();
    sink->eng = this;
    sink->transport = t;
    sinks_.push_back(std::move(sink));
    transports_.emplace_back(name);
    return t;
}

datagram_sink_v1* engine::sink(uint32_t t) noexcept { return sinks_[t].get(); }

tern_str engine::transport_name(uint32_t t) const noexcept {
    if (t >= transports_.size()) return tern_str{nullptr, 0};
    return tern_str{transports_[t].data(), transports_[t].size()};
}

void engine::start() {
    limits_ = shard_limits::of(cfg_, shard_count_);
    shards_.clear();
    for (uint32_t s = 0; s < shard_count_; ++s)
        shards_.push_back(std::make_unique<shard>(*this, s, limits_));
    for (auto& s : shards_) s->set_routes(routes_.get(), routes_->well_known().size());
    started_ = true;
    accepting_.store(true, std::memory_order_release);
}

template <class F>
void engine::each_shard(F&& f) noexcept {
    env_.run_on_shards([](void* ctx, uint32_t s) { (*static_cast<std::remove_reference_t<F>*>(ctx))(s); },
                       &f);
}

void engine::stop() noexcept {
    if (!started_) return;
    accepting_.store(false, std::memory_order_release);
    each_shard([this](uint32_t s) {
        if (s < shards_.size()) shards_[s]->shutdown();
    });
    started_ = false;
}

void engine::on_datagrams(uint32_t s, uint32_t transport, const tern_datagram* batch,
                          uint32_t count) noexcept {
    if (s < shards_.size() && accepting_.load(std::memory_order_relaxed))
        shards_[s]->on_datagrams(transport, batch, count);
}

void engine::on_session_end(uint32_t s, uint32_t transport, const tern_peer* peer) noexcept {
    if (s < shards_.size() && accepting_.load(std::memory_order_relaxed))
        shards_[s]->on_session_end(transport, peer);
}

void engine::on_timer(uint32_t s) noexcept {
    if (s < shards_.size() && accepting_.load(std::memory_order_relaxed)) shards_[s]->on_timer();
}

// ---- resources ---------------------------------------------------------------------------

void engine::publish(const resource_entry* removed) noexcept {
    try {
        std::vector<const resource_entry*> list;
        list.reserve(resources_.size());
        for (const auto& r : resources_) list.push_back(r.get());
        auto table = std::make_shared<const route_table>(list);
        if (started_) {
            // RCU-style: each shard switches to the new table between two of its own
            // callbacks; the old one is freed once all have switched.
            const std::size_t wk = table->well_known().size();
            each_shard([&](uint32_t s) {
                shards_[s]->set_routes(table.get(), wk);
                if (removed != nullptr) shards_[s]->remove_resource(removed);
            });
        }
        routes_ = std::move(table);
    } catch (...) {
        env_.log(TERN_LOG_ERROR, "coap: out of memory while rebuilding the route table");
    }
}

tern_status engine::add_resource(const tern_coap_resource* desc, coap_handler_v1* handler,
                                 uint64_t* out_resource) noexcept {
    if (desc == nullptr || handler == nullptr || out_resource == nullptr ||
        desc->struct_size < offsetof(tern_coap_resource, flags) + sizeof(uint32_t) ||
        desc->pattern == nullptr)
        return TERN_INVALID_ARGUMENT;
    try {
        auto e = std::make_unique<resource_entry>();
        const std::string err = parse_pattern(desc->pattern, e->segments);
        if (!err.empty()) {
            env_.log(TERN_LOG_ERROR, "coap: resource '" + std::string(desc->pattern) + "': " + err);
            return TERN_INVALID_ARGUMENT;
        }
        const std::string shape = pattern_shape(e->segments);
        for (const auto& r : resources_)
            if (pattern_shape(r->segments) == shape) return TERN_EXISTS;
        e->id = next_resource_++;
        e->handler = handler;
        e->methods = desc->methods;
        e->flags = desc->flags;
        e->link_attrs = desc->link_attrs != nullptr ? desc->link_attrs : "";
        for (std::size_t i = 0; i < e->segments.size(); ++i) {
            if (i != 0) e->pattern += '/';
            e->pattern += e->segments[i];
        }
        resources_.push_back(std::move(e));
        *out_resource = resources_.back()->id;
        publish(nullptr);
        return TERN_OK;
    } catch (...) {
        return TERN_INTERNAL;
    }
}

void engine::remove_resource(uint64_t id) noexcept {
    for (auto it = resources_.begin(); it != resources_.end(); ++it) {
        if ((*it)->id != id) continue;
        std::unique_ptr<resource_entry> gone = std::move(*it);
        resources_.erase(it);
        publish(gone.get());
        return;  // gone is freed here: no shard references it any more
    }
}

// ---- responses and notifications ------------------------------------------------------------

void engine::drain_task(void* ctx) noexcept {
    auto* s = static_cast<shard*>(ctx);
    s->drain();
    s->posted_.fetch_sub(1, std::memory_order_acq_rel);
}

tern_status engine::enqueue(uint32_t s, completion&& c) noexcept {
    shard& sh = *shards_[s];
    bool must_post = false;
    if (!sh.queue().push(std::move(c), must_post)) return TERN_INTERNAL;
    if (must_post) {
        sh.posted_.fetch_add(1, std::memory_order_acq_rel);
        if (env_.post(s, &engine::drain_task, &sh) != TERN_OK) {
            sh.posted_.fetch_sub(1, std::memory_order_acq_rel);
            return TERN_UNAVAILABLE;
        }
    }
    return TERN_OK;
}

tern_status engine::route_to_shard(completion::op op, uint64_t id, const tern_coap_response* in,
                                   bool has_response, uint64_t cookie, uint32_t flags,
                                   uint64_t* out_observation) noexcept {
    tern_coap_response r{};
    if (has_response && !normalize_response(in, r)) return TERN_INVALID_ARGUMENT;
    auto refuse = [&r](tern_status st) {
        if (r.body != nullptr) r.body->release();
        return st;
    };
    const uint32_t s = id_shard(id);
    if (!accepting_.load(std::memory_order_acquire) || s >= shards_.size())
        return refuse(accepting_.load(std::memory_order_acquire) ? TERN_NOT_FOUND : TERN_UNAVAILABLE);
    shard& sh = *shards_[s];
    if (env_.current_shard() == s) {
        switch (op) {
        case completion::op::respond: return sh.answer(id, r, out_observation);
        case completion::op::notify: return sh.notify(id, r, cookie, flags);
        case completion::op::end: return sh.end_observation(id, has_response ? &r : nullptr);
        }
    }
    if (has_response && !response_valid(r)) return refuse(TERN_INVALID_ARGUMENT);
    uint64_t obs = 0;
    const bool live = op == completion::op::respond ? sh.exchange_maybe_live(id, &obs)
                                                    : sh.observation_maybe_live(id);
    if (!live) return refuse(TERN_NOT_FOUND);
    if (out_observation != nullptr && (r.flags & TERN_COAP_RESPONSE_OBSERVE) != 0 &&
        (r.code >> 5) == 2)
        *out_observation = obs;
    completion c;
    if (!c.fill(op, id, has_response ? &r : nullptr, cookie, flags)) return TERN_INVALID_ARGUMENT;
    return enqueue(s, std::move(c));
}

tern_status engine::respond(uint64_t exchange, const tern_coap_response* response,
                            uint64_t* out_observation) noexcept {
    if (out_observation != nullptr) *out_observation = 0;
    return route_to_shard(completion::op::respond, exchange, response, true, 0, 0, out_observation);
}

tern_status engine::notify(uint64_t observation, const tern_coap_response* notification,
                           uint64_t cookie, uint32_t flags) noexcept {
    return route_to_shard(completion::op::notify, observation, notification, true, cookie, flags,
                          nullptr);
}

tern_status engine::end_observation(uint64_t observation,
                                    const tern_coap_response* final_response) noexcept {
    return route_to_shard(completion::op::end, observation, final_response,
                          final_response != nullptr, 0, 0, nullptr);
}

}  // namespace tern::coap

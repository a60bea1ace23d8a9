// Lifecycle, shared helpers, and the entry points that only route work to the right shard:
// engine callbacks (the observation's shard) and core listener calls (any thread).
#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "api_impl.hpp"
#include "tern/sdk/status.hpp"

namespace tern::device_api {

namespace {

int64_t system_wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

uint64_t ms_to_ns(int64_t ms) noexcept { return ms <= 0 ? 0 : static_cast<uint64_t>(ms) * 1000000u; }

}  // namespace

std::string_view status_text(tern_status s) noexcept { return sdk::status_name(s); }

bool obs_ident::same(const obs_ident& o) const noexcept {
    if (transport != o.transport || session != o.session || tkl != o.tkl) return false;
    if (std::memcmp(token, o.token, tkl) != 0) return false;
    // A DTLS session keeps its identity across address changes (spec §0.4).
    if (session != 0) return true;
    return endpoint.family == o.endpoint.family && endpoint.port == o.endpoint.port &&
           std::memcmp(endpoint.addr, o.endpoint.addr, endpoint.family == 6 ? 16 : 4) == 0;
}

// ---- pending_auth ---------------------------------------------------------------------------

std::unique_ptr<pending_auth> pending_auth::copy(api* self, const request& v) {
    auto p = std::make_unique<pending_auth>();
    p->self = self;
    p->exchange = v.exchange;
    p->shard = v.shard;
    p->type = v.type;
    p->method = v.method;
    p->observe = v.observe;
    p->content_format = v.content_format;
    if (v.coap_token.size != 0)
        p->coap_token.assign(reinterpret_cast<const char*>(v.coap_token.data), v.coap_token.size);
    p->peer = v.peer;
    p->transport.assign(v.transport);
    p->path_s.reserve(v.path.size());
    for (const tern_str& s : v.path) p->path_s.emplace_back(sv(s));
    p->query_s.reserve(v.query.size());
    for (const tern_str& s : v.query) p->query_s.emplace_back(sv(s));
    for (const std::string& s : p->path_s) p->path.push_back(ts(s));
    for (const std::string& s : p->query_s) p->query.push_back(ts(s));
    if (v.payload.size != 0)
        p->payload.assign(reinterpret_cast<const char*>(v.payload.data), v.payload.size);
    return p;
}

request pending_auth::view() const noexcept {
    request v;
    v.exchange = exchange;
    v.shard = shard;
    v.type = type;
    v.method = method;
    v.observe = observe;
    v.content_format = content_format;
    v.coap_token = tern_bytes{reinterpret_cast<const uint8_t*>(coap_token.data()), coap_token.size()};
    v.peer = peer;
    v.transport = transport;
    v.path = path;
    v.query = query;
    v.payload = tern_bytes{reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
    return v;
}

// ---- lifecycle ---------------------------------------------------------------------------------

shard_data::shard_data(api* a, uint32_t i, std::size_t token_cap, std::size_t session_cap,
                       std::size_t unknown_cap, std::size_t source_cap, uint64_t seed)
    : owner(a), index(i), tokens(token_cap), sessions(session_cap), unknown(unknown_cap), sources(source_cap, seed) {}

shard_data::~shard_data() = default;

api::api(const settings& s, wiring w) : s_(s), w_(std::move(w)), log_(w_.log) {
    if (w_.reactor == nullptr || w_.engine == nullptr || w_.core == nullptr || w_.json == nullptr)
        throw sdk::error(TERN_INVALID_ARGUMENT, "device_api needs a reactor, an engine, a core and a json adaptor");
    m_.init(w_.metrics);
    shard_count_ = w_.reactor->shard_count();
    if (shard_count_ == 0) shard_count_ = 1;
    auto per_shard = [&](int64_t total) {
        return total <= 0 ? std::size_t{0}
                          : static_cast<std::size_t>((total + shard_count_ - 1) / shard_count_);
    };
    std::random_device rd;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
        shards_.push_back(std::make_unique<shard_data>(this, i, per_shard(s_.auth_cache_size),
                                                       per_shard(s_.auth_cache_size),
                                                       per_shard(s_.unknown_token_cache_size),
                                                       s_.source_rate > 0 ? per_shard(s_.source_table_size) : 0,
                                                       seed));
    }
    states_per_shard_ = per_shard(s_.max_devices_with_state);
    report_ns_ = ms_to_ns(s_.report_timeout_ms);
    ttl_ns_ = ms_to_ns(s_.auth_cache_ttl_ms);
    unknown_ttl_ns_ = ms_to_ns(s_.unknown_token_cache_ttl_ms);
    dtls_ttl_ns_ = ms_to_ns(s_.dtls_session_inactivity_timeout_ms);
    inactivity_ns_ = ms_to_ns(s_.inactivity_timeout_ms);
    // A re-registration follows its REPLACED end at once unless its authentication waits
    // for the core, which never takes longer than a request may live.
    grace_ns_ = ms_to_ns(s_.client_rpc_timeout_ms);
}

api::~api() {
    stop();
    for (auto& sd : shards_) {
        if (sd->timer != 0) w_.reactor->timer_destroy(sd->timer);
        sd->timer = 0;
    }
}

int64_t api::wall_ms() const noexcept { return w_.wall_ms != nullptr ? w_.wall_ms() : system_wall_ms(); }

void api::start() {
    stopping_.store(false);
    for (auto& sd : shards_) {
        if (sd->timer != 0) continue;
        uint64_t t = 0;
        const tern_status st = w_.reactor->timer_create(sd->index, &api::timer_fired, sd.get(), &t);
        if (st != TERN_OK) throw sdk::error(st, "cannot create a shard timer");
        sd->timer = t;
    }
    if (w_.core->set_listener(this) != TERN_OK)
        throw sdk::error(TERN_UNAVAILABLE, "the core refused the device API as its listener");
    listening_ = true;
    struct res {
        const char* pattern;
        uint32_t methods;
        uint32_t flags;
    };
    // /api answers every method 4.05 (spec §1.1): a resource that accepts no method.
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
        const tern_status st = w_.engine->add_resource(&d, this, &id);
        if (st != TERN_OK) {
            stop();
            throw sdk::error(st, sdk::cat("cannot register /", r.pattern, " with the CoAP engine: ",
                                          sdk::status_name(st)));
        }
        resources_.push_back(id);
    }
}

void api::stop() noexcept {
    // Removing the resources ends every observation (SHUTDOWN): their ends reach the home
    // shards as posted tasks, which still run (unsubscribe, session CLOSE, RPC TIMEOUTs).
    for (uint64_t r : resources_) w_.engine->remove_resource(r);
    resources_.clear();
    if (listening_) {
        w_.core->set_listener(nullptr);
        listening_ = false;
    }
    // Bounded as a whole (the kernel's stop_timeout is 10 s by default): shards are running
    // while instances stop, so this normally takes a few milliseconds.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    auto drain = [this, give_up] {
        while (posts_in_flight_.load(std::memory_order_acquire) != 0 &&
               std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    if (!stopping_.load()) {
        drain();
        // What is still live (a registration in flight, a grace period) is closed for the core.
        for (uint32_t s = 0; s < shard_count_; ++s) {
            post(s, [this, s] {
                shard_data& sd = *shards_[s];
                for (auto& [id, st] : sd.states) {
                    // The core has handed these over: tell it they did not arrive (a
                    // persistent one is kept for the next run).
                    for (pending_rpc& r : st->rpcs)
                        if (!r.timed_out) rpc_status(*st, r.id, TERN_RPC_TIMEOUT, "the device API stopped");
                    st->rpcs.clear();
                    if (st->subscribed != 0) w_.core->unsubscribe(id, st->subscribed);
                    st->subscribed = 0;
                    if (st->session_open) {
                        w_.core->session_event(id, TERN_SESSION_CLOSE, ts(st->session_transport),
                                               ts(st->session_address));
                        st->session_open = false;
                        m_.sessions.add(-1);
                    }
                    if (st->attr.live.id != 0) m_.observations[0].add(-1);
                    if (st->rpc.live.id != 0) m_.observations[1].add(-1);
                    st->attr.live.id = st->rpc.live.id = 0;
                }
                m_.states.add(-static_cast<int64_t>(sd.states.size()));
                sd.states.clear();
                sd.idle_head = sd.idle_tail = nullptr;
            });
        }
        drain();
    }
    stopping_.store(true);
    drain();
    for (auto& sd : shards_) {
        if (sd->timer != 0) w_.reactor->timer_destroy(sd->timer);
        sd->timer = 0;
        sd->armed_ns = 0;
    }
}

void api::run_task(void* ctx) noexcept {
    std::unique_ptr<task_base> t(static_cast<task_base*>(ctx));
    api* self = t->self;
    if (!self->stopping_.load(std::memory_order_acquire)) {
        try {
            t->run();
        } catch (const std::exception& e) {
            self->log_.error("device_api task failed: ", e.what());
        } catch (...) {
            self->log_.error("device_api task failed");
        }
    }
    t.reset();
    self->posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

// ---- helpers ------------------------------------------------------------------------------------

uint32_t api::transport_index(std::string_view name) const noexcept {
    for (uint32_t i = 0; i < w_.transports.size(); ++i)
        if (w_.transports[i].name == name) return i;
    return UINT32_MAX;
}

std::string_view api::format_address(const tern_peer& p, char (&buf)[64]) noexcept {
    const tern_endpoint& e = p.endpoint;
    int n = 0;
    if (e.family == 6) {
        char a[INET6_ADDRSTRLEN] = {};
        inet_ntop(AF_INET6, e.addr, a, sizeof a);
        n = std::snprintf(buf, sizeof buf, "[%s]:%u", a, static_cast<unsigned>(e.port));
    } else {
        char a[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, e.addr, a, sizeof a);
        n = std::snprintf(buf, sizeof buf, "%s:%u", a, static_cast<unsigned>(e.port));
    }
    if (n < 0) n = 0;
    if (n >= static_cast<int>(sizeof buf)) n = sizeof buf - 1;
    return std::string_view(buf, static_cast<std::size_t>(n));
}

payload_v1* api::adaptor_for(tern_payload_type t) const noexcept {
    if (t == TERN_PAYLOAD_PROTOBUF) return w_.protobuf;
    return w_.json;
}

void api::answer(uint64_t exchange, req_kind k, uint8_t c, tern_bytes payload, int32_t format,
                 uint32_t flags, const tern_coap_option* opts, uint32_t nopts, int64_t max_age) noexcept {
    if (stopping_.load(std::memory_order_acquire)) return;
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = c;
    r.flags = flags;
    r.content_format = format;
    r.max_age = max_age;
    r.options = opts;
    r.option_count = nopts;
    r.payload = payload;
    w_.engine->respond(exchange, &r, nullptr);
    m_.request(k, c, (flags & TERN_COAP_RESPONSE_SILENT) != 0);
}

void api::answer_error(uint64_t exchange, req_kind k, uint8_t c, std::string_view text) noexcept {
    answer(exchange, k, c, tern_bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void api::answer_limited(uint64_t exchange, req_kind k, uint64_t wait_ns, std::string_view text) noexcept {
    answer(exchange, k, code::too_many, tern_bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()}, -1,
           0, nullptr, 0, retry_seconds(wait_ns));
}

void api::answer_busy(uint64_t exchange, req_kind k, std::string_view text) noexcept {
    answer(exchange, k, code::unavailable, tern_bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()},
           -1, 0, nullptr, 0, s_.busy_max_age_s);
}

void api::answer_core_error(uint64_t exchange, req_kind k, tern_status status, std::string_view text) noexcept {
    if (status == TERN_BUSY) answer_busy(exchange, k, text);
    else if (status == TERN_INVALID_ARGUMENT) answer_error(exchange, k, code::bad_request, text);  // refused as sent
    else answer_error(exchange, k, code::internal, text);
}

void api::answer_silent(uint64_t exchange, req_kind k) noexcept {
    answer(exchange, k, code::content, {}, -1, TERN_COAP_RESPONSE_SILENT);
}

// ---- timers ---------------------------------------------------------------------------------------

void api::schedule(shard_data& sd, uint64_t when_ns) noexcept {
    if (sd.timer == 0) return;
    if (sd.armed_ns != 0 && sd.armed_ns <= when_ns) return;
    const uint64_t now = now_ns();
    sd.armed_ns = when_ns;
    w_.reactor->timer_arm(sd.timer, when_ns > now ? when_ns - now : 0);
}

void api::timer_fired(void* ctx) noexcept {
    auto* sd = static_cast<shard_data*>(ctx);
    sd->owner->on_timer(sd->index);
}

void api::on_timer(uint32_t s) noexcept {
    if (stopping_.load(std::memory_order_acquire)) return;
    shard_data& sd = *shards_[s];
    sd.armed_ns = 0;
    const uint64_t now = now_ns();
    try {
        while (!sd.deadlines.empty() && sd.deadlines.top().when_ns <= now) {
            const deadline d = sd.deadlines.top();
            sd.deadlines.pop();
            home_deadline(sd, d);
        }
        while (sd.idle_head != nullptr && sd.idle_head->idle_since_ns + inactivity_ns_ <= now) {
            m_.states_expired.inc();
            drop_state(sd, *sd.idle_head);
        }
    } catch (const std::exception& e) {
        log_.error("device_api timer: ", e.what());
    }
    uint64_t next = 0;
    if (!sd.deadlines.empty()) next = sd.deadlines.top().when_ns;
    if (sd.idle_head != nullptr) {
        const uint64_t t = sd.idle_head->idle_since_ns + inactivity_ns_;
        if (next == 0 || t < next) next = t;
    }
    if (next != 0) schedule(sd, next);
}

// ---- engine callbacks [the observation's shard] ------------------------------------------------------

void api::on_observation_end(uint64_t observation, int32_t reason) noexcept {
    try {
        const uint32_t s = w_.reactor->current_shard();
        if (s >= shard_count_) return;
        shard_data& sd = *shards_[s];
        auto it = sd.obs_device.find(observation);
        if (it == sd.obs_device.end()) {
            // The relation being registered right now ended inside respond().
            if (sd.in_observe_respond) sd.observe_respond_ended = true;
            return;
        }
        const uint64_t device = it->second;
        sd.obs_device.erase(it);
        post(home_of(device), [this, device, observation, reason] { home_obs_end(device, observation, reason); });
    } catch (...) {
        log_.error("device_api: cannot route the end of observation ", observation);
    }
}

void api::on_notification_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept {
    try {
        const uint32_t s = w_.reactor->current_shard();
        if (s >= shard_count_) return;
        shard_data& sd = *shards_[s];
        auto it = sd.obs_device.find(observation);
        if (it == sd.obs_device.end()) return;
        const uint64_t device = it->second;
        post(home_of(device),
             [this, device, observation, cookie, result] { home_result(device, observation, cookie, result); });
    } catch (...) {
        log_.error("device_api: cannot route a notification result of observation ", observation);
    }
}

// ---- core listener [any-thread] ---------------------------------------------------------------------

void api::on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                                const tern_str* deleted, uint32_t deleted_count) noexcept {
    try {
        attr_delta changes;
        changes.apply(updated, updated_count, deleted, deleted_count, 0);
        post(home_of(device_id), [this, device_id, c = std::move(changes)]() mutable {
            home_attributes(device_id, std::move(c));
        });
    } catch (...) {
        log_.error("device_api: attribute update for device ", device_id, " lost: out of memory");
    }
}

void api::on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept {
    if (rpc == nullptr) return;
    try {
        tern_rpc_request r{};
        std::memcpy(&r, rpc, rpc->struct_size < sizeof r ? rpc->struct_size : sizeof r);
        pending_rpc p;
        p.id = r.id;
        p.flags = r.flags;
        p.expiration_ms = r.expiration_ms;
        p.method.assign(sv(r.method));
        p.params.assign(sv(r.params));
        if (!post(home_of(device_id), [this, device_id, p = std::move(p)]() mutable {
                home_rpc(device_id, std::move(p));
            }))
            w_.core->rpc_status(device_id, r.id, TERN_RPC_TIMEOUT, ts("the device API is stopping"));
    } catch (...) {
        log_.error("device_api: RPC for device ", device_id, " lost: out of memory");
    }
}

void api::on_device_event(uint64_t device_id, int32_t event) noexcept {
    try {
        for (uint32_t s = 0; s < shard_count_; ++s) {
            post(s, [this, s, device_id, event] {
                shard_data& sd = *shards_[s];
                ++sd.epoch;
                if (event == TERN_DEVICE_CREDENTIALS_CHANGED && sd.unknown.size() != 0) {
                    // New credentials (a new device, a changed token) may be a token
                    // remembered as unknown: forget them all, they are cheap to learn again.
                    m_.unknown_entries.add(-static_cast<int64_t>(sd.unknown.size()));
                    sd.unknown.clear();
                }
                if (event == TERN_DEVICE_CREDENTIALS_CHANGED) {
                    // and DTLS sessions remembered as having no device (group 0)
                    m_.session_entries.add(-static_cast<int64_t>(sd.sessions.erase_group(0)));
                }
                m_.token_entries.add(-static_cast<int64_t>(sd.tokens.erase_group(device_id)));
                m_.session_entries.add(-static_cast<int64_t>(sd.sessions.erase_group(device_id)));
                if (s == home_of(device_id)) home_device_event(device_id, event);
            });
        }
    } catch (...) {
        log_.error("device_api: device event for ", device_id, " lost: out of memory");
    }
}

const device_state* api::state_of(uint64_t device_id) const noexcept {
    const shard_data& sd = *shards_[home_of(device_id)];
    auto it = sd.states.find(device_id);
    return it == sd.states.end() ? nullptr : it->second.get();
}

}  // namespace tern::device_api

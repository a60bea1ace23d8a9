// The ThingsBoard CoAP device API over the CoAP engine, the payload adaptors and the core.
//
// Threads (host.h tags):
//   - A request runs on its peer's shard S (the engine's choice). Authentication is cached
//     per shard (token -> device, DTLS session -> device), so the hot path (a telemetry
//     POST with a cached token) takes no lock and allocates nothing of its own.
//   - Everything about one device's observations and downlinks lives on its HOME shard
//     H = device_id % shards: requests, core listener calls (any thread) and engine
//     callbacks (the observation's shard) reach it only by post().
//   - Engine operations on an observation's registration and end run on the observation's
//     shard, which keeps observation id -> device (engine callbacks name only the id).
//   - Core completions run on any thread; they answer with engine respond() directly, or
//     post back to a shard when shard state must change.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attr_delta.hpp"
#include "device.hpp"
#include "lru.hpp"
#include "metrics.hpp"
#include "op_pool.hpp"
#include "ratelimit.hpp"
#include "route.hpp"
#include "settings.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/core.h"
#include "tern/abi/host.h"
#include "tern/abi/payload.h"
#include "tern/abi/transport.h"
#include "tern/sdk/host.hpp"

namespace tern::device_api {

// What the plugin talks to; all borrowed for the api's lifetime.
struct wiring {
    reactor_v1* reactor = nullptr;
    coap_engine_v1* engine = nullptr;
    core_v1* core = nullptr;
    payload_v1* json = nullptr;      // required
    payload_v1* protobuf = nullptr;  // optional
    struct transport_ref {
        std::string name;
        transport_v1* transport = nullptr;
    };
    std::vector<transport_ref> transports;
    metrics_v1* metrics = nullptr;  // may be null
    log_v1* log = nullptr;          // may be null
    int64_t (*wall_ms)() = nullptr; // ms since the epoch; null: the system clock
};

// A request as the plugin reads it: views into the engine's request, or into an owned
// copy when authentication had to wait for the core.
struct request {
    uint64_t exchange = 0;
    uint32_t shard = 0;
    uint8_t type = TERN_COAP_CON;
    uint8_t method = 0;
    int32_t observe = -1;
    int32_t content_format = -1;
    tern_bytes coap_token{};
    tern_peer peer{};
    std::string_view transport;
    std::span<const tern_str> path;
    std::span<const tern_str> query;
    tern_bytes payload{};
};

// Who holds an observation (spec §3.1): the transport session, or the address for
// sessionless transports, and the CoAP token.
struct obs_ident {
    uint32_t transport = 0;
    uint64_t session = 0;
    tern_endpoint endpoint{};
    uint8_t tkl = 0;
    uint8_t token[8]{};
    bool same(const obs_ident& o) const noexcept;
};

class api;
struct pending_auth;

// ---- per-shard pieces ---------------------------------------------------------------------

// What a shard keeps per authenticated device beside its identity (in the auth cache
// entry, so the hot path finds it with the same lookup): the activity-report throttle and
// the device's rate-limit buckets on this shard.
struct device_meter {
    uint64_t last_report_ns = 0;  // activity rate limit for this device on this shard
    token_bucket messages;
    token_bucket datapoints;
};

struct token_val {
    std::shared_ptr<const device_entry> dev;
    device_meter meter;
};

struct session_key {
    uint32_t transport = 0;
    uint64_t session = 0;
    bool operator==(const session_key&) const noexcept = default;
};
struct session_hash {
    std::size_t operator()(const session_key& k) const noexcept {
        return std::hash<uint64_t>{}(k.session * 0x9E3779B97F4A7C15ull ^ k.transport);
    }
};
struct session_val {
    std::shared_ptr<const device_entry> dev;  // null: the session has no usable identity
    device_meter meter;
};

// A hot-path core call's context (telemetry, attributes, RPC reply, claim, GET
// attributes, client RPC).
struct op {
    op* pool_next = nullptr;
    api* self = nullptr;
    uint32_t shard = 0;
    req_kind kind = req_kind::other;
    uint64_t exchange = 0;
    int32_t format = -1;  // response Content-Format
    std::shared_ptr<const device_entry> dev;  // only flows that encode an answer
};

struct observation {
    uint64_t id = 0;  // engine observation id; 0: none
    uint32_t shard = 0;
    obs_ident who;
    uint8_t type = TERN_COAP_CON;
    int32_t format = -1;          // Content-Format of its notifications
    int32_t request_format = -1;  // the registering GET's, for the payload adaptors
    std::string transport;
    std::string address;
};

// One kind of observation of a device (attributes or RPC).
struct obs_slot {
    observation live;
    uint32_t gen = 0;            // registration generation
    bool registering = false;    // a registration is under way
    uint64_t grace_until_ns = 0; // ended by REPLACED: its re-registration is on its way
    bool active(uint64_t now_ns) const noexcept {
        return live.id != 0 || registering || grace_until_ns > now_ns;
    }
};

struct pending_rpc {
    int64_t id = 0;
    uint32_t flags = 0;
    int64_t expiration_ms = 0;
    std::string method;
    std::string params;
    uint64_t sent_on = 0;  // observation it was sent on; 0: not sent
    bool timed_out = false;  // TIMEOUT reported; kept to pass on a late DELIVERED
};

struct device_state {
    uint64_t device_id = 0;
    std::shared_ptr<const device_entry> dev;
    obs_slot attr;
    obs_slot rpc;
    uint32_t subscribed = 0;
    attr_delta delta;
    uint64_t delta_seq = 0;   // last change number given
    uint64_t delta_sent = 0;  // newest change already handed to the engine
    std::vector<pending_rpc> rpcs;
    bool session_open = false;
    std::string session_transport;
    std::string session_address;
    uint64_t last_report_ns = 0;
    uint32_t reauth_gen = 0;  // the newest re-authentication asked for
    // idle list (no active observation), oldest first
    uint64_t idle_since_ns = 0;
    bool idle = false;
    device_state* idle_prev = nullptr;
    device_state* idle_next = nullptr;
};

enum class deadline_kind : uint8_t { rpc_ack, grace };
struct deadline {
    uint64_t when_ns = 0;
    uint64_t device_id = 0;
    deadline_kind kind = deadline_kind::rpc_ack;
    int64_t rpc_id = 0;
    uint64_t obs = 0;
    bool operator>(const deadline& o) const noexcept { return when_ns > o.when_ns; }
};

struct shard_data {
    // Both in api.cpp, where pending_auth is complete.
    shard_data(api* a, uint32_t i, std::size_t token_cap, std::size_t session_cap, std::size_t unknown_cap,
               std::size_t source_cap, uint64_t seed);
    ~shard_data();
    shard_data(const shard_data&) = delete;
    shard_data& operator=(const shard_data&) = delete;
    api* owner;
    uint32_t index;
    lru_map<std::string, token_val, string_hash> tokens;
    lru_map<session_key, session_val, session_hash> sessions;
    // access tokens the core did not know (negative cache), and per-source buckets of
    // unauthenticated work
    lru_map<std::string, char, string_hash> unknown;
    address_buckets sources;
    // access tokens being looked up in the core -> the requests waiting for that answer, so
    // a token reaches the core once at a time per shard (at most max_token_waiters wait)
    std::unordered_map<std::string, std::vector<std::unique_ptr<pending_auth>>, string_hash, std::equal_to<>>
        token_lookups;
    uint64_t epoch = 0;  // bumped by every invalidation: a late authentication does not cache
    std::unordered_map<uint64_t, std::weak_ptr<const profile_options>> profiles;
    op_pool<op> ops;
    // observations living on this shard -> their device
    std::unordered_map<uint64_t, uint64_t> obs_device;
    // devices homed here
    std::unordered_map<uint64_t, std::unique_ptr<device_state>> states;
    device_state* idle_head = nullptr;
    device_state* idle_tail = nullptr;
    std::priority_queue<deadline, std::vector<deadline>, std::greater<>> deadlines;
    uint64_t timer = 0;
    uint64_t armed_ns = 0;  // 0: not armed
    // set while this shard answers an Observe registration: an end of the new relation
    // inside respond() (before its id is known here) is noticed
    bool in_observe_respond = false;
    bool observe_respond_ended = false;
    // scratch, reused so the hot path does not allocate
    std::vector<tern_str> keys_a, keys_b;
    std::vector<tern_kv> kv_scratch;
    std::vector<tern_str> str_scratch;
    std::string bytes_scratch;
};

struct pending_auth;

class api final : public coap_handler_v1, public core_listener_v1 {
public:
    api(const settings& s, wiring w);
    ~api();
    api(const api&) = delete;
    api& operator=(const api&) = delete;

    // Registers the resources, the core listener and the shard timers. Throws
    // tern::sdk::error. [start-stop]
    void start();
    // Unregisters; after return no callback of this api runs on a shard. [start-stop]
    void stop() noexcept;

    // coap_handler_v1
    void on_request(const tern_coap_request* req) noexcept override;
    void on_observation_end(uint64_t observation, int32_t reason) noexcept override;
    void on_notification_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept override;

    // core_listener_v1
    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept override;
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override;
    void on_device_event(uint64_t device_id, int32_t event) noexcept override;

    // For tests: the device state on its home shard (call on that shard), or null.
    const device_state* state_of(uint64_t device_id) const noexcept;
    uint32_t home_of(uint64_t device_id) const noexcept {
        return static_cast<uint32_t>(device_id % shard_count_);
    }
    const shard_data& shard(uint32_t s) const noexcept { return *shards_[s]; }

private:
    friend struct pending_auth;

    // ---- helpers (api.cpp) ----
    uint64_t now_ns() const noexcept { return w_.reactor->now_ns(); }
    int64_t wall_ms() const noexcept;
    uint32_t transport_index(std::string_view name) const noexcept;
    // "192.0.2.1:5683" or "[2001:db8::1]:5683" into buf.
    static std::string_view format_address(const tern_peer& p, char (&buf)[64]) noexcept;
    // Runs f on shard s (a heap task); false when stopping or the reactor refused.
    template <class F>
    bool post(uint32_t s, F&& f);
    static void run_task(void* ctx) noexcept;
    void answer(uint64_t exchange, req_kind k, uint8_t code, tern_bytes payload = {},
                int32_t format = -1, uint32_t flags = 0, const tern_coap_option* opts = nullptr,
                uint32_t nopts = 0, int64_t max_age = -1) noexcept;
    // 4.29 Too Many Requests (RFC 8516) with Max-Age: when the limit lets the request pass.
    void answer_limited(uint64_t exchange, req_kind k, uint64_t wait_ns, std::string_view text) noexcept;
    // 5.03 with Max-Age busy_max_age: the core's queues are full.
    void answer_busy(uint64_t exchange, req_kind k, std::string_view text) noexcept;
    // The core's failure as the device sees it: 5.03 + Max-Age when busy, else 5.00.
    void answer_core_error(uint64_t exchange, req_kind k, tern_status status, std::string_view text) noexcept;
    void answer_error(uint64_t exchange, req_kind k, uint8_t code, std::string_view text) noexcept;
    void answer_silent(uint64_t exchange, req_kind k) noexcept;
    void schedule(shard_data& sd, uint64_t when_ns) noexcept;
    static void timer_fired(void* ctx) noexcept;
    void on_timer(uint32_t s) noexcept;
    payload_v1* adaptor_for(tern_payload_type t) const noexcept;

    // ---- requests (api_request.cpp) [shard S] ----
    void handle(const request& v);
    void resolve(shard_data& sd, const request& v, const route& r, std::unique_ptr<pending_auth> p);
    void resolve_token(shard_data& sd, const request& v, const route& r, std::unique_ptr<pending_auth> p);
    void start_auth(shard_data& sd, const request& v, const route& r, std::unique_ptr<pending_auth> p,
                    credential cred, int stage);
    // Asks the core for p->cred; the answer comes to auth_done.
    void ask_core(std::unique_ptr<pending_auth> p);
    // Looks up the next certificate of p's chain, keeping the walk's epoch.
    void next_in_chain(std::unique_ptr<pending_auth> p);
    static void auth_done(void* ctx, tern_status status, const tern_device_info* info) noexcept;
    void auth_resume(std::unique_ptr<pending_auth> p);
    void auth_resume_one(shard_data& sd, std::unique_ptr<pending_auth> p);
    void share_profile(shard_data& sd, device_entry& e);
    void run(shard_data& sd, const request& v, const route& r,
             const std::shared_ptr<const device_entry>& dev, device_meter& meter);
    // Takes one unit of unauthenticated work from the source address's bucket: 0, or how
    // long (ns) until it would pass.
    uint64_t take_source(shard_data& sd, const tern_peer& peer) noexcept;
    void refund_source(shard_data& sd, const tern_peer& peer) noexcept;
    void report_activity(const device_entry& dev, std::string_view transport, const tern_peer& peer,
                         uint64_t& last_report_ns) noexcept;
    // A pooled op for request v of this shard, ready for its core call.
    op* start_op(shard_data& sd, const request& v, req_kind kind);
    void uplink_telemetry(shard_data& sd, const request& v, const device_entry& dev, device_meter& meter);
    void uplink_attributes(shard_data& sd, const request& v, const device_entry& dev);
    void uplink_rpc_reply(shard_data& sd, const request& v, const route& r, const device_entry& dev);
    void uplink_rpc_call(shard_data& sd, const request& v, const std::shared_ptr<const device_entry>& dev);
    void uplink_claim(shard_data& sd, const request& v, const device_entry& dev);
    void get_attributes(shard_data& sd, const request& v, const std::shared_ptr<const device_entry>& dev);
    void provision(const request& v);
    void ota(const request& v, const route& r, const device_entry& dev);
    void observe(const request& v, const route& r, const std::shared_ptr<const device_entry>& dev);
    static void write_done(void* ctx, tern_status status, tern_str message) noexcept;
    static void attributes_read(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                                const tern_kv* shared, uint32_t ns) noexcept;
    static void client_rpc_done(void* ctx, tern_status status, tern_str text) noexcept;
    static void provision_done(void* ctx, tern_status status, const tern_provision_result* result) noexcept;
    static void ota_done(void* ctx, tern_status status, const tern_ota_package* package) noexcept;

    // ---- home shard (api_home.cpp) [shard H] ----
    struct reg_request;
    device_state* state_for(shard_data& sd, const std::shared_ptr<const device_entry>& dev, bool create);
    void home_register(std::unique_ptr<reg_request> t);
    void home_snapshot(std::unique_ptr<reg_request> t, tern_status status, std::string payload);
    void home_registered(uint64_t device_id, bool rpc, uint32_t gen, uint64_t obs, observation o);
    void home_obs_end(uint64_t device_id, uint64_t obs, int32_t reason);
    void home_result(uint64_t device_id, uint64_t obs, uint64_t cookie, int32_t result);
    void home_attributes(uint64_t device_id, attr_delta changes);
    void home_rpc(uint64_t device_id, pending_rpc rpc);
    void home_device_event(uint64_t device_id, int32_t event);
    void home_reauth(uint64_t device_id, uint32_t gen, tern_status status, std::shared_ptr<device_entry> dev);
    static void snapshot_read(void* ctx, tern_status status, const tern_kv* client, uint32_t nc,
                              const tern_kv* shared, uint32_t ns) noexcept;
    static void reauth_done(void* ctx, tern_status status, const tern_device_info* info) noexcept;
    void home_deadline(shard_data& sd, const deadline& d);
    // The one place that decides whether downlinks go now (power saving, spec §9, will
    // sit here); then sends what is pending.
    bool downlink_allowed(const device_state& st) const noexcept;
    void flush(shard_data& sd, device_state& st);
    void flush_attributes(shard_data& sd, device_state& st);
    void flush_rpcs(shard_data& sd, device_state& st);
    void end_obs(shard_data& sd, device_state& st, bool rpc, uint8_t code, std::string_view text);
    void obs_gone(shard_data& sd, device_state& st, bool rpc, bool keep_rpcs);
    void settle(shard_data& sd, device_state& st);
    void drop_state(shard_data& sd, device_state& st);
    void idle_push(shard_data& sd, device_state& st) noexcept;
    void idle_remove(shard_data& sd, device_state& st) noexcept;
    void rpc_status(device_state& st, int64_t id, tern_rpc_status s, std::string_view error) noexcept;
    void activity_home(device_state& st, const observation& o) noexcept;
    uint8_t profile_refusal(const device_entry& dev, bool api, std::string_view& why) const noexcept;

    // ---- observation's shard [shard S] ----
    void obs_respond(uint32_t home, uint64_t device_id, bool rpc, uint32_t gen, uint64_t exchange,
                     std::string payload, int32_t format, observation o);
    void obs_end_on_shard(uint64_t obs, uint8_t code, std::string text);

    settings s_;
    wiring w_;
    sdk::logger log_;
    metrics m_;
    uint32_t shard_count_ = 1;
    std::vector<std::unique_ptr<shard_data>> shards_;
    std::vector<uint64_t> resources_;
    bool listening_ = false;
    std::atomic<bool> stopping_{false};
    std::atomic<int64_t> posts_in_flight_{0};
    uint64_t report_ns_ = 0, grace_ns_ = 0, ttl_ns_ = 0, dtls_ttl_ns_ = 0, inactivity_ns_ = 0, unknown_ttl_ns_ = 0;
    std::size_t states_per_shard_ = 0;
    static constexpr std::size_t max_pending_rpcs_ = 256;
    static constexpr std::size_t max_token_waiters_ = 64;
    // Answers requests that waited for the same token's lookup with its outcome.
    void resume_token_waiters(shard_data& sd, std::vector<std::unique_ptr<pending_auth>> waiters, tern_status status,
                              const std::shared_ptr<const device_entry>& dev);
};

}  // namespace tern::device_api

// Drives the engine without a kernel: a fake environment with a clock advanced by hand,
// captured outgoing datagrams and a queue of posted tasks; fake metrics; a recording
// handler; request builders and a parser for what the engine sent. Used by the unit tests
// and the fuzz target.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "engine.hpp"
#include "tern/sdk/testing.hpp"

namespace tern::coap::test {

using bytes = std::vector<uint8_t>;

inline bytes to_bytes(std::string_view s) { return bytes(s.begin(), s.end()); }
inline std::string to_string(const bytes& b) { return std::string(b.begin(), b.end()); }

constexpr uint8_t GET = 1, POST = 2, PUT = 3, DELETE_ = 4, FETCH = 5;

inline tern_peer peer_v4(uint8_t last = 1, uint16_t port = 40000, uint64_t session = 0) {
    tern_peer p{};
    p.endpoint.family = 4;
    p.endpoint.port = port;
    p.endpoint.addr[0] = 127;
    p.endpoint.addr[3] = last;
    p.session = session;
    return p;
}

inline bool same_peer(const tern_peer& a, const tern_peer& b) {
    return a.session == b.session && a.endpoint.family == b.endpoint.family &&
           a.endpoint.port == b.endpoint.port &&
           std::memcmp(a.endpoint.addr, b.endpoint.addr, 16) == 0;
}

// ---- fake environment ---------------------------------------------------------------------

class fake_env final : public engine_env {
public:
    explicit fake_env(uint32_t shards) : deadline(shards, 0) {}

    struct sent_datagram {
        uint32_t shard;
        uint32_t transport;
        tern_peer peer;
        bytes data;
        uint64_t at;  // env.now when it was sent
    };

    uint64_t now = 1'000'000'000;  // ns; not 0, so "unarmed" is never a real deadline
    std::vector<uint64_t> deadline; // per shard, 0 = not armed
    std::vector<sent_datagram> sent;
    std::vector<std::string> logs;
    uint64_t seed = 0x5eed;
    inline static thread_local uint32_t shard_of_thread = TERN_NO_SHARD;

    uint64_t now_ns() noexcept override { return now; }
    uint32_t current_shard() noexcept override { return shard_of_thread; }
    void arm_timer(uint32_t s, uint64_t delay_ns) noexcept override {
        deadline[s] = now + (delay_ns == 0 ? 1 : delay_ns);
    }
    void send(uint32_t s, uint32_t transport, const tern_datagram* batch,
              uint32_t count) noexcept override {
        for (uint32_t i = 0; i < count; ++i)
            sent.push_back(sent_datagram{s, transport, batch[i].peer,
                                         bytes(batch[i].data.data, batch[i].data.data + batch[i].data.size),
                                         now});
    }
    tern_status post(uint32_t s, tern_task_fn fn, void* ctx) noexcept override {
        std::lock_guard<std::mutex> lock(mu_);
        posted_.push_back({s, fn, ctx});
        return TERN_OK;
    }
    void run_on_shards(void (*fn)(void*, uint32_t), void* ctx) noexcept override {
        for (uint32_t s = 0; s < deadline.size(); ++s) {
            const uint32_t prev = shard_of_thread;
            shard_of_thread = s;
            fn(ctx, s);
            shard_of_thread = prev;
        }
    }
    void log(tern_log_level, std::string_view m) noexcept override { logs.emplace_back(m); }
    uint64_t random_seed() noexcept override { return seed; }

    // Runs the posted tasks (as their shard); returns how many ran.
    std::size_t run_posted() {
        std::size_t n = 0;
        for (;;) {
            task t;
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (posted_.empty()) return n;
                t = posted_.front();
                posted_.pop_front();
            }
            const uint32_t prev = shard_of_thread;
            shard_of_thread = t.shard;
            t.fn(t.ctx);
            shard_of_thread = prev;
            ++n;
        }
    }
    std::size_t posted_count() {
        std::lock_guard<std::mutex> lock(mu_);
        return posted_.size();
    }

private:
    struct task {
        uint32_t shard;
        tern_task_fn fn;
        void* ctx;
    };
    std::mutex mu_;
    std::deque<task> posted_;
};

// An environment for the allocation tests, which must not allocate itself: send() counts
// what goes out (and remembers the last CoAP ping to each address, by its last byte) without
// keeping it; post() keeps the last task, which the test runs when it wants.
class counting_env final : public engine_env {
public:
    uint64_t now = 1'000'000'000;
    long sent = 0;
    long bytes_sent = 0;
    uint32_t shard_of_caller = 0;
    tern_task_fn task = nullptr;
    void* task_ctx = nullptr;
    long posts = 0;
    uint64_t seed = 1;
    std::array<int32_t, 256> ping{};  // the MID of the last ping to 127.0.0.x, by x
    uint64_t now_ns() noexcept override { return now; }
    uint32_t current_shard() noexcept override { return shard_of_caller; }
    void arm_timer(uint32_t, uint64_t) noexcept override {}
    void send(uint32_t, uint32_t, const tern_datagram* b, uint32_t n) noexcept override {
        sent += n;
        for (uint32_t i = 0; i < n; ++i) {
            bytes_sent += static_cast<long>(b[i].data.size);
            if (b[i].data.size == 4 && b[i].data.data[0] == 0x40 && b[i].data.data[1] == 0)
                ping[b[i].peer.endpoint.addr[3]] = (b[i].data.data[2] << 8) | b[i].data.data[3];
        }
    }
    tern_status post(uint32_t, tern_task_fn fn, void* ctx) noexcept override {
        task = fn;
        task_ctx = ctx;
        ++posts;
        return TERN_OK;
    }
    void run_on_shards(void (*fn)(void*, uint32_t), void* ctx) noexcept override { fn(ctx, 0); }
    void log(tern_log_level, std::string_view) noexcept override {}
    uint64_t random_seed() noexcept override { return seed; }
};

// ---- metrics -------------------------------------------------------------------------------

// The engine registers its metrics through an sdk::host: here one over the SDK's fake host,
// whose recording metrics the tests read back.
class fake_metrics {
public:
    fake_metrics() : host_(&fake_) {}
    fake_metrics(const fake_metrics&) = delete;
    fake_metrics& operator=(const fake_metrics&) = delete;

    // What the engine is given.
    const sdk::host* host() const noexcept { return &host_; }

    // The value of name{labels} (a histogram: its observations); with labels empty, the
    // sum over every label set.
    int64_t get(std::string_view name, std::string_view labels = {}) const {
        const auto& m = fake_.metrics;
        int64_t v = 0;
        for (const std::string& series : m.names()) {
            const std::size_t brace = series.find('{');
            const std::string_view n = std::string_view(series).substr(0, brace);
            const std::string_view l = brace == std::string::npos
                                           ? std::string_view{}
                                           : std::string_view(series).substr(brace + 1, series.size() - brace - 2);
            if (n != name || (!labels.empty() && l != labels)) continue;
            v += m.describe(n, l).kind == TERN_METRIC_HISTOGRAM
                     ? static_cast<int64_t>(m.observations(n, l))
                     : m.value(n, l);
        }
        return v;
    }
    int64_t dropped(std::string_view reason) const {
        return get("coap_dropped_total", "reason=\"" + std::string(reason) + "\"");
    }
    int64_t shed(std::string_view reason) const {
        return get("coap_shed_total", "reason=\"" + std::string(reason) + "\"");
    }
    int64_t notes(std::string_view result) const {
        return get("coap_notifications_total", "result=\"" + std::string(result) + "\"");
    }
    std::size_t registered() const { return fake_.metrics.names().size(); }

private:
    sdk::testing::fake_host fake_;
    sdk::host host_;
};

// ---- messages ---------------------------------------------------------------------------------

// A request (or any message) to feed the engine.
struct msg {
    msg_type type = msg_type::con;
    uint8_t code = GET;
    uint16_t mid = 1;
    bytes token{0x7a};
    std::vector<std::pair<uint16_t, bytes>> options;
    bytes payload;

    msg& path(std::string_view p) {
        if (!p.empty() && p.front() == '/') p.remove_prefix(1);
        while (!p.empty()) {
            const std::size_t s = p.find('/');
            options.emplace_back(opt::uri_path, to_bytes(p.substr(0, s)));
            if (s == std::string_view::npos) break;
            p.remove_prefix(s + 1);
        }
        return *this;
    }
    msg& query(std::string_view q) {
        options.emplace_back(opt::uri_query, to_bytes(q));
        return *this;
    }
    msg& option(uint16_t n, bytes v) {
        options.emplace_back(n, std::move(v));
        return *this;
    }
    msg& option_uint(uint16_t n, uint64_t v) {
        std::array<uint8_t, 8> b{};
        const std::size_t k = encode_uint(v, b);
        options.emplace_back(n, bytes(b.begin(), b.begin() + k));
        return *this;
    }
    msg& observe(uint32_t v) { return option_uint(opt::observe, v); }
    msg& block1(uint32_t num, bool more, uint8_t szx) {
        return option_uint(opt::block1, block{num, more, szx}.encode());
    }
    msg& block2(uint32_t num, uint8_t szx) { return option_uint(opt::block2, block{num, false, szx}.encode()); }
    msg& body(std::string_view s) {
        payload = to_bytes(s);
        return *this;
    }
    msg& body(bytes b) {
        payload = std::move(b);
        return *this;
    }

    bytes encode() const {
        auto sorted = options;
        std::stable_sort(sorted.begin(), sorted.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        bytes buf(70000);
        writer w{std::span<uint8_t>(buf)};
        w.header(type, code, mid, token);
        for (const auto& [n, v] : sorted) w.option(n, std::span<const uint8_t>(v));
        w.payload(std::span<const uint8_t>(payload));
        if (!w.ok()) return {};
        buf.resize(w.size());
        return buf;
    }
};

inline msg con(uint8_t code, std::string_view path, uint16_t mid = 1) {
    msg m;
    m.type = msg_type::con;
    m.code = code;
    m.mid = mid;
    m.path(path);
    return m;
}
inline msg non(uint8_t code, std::string_view path, uint16_t mid = 1) {
    msg m = con(code, path, mid);
    m.type = msg_type::non;
    return m;
}
inline bytes empty_msg(msg_type t, uint16_t mid) {
    const auto e = empty_message(t, mid);
    return bytes(e.begin(), e.end());
}

// What the engine sent, parsed.
struct out {
    msg_type type{};
    uint8_t code = 0;
    uint16_t mid = 0;
    bytes token;
    std::vector<std::pair<uint16_t, bytes>> options;
    bytes payload;
    bytes raw;
    tern_peer peer{};
    uint32_t transport = 0;
    double at_ms = 0;  // when it was sent, in ms of the fake clock

    std::optional<bytes> opt(uint16_t n) const {
        for (const auto& [k, v] : options)
            if (k == n) return v;
        return std::nullopt;
    }
    bool has(uint16_t n) const { return opt(n).has_value(); }
    std::optional<uint64_t> uint_opt(uint16_t n) const {
        auto v = opt(n);
        if (!v) return std::nullopt;
        return decode_uint(std::span<const uint8_t>(*v));
    }
    std::optional<block> block_opt(uint16_t n) const {
        auto v = opt(n);
        if (!v) return std::nullopt;
        return decode_block(std::span<const uint8_t>(*v));
    }
    std::string text() const { return to_string(payload); }
    bool empty() const { return code == 0; }
};

inline std::optional<out> parse_out(const bytes& raw) {
    message m;
    if (parse(std::span<const uint8_t>(raw), m) != parse_status::ok) return std::nullopt;
    out o;
    o.type = m.type;
    o.code = m.code;
    o.mid = m.message_id;
    o.token.assign(m.token.begin(), m.token.end());
    for (const auto& op : m.option_list()) o.options.emplace_back(op.number, bytes(op.value.begin(), op.value.end()));
    o.payload.assign(m.payload.begin(), m.payload.end());
    o.raw = raw;
    return o;
}

// ---- recording handler ----------------------------------------------------------------------

struct seen_request {
    uint64_t exchange = 0;
    uint8_t type = 0;
    uint8_t code = 0;
    uint16_t mid = 0;
    uint32_t shard = 0;
    int32_t observe = -1;
    int32_t content_format = -1;
    int32_t accept = -1;
    bytes token;
    std::vector<std::string> path, query, captures;
    std::vector<uint16_t> option_numbers;
    bytes payload;
    std::string transport;
};

class recorder : public coap_handler_v1 {
public:
    std::function<void(const tern_coap_request&)> on_req;
    std::function<void(uint64_t, int32_t)> on_end;
    std::function<void(uint64_t, uint64_t, int32_t)> on_result;
    std::vector<seen_request> requests;
    std::vector<std::pair<uint64_t, int32_t>> ends;
    std::vector<std::tuple<uint64_t, uint64_t, int32_t>> results;

    void on_request(const tern_coap_request* r) noexcept override {
        seen_request s;
        s.exchange = r->exchange;
        s.type = r->type;
        s.code = r->code;
        s.mid = r->message_id;
        s.shard = r->shard;
        s.observe = r->observe;
        s.content_format = r->content_format;
        s.accept = r->accept;
        s.token.assign(r->token.data, r->token.data + r->token.size);
        for (uint32_t i = 0; i < r->path_count; ++i) s.path.emplace_back(r->path[i].data, r->path[i].size);
        for (uint32_t i = 0; i < r->query_count; ++i) s.query.emplace_back(r->query[i].data, r->query[i].size);
        for (uint32_t i = 0; i < r->capture_count; ++i)
            s.captures.emplace_back(r->captures[i].data, r->captures[i].size);
        for (uint32_t i = 0; i < r->option_count; ++i) s.option_numbers.push_back(r->options[i].number);
        if (r->payload.size != 0) s.payload.assign(r->payload.data, r->payload.data + r->payload.size);
        s.transport.assign(r->transport.data, r->transport.size);
        requests.push_back(std::move(s));
        if (on_req) on_req(*r);
    }
    void on_observation_end(uint64_t obs, int32_t reason) noexcept override {
        ends.emplace_back(obs, reason);
        if (on_end) on_end(obs, reason);
    }
    void on_notification_result(uint64_t obs, uint64_t cookie, int32_t result) noexcept override {
        results.emplace_back(obs, cookie, result);
        if (on_result) on_result(obs, cookie, result);
    }
    // Results with this cookie, in order.
    std::vector<int32_t> results_of(uint64_t cookie) const {
        std::vector<int32_t> v;
        for (const auto& [o, c, r] : results)
            if (c == cookie) v.push_back(r);
        return v;
    }
};

// A body read by range that counts what it was asked for.
class counting_body final : public coap_body_v1 {
public:
    explicit counting_body(bytes data) : data_(std::move(data)) {}
    uint64_t size() noexcept override { return data_.size(); }
    tern_status read(uint64_t off, uint8_t* buf, size_t len, size_t* out_len) noexcept override {
        ++reads;
        if (off > data_.size()) return TERN_INVALID_ARGUMENT;
        const std::size_t n = std::min<std::size_t>(len, data_.size() - off);
        std::memcpy(buf, data_.data() + off, n);
        bytes_read += n;
        *out_len = n;
        return TERN_OK;
    }
    void release() noexcept override { ++released; }
    int reads = 0;
    std::size_t bytes_read = 0;
    int released = 0;

private:
    bytes data_;
};

inline tern_coap_response response(uint8_t code, std::string_view text = {}, int32_t cf = -1) {
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code;
    r.content_format = cf;
    r.max_age = -1;
    r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
    return r;
}

// ---- the harness ------------------------------------------------------------------------------

// Small tables so tests run fast; protocol parameters at their defaults.
inline engine_config small_config() {
    engine_config c = engine_config::defaults();
    c.max_peers = 64;
    c.max_peers_per_prefix_percent = 100;  // tests share 127.0.0.0/24; flood_test sets it
    c.max_exchanges = 64;
    c.max_observations = 64;
    c.dedup_capacity = 256;
    c.dedup_memory = 64 * 1024;
    c.notification_memory = 256 * 1024;
    c.retransmission_memory = 256 * 1024;
    c.max_block1_transfers = 8;
    c.block1_memory = 1 << 20;
    c.completion_queue_size = 64;
    // The protocol tests send tiny requests from unverified addresses; the amplification
    // limits have their own tests (amplification_test.cpp), which turn them on.
    c.amplification_factor = 0;
    return c;
}

class harness {
public:
    explicit harness(engine_config cfg = small_config(), uint32_t shards = 1, uint64_t seed = 0x5eed)
        : env(shards), eng([&] {
              env.seed = seed;
              return std::make_unique<engine>(cfg, env, metrics.host(), shards);
          }()) {}
    ~harness() {
        if (eng) eng->stop();
    }

    fake_env env;
    fake_metrics metrics;
    std::unique_ptr<engine> eng;

    void start() {
        eng->add_transport("udp");
        eng->start();
    }

    // Registers a resource; returns its id.
    uint64_t add(std::string_view pattern, coap_handler_v1& h, uint32_t methods = 0x1E,
                 uint32_t flags = 0, const char* attrs = nullptr) {
        const std::string p(pattern);
        tern_coap_resource d{};
        d.struct_size = sizeof d;
        d.methods = methods;
        d.pattern = p.c_str();
        d.link_attrs = attrs;
        d.flags = flags;
        uint64_t id = 0;
        if (eng->add_resource(&d, &h, &id) != TERN_OK) return 0;
        return id;
    }

    // Delivers one datagram on shard s (as that shard's thread).
    void in(const bytes& data, const tern_peer& from = peer_v4(), uint32_t s = 0) {
        tern_datagram d{from, tern_bytes{data.data(), data.size()}};
        as_shard(s, [&] { eng->on_datagrams(s, 0, &d, 1); });
    }
    void in(const msg& m, const tern_peer& from = peer_v4(), uint32_t s = 0) { in(m.encode(), from, s); }

    template <class F>
    void as_shard(uint32_t s, F&& f) {
        const uint32_t prev = fake_env::shard_of_thread;
        fake_env::shard_of_thread = s;
        f();
        fake_env::shard_of_thread = prev;
    }

    // The engine's API called on the id's own shard (direct path).
    tern_status respond(uint64_t exchange, const tern_coap_response& r, uint64_t* obs = nullptr) {
        tern_status st;
        as_shard(id_shard(exchange), [&] { st = eng->respond(exchange, &r, obs); });
        return st;
    }
    tern_status notify(uint64_t obs, const tern_coap_response& r, uint64_t cookie, uint32_t flags = 0) {
        tern_status st;
        as_shard(id_shard(obs), [&] { st = eng->notify(obs, &r, cookie, flags); });
        return st;
    }
    tern_status end(uint64_t obs, const tern_coap_response* final_response = nullptr) {
        tern_status st;
        as_shard(id_shard(obs), [&] { st = eng->end_observation(obs, final_response); });
        return st;
    }

    // Runs posted tasks, then fires every timer that is due at the current time.
    void settle() {
        for (int guard = 0; guard < 1000; ++guard) {
            bool did = env.run_posted() != 0;
            for (uint32_t s = 0; s < env.deadline.size(); ++s) {
                if (env.deadline[s] != 0 && env.deadline[s] <= env.now) {
                    env.deadline[s] = 0;
                    as_shard(s, [&] { eng->on_timer(s); });
                    did = true;
                }
            }
            if (!did) return;
        }
    }

    // Moves the clock forward in steps no larger than the next deadline, firing timers in
    // time order, as a reactor would.
    void advance_ms(double ms) {
        const uint64_t target = env.now + static_cast<uint64_t>(ms * 1e6);
        settle();
        for (;;) {
            uint64_t next = target;
            for (uint64_t d : env.deadline)
                if (d != 0 && d < next) next = d;
            env.now = next;
            settle();
            if (next == target) return;
        }
    }

    // Everything sent since the last call, parsed (an unparseable datagram is a test bug).
    std::vector<out> take() {
        std::vector<out> v;
        for (auto& s : env.sent) {
            auto o = parse_out(s.data);
            if (!o) {
                out bad;
                bad.code = 0xFF;
                bad.raw = s.data;
                v.push_back(bad);
                continue;
            }
            o->peer = s.peer;
            o->transport = s.transport;
            o->at_ms = static_cast<double>(s.at) / 1e6;
            v.push_back(std::move(*o));
        }
        env.sent.clear();
        return v;
    }
    // Exactly one datagram must have been sent; returns it.
    out one() {
        auto v = take();
        if (v.size() != 1) {
            out bad;
            bad.code = 0xEE;  // lets the caller's CHECK fail visibly
            bad.payload = to_bytes("expected one datagram, got " + std::to_string(v.size()));
            return bad;
        }
        return v.front();
    }

    shard::counts census(uint32_t s = 0) { return eng->at(s).census(); }
    double now_ms() const { return static_cast<double>(env.now) / 1e6; }
};

}  // namespace tern::coap::test

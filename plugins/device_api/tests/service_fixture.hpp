// The device API driven through its ABI faces (coap_handler_v1, core_listener_v1) with a fake
// engine, core, reactor and DTLS transport (fakes.hpp) and the real JSON adaptor loaded
// through the ABI (json_plugin.hpp): the fixture every component's test uses.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes.hpp"
#include "json_plugin.hpp"
#include "tern/sdk/testing_payload.hpp"

namespace tern::device_api::test {


inline constexpr uint8_t c201 = TERN_COAP_CODE(2, 1);
inline constexpr uint8_t c202 = TERN_COAP_CODE(2, 2);
inline constexpr uint8_t c203 = TERN_COAP_CODE(2, 3);
inline constexpr uint8_t c205 = TERN_COAP_CODE(2, 5);
inline constexpr uint8_t c400 = TERN_COAP_CODE(4, 0);
inline constexpr uint8_t c401 = TERN_COAP_CODE(4, 1);
inline constexpr uint8_t c404 = TERN_COAP_CODE(4, 4);
inline constexpr uint8_t c413 = TERN_COAP_CODE(4, 13);
inline constexpr uint8_t c429 = TERN_COAP_CODE(4, 29);
inline constexpr uint8_t c500 = TERN_COAP_CODE(5, 0);
inline constexpr uint8_t c503 = TERN_COAP_CODE(5, 3);
inline constexpr uint64_t ms = 1000000;

inline int64_t g_wall = 1700000000000;
inline int64_t test_wall() { return g_wall; }

struct req {
    uint8_t method = TERN_COAP_POST;
    std::string path;
    std::string payload;
    int32_t observe = -1;
    int32_t format = -1;
    uint8_t type = TERN_COAP_CON;
    std::string token = "\x01";
    uint32_t shard = 0;
    uint16_t port = 40000;
    uint8_t host = 1;  // the peer is 127.0.0.<host>
    uint64_t session = 0;
    std::string transport = "udp";
    std::vector<std::string> query;
};

// The JSON adaptor's plugin, constructed before an adaptor that forwards to it.
struct json_plugin_holder {
    json_plugin json;
};

// The real JSON adaptor under another name (a stand-in for protobuf's), recording the
// payload context of every decode_telemetry.
struct renamed_adaptor final : json_plugin_holder, sdk::testing::forwarding_payload_adaptor {
    explicit renamed_adaptor(std::string n) : forwarding_payload_adaptor(*json.adaptor(), std::move(n)) {}
    struct seen {
        uint64_t profile_id, revision;
        std::vector<std::string> option_keys;
    };
    std::vector<seen> contexts;

    tern_status decode_telemetry(const tern_payload_context* c, tern_bytes b, int64_t n, tern_records_sink s, void* x,
                                 tern_error* e) noexcept override {
        seen v{c->profile_id, c->revision, {}};
        for (uint32_t i = 0; i < c->option_count; ++i) v.option_keys.push_back(str(c->options[i].key));
        contexts.push_back(std::move(v));
        return forwarding_payload_adaptor::decode_telemetry(c, b, n, s, x, e);
    }
};

// A device 1 (token T1) and a device 2 (token T2), both JSON.
struct fixture {
    sdk::testing::manual_reactor reactor{2};
    fake_engine engine;
    fake_core core;
    fake_transport dtls;
    json_plugin json;  // the real JSON adaptor, through the ABI
    settings s = default_settings();
    std::vector<power_policy_v1*> policies;  // published as tern.power.policy/1, in this order
    const sdk::host* host = nullptr;          // registers the metrics when set
    std::unique_ptr<service> a;
    uint64_t next_exchange = 1;

    fixture() {
        fake_device d1;
        d1.id = 1;
        core.add("T1", d1);
        fake_device d2;
        d2.id = 2;
        core.add("T2", d2);
        g_wall = 1700000000000;
    }
    ~fixture() { stop(); }

    // stop() waits for the tasks it posts: a runner thread plays the shards meanwhile.
    void stop() {
        if (!a) return;
        std::atomic<bool> done{false};
        std::thread runner([&] {
            while (!done.load()) {
                reactor.run_pending();
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        });
        a->stop();
        done.store(true);
        runner.join();
        a.reset();
    }

    void start(payload_v1* protobuf = nullptr) {
        services w;
        w.reactor = &reactor;
        w.engine = &engine;
        w.core = core_links::of(core);
        w.adaptors = adaptors_of({json.adaptor(), protobuf});
        sdk::testing::fake_registry powers;
        for (std::size_t i = 0; i < policies.size(); ++i)
            powers.provide(TERN_IID_POWER_POLICY_V1, "power" + std::to_string(i), policies[i]);
        w.powers = sdk::power_catalog(powers);
        w.transports.push_back({"udp", nullptr});
        w.transports.push_back({"dtls", &dtls});
        w.wall_ms = &test_wall;
        w.host = host;
        a = std::make_unique<service>(s, std::move(w));
        a->start();
    }

    uint64_t send(const req& r) {
        std::vector<std::string> segs;
        std::string_view p = r.path;
        if (!p.empty() && p.front() == '/') p.remove_prefix(1);
        while (true) {
            const auto slash = p.find('/');
            segs.emplace_back(p.substr(0, slash));
            if (slash == std::string_view::npos) break;
            p.remove_prefix(slash + 1);
        }
        std::vector<tern_str> path, query;
        for (const auto& x : segs) path.push_back(tern_str{x.data(), x.size()});
        for (const auto& x : r.query) query.push_back(tern_str{x.data(), x.size()});
        tern_coap_request q{};
        q.struct_size = sizeof q;
        q.type = r.type;
        q.code = r.method;
        q.exchange = next_exchange++;
        q.shard = r.shard;
        q.observe = r.observe;
        q.content_format = r.format;
        q.accept = -1;
        q.token = tern_bytes{reinterpret_cast<const uint8_t*>(r.token.data()), r.token.size()};
        q.peer.endpoint.family = 4;
        q.peer.endpoint.port = r.port;
        q.peer.endpoint.addr[0] = 127;
        q.peer.endpoint.addr[3] = r.host;
        q.peer.session = r.session;
        q.transport = tern_str{r.transport.data(), r.transport.size()};
        q.path = path.data();
        q.path_count = static_cast<uint32_t>(path.size());
        q.query = query.data();
        q.query_count = static_cast<uint32_t>(query.size());
        q.payload = tern_bytes{reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size()};
        reactor.on(r.shard, [&] { a->on_request(&q); });
        reactor.run_pending();
        return q.exchange;
    }
    uint64_t post(const std::string& path, const std::string& payload, uint32_t shard = 0) {
        req r;
        r.path = path;
        r.payload = payload;
        r.shard = shard;
        return send(r);
    }
    uint64_t get(const std::string& path, int32_t observe = -1, uint32_t shard = 0, std::string token = "\x01",
                 uint16_t port = 40000) {
        req r;
        r.method = TERN_COAP_GET;
        r.path = path;
        r.observe = observe;
        r.shard = shard;
        r.token = std::move(token);
        r.port = port;
        return send(r);
    }
    const fake_engine::response& answer(uint64_t exchange) {
        const fake_engine::response* r = engine.find(exchange);
        REQUIRE(r != nullptr);
        return *r;
    }
    // engine callbacks come on the observation's shard
    void result(uint32_t shard, uint64_t obs, uint64_t cookie, int32_t res) {
        reactor.on(shard, [&] { a->on_notification_result(obs, cookie, res); });
        reactor.run_pending();
    }
    void ended(uint32_t shard, uint64_t obs, int32_t reason) {
        engine.live.erase(obs);
        reactor.on(shard, [&] { a->on_observation_end(obs, reason); });
        reactor.run_pending();
    }
    void set_shared(uint64_t device, std::vector<std::pair<std::string, int64_t>> values,
                    std::vector<std::string> deleted = {}) {
        std::vector<tern_kv> kv;
        for (auto& [k, v] : values) {
            tern_value x{};
            x.type = TERN_VALUE_INT;
            x.u.i = v;
            kv.push_back(tern_kv{tern_str{k.data(), k.size()}, x});
        }
        std::vector<tern_str> del;
        for (auto& k : deleted) del.push_back(tern_str{k.data(), k.size()});
        a->on_attributes_updated(device, kv.data(), static_cast<uint32_t>(kv.size()), del.data(),
                                 static_cast<uint32_t>(del.size()));
        reactor.run_pending();
    }
    void rpc(uint64_t device, int64_t id, const std::string& method, const std::string& params,
             uint32_t flags = 0, int64_t expires_in_ms = 60000) {
        tern_rpc_request r{};
        r.struct_size = sizeof r;
        r.flags = flags;
        r.id = id;
        r.method = tern_str{method.data(), method.size()};
        r.params = tern_str{params.data(), params.size()};
        r.expiration_ms = g_wall + expires_in_ms;
        a->on_rpc_request(device, &r);
        reactor.run_pending();
    }
    // Registers an attribute (or RPC) observation; returns the engine's observation id.
    uint64_t observe(const std::string& path, uint32_t shard = 0, std::string token = "\x01", uint16_t port = 40000) {
        const uint64_t x = get(path, 0, shard, std::move(token), port);
        const fake_engine::response& r = answer(x);
        REQUIRE(r.observation != 0);
        return r.observation;
    }
};

inline bool has_session_event(const fake_core& c, uint64_t device, tern_session_event e) {
    for (const auto& s : c.sessions)
        if (s.device == device && s.event == e) return true;
    return false;
}


inline uint64_t post_from(fixture& f, const std::string& path, const std::string& payload, uint8_t host) {
    req r;
    r.path = path;
    r.payload = payload;
    r.host = host;
    return f.send(r);
}
inline constexpr uint64_t second = 1000 * ms;

}  // namespace tern::device_api::test

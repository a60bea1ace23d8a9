// The nats_bridge tests' world: a real nats-server (free loopback port, temporary store), a
// fake core that implements the eight capabilities and records what the bridge asked of it,
// the plugin made in process through its descriptor on the SDK's fake host, and a test client
// (a nats_link) that plays the transport nodes.
#pragma once

#include <catch2/catch.hpp>
#include <stdlib.h>

#include <charconv>
#include <filesystem>
#include <tuple>
#include <vector>

#include "plugin_support.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/plugin.h"
#include "tern/sdk/core.hpp"

extern "C" const tern_plugin_descriptor* tern_plugin_entry(void);

namespace nats_bridge_test {

using namespace tern::nats_link::test;  // nats_server, wait_until, str, text, bytes, nl, wire, ...

// The core: answers what the test sets, records every call.
struct fake_core final : tern::core_auth_v1,
                         tern::core_telemetry_v1,
                         tern::core_attributes_v1,
                         tern::core_rpc_v1,
                         tern::core_provisioning_v1,
                         tern::core_ota_v1,
                         tern::core_sessions_v1,
                         tern::core_events_v1 {
    struct point {
        uint64_t device;
        int64_t ts;
    };
    std::mutex mu;
    std::vector<point> stored;             // telemetry answered OK, in call order
    std::map<std::pair<uint64_t, int64_t>, int> attempts;
    // The answer to a telemetry call (attempt counts from 1); null: OK.
    std::function<tern_status(uint64_t device, int64_t ts, int attempt)> answer;
    tern::core_listener_v1* listener = nullptr;
    std::vector<std::tuple<uint64_t, uint32_t>> subscribed, unsubscribed;  // (device, flags)
    std::vector<uint64_t> resends;
    std::vector<uint64_t> sessions;
    uint64_t ota_package_id = 9;
    std::string ota_path;

    void provide(testing::fake_registry& r) {
        r.provide<tern::core_auth_v1>("core", this);
        r.provide<tern::core_telemetry_v1>("core", this);
        r.provide<tern::core_attributes_v1>("core", this);
        r.provide<tern::core_rpc_v1>("core", this);
        r.provide<tern::core_provisioning_v1>("core", this);
        r.provide<tern::core_ota_v1>("core", this);
        r.provide<tern::core_sessions_v1>("core", this);
        r.provide<tern::core_events_v1>("core", this);
    }
    size_t stored_count() {
        std::lock_guard lk(mu);
        return stored.size();
    }
    std::vector<point> stored_copy() {
        std::lock_guard lk(mu);
        return stored;
    }

    // ---- auth: the token "good" is device 42
    void authenticate(tern_credential_kind, tern_str value, tern_core_record_fn done, void* ctx) noexcept override {
        if (text(value) != "good") {
            done(ctx, TERN_NOT_FOUND, nullptr);
            return;
        }
        tern_device_record r{};
        r.struct_size = sizeof r;
        r.device_id = 42;
        r.device_name = str("meter-42");
        done(ctx, TERN_OK, &r);
    }
    void psk_key(tern_str, tern_core_psk_key_fn done, void* ctx) noexcept override {
        done(ctx, TERN_NOT_FOUND, 0, {});
    }
    // ---- telemetry: one record per message, its ts the test's sequence
    void post_telemetry(uint64_t device, const tern_ts_record* records, uint32_t count, tern_core_done_fn done,
                        void* ctx) noexcept override {
        const int64_t ts = count > 0 ? records[0].ts : -1;
        tern_status st = TERN_OK;
        {
            std::lock_guard lk(mu);
            const int attempt = ++attempts[{device, ts}];
            if (answer) st = answer(device, ts, attempt);
            if (st == TERN_OK) stored.push_back({device, ts});
        }
        done(ctx, st, str(st == TERN_OK ? "" : "refused by the test"));
    }
    void post_attributes(uint64_t, tern_attribute_scope, const tern_kv*, uint32_t, tern_core_done_fn done,
                         void* ctx) noexcept override {
        done(ctx, TERN_OK, {});
    }
    void get_attributes(uint64_t, const tern_key_filter*, const tern_key_filter*, tern_core_attributes_fn done,
                        void* ctx) noexcept override {
        done(ctx, TERN_OK, nullptr, 0, nullptr, 0);
    }
    void rpc_status(uint64_t, int64_t, tern_rpc_status, tern_str) noexcept override {}
    void rpc_reply(uint64_t, int64_t, tern_str, tern_core_done_fn done, void* ctx) noexcept override {
        done(ctx, TERN_OK, {});
    }
    void resend_pending_rpcs(uint64_t device) noexcept override {
        std::lock_guard lk(mu);
        resends.push_back(device);
    }
    // When set, client_rpc completions wait until release_client_rpcs().
    bool hold_client_rpcs = false;
    std::vector<std::pair<tern_core_text_fn, void*>> held_client_rpcs;
    void client_rpc(uint64_t, tern_str, tern_str, int64_t, tern_core_text_fn done, void* ctx) noexcept override {
        {
            std::lock_guard lk(mu);
            if (hold_client_rpcs) {
                held_client_rpcs.emplace_back(done, ctx);
                return;
            }
        }
        done(ctx, TERN_OK, str("{\"ok\":true}"));
    }
    size_t held_client_rpc_count() {
        std::lock_guard lk(mu);
        return held_client_rpcs.size();
    }
    void release_client_rpcs() {
        std::vector<std::pair<tern_core_text_fn, void*>> held;
        {
            std::lock_guard lk(mu);
            held.swap(held_client_rpcs);
        }
        for (auto& [done, ctx] : held) done(ctx, TERN_OK, str("{\"late\":true}"));
    }
    void claim(uint64_t, tern_str, int64_t, tern_core_done_fn done, void* ctx) noexcept override {
        done(ctx, TERN_EXISTS, str("already claimed"));
    }
    void provision(const tern_provision_request*, tern_core_provision_fn done, void* ctx) noexcept override {
        done(ctx, TERN_UNAVAILABLE, nullptr);
    }
    void ota_package(uint64_t, tern_ota_type type, tern_core_ota_fn done, void* ctx) noexcept override {
        tern_ota_package p{};
        p.struct_size = sizeof p;
        p.type = type;
        p.package_id = ota_package_id;
        p.title = str("fw");
        p.version = str("1.0");
        p.path = str(ota_path);
        done(ctx, TERN_OK, &p);
    }
    void session_event(uint64_t device, tern_session_event, tern_str, tern_str) noexcept override {
        std::lock_guard lk(mu);
        sessions.push_back(device);
    }
    // ---- events: one subscriber (the bridge)
    tern_status subscribe(tern::core_listener_v1* l, uint64_t* out) noexcept override {
        listener = l;
        *out = 7;
        return TERN_OK;
    }
    tern_status subscribe_device(uint64_t handle, uint64_t device, uint32_t flags) noexcept override {
        std::lock_guard lk(mu);
        if (handle != 7) return TERN_NOT_FOUND;
        subscribed.emplace_back(device, flags);
        return TERN_OK;
    }
    void unsubscribe_device(uint64_t, uint64_t device, uint32_t flags) noexcept override {
        std::lock_guard lk(mu);
        unsubscribed.emplace_back(device, flags);
    }
    void close(uint64_t) noexcept override { listener = nullptr; }
};

struct reply {
    nl::status st = nl::status::error;
    std::string data;
};

// The server, the core, the bridge and a transport node's link.
struct world {
    nats_server srv;
    fake_core core;
    std::string dir;
    std::unique_ptr<testing::fake_host> host;
    testing::instance_ptr bridge;
    std::unique_ptr<nl::link> client;
    uint32_t partitions = 4;
    uint64_t next_id = 0;
    // Puts the core's capabilities into the fake host's registry; empty: the fake core's.
    std::function<void(testing::fake_registry&)> provide_core;

    world() {
        char tmpl[] = "/tmp/tern-nats-bridge-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        REQUIRE(srv.start());
        client = open_test_link(srv, "nats_bridge-test-node");
    }
    ~world() {
        stop_bridge();
        client.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    // Makes and starts the bridge; set() adjusts the configuration first.
    tern_status start_bridge(std::string* reason = nullptr,
                             const std::function<void(testing::map_config&)>& set = nullptr) {
        host = std::make_unique<testing::fake_host>(*tern_plugin_entry(), "nats_bridge");
        if (provide_core) provide_core(host->registry);
        else core.provide(host->registry);
        host->config.set_strings("servers", {srv.url()});
        host->config.set("uplink_partitions", partitions);
        host->config.set("state_file", dir + "/bridge.db");
        host->config.set("startup_wait", 10000);
        host->config.set("busy_retry_delay", 20);
        if (set) set(host->config);
        bridge = testing::create(*tern_plugin_entry(), *host);
        return testing::start(*bridge, reason);
    }
    void stop_bridge() {
        if (!bridge) return;
        bridge->stop();
        bridge.reset();
    }
    int64_t metric(const char* name, std::string_view labels = {}) { return host->metrics.value(name, labels); }

    // A transport node's durable telemetry publish: one record with ts, stored once acked.
    nl::status publish_telemetry(uint64_t device, int64_t ts) {
        tern_kv kv{};
        kv.key = str("v");
        kv.value.type = TERN_VALUE_INT;
        kv.value.u.i = ts;
        tern_ts_record rec{ts, &kv, 1, 0};
        wire::encoder enc;
        std::string bytes;
        REQUIRE(enc.encode(wire::post_telemetry_request{device, &rec, 1}, bytes));
        const std::string subject = "tern.up." + std::to_string(device % partitions) + ".telemetry";
        const std::string id = "test." + std::to_string(++next_id);
        return wait_result<nl::status>([&](std::function<void(nl::status)> set) {
            client->publish_durable(subject, bytes, id, [set](nl::status s, uint64_t) { set(s); });
        });
    }
    reply request(const std::string& subject, const std::string& payload) {
        return wait_result<reply>([&](std::function<void(reply)> set) {
            client->request(subject, payload, 3000,
                            [set](nl::status s, std::string_view d) { set(reply{s, std::string(d)}); });
        });
    }
    // One round trip: the client's subscriptions made before are in place at the server.
    void sync() { REQUIRE(request("$JS.API.INFO", "").st == nl::status::ok); }
    // Messages left in the uplink stream (acknowledged ones leave a work queue).
    uint64_t stream_messages() {
        const reply r = request("$JS.API.STREAM.INFO.tern_UP", "");
        const auto at = r.data.find("\"messages\":");
        if (at == std::string::npos) return UINT64_MAX;
        uint64_t v = 0;
        std::from_chars(r.data.data() + at + 11, r.data.data() + r.data.size(), v);
        return v;
    }
};

}  // namespace nats_bridge_test

// The world of the events, registration and OTA cache tests: a real nats-server (free
// loopback port, temporary store), a core_nats node made from the plugin's schema defaults on
// the SDK's fake host (its metrics readable), and a second raw link playing the core node.
#pragma once

#include <catch2/catch.hpp>

#include <vector>

#include "node.hpp"
#include "plugin_support.hpp"
#include "settings.hpp"

namespace c2_test {

using namespace tern::nats_link::test;  // nats_server, wait_until, str, text, bytes, nl, wire, ...
namespace cn = tern::core_nats;

// The name the events, registration and OTA cache tests use for test_support's skip.
#define C2_NATS_OR_SKIP() NATS_OR_SKIP()

// The node of a transport node, as the plugin makes it, minus the kernel.
struct node_harness {
    testing::fake_host host{cn::config_schema.keys()};
    std::unique_ptr<cn::node> node;

    explicit node_harness(const nats_server& srv, const std::function<void(testing::map_config&)>& tweak = {},
                          const std::string& node_id = "n1") {
        host.config.set_strings("servers", {srv.url()});
        host.config.set("subject_prefix", "t");
        host.config.set("node_id", node_id);
        host.config.set("request_timeout", 500);
        host.config.set("reconnect_wait", 50);
        host.config.set("reconnect_wait_max", 200);
        if (tweak) tweak(host.config);
        const tern::sdk::host h(&host);
        cn::settings s = cn::config_schema.load(h.config());
        cn::resolve(s);
        node = std::make_unique<cn::node>(std::move(s), h.log());
        node->register_metrics(h);
    }
    tern::sdk::host sdk_host() { return tern::sdk::host(&host); }
    // After the pieces were made (they register their state listeners first). Returns once
    // the connected event has reached every listener (listeners run in registration order,
    // and this one is the last), so the pieces' subscriptions are made.
    void open() {
        node->on_state([this](nl::link_state st) {
            if (st == nl::link_state::connected) announced.store(true);
        });
        node->open();
        REQUIRE(wait_until([&] { return announced.load(); }, 5s));
    }
    std::atomic<bool> announced{false};
    int64_t metric(std::string_view name, std::string_view labels = {}) { return host.metrics.value(name, labels); }
};

// The core node's side: serves subjects with a handler (request bytes -> reply bytes, or
// nullopt for silence) in the core's queue group, and publishes events. One mutex around the
// handlers and the codec.
class core_stub : public responder {
public:
    explicit core_stub(const nats_server& srv) : responder(srv, "c2-test-core") {}
    ~core_stub() { close(); }

    void serve(const std::string& subject, handler h) {
        responder::serve(subject, "t-core", std::move(h));
    }

    template <class M>
    void publish(const std::string& subject, const M& m) {
        std::string out;
        {
            std::lock_guard lk(mu);
            REQUIRE(enc.encode(m, out));
        }
        REQUIRE(link().publish(subject, out) == nl::status::ok);
    }

    nl::status kv_put(const std::string& bucket, const std::string& key, const std::string& value) {
        return wait_done([&](nl::link::done_fn cb) { link().kv_put(bucket, key, value, cb); });
    }
    std::pair<nl::status, std::string> kv_get(const std::string& bucket, const std::string& key) {
        using got = std::pair<nl::status, std::string>;
        return wait_result<got>([&](std::function<void(got)> set) {
            link().kv_get(bucket, key, [set](nl::status s, std::string_view v) { set({s, std::string(v)}); });
        });
    }

    wire::encoder enc;  // for the handlers (under mu)
    wire::decoder dec;
};

// (Called from handlers, off the test thread: no Catch macro.)
inline std::string status_reply_bytes(wire::encoder& enc, wire::status_op op, tern_status st,
                                      std::string_view message = {}) {
    wire::status_reply r;
    r.op = op;
    r.status = st;
    r.message = str(message);
    std::string out;
    enc.encode(r, out);
    return out;
}

}  // namespace c2_test

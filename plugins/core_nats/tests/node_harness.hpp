// The world of the events, registration and OTA cache tests: a real nats-server (free
// loopback port, temporary store), a core_nats node made from the plugin's schema defaults on
// the SDK's fake host (its metrics readable), and a second raw link playing the core node.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nats_server.hpp"
#include "node.hpp"
#include "settings.hpp"
#include "tern/core_wire/codec.hpp"
#include "tern/nats_link/link.hpp"
#include "tern/sdk/testing.hpp"

namespace c2_test {

using namespace std::chrono_literals;
using tern::nats_link::test::nats_server;
namespace nl = tern::nats_link;
namespace wire = tern::core_wire;
namespace testing = tern::sdk::testing;
namespace cn = tern::core_nats;

#define C2_NATS_OR_SKIP()                                                      \
    if (!nats_server::available()) {                                           \
        WARN("SKIP: nats-server is not installed (tools/dev.sh installs it)"); \
        return;                                                                \
    }

inline tern_str str(std::string_view s) { return {s.data(), s.size()}; }
inline std::string text(tern_str s) { return s.size == 0 ? std::string{} : std::string(s.data, s.size); }
inline tern_bytes bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (!p()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

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

inline std::unique_ptr<nl::link> open_raw_link(const nats_server& srv) {
    nl::link_settings s;
    s.servers = {srv.url()};
    s.name = "c2-test-core";
    s.reconnect_wait_ms = 50;
    s.reconnect_wait_max_ms = 200;
    s.log = [](std::string_view) {};
    std::string err;
    auto l = nl::link::open(s, nullptr, err);
    REQUIRE(l);
    REQUIRE(wait_until([&] { return l->connected(); }, 5s));
    return l;
}

// The core node's side: serves subjects with a handler (request bytes -> reply bytes, or
// nullopt for silence) and publishes events. One mutex around the handlers and the codec.
class core_stub {
public:
    using handler = std::function<std::optional<std::string>(std::string_view request)>;

    explicit core_stub(const nats_server& srv) : link_(open_raw_link(srv)) {
        nl::link* l = link_.get();
        REQUIRE(link_->subscribe(probe_, "", [l](const nl::message& m) {
            if (!m.reply.empty()) l->publish(m.reply, "ok");
        }) == nl::status::ok);
    }

    // The link goes first: no handler runs once the members it uses are destroyed.
    ~core_stub() { link_.reset(); }

    // Returns once the server has processed every subscription made so far on this link: a
    // request sent after them on the same connection came back. (Another connection's
    // publish does not wait for our SUB, so a test that served a subject and at once sends
    // to it from the node could otherwise meet "no responders".)
    void sync() {
        auto p = std::make_shared<std::promise<nl::status>>();
        auto f = p->get_future();
        link_->request(probe_, "", 5000, [p](nl::status s, std::string_view) { p->set_value(s); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        REQUIRE(f.get() == nl::status::ok);
    }

    nl::link& link() { return *link_; }

    void serve(const std::string& subject, handler h) {
        auto shared = std::make_shared<handler>(std::move(h));
        nl::link* l = link_.get();
        std::atomic<uint64_t>* calls = &calls_[subject];
        REQUIRE(link_->subscribe(subject, "t-core", [this, l, shared, calls](const nl::message& m) {
            std::optional<std::string> reply;
            {
                std::lock_guard lk(mu);
                reply = (*shared)(m.data);
            }
            calls->fetch_add(1);
            if (reply && !m.reply.empty()) l->publish(m.reply, *reply);
        }) == nl::status::ok);
        sync();
    }
    uint64_t calls(const std::string& subject) { return calls_[subject].load(); }

    template <class M>
    void publish(const std::string& subject, const M& m) {
        std::string out;
        {
            std::lock_guard lk(mu);
            REQUIRE(enc.encode(m, out));
        }
        REQUIRE(link_->publish(subject, out) == nl::status::ok);
    }

    nl::status kv_put(const std::string& bucket, const std::string& key, const std::string& value) {
        auto p = std::make_shared<std::promise<nl::status>>();
        auto f = p->get_future();
        link_->kv_put(bucket, key, value, [p](nl::status s) { p->set_value(s); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        return f.get();
    }
    std::pair<nl::status, std::string> kv_get(const std::string& bucket, const std::string& key) {
        auto p = std::make_shared<std::promise<std::pair<nl::status, std::string>>>();
        auto f = p->get_future();
        link_->kv_get(bucket, key, [p](nl::status s, std::string_view v) { p->set_value({s, std::string(v)}); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        return f.get();
    }

    std::mutex mu;  // handlers run under it
    wire::encoder enc;
    wire::decoder dec;

private:
    std::unique_ptr<nl::link> link_;
    const std::string probe_ = "c2test.probe." + std::to_string(reinterpret_cast<uintptr_t>(this));
    std::map<std::string, std::atomic<uint64_t>> calls_;
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

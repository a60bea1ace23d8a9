// The core_nats tests' world: a real nats-server (free loopback port, temporary store), the
// plugin made in process through its descriptor on the SDK's fake host, and a small fake core
// node: a nats_link that serves the request subjects with core_wire replies the test chooses,
// the uplink stream and the cluster bucket.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
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
#include "tern/abi/core_capabilities.h"
#include "tern/abi/plugin.h"
#include "tern/core_wire/codec.hpp"
#include "tern/nats_link/link.hpp"
#include "tern/sdk/core.hpp"
#include "tern/sdk/testing.hpp"

extern "C" const tern_plugin_descriptor* tern_plugin_entry(void);

namespace core_nats_test {

using namespace std::chrono_literals;
using tern::nats_link::test::nats_server;
namespace nl = tern::nats_link;
namespace wire = tern::core_wire;
namespace testing = tern::sdk::testing;

#define NATS_OR_SKIP()                                                     \
    if (!nats_server::available()) {                                       \
        WARN("SKIP: nats-server is not installed (tools/dev.sh installs it)"); \
        return;                                                            \
    }

inline tern_str str(std::string_view s) { return {s.data(), s.size()}; }
inline std::string text(tern_str s) { return s.size == 0 ? std::string{} : std::string(s.data, s.size); }
inline std::string text(tern_bytes b) {
    return b.size == 0 ? std::string{} : std::string(reinterpret_cast<const char*>(b.data), b.size);
}
inline tern_bytes bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline tern_bytes bytes_of(std::string_view s) { return bytes(s); }

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (!p()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

inline std::unique_ptr<nl::link> open_link(const nats_server& srv) {
    nl::link_settings s;
    s.servers = {srv.url()};
    s.name = "core_nats-test-core";
    s.reconnect_wait_ms = 50;
    s.reconnect_wait_max_ms = 200;
    s.log = [](std::string_view) {};
    std::string err;
    auto l = nl::link::open(s, nullptr, err);
    REQUIRE(l);
    REQUIRE(wait_until([&] { return l->connected(); }, 5s));
    return l;
}

inline nl::status wait_done(const std::function<void(nl::link::done_fn)>& op) {
    auto p = std::make_shared<std::promise<nl::status>>();
    auto f = p->get_future();
    op([p](nl::status s) { p->set_value(s); });
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
}

// The fake core node. Handlers get the request bytes and return the reply bytes (nullopt:
// stay silent). One mutex around the codec: the test is not about speed.
class fake_core {
public:
    using handler = std::function<std::optional<std::string>(std::string_view request)>;

    explicit fake_core(const nats_server& srv, std::string prefix = "t") : prefix_(std::move(prefix)) {
        link_ = open_link(srv);
        nl::link* l = link_.get();
        REQUIRE(link_->subscribe(probe_, "", [l](const nl::message& m) {
            if (!m.reply.empty()) l->publish(m.reply, "");
        }) == nl::status::ok);
    }

    // A round trip through this core's own connection: the server has every subscription made
    // before it (a subscription on one connection is not ordered with a request from another,
    // so without it a node's first request may meet "no responders").
    void sync() {
        auto p = std::make_shared<std::promise<nl::status>>();
        auto f = p->get_future();
        link_->request(probe_, "", 5000, [p](nl::status s, std::string_view) { p->set_value(s); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        REQUIRE(f.get() == nl::status::ok);
    }

    nl::link& link() { return *link_; }
    const std::string& prefix() const { return prefix_; }
    std::string subject(std::string_view tail) const { return prefix_ + "." + std::string(tail); }

    // Serves <P>.<tail> with h in the core's queue group.
    void serve(std::string_view tail, handler h) {
        auto shared = std::make_shared<handler>(std::move(h));
        nl::link* l = link_.get();
        std::atomic<uint64_t>* calls = &calls_[std::string(tail)];
        REQUIRE(link_->subscribe(subject(tail), prefix_ + "-core", [this, l, shared, calls](const nl::message& m) {
            calls->fetch_add(1);
            std::optional<std::string> reply;
            {
                std::lock_guard lk(mu_);
                reply = (*shared)(m.data);
            }
            if (reply && !m.reply.empty()) l->publish(m.reply, *reply);
        }) == nl::status::ok);
        sync();
    }
    uint64_t calls(std::string_view tail) { return calls_[std::string(tail)].load(); }

    // The uplink stream and the partition count, as a bridge would make them.
    void make_uplink_stream(int64_t max_msgs = -1) {
        nl::stream_settings ss;
        ss.name = prefix_ + "_UP";
        ss.subjects = {prefix_ + ".up.>"};
        ss.work_queue = true;
        ss.discard_new = true;
        ss.max_msgs = max_msgs;
        ss.duplicate_window_ms = 120000;
        REQUIRE(wait_done([&](nl::link::done_fn cb) { link_->ensure_stream(ss, cb); }) == nl::status::ok);
    }
    void announce_partitions(uint32_t n) {
        REQUIRE(wait_done([&](nl::link::done_fn cb) {
                    link_->kv_put(prefix_ + "_cluster", "uplink_partitions", std::to_string(n), cb);
                }) == nl::status::ok);
    }

    // Every message of the uplink stream, read by a pull consumer (subject, data).
    std::vector<std::pair<std::string, std::string>> read_uplinks(std::size_t expected,
                                                                  std::chrono::milliseconds bound = 5s) {
        auto got = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
        auto mu = std::make_shared<std::mutex>();
        if (!consuming_) {
            nl::consumer_settings cs;
            cs.stream = prefix_ + "_UP";
            cs.durable = prefix_ + "-test-reader";
            cs.filter = prefix_ + ".up.>";
            cs.fetch_wait_ms = 100;
            REQUIRE(wait_done([&](nl::link::done_fn cb) {
                        link_->consume(
                            cs,
                            [this](nl::delivery&& d) {
                                std::lock_guard lk(read_mu_);
                                read_.emplace_back(std::string(d.subject()), std::string(d.data()));
                                d.ack();
                            },
                            cb);
                    }) == nl::status::ok);
            consuming_ = true;
        }
        wait_until(
            [&] {
                std::lock_guard lk(read_mu_);
                return read_.size() >= expected;
            },
            bound);
        std::lock_guard lk(read_mu_);
        auto out = read_;
        read_.clear();
        return out;
    }

    wire::encoder enc;  // for the handlers (under mu_)
    wire::decoder dec;

private:
    std::string prefix_;
    const std::string probe_ = "fake-core.probe." + std::to_string(reinterpret_cast<uintptr_t>(this));
    std::unique_ptr<nl::link> link_;
    std::mutex mu_;
    std::map<std::string, std::atomic<uint64_t>> calls_;
    bool consuming_ = false;
    std::mutex read_mu_;
    std::vector<std::pair<std::string, std::string>> read_;
};

// The plugin, made in process through its descriptor on the fake host.
struct plugin {
    testing::fake_host host;
    testing::instance_ptr inst;

    explicit plugin(const nats_server& srv, const std::function<void(testing::map_config&)>& tweak = {})
        : host(*tern_plugin_entry(), "core_nats") {
        host.config.set_strings("servers", {srv.url()});
        host.config.set("subject_prefix", "t");
        host.config.set("node_id", "n1");
        host.config.set("request_timeout", 500);
        host.config.set("publish_ack_timeout", 1000);
        host.config.set("reconnect_wait", 50);
        host.config.set("reconnect_wait_max", 200);
        if (tweak) tweak(host.config);
        inst = testing::create(*tern_plugin_entry(), host);
        std::string reason;
        REQUIRE(testing::start(*inst, &reason) == TERN_OK);
    }
    ~plugin() {
        if (inst) inst->stop();
    }

    template <class I>
    I& get() {
        I* i = testing::query<I>(*inst);
        REQUIRE(i != nullptr);
        return *i;
    }
    bool connected() { return host.metrics.value("core_nats_connected") == 1; }
    int64_t metric(std::string_view name, std::string_view labels = {}) { return host.metrics.value(name, labels); }
};

// A completion's result, waited for with a bound.
template <class T>
class result {
public:
    void set(T v) {
        std::lock_guard lk(mu_);
        v_ = std::move(v);
        ++count_;
        cv_.notify_all();
    }
    T get(std::chrono::milliseconds bound = 5s) {
        std::unique_lock lk(mu_);
        REQUIRE(cv_.wait_for(lk, bound, [&] { return count_ > 0; }));
        return v_;
    }
    int count() {
        std::lock_guard lk(mu_);
        return count_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    T v_{};
    int count_ = 0;
};

// status + message (tern_core_done_fn, tern_core_text_fn)
struct done_result {
    tern_status status = TERN_INTERNAL;
    std::string message;
};
inline void on_done(void* ctx, tern_status s, tern_str m) {
    static_cast<result<done_result>*>(ctx)->set(done_result{s, text(m)});
}

}  // namespace core_nats_test

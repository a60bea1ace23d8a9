// The core_nats tests' world: a real nats-server (free loopback port, temporary store), the
// plugin made in process through its descriptor on the SDK's fake host, and a small fake core
// node: a nats_link that serves the request subjects with core_wire replies the test chooses,
// the uplink stream and the cluster bucket.
#pragma once

#include <catch2/catch.hpp>

#include <condition_variable>
#include <vector>

#include "plugin_support.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/plugin.h"
#include "tern/sdk/core.hpp"

extern "C" const tern_plugin_descriptor* tern_plugin_entry(void);

namespace core_nats_test {

using namespace tern::nats_link::test;  // nats_server, wait_until, str, text, bytes, nl, wire, ...

inline tern_bytes bytes_of(std::string_view s) { return bytes(s); }

// A handler's answer: the reply bytes, or nullopt to stay silent.
using answer = std::optional<std::string>;

// The fake core node. Handlers get the request bytes and return the reply bytes (nullopt:
// stay silent). One mutex around the codec: the test is not about speed.
class fake_core : public responder {
public:
    explicit fake_core(const nats_server& srv, std::string prefix = "t")
        : responder(srv, "core_nats-test-core"), prefix_(std::move(prefix)) {}
    ~fake_core() { close(); }

    const std::string& prefix() const { return prefix_; }
    std::string subject(std::string_view tail) const { return prefix_ + "." + std::string(tail); }

    // Serves <P>.<tail> with h in the core's queue group.
    void serve(std::string_view tail, handler h) { responder::serve(subject(tail), prefix_ + "-core", std::move(h)); }
    uint64_t calls(std::string_view tail) { return responder::calls(subject(tail)); }

    // Serves <P>.<tail> with f, given the request decoded as a Req (one that does not decode
    // gets no reply); f returns the reply bytes, or nullopt to stay silent.
    template <class Req, class F>
    void serve_decoded(std::string_view tail, F f) {
        serve(tail, [this, f](std::string_view request) -> answer {
            Req in;
            if (!dec.decode(bytes(request), in)) return std::nullopt;
            return f(in);
        });
    }
    // A reply's bytes (for the handlers, which run under mu).
    template <class M>
    std::string encoded(const M& m) {
        std::string out;
        enc.encode(m, out);
        return out;
    }

    // The uplink stream and the partition count, as a bridge would make them.
    void make_uplink_stream(int64_t max_msgs = -1) {
        nl::stream_settings ss;
        ss.name = prefix_ + "_UP";
        ss.subjects = {prefix_ + ".up.>"};
        ss.work_queue = true;
        ss.discard_new = true;
        ss.max_msgs = max_msgs;
        ss.duplicate_window_ms = 120000;
        REQUIRE(wait_done([&](nl::link::done_fn cb) { link().ensure_stream(ss, cb); }) == nl::status::ok);
    }
    void announce_partitions(uint32_t n) {
        REQUIRE(wait_done([&](nl::link::done_fn cb) {
                    link().kv_put(prefix_ + "_cluster", "uplink_partitions", std::to_string(n), cb);
                }) == nl::status::ok);
    }

    // Every message of the uplink stream, read by a pull consumer (subject, data).
    std::vector<std::pair<std::string, std::string>> read_uplinks(std::size_t expected,
                                                                  std::chrono::milliseconds bound = 5s) {
        if (!consuming_) {
            nl::consumer_settings cs;
            cs.stream = prefix_ + "_UP";
            cs.durable = prefix_ + "-test-reader";
            cs.filter = prefix_ + ".up.>";
            cs.fetch_wait_ms = 100;
            REQUIRE(wait_done([&](nl::link::done_fn cb) {
                        link().consume(
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

    wire::encoder enc;  // for the handlers (under mu)
    wire::decoder dec;

private:
    std::string prefix_;
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

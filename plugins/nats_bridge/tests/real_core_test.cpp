// The bridge in front of the real embedded core: the core_embedded plugin library loaded as
// the kernel loads it, on the SDK's fake host, reached only through its ABI (its capabilities,
// and its CLI word for what an operator does). Uplinks applied twice store the same rows, a
// request authenticates a real device, and an RPC an operator sends reaches the node that
// subscribed the device.
#include <cstdlib>

#include "fixture.hpp"
#include "tern/abi/cli.h"
#include "tern/sdk/testing.hpp"

#ifndef TERN_CORE_EMBEDDED_PLUGIN
#error "TERN_CORE_EMBEDDED_PLUGIN must name the core_embedded plugin library"
#endif

namespace nats_bridge_test {

namespace {

// core_embedded on a temporary database, its capabilities offered as instance "core".
struct real_core {
    testing::plugin_library lib{TERN_CORE_EMBEDDED_PLUGIN};
    testing::fake_host host{lib.descriptor(), "core"};
    testing::instance_ptr inst;

    explicit real_core(const std::string& dir) {
        host.config.set("database", dir + "/core/tern.db");
        host.config.set("admin_bind", "127.0.0.1:0");  // the CLI word reaches the core through it
        host.config.set("read_threads", int64_t{1});
        host.config.set("group_commit_max_delay_us", int64_t{500});
        inst = testing::create(lib.descriptor(), host);
        std::string why;
        REQUIRE(testing::start(*inst, &why) == TERN_OK);
    }
    ~real_core() {
        if (inst) inst->stop();
    }

    void provide(testing::fake_registry& r) {
        for (const char* iid : {TERN_IID_CORE_AUTH_V1, TERN_IID_CORE_TELEMETRY_V1, TERN_IID_CORE_ATTRIBUTES_V1,
                                TERN_IID_CORE_RPC_V1, TERN_IID_CORE_PROVISIONING_V1, TERN_IID_CORE_OTA_V1,
                                TERN_IID_CORE_SESSIONS_V1, TERN_IID_CORE_EVENTS_V1})
            r.provide(iid, "core", inst->query(tern::sdk::to_str(iid)));
    }

    // `tern <args...>` as an operator runs it against this core; its output.
    std::string cli(const std::vector<std::string>& args) {
        auto* tool = static_cast<tern::cli_v1*>(inst->query(tern::sdk::to_str(TERN_IID_CLI_V1)));
        REQUIRE(tool != nullptr);
        std::vector<tern_str> argv;
        for (const auto& a : args) argv.push_back(tern::sdk::to_str(a));
        std::pair<std::string, std::string> io;
        auto sink_out = [](void* c, tern_str t) { static_cast<decltype(io)*>(c)->first.append(t.data, t.size); };
        auto sink_err = [](void* c, tern_str t) { static_cast<decltype(io)*>(c)->second.append(t.data, t.size); };
        const int rc = tool->run(static_cast<uint32_t>(argv.size()), argv.data(), sink_out, sink_err, &io);
        INFO(io.first << io.second);
        REQUIRE(rc == 0);
        return io.first;
    }

    uint64_t add_device(const std::string& name, const std::string& token) {
        cli({"device", "add", name, "--token", token});
        auto* auth = static_cast<tern::core_auth_v1*>(inst->query(tern::sdk::to_str(TERN_IID_CORE_AUTH_V1)));
        std::promise<uint64_t> p;
        auth->authenticate(
            TERN_CREDENTIAL_ACCESS_TOKEN, tern::sdk::to_str(token),
            [](void* c, tern_status st, const tern_device_record* d) {
                static_cast<std::promise<uint64_t>*>(c)->set_value(st == TERN_OK && d != nullptr ? d->device_id : 0);
            },
            &p);
        auto f = p.get_future();
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        const uint64_t id = f.get();
        REQUIRE(id != 0);
        return id;
    }

    // The stored points of key v, oldest first, as (ts, value) read from the CLI's JSON.
    std::vector<std::pair<int64_t, int64_t>> points(const std::string& device) {
        const std::string out = cli({"telemetry", device, "--key", "v", "--since", "0", "--until", "100000",
                                     "--limit", "10000", "--asc", "--json"});
        std::vector<std::pair<int64_t, int64_t>> pts;
        for (size_t at = out.find("\"ts\":"); at != std::string::npos; at = out.find("\"ts\":", at + 1)) {
            const int64_t ts = std::strtoll(out.c_str() + at + 5, nullptr, 10);
            const size_t v = out.find("\"value\":", at);
            REQUIRE(v != std::string::npos);
            pts.emplace_back(ts, std::strtoll(out.c_str() + v + 8, nullptr, 10));
        }
        return pts;
    }
};

}  // namespace

TEST_CASE("with the embedded core, uplinks applied twice leave the rows of applying them once", "[nats]") {
    NATS_OR_SKIP();
    world w;
    real_core rc(w.dir);
    w.provide_core = [&](testing::fake_registry& r) { rc.provide(r); };
    const uint64_t id = rc.add_device("meter-1", "meter-1-token-0001");
    REQUIRE(w.start_bridge() == TERN_OK);
    // Every message twice, as a re-application after a lost mark or a busy rewind would.
    for (int round = 0; round < 2; ++round)
        for (int64_t ts = 1000; ts < 1100; ++ts) REQUIRE(w.publish_telemetry(id, ts) == nl::status::ok);
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_applied_total", "op=\"telemetry\"") == 200; }, 15s));
    const auto pts = rc.points("meter-1");
    REQUIRE(pts.size() == 100);
    for (size_t i = 0; i < pts.size(); ++i) {
        CHECK(pts[i].first == 1000 + static_cast<int64_t>(i));
        CHECK(pts[i].second == pts[i].first);
    }
    CHECK(wait_until([&] { return w.stream_messages() == 0; }, 5s));
}

TEST_CASE("with the embedded core, a token authenticates and an RPC reaches the subscribed node", "[nats]") {
    NATS_OR_SKIP();
    world w;
    real_core rc(w.dir);
    w.provide_core = [&](testing::fake_registry& r) { rc.provide(r); };
    const uint64_t id = rc.add_device("valve-1", "valve-1-token-0001");
    REQUIRE(w.start_bridge() == TERN_OK);

    wire::encoder enc;
    wire::decoder dec;
    std::string bytes;
    REQUIRE(enc.encode(wire::authenticate_request{TERN_CREDENTIAL_ACCESS_TOKEN, str("valve-1-token-0001")}, bytes));
    reply r = w.request("tern.core.v1.auth.authenticate", bytes);
    REQUIRE(r.st == nl::status::ok);
    wire::authenticate_reply a;
    REQUIRE(dec.decode(tern_bytes{reinterpret_cast<const uint8_t*>(r.data.data()), r.data.size()}, a));
    REQUIRE(a.status == TERN_OK);
    REQUIRE(a.device != nullptr);
    CHECK(a.device->device_id == id);

    // Node n1 hears the device and subscribes its RPCs.
    std::mutex mu;
    std::vector<std::string> got;
    REQUIRE(w.client->subscribe("tern.node.n1.down.rpc", "", [&](const nl::message& m) {
        std::lock_guard lk(mu);
        got.emplace_back(m.data);
    }) == nl::status::ok);
    w.sync();
    REQUIRE(enc.encode(wire::subscribe_device_request{id, TERN_SUBSCRIBE_RPC, str("n1")}, bytes));
    r = w.request("tern.core.v1.events.subscribe", bytes);
    REQUIRE(r.st == nl::status::ok);

    // An operator sends an RPC on the core node (persistent: the word returns once it is queued;
    // nobody here reports it delivered).
    rc.cli({"rpc", "valve-1", "open", "{\"pct\":40}", "--persistent", "--timeout", "5000"});
    REQUIRE(wait_until([&] {
        std::lock_guard lk(mu);
        return !got.empty();
    }, 5s));
    wire::rpc_request_event ev;
    {
        std::lock_guard lk(mu);
        REQUIRE(dec.decode(tern_bytes{reinterpret_cast<const uint8_t*>(got[0].data()), got[0].size()}, ev));
    }
    CHECK(ev.device_id == id);
    CHECK(text(ev.rpc->method) == "open");
    w.stop_bridge();
}

}  // namespace nats_bridge_test

namespace nats_bridge_test {

// Not run by ctest (hidden): durable telemetry per second through the bridge into the
// embedded core, 20 000 messages of 200 devices published ahead. ./nats_bridge_core_test "[bench]"
TEST_CASE("bridge throughput into the embedded core", "[.][bench]") {
    NATS_OR_SKIP();
    world w;
    real_core rc(w.dir);
    w.provide_core = [&](testing::fake_registry& r) { rc.provide(r); };
    std::vector<uint64_t> ids;
    for (int i = 0; i < 200; ++i) ids.push_back(rc.add_device("d" + std::to_string(i), "token-" + std::to_string(i) + "-xxxx"));
    w.partitions = 16;
    REQUIRE(w.start_bridge() == TERN_OK);
    constexpr int total = 20000;
    wire::encoder enc;
    std::atomic<int> acked{0};
    const auto t0 = std::chrono::steady_clock::now();
    for (int n = 0; n < total; ++n) {
        const uint64_t id = ids[n % ids.size()];
        tern_kv kv{};
        kv.key = str("v");
        kv.value.type = TERN_VALUE_INT;
        kv.value.u.i = n;
        tern_ts_record rec{1000 + n, &kv, 1, 0};
        std::string bytes;
        REQUIRE(enc.encode(wire::post_telemetry_request{id, &rec, 1}, bytes));
        while (w.client->metrics().pending_publishes > 2000) std::this_thread::sleep_for(1ms);
        w.client->publish_durable("tern.up." + std::to_string(id % 16) + ".telemetry", bytes, "b." + std::to_string(n),
                                  [&](nl::status s, uint64_t) { if (s == nl::status::ok) ++acked; });
    }
    REQUIRE(wait_until([&] { return acked.load() == total; }, 60s));
    const auto t1 = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_applied_total", "op=\"telemetry\"") == total; }, 120s));
    const auto t2 = std::chrono::steady_clock::now();
    const double pub_s = std::chrono::duration<double>(t1 - t0).count();
    const double all_s = std::chrono::duration<double>(t2 - t0).count();
    WARN("published " << total << " in " << pub_s << " s (" << total / pub_s << "/s), applied all after " << all_s
                      << " s (" << total / all_s << "/s)");
}

}  // namespace nats_bridge_test

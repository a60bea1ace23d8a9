// events (tern.core.events/1 of a transport node) against a real nats-server: the per-device
// union told to the core nodes, downlinks and device events fanned out to the local handles,
// hello and reconnects re-sending the subscriptions, close() waiting for a running listener.
#include <catch2/catch.hpp>

#include <set>
#include <tuple>

#include "events.hpp"
#include "fixture.hpp"
#include "node_harness.hpp"
#include "registration.hpp"

using namespace c2_test;

namespace {

// What a local subscriber (device_api, power) receives.
struct listener final : tern::core_listener_v1 {
    std::mutex mu;
    std::vector<std::pair<uint64_t, std::string>> attributes;  // device, first key
    std::vector<std::pair<uint64_t, std::string>> rpcs;        // device, method
    std::vector<std::pair<uint64_t, tern_device_event>> device_events;
    std::atomic<int> sleep_ms{0};
    std::atomic<bool> inside{false};

    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t n, const tern_str*,
                               uint32_t) noexcept override {
        inside = true;
        if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms.load()));
        std::lock_guard lk(mu);
        attributes.emplace_back(device_id, n > 0 ? text(updated[0].key) : std::string());
        inside = false;
    }
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override {
        std::lock_guard lk(mu);
        rpcs.emplace_back(device_id, text(rpc->method));
    }
    void on_device_event(uint64_t device_id, tern_device_event event) noexcept override {
        std::lock_guard lk(mu);
        device_events.emplace_back(device_id, event);
    }
    std::size_t count_attributes() {
        std::lock_guard lk(mu);
        return attributes.size();
    }
    std::size_t count_rpcs() {
        std::lock_guard lk(mu);
        return rpcs.size();
    }
    std::size_t count_device_events() {
        std::lock_guard lk(mu);
        return device_events.size();
    }
};

// The core node's view of events.subscribe: every request, and how to answer.
struct subscribe_log {
    std::mutex mu;
    std::vector<std::tuple<uint64_t, uint32_t, std::string>> seen;  // device, flags, node
    std::atomic<tern_status> answer{TERN_OK};

    void serve(core_stub& core) {
        core.serve("t.core.v1.events.subscribe", [this, &core](std::string_view req) -> std::optional<std::string> {
            wire::subscribe_device_request r;
            if (!core.dec.decode(bytes(req), r)) return std::nullopt;  // (no Catch macro off the test thread)
            {
                std::lock_guard lk(mu);
                seen.emplace_back(r.device_id, r.flags, text(r.node_id));
            }
            return status_reply_bytes(core.enc, wire::status_op::subscribe_device, answer.load(),
                                      answer.load() == TERN_OK ? "" : "refused by the test");
        });
    }
    std::size_t size() {
        std::lock_guard lk(mu);
        return seen.size();
    }
    std::tuple<uint64_t, uint32_t, std::string> at(std::size_t i) {
        std::lock_guard lk(mu);
        return seen.at(i);
    }
};

// node + events (+ registration) in the order the plugin makes and stops them.
struct world {
    node_harness h;
    cn::registration reg;
    cn::events ev;

    explicit world(const nats_server& srv, const std::function<void(testing::map_config&)>& tweak = {},
                   const std::string& node_id = "n1")
        : h(srv, tweak, node_id), reg(*h.node), ev(*h.node, cn::events::options{64, 50ms, 400ms}) {
        h.node->set_registration(&reg);
        reg.on_claimed([this](uint64_t id) { ev.reclaim(id); });  // as the plugin wires them
        ev.register_metrics(h.sdk_host());
        ev.start();
        h.open();
    }
    ~world() {
        ev.stop();
        h.node->close();
    }
};

constexpr uint32_t A = TERN_SUBSCRIBE_ATTRIBUTES;
constexpr uint32_t R = TERN_SUBSCRIBE_RPC;

// The node's subscriptions are registered at the server once a request it sent after them was
// answered (one connection keeps its order; another connection's publish does not wait for our
// SUB). A confirmed device subscription is such a request.
void subscribed_barrier(world& w, uint64_t handle) {
    REQUIRE(w.ev.subscribe_device(handle, 999999, A) == TERN_OK);
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(999999) == A; }, 3s));
    w.ev.unsubscribe_device(handle, 999999, A);
}

void publish_attribute(core_stub& core, const std::string& node, uint64_t device, const char* key) {
    tern_kv kv{};
    kv.key = str(key);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = 42;
    wire::attributes_updated_event e;
    e.device_id = device;
    e.updated = &kv;
    e.updated_count = 1;
    core.publish("t.node." + node + ".down.attributes", e);
}

void publish_rpc(core_stub& core, const std::string& node, uint64_t device, const char* method) {
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.id = 7;
    rpc.method = str(method);
    rpc.params = str("{}");
    wire::rpc_request_event e;
    e.device_id = device;
    e.rpc = &rpc;
    core.publish("t.node." + node + ".down.rpc", e);
}

}  // namespace

TEST_CASE("events: the union of the local subscribers is sent once per change, with the node id", "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    log.serve(core);
    world w(srv);

    listener l1, l2;
    uint64_t h1 = 0, h2 = 0;
    REQUIRE(w.ev.subscribe(&l1, &h1) == TERN_OK);
    REQUIRE(w.ev.subscribe(&l2, &h2) == TERN_OK);
    REQUIRE(h1 != 0);
    REQUIRE(h1 != h2);

    REQUIRE(w.ev.subscribe_device(h1, 7, A) == TERN_OK);
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(7) == A; }, 3s));
    REQUIRE(w.ev.subscribe_device(h2, 7, A | R) == TERN_OK);
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(7) == (A | R); }, 3s));
    // Same union: nothing to say.
    REQUIRE(w.ev.subscribe_device(h1, 7, R) == TERN_OK);
    w.ev.unsubscribe_device(h2, 7, A | R);  // h1 still holds A|R
    std::this_thread::sleep_for(200ms);
    REQUIRE(log.size() == 2);
    CHECK(log.at(0) == std::make_tuple(uint64_t{7}, A, std::string("n1")));
    CHECK(log.at(1) == std::make_tuple(uint64_t{7}, A | R, std::string("n1")));

    // The last handle goes: flags 0, and the device is forgotten once the core said OK.
    w.ev.close(h1);
    REQUIRE(wait_until([&] { return log.size() == 3; }, 3s));
    CHECK(log.at(2) == std::make_tuple(uint64_t{7}, 0u, std::string("n1")));
    REQUIRE(wait_until([&] { return w.ev.unsynced() == 0; }, 3s));
    CHECK(w.ev.local_union(7) == 0);
    CHECK(w.h.metric("core_nats_requests_total", "op=\"subscribe_device\"") == 3);
    // Subscribing a device counts as hearing it: the registration put it in the bucket.
    REQUIRE(wait_until([&] { return w.reg.registered(7); }, 3s));
    CHECK(core.kv_get("t_device_node", "7").second == "n1");
    w.ev.close(h2);
}

TEST_CASE("events: bad handles and flags are refused, and event_subscribers subscribers at most", "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    world w(srv, [](testing::map_config& c) { c.set("event_subscribers", 64); });
    listener l;
    uint64_t h = 0;
    CHECK(w.ev.subscribe(nullptr, &h) == TERN_INVALID_ARGUMENT);
    CHECK(w.ev.subscribe_device(12345, 1, A) == TERN_NOT_FOUND);
    std::vector<uint64_t> hs(64);
    for (auto& x : hs) REQUIRE(w.ev.subscribe(&l, &x) == TERN_OK);
    CHECK(w.ev.subscribe(&l, &h) == TERN_BUSY);
    CHECK(h == 0);
    CHECK(w.h.metric("core_nats_event_subscribers_refused_total") == 1);
    // Unknown flag bits are ignored; none left means nothing to do.
    CHECK(w.ev.subscribe_device(hs[0], 1, 1u << 7) == TERN_OK);
    CHECK(w.ev.local_union(1) == 0);
    w.ev.close(hs[5]);
    CHECK(w.ev.subscribe_device(hs[5], 1, A) == TERN_NOT_FOUND);  // a closed handle is dead
    REQUIRE(w.ev.subscribe(&l, &h) == TERN_OK);
    CHECK(h != hs[5]);
    for (auto x : hs) w.ev.close(x);
    w.ev.close(h);
    CHECK(w.ev.subscribers() == 0);
}

TEST_CASE("events: downlinks reach the handles that subscribed the device for them, others are counted dropped",
          "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    log.serve(core);
    world w(srv);

    listener la, lr;
    uint64_t ha = 0, hr = 0;
    REQUIRE(w.ev.subscribe(&la, &ha) == TERN_OK);
    REQUIRE(w.ev.subscribe(&lr, &hr) == TERN_OK);
    REQUIRE(w.ev.subscribe_device(ha, 10, A) == TERN_OK);
    REQUIRE(w.ev.subscribe_device(hr, 10, R) == TERN_OK);
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(10) == (A | R); }, 3s));

    publish_attribute(core, "n1", 10, "fw_version");
    publish_rpc(core, "n1", 10, "reboot");
    publish_attribute(core, "n1", 11, "nobody");  // no local subscriber
    publish_rpc(core, "n1", 11, "nobody");
    publish_attribute(core, "n2", 10, "elsewhere");  // another node's subject

    REQUIRE(wait_until([&] { return la.count_attributes() == 1 && lr.count_rpcs() == 1; }, 3s));
    REQUIRE(wait_until([&] {
        return w.h.metric("core_nats_downlinks_dropped_total", "kind=\"rpc\"") == 1 &&
               w.h.metric("core_nats_downlinks_dropped_total", "kind=\"attributes\"") == 1;
    }, 3s));
    std::this_thread::sleep_for(100ms);
    CHECK(la.attributes.at(0) == std::make_pair(uint64_t{10}, std::string("fw_version")));
    CHECK(lr.rpcs.at(0) == std::make_pair(uint64_t{10}, std::string("reboot")));
    CHECK(la.count_rpcs() == 0);
    CHECK(lr.count_attributes() == 0);
    CHECK(w.h.metric("core_nats_downlinks_total", "kind=\"attributes\"") == 2);
    CHECK(w.h.metric("core_nats_downlinks_total", "kind=\"rpc\"") == 2);

    // A message that does not decode is logged and dropped, nothing crashes.
    REQUIRE(core.link().publish("t.node.n1.down.rpc", "\xff\xff\xff") == nl::status::ok);
    publish_rpc(core, "n1", 10, "after");
    REQUIRE(wait_until([&] { return lr.count_rpcs() == 2; }, 3s));
    w.ev.close(ha);
    w.ev.close(hr);
}

TEST_CASE("events: a device event makes the credential cache forget the device, then reaches every handle",
          "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    log.serve(core);
    world w(srv);

    tern_device_record rec{};
    rec.struct_size = sizeof rec;
    rec.device_id = 33;
    rec.device_name = str("d33");
    w.h.node->auth_cache().put(TERN_CREDENTIAL_ACCESS_TOKEN, "tok33", rec, w.h.node->auth_cache().epoch());
    REQUIRE(w.h.node->auth_cache().find(TERN_CREDENTIAL_ACCESS_TOKEN, "tok33") != nullptr);

    listener l1, l2;
    uint64_t h1 = 0, h2 = 0;
    REQUIRE(w.ev.subscribe(&l1, &h1) == TERN_OK);
    REQUIRE(w.ev.subscribe(&l2, &h2) == TERN_OK);
    subscribed_barrier(w, h1);
    wire::device_event e;
    e.device_id = 33;
    e.event = TERN_DEVICE_CREDENTIALS_CHANGED;
    core.publish("t.core.v1.events.device", e);
    REQUIRE(wait_until([&] { return l1.count_device_events() == 1 && l2.count_device_events() == 1; }, 3s));
    CHECK(l1.device_events.at(0) == std::make_pair(uint64_t{33}, tern_device_event{TERN_DEVICE_CREDENTIALS_CHANGED}));
    CHECK(w.h.node->auth_cache().find(TERN_CREDENTIAL_ACCESS_TOKEN, "tok33") == nullptr);
    w.ev.close(h1);
    w.ev.close(h2);
}

TEST_CASE("events: a refused subscription is retried until a core node takes it", "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    log.answer = TERN_BUSY;
    log.serve(core);
    world w(srv);

    listener l;
    uint64_t h = 0;
    REQUIRE(w.ev.subscribe(&l, &h) == TERN_OK);
    REQUIRE(w.ev.subscribe_device(h, 5, R) == TERN_OK);
    REQUIRE(wait_until([&] { return log.size() >= 3; }, 5s));  // 50, 100, 200 ms apart
    CHECK(w.ev.confirmed_union(5) == 0);
    CHECK(w.ev.unsynced() == 1);
    CHECK(wait_until(
        [&] { return w.h.metric("core_nats_request_failures_total", "op=\"subscribe_device\",status=\"busy\"") >= 3; },
        3s));
    log.answer = TERN_OK;
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(5) == R; }, 3s));
    CHECK(w.ev.unsynced() == 0);
    w.ev.close(h);
}

TEST_CASE("events: no core node yet, then one starts and says hello: every subscription is sent again",
          "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    world w(srv);

    listener l;
    uint64_t h = 0;
    REQUIRE(w.ev.subscribe(&l, &h) == TERN_OK);
    for (uint64_t d = 1; d <= 50; ++d) REQUIRE(w.ev.subscribe_device(h, d, d % 2 == 0 ? A : A | R) == TERN_OK);
    std::this_thread::sleep_for(200ms);  // no responders: each fails at once and waits to retry
    CHECK(w.ev.unsynced() == 50);

    log.serve(core);
    REQUIRE(core.kv_put("t_cluster", "uplink_partitions", "8") == nl::status::ok);
    REQUIRE(core.link().publish("t.core.v1.events.hello", "") == nl::status::ok);
    REQUIRE(wait_until([&] { return w.ev.unsynced() == 0; }, 5s));
    CHECK(w.ev.confirmed_union(2) == A);
    CHECK(w.ev.confirmed_union(3) == (A | R));
    // hello also makes the node read the partition count again.
    REQUIRE(wait_until([&] { return w.h.node->partitions() == 8; }, 3s));

    // A second hello (a core node restarted and knows nothing): all 50 again.
    const std::size_t before = log.size();
    REQUIRE(core.link().publish("t.core.v1.events.hello", "") == nl::status::ok);
    REQUIRE(wait_until([&] { return log.size() >= before + 50 && w.ev.unsynced() == 0; }, 5s));
    std::set<uint64_t> devices;
    for (std::size_t i = before; i < log.size(); ++i) devices.insert(std::get<0>(log.at(i)));
    CHECK(devices.size() == 50);
    w.ev.close(h);
}

TEST_CASE("events: after the NATS server restarts the subscriptions are sent again and downlinks flow",
          "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    auto log = std::make_unique<subscribe_log>();
    auto core = std::make_unique<core_stub>(srv);
    log->serve(*core);
    world w(srv);

    listener l;
    uint64_t h = 0;
    REQUIRE(w.ev.subscribe(&l, &h) == TERN_OK);
    REQUIRE(w.ev.subscribe_device(h, 9, A) == TERN_OK);
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(9) == A && w.reg.registered(9); }, 3s));
    const std::size_t before = log->size();

    srv.stop();
    REQUIRE(wait_until([&] { return !w.h.node->connected(); }, 5s));
    REQUIRE(srv.start());
    REQUIRE(wait_until([&] { return w.h.node->connected(); }, 10s));
    // The registration forgot its view (puts of other nodes may have been missed) ...
    CHECK(wait_until([&] { return !w.reg.registered(9); }, 3s));
    // ... and the subscription is told again (the stub reconnected too).
    REQUIRE(wait_until([&] { return log->size() > before && w.ev.unsynced() == 0; }, 10s));
    CHECK(std::get<0>(log->at(log->size() - 1)) == 9);
    // The downlink subscription survived the reconnect (nats.c renews it).
    REQUIRE(wait_until([&] {
        publish_attribute(*core, "n1", 9, "after_restart");
        return wait_until([&] { return l.count_attributes() > 0; }, 200ms);
    }, 5s));
    w.ev.close(h);
}

TEST_CASE("events: close() returns only after a running listener call has finished", "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    log.serve(core);
    world w(srv);

    listener l;
    l.sleep_ms = 300;
    uint64_t h = 0;
    REQUIRE(w.ev.subscribe(&l, &h) == TERN_OK);
    REQUIRE(w.ev.subscribe_device(h, 4, A) == TERN_OK);
    REQUIRE(wait_until([&] { return w.ev.confirmed_union(4) == A; }, 3s));
    publish_attribute(core, "n1", 4, "slow");
    REQUIRE(wait_until([&] { return l.inside.load(); }, 3s));
    w.ev.close(h);
    CHECK_FALSE(l.inside.load());
    CHECK(l.count_attributes() == 1);
    // Nothing reaches it any more.
    publish_attribute(core, "n1", 4, "late");
    std::this_thread::sleep_for(100ms);
    CHECK(l.count_attributes() == 1);
}

TEST_CASE("events: a device that comes back to a node whose subscription never ended is subscribed there again",
          "[events]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    core_stub core(srv);
    log.serve(core);
    world a(srv, {}, "n1");
    world b(srv, {}, "n2");

    listener la, lb;
    uint64_t ha = 0, hb = 0;
    REQUIRE(a.ev.subscribe(&la, &ha) == TERN_OK);
    REQUIRE(b.ev.subscribe(&lb, &hb) == TERN_OK);
    REQUIRE(a.ev.subscribe_device(ha, 8, R) == TERN_OK);
    REQUIRE(wait_until([&] { return a.ev.confirmed_union(8) == R && a.reg.registered(8); }, 3s));
    // The device moves to n2 without a word to n1 (n1's observation stays).
    REQUIRE(b.ev.subscribe_device(hb, 8, R) == TERN_OK);
    REQUIRE(wait_until([&] { return b.ev.confirmed_union(8) == R && !a.reg.registered(8); }, 3s));
    const std::size_t before = log.size();
    CHECK(std::get<2>(log.at(before - 1)) == "n2");
    // ... and back to n1, which hears it (an uplink): n1 claims it and subscribes it again,
    // so that the core node's owner of the subscription is n1 once more.
    a.h.node->heard(8);
    REQUIRE(wait_until([&] { return log.size() > before && a.ev.unsynced() == 0; }, 3s));
    CHECK(log.at(log.size() - 1) == std::make_tuple(uint64_t{8}, R, std::string("n1")));
    a.ev.close(ha);
    b.ev.close(hb);
}

// ---- through the plugin, as device_api sees it -------------------------------------------------

TEST_CASE("events: the plugin provides tern.core.events/1, an uplink registers the device and its downlinks arrive",
          "[events]") {
    C2_NATS_OR_SKIP();
    namespace ct = core_nats_test;
    nats_server srv;
    REQUIRE(srv.start());
    subscribe_log log;
    ct::fake_core core(srv);
    core.make_uplink_stream();
    core.announce_partitions(4);
    core.serve("core.v1.events.subscribe", [&core, &log](std::string_view req) -> std::optional<std::string> {
        wire::subscribe_device_request r;
        if (!core.dec.decode(bytes(req), r)) return std::nullopt;
        std::lock_guard lk(log.mu);
        log.seen.emplace_back(r.device_id, r.flags, text(r.node_id));
        return status_reply_bytes(core.enc, wire::status_op::subscribe_device, TERN_OK);
    });
    ct::plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    // A telemetry uplink of device 21: the node claims it in the device_node bucket.
    tern_kv kv{};
    kv.key = str("t");
    kv.value.type = TERN_VALUE_INT;
    tern_ts_record rec{};
    rec.ts = 1000;
    rec.values = &kv;
    rec.count = 1;
    REQUIRE(wait_until([&] {
        ct::result<ct::done_result> r;
        p.get<tern::core_telemetry_v1>().post_telemetry(21, &rec, 1, ct::on_done, &r);
        return r.get().status == TERN_OK;
    }, 3s));
    REQUIRE(wait_until([&] { return p.metric("core_nats_registrations_total") == 1; }, 3s));
    core_stub reader(srv);
    CHECK(reader.kv_get("t_device_node", "21").second == "n1");

    auto& ev = p.get<tern::core_events_v1>();
    listener l;
    uint64_t h = 0;
    REQUIRE(ev.subscribe(&l, &h) == TERN_OK);
    REQUIRE(ev.subscribe_device(h, 21, A | R) == TERN_OK);
    REQUIRE(wait_until([&] { return log.size() == 1; }, 3s));
    CHECK(log.at(0) == std::make_tuple(uint64_t{21}, A | R, std::string("n1")));

    tern_kv upd{};
    upd.key = str("target_fw");
    upd.value.type = TERN_VALUE_STR;
    upd.value.u.s = str("2.0");
    wire::attributes_updated_event e;
    e.device_id = 21;
    e.updated = &upd;
    e.updated_count = 1;
    reader.publish("t.node.n1.down.attributes", e);
    REQUIRE(wait_until([&] { return l.count_attributes() == 1; }, 3s));
    CHECK(l.attributes.at(0).second == "target_fw");
    CHECK(p.metric("core_nats_downlinks_total", "kind=\"attributes\"") == 1);
    ev.close(h);
}

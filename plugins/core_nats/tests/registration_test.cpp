// registration (the device_node bucket) against a real nats-server: one put per device per
// move, concurrent hearings sharing a put, another node taking the device, the LRU bound.
#include <catch2/catch.hpp>

#include "node_harness.hpp"
#include "registration.hpp"

using namespace c2_test;

namespace {

struct reg_world {
    node_harness h;
    cn::registration reg;

    explicit reg_world(const nats_server& srv, const std::function<void(testing::map_config&)>& tweak = {},
                       const std::string& node_id = "n1")
        : h(srv, tweak, node_id), reg(*h.node) {
        h.node->set_registration(&reg);
        h.open();
    }
    ~reg_world() { h.node->close(); }
    int64_t puts() { return h.metric("core_nats_registrations_total"); }
};

}  // namespace

TEST_CASE("registration: a device heard many times is put once, with this node's id", "[registration]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    core_stub core(srv);
    reg_world w(srv);

    for (int i = 0; i < 200; ++i) w.h.node->heard(42);
    REQUIRE(wait_until([&] { return w.reg.registered(42); }, 3s));
    for (int i = 0; i < 200; ++i) w.h.node->heard(42);
    std::this_thread::sleep_for(100ms);
    CHECK(w.puts() == 1);
    const auto [st, value] = core.kv_get("t_device_node", "42");
    CHECK(st == nl::status::ok);
    CHECK(value == "n1");
}

TEST_CASE("registration: concurrent hearings from many threads put each device exactly once", "[registration]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    core_stub core(srv);
    reg_world w(srv);

    std::vector<std::thread> shards;
    for (int t = 0; t < 8; ++t)
        shards.emplace_back([&] {
            for (int round = 0; round < 20; ++round)
                for (uint64_t d = 1000; d < 1100; ++d) w.h.node->heard(d);
        });
    for (auto& t : shards) t.join();
    REQUIRE(wait_until([&] { return w.reg.size() == 100; }, 5s));
    for (uint64_t d = 1000; d < 1100; ++d) w.h.node->heard(d);
    std::this_thread::sleep_for(100ms);
    CHECK(w.puts() == 100);
    CHECK(core.kv_get("t_device_node", "1099").second == "n1");
}

TEST_CASE("registration: a device another node takes is put again when this node hears it", "[registration]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    core_stub core(srv);
    reg_world a(srv, {}, "n1");
    reg_world b(srv, {}, "n2");

    a.h.node->heard(7);
    REQUIRE(wait_until([&] { return a.reg.registered(7); }, 3s));
    // The device moves to n2 (a UDP load balancer sent it there).
    b.h.node->heard(7);
    REQUIRE(wait_until([&] { return b.reg.registered(7) && !a.reg.registered(7); }, 3s));
    CHECK(core.kv_get("t_device_node", "7").second == "n2");
    // ... and back to n1: one more put there.
    a.h.node->heard(7);
    REQUIRE(wait_until([&] { return a.reg.registered(7) && !b.reg.registered(7); }, 3s));
    CHECK(core.kv_get("t_device_node", "7").second == "n1");
    CHECK(wait_until([&] { return a.puts() == 2 && b.puts() == 1; }, 3s));
    // A key deleted by an operator (empty value) is not this node's either.
    REQUIRE(core.kv_put("t_device_node", "7", "") == nl::status::ok);
    REQUIRE(wait_until([&] { return !a.reg.registered(7); }, 3s));
}

TEST_CASE("registration: the set keeps at most registration_cache_size devices", "[registration]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    reg_world w(srv, [](testing::map_config& c) { c.set("registration_cache_size", 32); });
    for (uint64_t d = 1; d <= 200; ++d) w.h.node->heard(d);
    REQUIRE(wait_until([&] { return w.puts() == 200; }, 10s));
    std::this_thread::sleep_for(100ms);
    CHECK(w.reg.size() <= 32);
    CHECK(w.reg.size() > 0);
}

TEST_CASE("registration: nothing is put while the link is down, and hearing after it is back puts", "[registration]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    reg_world w(srv);
    srv.stop();
    REQUIRE(wait_until([&] { return !w.h.node->connected(); }, 5s));
    w.h.node->heard(77);
    CHECK(w.puts() == 0);
    REQUIRE(srv.start());
    REQUIRE(wait_until([&] { return w.h.node->connected(); }, 10s));
    // The reconnect empties the set (its state event may run a moment after connected() says
    // so; a put made before it would be made once more).
    REQUIRE(wait_until([&] { return w.h.metric("core_nats_reconnects_total") == 1; }, 5s));
    std::this_thread::sleep_for(50ms);
    // Right after the reconnect the bucket may still be unreachable for a moment: keep hearing.
    REQUIRE(wait_until([&] {
        w.h.node->heard(77);
        return w.reg.registered(77);
    }, 10s));
    CHECK(wait_until([&] { return w.puts() == 1; }, 3s));
    std::this_thread::sleep_for(50ms);
    CHECK(w.puts() == 1);
}

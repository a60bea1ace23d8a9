// Durable uplinks through a real nats-server: applied once, in order, acknowledged; a
// redelivery skipped; busy answers retried in order; refusals acknowledged and counted;
// a restart of the bridge and of nats-server in the middle of a stream.
#include "fixture.hpp"
#include "state_file.hpp"

namespace nats_bridge_test {

namespace {

// For every device, the order of the last time each ts was stored is ascending: the state
// after all writes is the one of applying each message once, in stream order.
bool last_writes_in_order(const std::vector<fake_core::point>& stored) {
    std::map<uint64_t, std::vector<int64_t>> last;  // device -> ts by last write
    for (const auto& p : stored) {
        auto& v = last[p.device];
        std::erase(v, p.ts);
        v.push_back(p.ts);
    }
    for (const auto& [device, v] : last)
        if (!std::is_sorted(v.begin(), v.end())) return false;
    return true;
}

std::map<std::pair<uint64_t, int64_t>, int> counts(const std::vector<fake_core::point>& stored) {
    std::map<std::pair<uint64_t, int64_t>, int> c;
    for (const auto& p : stored) ++c[{p.device, p.ts}];
    return c;
}

}  // namespace

TEST_CASE("durable telemetry from several devices is applied once each, in order, and acknowledged", "[nats]") {
    NATS_OR_SKIP();
    world w;
    REQUIRE(w.start_bridge() == TERN_OK);
    for (int64_t ts = 1; ts <= 30; ++ts)
        for (uint64_t device = 1; device <= 5; ++device) REQUIRE(w.publish_telemetry(device, ts) == nl::status::ok);
    REQUIRE(wait_until([&] { return w.core.stored_count() >= 150; }, 10s));
    const auto stored = w.core.stored_copy();
    CHECK(stored.size() == 150);
    for (const auto& [key, n] : counts(stored)) CHECK(n == 1);
    CHECK(last_writes_in_order(stored));
    CHECK(w.metric("nats_bridge_applied_total", "op=\"telemetry\"") == 150);
    CHECK(w.metric("nats_bridge_connected") == 1);
    // Acknowledged: a work queue keeps nothing acked.
    CHECK(wait_until([&] { return w.stream_messages() == 0; }, 5s));
}

TEST_CASE("a delivery at or below the applied mark is acknowledged without being applied", "[nats]") {
    NATS_OR_SKIP();
    world w;
    REQUIRE(w.start_bridge() == TERN_OK);  // makes the stream
    w.stop_bridge();
    // 10 messages in the stream of partition 1 (device 1) while no bridge runs ...
    for (int64_t ts = 1; ts <= 10; ++ts) REQUIRE(w.publish_telemetry(1, ts) == nl::status::ok);
    // ... of which the first 6 were applied by a bridge whose acknowledgements were lost: its
    // state file says so (stream sequences are 1..10, all in partition 1).
    {
        tern::nats_bridge::state_file st;
        std::string err;
        REQUIRE(st.open(w.dir + "/bridge.db", err));
        REQUIRE(st.store("tern_UP", {{1u, 6u}}, err));
    }
    REQUIRE(w.start_bridge() == TERN_OK);
    REQUIRE(wait_until([&] { return w.core.stored_count() >= 4; }, 10s));
    REQUIRE(wait_until([&] { return w.stream_messages() == 0; }, 5s));
    const auto stored = w.core.stored_copy();
    REQUIRE(stored.size() == 4);
    CHECK(stored.front().ts == 7);
    CHECK(stored.back().ts == 10);
    CHECK(w.metric("nats_bridge_redeliveries_skipped_total") == 6);
}

TEST_CASE("a bridge restarted mid-stream applies every message once and in order", "[nats]") {
    NATS_OR_SKIP();
    world w;
    // The first bridge's core takes ts 1..20 and is busy from 21 on: the rest stays unacked.
    w.core.answer = [](uint64_t, int64_t ts, int) { return ts <= 20 ? TERN_OK : TERN_BUSY; };
    REQUIRE(w.start_bridge() == TERN_OK);
    for (int64_t ts = 1; ts <= 50; ++ts) REQUIRE(w.publish_telemetry(3, ts) == nl::status::ok);
    REQUIRE(wait_until([&] { return w.core.stored_count() >= 20; }, 10s));
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_busy_retries_total") >= 2; }, 5s));
    w.stop_bridge();
    {
        std::lock_guard lk(w.core.mu);
        w.core.answer = nullptr;
    }
    // The second one (same state file) gets the rest at once (a fresh consumer, not after the
    // 30 s ack wait) and in order.
    REQUIRE(w.start_bridge() == TERN_OK);
    REQUIRE(wait_until([&] { return w.core.stored_count() >= 50; }, 5s));
    std::this_thread::sleep_for(200ms);
    const auto stored = w.core.stored_copy();
    REQUIRE(stored.size() == 50);
    for (size_t i = 0; i < stored.size(); ++i) CHECK(stored[i].ts == static_cast<int64_t>(i + 1));
    CHECK(wait_until([&] { return w.stream_messages() == 0; }, 5s));
}

TEST_CASE("an uplink the core answers busy is applied again, and what follows it after it", "[nats]") {
    NATS_OR_SKIP();
    world w;
    // ts 5 of device 2 is refused busy three times; ts 12 of device 6 (same partition) once.
    w.core.answer = [](uint64_t device, int64_t ts, int attempt) {
        if (device == 2 && ts == 5 && attempt <= 3) return TERN_BUSY;
        if (device == 6 && ts == 12 && attempt <= 1) return TERN_BUSY;
        return TERN_OK;
    };
    REQUIRE(w.start_bridge() == TERN_OK);
    for (int64_t ts = 1; ts <= 20; ++ts) {
        REQUIRE(w.publish_telemetry(2, ts) == nl::status::ok);
        REQUIRE(w.publish_telemetry(6, ts) == nl::status::ok);
    }
    REQUIRE(wait_until([&] { return counts(w.core.stored_copy()).size() == 40; }, 10s));
    REQUIRE(wait_until([&] { return w.stream_messages() == 0; }, 5s));
    const auto stored = w.core.stored_copy();
    CHECK(last_writes_in_order(stored));
    CHECK(w.metric("nats_bridge_busy_retries_total") >= 4);
    CHECK(w.metric("nats_bridge_refused_total", "op=\"telemetry\"") == 0);
    CHECK(w.host->log.has("of device 2 (stream sequence"));
}

TEST_CASE("an uplink the core refuses is logged with its device, counted and acknowledged", "[nats]") {
    NATS_OR_SKIP();
    world w;
    w.core.answer = [](uint64_t device, int64_t, int) { return device == 13 ? TERN_INVALID_ARGUMENT : TERN_OK; };
    REQUIRE(w.start_bridge() == TERN_OK);
    REQUIRE(w.publish_telemetry(13, 1) == nl::status::ok);
    REQUIRE(w.publish_telemetry(14, 1) == nl::status::ok);
    REQUIRE(wait_until([&] { return w.core.stored_count() == 1; }, 10s));
    REQUIRE(wait_until([&] { return w.stream_messages() == 0; }, 5s));
    CHECK(w.metric("nats_bridge_refused_total", "op=\"telemetry\"") == 1);
    CHECK(w.host->log.has("of device 13"));
    // Bytes that are no telemetry message: refused the same way, never retried.
    auto p = std::make_shared<std::promise<nl::status>>();
    w.client->publish_durable("tern.up.0.telemetry", "\xff\xff not protobuf", "junk",
                              [p](nl::status s, uint64_t) { p->set_value(s); });
    REQUIRE(p->get_future().get() == nl::status::ok);
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_refused_total", "op=\"telemetry\"") == 2; }, 5s));
    CHECK(wait_until([&] { return w.stream_messages() == 0; }, 5s));
}

TEST_CASE("a partition count other than the cluster's refuses to start", "[nats]") {
    NATS_OR_SKIP();
    world w;
    auto p = std::make_shared<std::promise<nl::status>>();
    w.client->kv_put("tern_cluster", "uplink_partitions", "8", [p](nl::status s) { p->set_value(s); });
    REQUIRE(p->get_future().get() == nl::status::ok);
    std::string reason;
    CHECK(w.start_bridge(&reason, [](testing::map_config& c) { c.set("uplink_partitions", 16); }) != TERN_OK);
    CHECK(reason.find("uplink_partitions = 8") != std::string::npos);
    w.bridge.reset();
    // The same count starts.
    w.partitions = 8;
    CHECK(w.start_bridge() == TERN_OK);
}

TEST_CASE("the bridge writes the partition count when the cluster has none", "[nats]") {
    NATS_OR_SKIP();
    world w;
    REQUIRE(w.start_bridge() == TERN_OK);
    auto p = std::make_shared<std::promise<std::string>>();
    w.client->kv_get("tern_cluster", "uplink_partitions",
                     [p](nl::status, std::string_view v) { p->set_value(std::string(v)); });
    CHECK(p->get_future().get() == "4");
}

TEST_CASE("after a nats-server restart the bridge consumes and answers again by itself", "[nats]") {
    NATS_OR_SKIP();
    world w;
    REQUIRE(w.start_bridge() == TERN_OK);
    for (int64_t ts = 1; ts <= 10; ++ts) REQUIRE(w.publish_telemetry(7, ts) == nl::status::ok);
    REQUIRE(wait_until([&] { return w.core.stored_count() == 10; }, 10s));

    w.srv.stop();
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_connected") == 0; }, 5s));
    REQUIRE(w.srv.start());
    REQUIRE(wait_until([&] { return w.client->connected(); }, 10s));
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_connected") == 1; }, 10s));

    // Published until the bridge has set up again (a publish may meet the server still starting).
    for (int64_t ts = 11; ts <= 20; ++ts) {
        nl::status st = nl::status::error;
        wait_until([&] { return (st = w.publish_telemetry(7, ts)) == nl::status::ok; }, 5s);
        REQUIRE(st == nl::status::ok);
    }
    REQUIRE(wait_until([&] { return w.core.stored_count() >= 20; }, 15s));
    const auto stored = w.core.stored_copy();
    CHECK(stored.size() == 20);
    CHECK(last_writes_in_order(stored));
    // A request is served again too.
    wire::encoder enc;
    std::string bytes;
    REQUIRE(enc.encode(wire::authenticate_request{TERN_CREDENTIAL_ACCESS_TOKEN, str("good")}, bytes));
    reply r;
    wait_until([&] { return (r = w.request("tern.core.v1.auth.authenticate", bytes)).st == nl::status::ok; }, 5s);
    REQUIRE(r.st == nl::status::ok);
}

}  // namespace nats_bridge_test

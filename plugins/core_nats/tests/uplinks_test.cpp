// The durable uplinks of core_nats against a real nats-server with JetStream: completed OK only
// once the stream stored the message (read back by a consumer), on the device's partition,
// with unique msg ids; refused with the contract's statuses when the link is down, when no core
// node announced the partitions, when no stream or a full stream stores them, and when a
// message is too large; working again after the server comes back, without a plugin restart.
#include "fixture.hpp"

using namespace core_nats_test;

namespace {

done_result post(plugin& p, uint64_t device, int64_t ts, std::string_view key, int64_t value) {
    tern_kv kv{};
    kv.key = str(key);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = value;
    tern_ts_record rec{};
    rec.ts = ts;
    rec.values = &kv;
    rec.count = 1;
    result<done_result> r;
    p.get<tern::core_telemetry_v1>().post_telemetry(device, &rec, 1, on_done, &r);
    return r.get(5s);
}

// What a core node's bridge makes before uplinks can be stored: the stream and 4 partitions.
void make_uplink_target(fake_core& core) {
    core.make_uplink_stream();
    core.announce_partitions(4);
}

// Returns once p is connected and has stored a first message of device (ts 1000), so that it
// has read the partition count.
void wait_first_uplink(plugin& p, uint64_t device, std::string_view key) {
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));
    REQUIRE(wait_until([&] { return post(p, device, 1000, key, 1).status == TERN_OK; }, 3s));
}

}  // namespace

TEST_CASE("telemetry completes OK once the stream stored it, on the device's partition") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    make_uplink_target(core);
    plugin p(srv);
    wait_first_uplink(p, 42, "t");

    auto r = post(p, 42, 1001, "temp", 21);
    REQUIRE(r.status == TERN_OK);
    result<done_result> attrs;
    tern_kv kv{};
    kv.key = str("fw");
    kv.value.type = TERN_VALUE_STR;
    kv.value.u.s = str("1.0");
    p.get<tern::core_attributes_v1>().post_attributes(7, TERN_SCOPE_CLIENT, &kv, 1, on_done, &attrs);
    REQUIRE(attrs.get().status == TERN_OK);
    result<done_result> reply;
    p.get<tern::core_rpc_v1>().rpc_reply(42, 77, str("{\"ok\":true}"), on_done, &reply);
    REQUIRE(reply.get().status == TERN_OK);

    auto got = core.read_uplinks(4);
    REQUIRE(got.size() == 4);
    CHECK(got[0].first == "t.up.2.telemetry");  // 42 % 4
    CHECK(got[1].first == "t.up.2.telemetry");
    CHECK(got[2].first == "t.up.3.attributes");  // 7 % 4
    CHECK(got[3].first == "t.up.2.rpc_reply");
    wire::post_telemetry_request t;
    REQUIRE(core.dec.decode(bytes(got[1].second), t));
    CHECK(t.device_id == 42);
    REQUIRE(t.count == 1);
    CHECK(t.records[0].ts == 1001);
    CHECK(text(t.records[0].values[0].key) == "temp");
    CHECK(t.records[0].values[0].value.u.i == 21);
    wire::rpc_reply_request rr;
    REQUIRE(core.dec.decode(bytes(got[3].second), rr));
    CHECK(rr.rpc_id == 77);
    CHECK(p.metric("core_nats_uplinks_total", "op=\"telemetry\"") >= 2);
    CHECK(p.metric("core_nats_uplink_failures_total", "op=\"telemetry\",status=\"busy\"") == 0);
}

TEST_CASE("uplinks are refused until a core node announced the partitions, and BUSY without a stream or with a full one") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    auto r = post(p, 1, 1000, "a", 1);
    CHECK(r.status == TERN_UNAVAILABLE);
    CHECK(r.message == "no core node has announced the uplink partitions");

    // A bridge starts: it writes the partitions and says hello; there is no stream yet.
    core.announce_partitions(2);
    REQUIRE(core.link().publish(core.subject("core.v1.events.hello"), "") == nl::status::ok);
    REQUIRE(wait_until([&] { return post(p, 1, 1000, "a", 1).status != TERN_UNAVAILABLE; }, 3s));
    r = post(p, 1, 1000, "a", 1);
    CHECK(r.status == TERN_BUSY);

    core.make_uplink_stream(1);  // room for one message
    CHECK(post(p, 1, 1001, "a", 1).status == TERN_OK);
    r = post(p, 1, 1002, "a", 2);
    CHECK(r.status == TERN_BUSY);  // full, discard new: nothing acknowledged is dropped
    // 3: the wait above ends on its first BUSY (the hello made the node read the partitions).
    CHECK(p.metric("core_nats_uplink_failures_total", "op=\"telemetry\",status=\"busy\"") == 3);
    CHECK(p.metric("core_nats_uplink_failures_total", "op=\"telemetry\",status=\"unavailable\"") >= 1);
}

TEST_CASE("server stopped: uplinks and requests are UNAVAILABLE at once, and once restarted they work again without a plugin restart") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    {
        fake_core setup(srv);
        make_uplink_target(setup);
    }
    plugin p(srv);
    wait_first_uplink(p, 5, "a");

    srv.stop();
    REQUIRE(wait_until([&] { return p.host.metrics.value("core_nats_connected") == 0; }, 3s));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = post(p, 5, 1001, "a", 2);
    CHECK(r.status == TERN_UNAVAILABLE);
    CHECK(r.message == "core unreachable: NATS link is down");
    result<done_result> claim;
    p.get<tern::core_provisioning_v1>().claim(5, str("s"), 0, on_done, &claim);
    CHECK(claim.get().status == TERN_UNAVAILABLE);
    CHECK(std::chrono::steady_clock::now() - t0 < 200ms);

    REQUIRE(srv.start());  // same port, same store: the stream and the bucket are still there
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));
    CHECK(wait_until([&] { return post(p, 5, 1002, "a", 3).status == TERN_OK; }, 5s));
    CHECK(p.metric("core_nats_reconnects_total") >= 1);
    fake_core core(srv);
    auto got = core.read_uplinks(2);
    CHECK(got.size() == 2);  // the first and the last: the refused one was never stored
}

TEST_CASE("a telemetry message larger than max_message_bytes is INVALID_ARGUMENT and nothing is sent") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    make_uplink_target(core);
    plugin p(srv, [](testing::map_config& c) { c.set("max_message_bytes", 2048); });
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    const std::string big(4096, 'v');
    tern_kv kv{};
    kv.key = str("blob");
    kv.value.type = TERN_VALUE_STR;
    kv.value.u.s = str(big);
    tern_ts_record rec{};
    rec.ts = 1;
    rec.values = &kv;
    rec.count = 1;
    result<done_result> r;
    p.get<tern::core_telemetry_v1>().post_telemetry(3, &rec, 1, on_done, &r);
    auto d = r.get();
    CHECK(d.status == TERN_INVALID_ARGUMENT);
    CHECK(d.message.find("max_message_bytes") != std::string::npos);
    CHECK(p.metric("core_nats_uplink_failures_total", "op=\"telemetry\",status=\"invalid_argument\"") == 1);
}

// Requests, events.subscribe, downlinks and device events through a real nats-server.
#include <fstream>

#include "fixture.hpp"

namespace nats_bridge_test {

namespace {

template <class R>
std::string encoded(const R& r) {
    wire::encoder enc;
    std::string out;
    REQUIRE(enc.encode(r, out));
    return out;
}

nl::status kv_put(world& w, const std::string& bucket, const std::string& key, const std::string& value) {
    return wait_done([&](nl::link::done_fn cb) { w.client->kv_put(bucket, key, value, cb); });
}

// Messages received on a subject, kept for the test.
struct inbox {
    std::mutex mu;
    std::vector<std::string> got;
    void listen(nl::link& l, const std::string& subject) {
        REQUIRE(l.subscribe(subject, "", [this](const nl::message& m) {
            std::lock_guard lk(mu);
            got.emplace_back(m.data);
        }) == nl::status::ok);
    }
    size_t size() {
        std::lock_guard lk(mu);
        return got.size();
    }
    std::string at(size_t i) {
        std::lock_guard lk(mu);
        return got.at(i);
    }
};

wire::status_reply subscribe(world& w, uint64_t device, uint32_t flags, const char* node) {
    const reply r = w.request("tern.core.v1.events.subscribe",
                              encoded(wire::subscribe_device_request{device, flags, str(node)}));
    REQUIRE(r.st == nl::status::ok);
    wire::decoder dec;
    wire::status_reply out;
    out.op = wire::status_op::subscribe_device;
    REQUIRE(dec.decode(bytes(r.data), out));
    return out;
}

}  // namespace

TEST_CASE("authenticate and the other requests are answered with the core's answer", "[nats]") {
    NATS_OR_SKIP();
    world w;
    REQUIRE(w.start_bridge() == TERN_OK);
    wire::decoder dec;

    reply r = w.request("tern.core.v1.auth.authenticate",
                        encoded(wire::authenticate_request{TERN_CREDENTIAL_ACCESS_TOKEN, str("good")}));
    REQUIRE(r.st == nl::status::ok);
    wire::authenticate_reply a;
    REQUIRE(dec.decode(bytes(r.data), a));
    CHECK(a.status == TERN_OK);
    REQUIRE(a.device != nullptr);
    CHECK(a.device->device_id == 42);
    CHECK(text(a.device->device_name) == "meter-42");

    r = w.request("tern.core.v1.auth.authenticate",
                  encoded(wire::authenticate_request{TERN_CREDENTIAL_ACCESS_TOKEN, str("bad")}));
    REQUIRE(dec.decode(bytes(r.data), a));
    CHECK(a.status == TERN_NOT_FOUND);
    CHECK(a.device == nullptr);

    r = w.request("tern.core.v1.rpc.client", encoded(wire::client_rpc_request{42, str("getTime"), str("{}"), 1000}));
    wire::client_rpc_reply c;
    REQUIRE(dec.decode(bytes(r.data), c));
    CHECK(c.status == TERN_OK);
    CHECK(text(c.text) == "{\"ok\":true}");

    r = w.request("tern.core.v1.provisioning.claim", encoded(wire::claim_request{42, str("s"), 0}));
    wire::status_reply s;
    s.op = wire::status_op::claim;
    REQUIRE(dec.decode(bytes(r.data), s));
    CHECK(s.status == TERN_EXISTS);
    CHECK(text(s.message) == "already claimed");

    // Bytes that are no request: TERN_INVALID_ARGUMENT, not silence.
    r = w.request("tern.core.v1.auth.authenticate", "\xff\xff\xff");
    REQUIRE(dec.decode(bytes(r.data), a));
    CHECK(a.status == TERN_INVALID_ARGUMENT);
    CHECK(w.metric("nats_bridge_requests_total", "op=\"authenticate\"") == 3);

    // Fire and forget: handed to the core.
    REQUIRE(w.client->publish("tern.core.v1.sessions.event",
                              encoded(wire::session_event_request{42, TERN_SESSION_OPEN, str("n1/udp"), str("x")})) ==
            nl::status::ok);
    CHECK(wait_until([&] {
        std::lock_guard lk(w.core.mu);
        return w.core.sessions.size() == 1;
    }, 5s));
}

TEST_CASE("past max_requests_in_flight a request is answered busy at once", "[nats]") {
    NATS_OR_SKIP();
    world w;
    w.core.hold_client_rpcs = true;
    REQUIRE(w.start_bridge(nullptr, [](testing::map_config& c) { c.set("max_requests_in_flight", 1); }) == TERN_OK);
    const std::string call = encoded(wire::client_rpc_request{42, str("getTime"), str("{}"), 1000});
    auto first = std::make_shared<std::promise<reply>>();
    w.client->request("tern.core.v1.rpc.client", call, 5000,
                      [first](nl::status s, std::string_view d) { first->set_value(reply{s, std::string(d)}); });
    REQUIRE(wait_until([&] { return w.core.held_client_rpc_count() == 1; }, 5s));

    wire::decoder dec;
    wire::client_rpc_reply c;
    reply r = w.request("tern.core.v1.rpc.client", call);
    REQUIRE(r.st == nl::status::ok);
    REQUIRE(dec.decode(bytes(r.data), c));
    CHECK(c.status == TERN_BUSY);
    CHECK(w.metric("nats_bridge_requests_busy_total") == 1);

    w.core.release_client_rpcs();
    r = first->get_future().get();
    REQUIRE(r.st == nl::status::ok);
    REQUIRE(dec.decode(bytes(r.data), c));
    CHECK(c.status == TERN_OK);
    CHECK(text(c.text) == "{\"late\":true}");
}

TEST_CASE("a call still with the core at stop does not hold the stop, and completes harmlessly later", "[nats]") {
    NATS_OR_SKIP();
    world w;
    w.core.hold_client_rpcs = true;
    REQUIRE(w.start_bridge() == TERN_OK);
    auto first = std::make_shared<std::promise<reply>>();
    w.client->request("tern.core.v1.rpc.client", encoded(wire::client_rpc_request{42, str("m"), str("{}"), 1000}),
                      500, [first](nl::status s, std::string_view d) { first->set_value(reply{s, std::string(d)}); });
    REQUIRE(wait_until([&] { return w.core.held_client_rpc_count() == 1; }, 5s));
    const auto t0 = std::chrono::steady_clock::now();
    w.stop_bridge();
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    w.core.release_client_rpcs();  // the bridge is gone: nothing is sent, nothing breaks
    CHECK(first->get_future().get().st == nl::status::timeout);
}

TEST_CASE("ota.chunk reads the range of the package assigned to the device, and only that one", "[nats]") {
    NATS_OR_SKIP();
    world w;
    w.core.ota_path = w.dir + "/fw.bin";
    std::ofstream(w.core.ota_path) << "0123456789abcdef";
    REQUIRE(w.start_bridge() == TERN_OK);
    wire::decoder dec;
    wire::ota_chunk_reply c;

    reply r = w.request("tern.core.v1.ota.chunk", encoded(wire::ota_chunk_request{42, TERN_OTA_FIRMWARE, 9, 3, 5}));
    REQUIRE(r.st == nl::status::ok);
    REQUIRE(dec.decode(bytes(r.data), c));
    CHECK(c.status == TERN_OK);
    CHECK(c.total_size == 16);
    CHECK(text(c.data) == "34567");

    r = w.request("tern.core.v1.ota.chunk", encoded(wire::ota_chunk_request{42, TERN_OTA_FIRMWARE, 9, 14, 100}));
    REQUIRE(dec.decode(bytes(r.data), c));
    CHECK(c.status == TERN_OK);
    CHECK(text(c.data) == "ef");

    // Another package than the one assigned: not found.
    r = w.request("tern.core.v1.ota.chunk", encoded(wire::ota_chunk_request{42, TERN_OTA_FIRMWARE, 8, 0, 5}));
    REQUIRE(dec.decode(bytes(r.data), c));
    CHECK(c.status == TERN_NOT_FOUND);
    CHECK(c.data.size == 0);
}

TEST_CASE("events.subscribe follows the device's owner and resends pending RPCs when it moves", "[nats]") {
    NATS_OR_SKIP();
    world w;
    REQUIRE(w.start_bridge() == TERN_OK);
    CHECK(subscribe(w, 5, TERN_SUBSCRIBE_RPC | TERN_SUBSCRIBE_ATTRIBUTES, "nodeA").status == TERN_OK);
    CHECK(w.bridge != nullptr);
    {
        std::lock_guard lk(w.core.mu);
        REQUIRE(w.core.subscribed.size() == 1);
        CHECK(w.core.resends.empty());  // a first owner: nothing moved
    }
    // The device moves to node B, which wants RPCs only.
    CHECK(subscribe(w, 5, TERN_SUBSCRIBE_RPC, "nodeB").status == TERN_OK);
    {
        std::lock_guard lk(w.core.mu);
        CHECK(w.core.resends == std::vector<uint64_t>{5});
        REQUIRE(w.core.unsubscribed.size() == 1);
        CHECK(std::get<1>(w.core.unsubscribed[0]) == TERN_SUBSCRIBE_ATTRIBUTES);
    }
    // Node A's late goodbye changes nothing; node B's ends the subscription.
    CHECK(subscribe(w, 5, 0, "nodeA").status == TERN_OK);
    {
        std::lock_guard lk(w.core.mu);
        CHECK(w.core.unsubscribed.size() == 1);
    }
    CHECK(subscribe(w, 5, 0, "nodeB").status == TERN_OK);
    {
        std::lock_guard lk(w.core.mu);
        REQUIRE(w.core.unsubscribed.size() == 2);
        CHECK(std::get<1>(w.core.unsubscribed[1]) == TERN_SUBSCRIBE_RPC);
    }
    // A node id that cannot be a subject token is refused.
    CHECK(subscribe(w, 5, TERN_SUBSCRIBE_RPC, "a.b").status == TERN_INVALID_ARGUMENT);
}

TEST_CASE("downlinks go to the node the device_node bucket names, and device events to every node", "[nats]") {
    NATS_OR_SKIP();
    world w;
    // Known before the bridge starts: found by reading the bucket on the first downlink.
    REQUIRE(kv_put(w, "tern_device_node", "77", "nodeA") == nl::status::ok);
    REQUIRE(w.start_bridge() == TERN_OK);
    inbox a_attrs, b_rpc, events;
    a_attrs.listen(*w.client, "tern.node.nodeA.down.attributes");
    b_rpc.listen(*w.client, "tern.node.nodeB.down.rpc");
    events.listen(*w.client, "tern.core.v1.events.device");
    w.sync();
    REQUIRE(w.core.listener != nullptr);

    tern_kv kv{};
    kv.key = str("target");
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = 21;
    w.core.listener->on_attributes_updated(77, &kv, 1, nullptr, 0);
    REQUIRE(wait_until([&] { return a_attrs.size() == 1; }, 5s));
    wire::decoder dec;
    wire::attributes_updated_event ev;
    REQUIRE(dec.decode(bytes(a_attrs.at(0)), ev));
    CHECK(ev.device_id == 77);
    REQUIRE(ev.updated_count == 1);
    CHECK(ev.updated[0].value.u.i == 21);
    CHECK(w.bridge != nullptr);

    // A put while the bridge runs reaches its cache live.
    REQUIRE(kv_put(w, "tern_device_node", "78", "nodeB") == nl::status::ok);
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_route_cache_entries") == 2; }, 5s));
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.id = 3;
    rpc.method = str("reboot");
    w.core.listener->on_rpc_request(78, &rpc);
    REQUIRE(wait_until([&] { return b_rpc.size() == 1; }, 5s));
    wire::rpc_request_event re;
    REQUIRE(dec.decode(bytes(b_rpc.at(0)), re));
    CHECK(re.device_id == 78);
    CHECK(text(re.rpc->method) == "reboot");

    // The device moves: the next downlink follows it.
    inbox a_rpc;
    a_rpc.listen(*w.client, "tern.node.nodeA.down.rpc");
    w.sync();
    REQUIRE(kv_put(w, "tern_device_node", "78", "nodeA") == nl::status::ok);
    // (the put reaches the bridge's cache a moment later: until then RPCs still go to B)
    REQUIRE(wait_until([&] {
        w.core.listener->on_rpc_request(78, &rpc);
        return wait_until([&] { return a_rpc.size() >= 1; }, 100ms);
    }, 5s));

    // Nobody heard device 99: counted, not sent.
    w.core.listener->on_rpc_request(99, &rpc);
    REQUIRE(wait_until([&] { return w.metric("nats_bridge_downlinks_unrouted_total", "kind=\"rpc\"") == 1; }, 5s));

    // A device event goes to every node.
    w.core.listener->on_device_event(42, TERN_DEVICE_CREDENTIALS_CHANGED);
    REQUIRE(wait_until([&] { return events.size() == 1; }, 5s));
    wire::device_event de;
    REQUIRE(dec.decode(bytes(events.at(0)), de));
    CHECK(de.device_id == 42);
    CHECK(de.event == TERN_DEVICE_CREDENTIALS_CHANGED);
}

TEST_CASE("the bridge says hello when it starts", "[nats]") {
    NATS_OR_SKIP();
    world w;
    inbox hello;
    hello.listen(*w.client, "tern.core.v1.events.hello");
    w.sync();
    REQUIRE(w.start_bridge() == TERN_OK);
    CHECK(wait_until([&] { return hello.size() == 1; }, 5s));
}

}  // namespace nats_bridge_test

// Server-side RPC states, persistence and expiry; client-side RPC built-ins and queue.
#include <thread>

#include "json.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
core_metrics metrics;

void ignore(void*, tern_status, tern_str) {}

struct rpc_fixture {
    temp_dir dir;
    core_settings settings = settings_for(dir);
    embedded_core core{metrics, {}};
    recording_listener listener;
    device dev;

    rpc_fixture() {
        core.start(settings);
        core.set_listener(&listener);
        dev = add_device(core, "r", token("rpc-token"));
    }
    ~rpc_fixture() { core.set_listener(nullptr); }

    std::future<result<rpc_record>> send(rpc_request_spec spec) {
        auto p = std::make_shared<std::promise<result<rpc_record>>>();
        auto f = p->get_future();
        spec.device = spec.device.empty() ? "r" : spec.device;
        core.send_rpc(spec, [p](result<rpc_record> r) { p->set_value(std::move(r)); });
        return f;
    }
    rpc_record status(int64_t id) {
        auto r = await<rpc_record>([&](auto cb) { core.get_rpc("r", id, cb); });
        REQUIRE(r.ok());
        return r.value;
    }
    size_t rpcs_seen() { return listener.locked([&] { return listener.rpcs.size(); }); }
};

rpc_request_spec two_way(const std::string& method, int64_t timeout_ms = 5000) {
    rpc_request_spec s;
    s.method = method;
    s.params = "{\"pin\":4}";
    s.timeout_ms = timeout_ms;
    return s;
}

}  // namespace

TEST_CASE("two-way RPC to a subscribed device: QUEUED, SENT, DELIVERED, SUCCESSFUL with the reply", "[rpc]") {
    rpc_fixture f;
    f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
    // The transport's side: reports progress and replies, as a device would.
    f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
        f.core.rpc_status(c.device, c.id, TERN_RPC_SENT, {});
        f.core.rpc_status(c.device, c.id, TERN_RPC_DELIVERED, {});
        // Listener calls may run on the writer's thread: never wait for a completion there.
        f.core.rpc_reply(c.device, c.id, to_str("{\"value\":1}"), &ignore, nullptr);
    };
    auto fut = f.send(two_way("setGpio"));
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    auto r = fut.get();
    REQUIRE(r.ok());
    CHECK(r.value.status == TERN_RPC_SUCCESSFUL);
    CHECK(r.value.result == "{\"value\":1}");
    CHECK(r.value.id == 1);
    f.listener.locked([&] {
        REQUIRE(f.listener.rpcs.size() == 1);
        CHECK(f.listener.rpcs[0].method == "setGpio");
        CHECK(f.listener.rpcs[0].params == "{\"pin\":4}");
        CHECK(f.listener.rpcs[0].flags == 0u);
        CHECK(f.listener.rpcs[0].expiration > now_ms());
        return 0;
    });
    flush_wait(f.core);
    auto stored = f.status(1);
    CHECK(stored.status == TERN_RPC_SUCCESSFUL);
    CHECK(stored.result == "{\"value\":1}");
    CHECK(stored.method == "setGpio");

    // ids increase per device
    f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
        f.core.rpc_reply(c.device, c.id, to_str("{}"), &ignore, nullptr);
    };
    auto second = f.send(two_way("again"));
    REQUIRE(second.wait_for(deadline) == std::future_status::ready);
    CHECK(second.get().value.id == 2);

    // a late (repeated) reply is accepted without change; an unknown id is not
    done_wait late, unknown;
    f.core.rpc_reply(f.dev.id, 1, to_str("{\"value\":2}"), &done_wait::fn, &late);
    CHECK(late.get().first == TERN_OK);
    f.core.rpc_reply(f.dev.id, 99, to_str("{}"), &done_wait::fn, &unknown);
    CHECK(unknown.get().first == TERN_NOT_FOUND);
    CHECK(f.status(1).result == "{\"value\":1}");
}

TEST_CASE("one-way RPC: delivery is success", "[rpc]") {
    rpc_fixture f;
    f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
    f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
        f.core.rpc_status(c.device, c.id, TERN_RPC_DELIVERED, {});
    };
    rpc_request_spec s = two_way("blink");
    s.oneway = true;
    auto fut = f.send(s);
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    CHECK(fut.get().value.status == TERN_RPC_SUCCESSFUL);
    CHECK(f.listener.locked([&] { return f.listener.rpcs.at(0).flags; }) == uint32_t(TERN_RPC_ONEWAY));
}

TEST_CASE("a failure reported by the transport ends the RPC as FAILED", "[rpc]") {
    rpc_fixture f;
    f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
    f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
        f.core.rpc_status(c.device, c.id, TERN_RPC_FAILED, to_str("Failed to convert device RPC command to CoAP msg"));
    };
    auto fut = f.send(two_way("bad"));
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    auto r = fut.get().value;
    CHECK(r.status == TERN_RPC_FAILED);
    CHECK(r.error == "Failed to convert device RPC command to CoAP msg");
}

TEST_CASE("non-persistent RPC to an unsubscribed device expires, a silent device times out", "[rpc]") {
    rpc_fixture f;
    SECTION("never delivered: EXPIRED at its expiration") {
        auto fut = f.send(two_way("nobody", 300));
        REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
        auto r = fut.get().value;
        CHECK(r.status == TERN_RPC_EXPIRED);
        CHECK(f.rpcs_seen() == 0);
        flush_wait(f.core);
        CHECK(f.status(r.id).status == TERN_RPC_EXPIRED);
    }
    SECTION("queued, then the device subscribes before expiry: it goes out") {
        auto fut = f.send(two_way("later", 3000));
        std::this_thread::sleep_for(50ms);
        CHECK(f.rpcs_seen() == 0);
        f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
            f.core.rpc_reply(c.device, c.id, to_str("{\"ok\":true}"), &ignore, nullptr);
        };
        f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
        REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
        CHECK(fut.get().value.status == TERN_RPC_SUCCESSFUL);
    }
    SECTION("delivered but never answered: TIMEOUT") {
        f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
        f.listener.on_rpc = [&](const recording_listener::rpc_call& c) {
            f.core.rpc_status(c.device, c.id, TERN_RPC_DELIVERED, {});
        };
        auto fut = f.send(two_way("silent", 300));
        REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
        CHECK(fut.get().value.status == TERN_RPC_TIMEOUT);
    }
}

TEST_CASE("persistent RPCs wait for the device and are re-sent until delivered", "[rpc]") {
    rpc_fixture f;
    rpc_request_spec s = two_way("configure", 60000);
    s.persistent = true;
    auto fut = f.send(s);
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    auto queued = fut.get();
    REQUIRE(queued.ok());
    CHECK(queued.value.status == TERN_RPC_QUEUED);  // answered at once, not waited for
    CHECK(queued.value.flags == uint32_t(TERN_RPC_PERSISTENT));
    std::this_thread::sleep_for(50ms);
    CHECK(f.rpcs_seen() == 0);

    f.core.subscribe(f.dev.id, TERN_SUBSCRIBE_RPC);
    REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == 1; }));
    f.core.rpc_status(f.dev.id, queued.value.id, TERN_RPC_SENT, {});
    // the device slept through it: the transport asks again when it wakes
    f.core.resend_pending_rpcs(f.dev.id);
    REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == 2; }));
    f.core.rpc_status(f.dev.id, queued.value.id, TERN_RPC_DELIVERED, {});
    f.core.resend_pending_rpcs(f.dev.id);
    std::this_thread::sleep_for(100ms);
    CHECK(f.rpcs_seen() == 2);  // delivered: no more copies
    flush_wait(f.core);
    CHECK(f.status(queued.value.id).status == TERN_RPC_DELIVERED);

    // a transport TIMEOUT puts it back in the queue while retries last
    rpc_request_spec t = two_way("retry", 60000);
    t.persistent = true;
    t.oneway = true;
    auto ft = f.send(t);
    REQUIRE(ft.wait_for(deadline) == std::future_status::ready);
    const int64_t id = ft.get().value.id;
    REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == 3; }));
    for (int i = 0; i < f.settings.rpc_max_retries; ++i) {
        f.core.rpc_status(f.dev.id, id, TERN_RPC_TIMEOUT, {});
        f.core.resend_pending_rpcs(f.dev.id);
        const size_t want = 4 + i;
        REQUIRE(f.listener.wait_for([&] { return f.listener.rpcs.size() == want; }));
    }
    f.core.rpc_status(f.dev.id, id, TERN_RPC_TIMEOUT, {});  // retries spent
    flush_wait(f.core);
    auto last = f.status(id);
    CHECK(last.status == TERN_RPC_TIMEOUT);
    CHECK(last.retries == f.settings.rpc_max_retries);
}

TEST_CASE("persistent RPCs survive a restart, non-persistent ones do not", "[rpc]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    int64_t kept = 0, lost = 0;
    uint64_t dev = 0;
    {
        embedded_core core(metrics, {});
        core.start(s);
        dev = add_device(core, "r").id;
        rpc_request_spec p = two_way("keep", 60000);
        p.device = "r";
        p.persistent = true;
        kept = await<rpc_record>([&](auto cb) { core.send_rpc(p, cb); }).value.id;
        rpc_request_spec n = two_way("lose", 60000);
        n.device = "r";
        n.wait = false;
        lost = await<rpc_record>([&](auto cb) { core.send_rpc(n, cb); }).value.id;
        core.stop();
    }
    embedded_core core(metrics, {});
    core.start(s);
    recording_listener l;
    core.set_listener(&l);
    core.subscribe(dev, TERN_SUBSCRIBE_RPC);
    REQUIRE(l.wait_for([&] { return l.rpcs.size() == 1; }));
    CHECK(l.locked([&] { return l.rpcs[0].id; }) == kept);
    auto gone = await<rpc_record>([&](auto cb) { core.get_rpc("r", lost, cb); });
    CHECK(gone.value.status == TERN_RPC_EXPIRED);
    core.set_listener(nullptr);
}

TEST_CASE("RPC to an unknown device or without method is refused", "[rpc]") {
    rpc_fixture f;
    rpc_request_spec s = two_way("x");
    s.device = "nope";
    auto fut = f.send(s);
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    CHECK(fut.get().status == TERN_NOT_FOUND);
    auto empty = f.send(two_way(""));
    REQUIRE(empty.wait_for(deadline) == std::future_status::ready);
    CHECK(empty.get().status == TERN_INVALID_ARGUMENT);
}

// ---- client-side RPC --------------------------------------------------------------------

TEST_CASE("client-side RPC: built-in answers", "[client-rpc]") {
    rpc_fixture f;
    auto call = [&](const char* method, const char* params) {
        text_wait w;
        auto fut = w.future();
        f.core.client_rpc(f.dev.id, to_str(method), to_str(params), 1000, &text_wait::fn, &w);
        REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
        return fut.get();
    };
    const int64_t before = now_ms();
    auto t = call("getCurrentTime", "{}");
    REQUIRE(t.first == TERN_OK);
    rapidjson::Document d;
    REQUIRE(json::parse(t.second, d).empty());
    REQUIRE(d.HasMember("time"));
    CHECK(d["time"].GetInt64() >= before);
    CHECK(d["time"].GetInt64() <= now_ms());

    auto p = call("ping", "{\"n\":1}");
    CHECK(p.second == "{\"pong\":{\"n\":1}}");
    auto i = call("getDeviceInfo", "null");
    REQUIRE(i.first == TERN_OK);
    CHECK(i.second == "{\"id\":" + std::to_string(f.dev.id) + ",\"name\":\"r\",\"profile\":\"default\"}");
}

TEST_CASE("client-side RPC: the operator queue, its timeout and its bound", "[client-rpc]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.client_rpc_queue_capacity = 2;
    embedded_core core(metrics, {});
    core.start(s);
    const device d = add_device(core, "c");

    text_wait answered, timed_out, third;
    auto fa = answered.future(), ft = timed_out.future(), f3 = third.future();
    core.client_rpc(d.id, to_str("getWeather"), to_str("{\"city\":\"Oslo\"}"), 5000, &text_wait::fn, &answered);
    core.client_rpc(d.id, to_str("slow"), to_str("null"), 200, &text_wait::fn, &timed_out);
    core.client_rpc(d.id, to_str("third"), to_str("null"), 5000, &text_wait::fn, &third);
    REQUIRE(f3.wait_for(deadline) == std::future_status::ready);
    CHECK(f3.get().first == TERN_BUSY);  // the queue holds two

    auto list = await<std::vector<client_rpc_entry>>([&](auto cb) { core.list_client_rpcs(cb); });
    REQUIRE(list.ok());
    REQUIRE(list.value.size() == 2);
    CHECK(list.value[0].method == "getWeather");
    CHECK(list.value[0].device_name == "c");
    CHECK(list.value[0].params == "{\"city\":\"Oslo\"}");
    CHECK(list.value[0].deadline_ts > list.value[0].received_ts);

    CHECK(core.reply_client_rpc(list.value[0].id, "{\"temp\":-3}") == TERN_OK);
    REQUIRE(fa.wait_for(deadline) == std::future_status::ready);
    CHECK(fa.get() == std::make_pair(tern_status(TERN_OK), std::string("{\"temp\":-3}")));
    CHECK(core.reply_client_rpc(list.value[0].id, "{}") == TERN_NOT_FOUND);  // once only

    REQUIRE(ft.wait_for(deadline) == std::future_status::ready);
    CHECK(ft.get().first == TERN_TIMEOUT);
    CHECK(core.reply_client_rpc(list.value[1].id, "{}") == TERN_NOT_FOUND);

    // built-ins off: getCurrentTime is queued like any other
    core.set_client_rpc_config({false, true});
    text_wait q;
    auto fq = q.future();
    core.client_rpc(d.id, to_str("getCurrentTime"), to_str("{}"), 5000, &text_wait::fn, &q);
    auto l2 = await<std::vector<client_rpc_entry>>([&](auto cb) { core.list_client_rpcs(cb); });
    REQUIRE(l2.value.size() == 1);
    CHECK(l2.value[0].method == "getCurrentTime");
    CHECK(core.reply_client_rpc(l2.value[0].id, "42") == TERN_OK);
    CHECK(fq.get().second == "42");

    // queue off: nobody answers
    core.set_client_rpc_config({true, false});
    text_wait none_w;
    auto fn = none_w.future();
    core.client_rpc(d.id, to_str("custom"), to_str("{}"), 5000, &text_wait::fn, &none_w);
    REQUIRE(fn.wait_for(deadline) == std::future_status::ready);
    CHECK(fn.get().first == TERN_NOT_FOUND);

    // stopping answers whoever still waits
    core.set_client_rpc_config({true, true});
    text_wait pending;
    auto fp = pending.future();
    core.client_rpc(d.id, to_str("custom"), to_str("{}"), 60000, &text_wait::fn, &pending);
    core.stop();
    REQUIRE(fp.wait_for(deadline) == std::future_status::ready);
    CHECK(fp.get().first == TERN_UNAVAILABLE);
}

// downlinks: server-side RPCs on the RPC observation, their states and timeouts.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"
#include "tern/sdk/status.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

// ---- RPC observation ---------------------------------------------------------------------------------

TEST_CASE("api: RPC Observe, delivery and status reporting (docs/device-api.md §4.1)", "[api][rpc]") {
    fixture f;
    f.start();
    const uint64_t x = f.get("/api/v1/T1/rpc", 0, 1);
    CHECK(f.answer(x).code == c203);
    CHECK(f.answer(x).payload.empty());
    const uint64_t obs = f.answer(x).observation;
    CHECK(f.core.subs[1] == TERN_SUBSCRIBE_RPC);

    f.rpc(1, 7, "setGpio", R"({"pin":4})", TERN_RPC_PERSISTENT);
    REQUIRE(f.engine.notes.size() == 1);
    CHECK(f.engine.notes[0].payload == R"({"id":7,"method":"setGpio","params":{"pin":4}})");
    CHECK(f.engine.notes[0].cookie == 7);
    CHECK(f.engine.notes[0].flags == 0);  // never mergeable
    REQUIRE(f.core.statuses_of(7).size() == 1);
    CHECK(f.core.statuses_of(7)[0].s == TERN_RPC_SENT);  // persistent, CON
    // the core sends it again (a resend) while it is on its way: not twice
    f.rpc(1, 7, "setGpio", R"({"pin":4})", TERN_RPC_PERSISTENT);
    CHECK(f.engine.notes.size() == 1);
    f.result(1, obs, 7, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(7).back().s == TERN_RPC_DELIVERED);

    // not persistent: no SENT; not acknowledged in time: TIMEOUT; a late ACK still DELIVERED
    f.rpc(1, 8, "reboot", "");
    CHECK(f.engine.notes.back().payload == R"({"id":8,"method":"reboot","params":null})");
    CHECK(f.core.statuses_of(8).empty());
    f.reactor.advance(10000 * ms);
    REQUIRE(f.core.statuses_of(8).size() == 1);
    CHECK(f.core.statuses_of(8)[0].s == TERN_RPC_TIMEOUT);
    f.result(1, obs, 8, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(8).back().s == TERN_RPC_DELIVERED);

    // queued RPCs of an observation that ends are TIMEOUT (never silently lost)
    f.rpc(1, 9, "a", "");
    f.ended(1, obs, TERN_COAP_END_RESET);
    CHECK(f.core.statuses_of(9).back().s == TERN_RPC_TIMEOUT);
    CHECK(f.core.subs[1] == 0);
    // no observation: an RPC arriving now is TIMEOUT at once
    f.rpc(1, 10, "b", "");
    CHECK(f.core.statuses_of(10).back().s == TERN_RPC_TIMEOUT);
}

TEST_CASE("api: RPCs in flight move to the new RPC observation of another holder", "[api][rpc]") {
    fixture f;
    f.start();
    const uint64_t old = f.observe("/api/v1/T1/rpc", 1, "\x01", 40000);
    f.rpc(1, 3, "m", "");
    REQUIRE(f.engine.notes.size() == 1);
    const uint64_t neu = f.observe("/api/v1/T1/rpc", 1, "\x02", 40001);
    CHECK(f.engine.ends.back().observation == old);
    CHECK(f.engine.ends.back().code == c202);
    REQUIRE(f.engine.notes.size() == 2);
    CHECK(f.engine.notes[1].observation == neu);
    CHECK(f.engine.notes[1].cookie == 3);
    CHECK(f.core.resends == std::vector<uint64_t>{1});  // already subscribed: resend instead
    // the old relation's result for it no longer counts
    f.result(1, old, 3, TERN_COAP_NOTIFY_DROPPED);
    CHECK(f.core.statuses_of(3).empty());
    f.result(1, neu, 3, TERN_COAP_NOTIFY_DELIVERED);
    CHECK(f.core.statuses_of(3).back().s == TERN_RPC_DELIVERED);
}

TEST_CASE("api: an RPC the adaptor cannot encode fails and ends the RPC observation", "[api][rpc]") {
    // A profile adaptor that refuses RPC requests (a protobuf schema mismatch).
    struct refusing final : json_plugin_holder, sdk::testing::forwarding_payload_adaptor {
        refusing() : forwarding_payload_adaptor(*json.adaptor(), "protobuf") {}
        tern_status encode_rpc_request(const tern_payload_context*, const tern_rpc_request*, tern_bytes_sink, void*,
                                       tern_error* e) noexcept override {
            sdk::set_error(e, "schema mismatch");
            return TERN_INVALID_ARGUMENT;
        }
    } proto;
    fixture f;
    fake_device p;
    p.id = 5;
    p.payload = TERN_PAYLOAD_PROTOBUF;
    f.core.add("P5", p);
    f.start(&proto);
    const uint64_t x = f.get("/api/v1/P5/rpc", 0, 1);
    const uint64_t obs = f.answer(x).observation;
    f.rpc(5, 1, "m", R"({"a":1})");
    REQUIRE(f.core.statuses_of(1).size() == 1);
    CHECK(f.core.statuses_of(1)[0].s == TERN_RPC_FAILED);
    CHECK(f.core.statuses_of(1)[0].error == "Failed to convert device RPC command to CoAP msg");
    REQUIRE(f.engine.ends.size() == 1);
    CHECK(f.engine.ends[0].observation == obs);
    CHECK(f.engine.ends[0].code == c500);
    CHECK(f.core.subs[5] == 0);
    // protobuf profiles: notifications and answers are octet-stream (docs/device-api.md §1.4)
    const uint64_t a = f.observe("/api/v1/P5/attributes", 1, "\x09");
    (void)a;
    CHECK(f.engine.responses.back().format == 42);
}

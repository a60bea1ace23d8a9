// uplinks under limits (security): per-device message and data point limits, profile
// overrides, a busy core.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

// ---- rate limits, the negative token cache, a busy core ---------------------------------------

TEST_CASE("api: a device over its message limit gets 4.29 with Max-Age, nothing stored, and recovers",
          "[api][security]") {
    fixture f;
    f.s.device_message_rate = 2;
    f.s.device_message_burst = 3;
    f.start();
    for (int i = 0; i < 3; ++i) CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c201);
    const auto& r = f.answer(f.post("/api/v1/T1/attributes", R"({"a":1})"));
    CHECK(r.code == c429);
    CHECK(r.max_age == 1);
    CHECK(r.payload == "device message rate limit exceeded");
    CHECK(f.core.telemetry_posts.size() == 3);
    CHECK(f.core.attribute_posts.empty());
    // another device is not affected
    CHECK(f.answer(f.post("/api/v1/T2/telemetry", R"({"a":1})")).code == c201);
    // half a second later one message (2/s) is there again
    f.reactor.advance(second / 2);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c429);
    f.reactor.advance(10 * second);  // refills to the burst, not beyond
    for (int i = 0; i < 3; ++i) CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})")).code == c429);
    CHECK(f.core.auth_calls == 2);  // limited requests never reached the core either
}

TEST_CASE("api: the data point limit refuses a whole message, a message larger than the burst passes once",
          "[api][security]") {
    fixture f;
    f.s.device_datapoint_rate = 10;
    f.s.device_datapoint_burst = 10;
    f.start();
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8})")).code == c201);
    const auto& r = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1,"b":2,"c":3})"));
    CHECK(r.code == c429);  // 2 left, 3 asked
    CHECK(r.max_age == 1);
    CHECK(f.core.telemetry_posts.size() == 1);
    f.reactor.advance(2 * second);
    std::string big = "{";
    for (int i = 0; i < 30; ++i) big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    big += "}";
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", big)).code == c201);  // 30 on a full bucket of 10
    const auto& after = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})"));
    CHECK(after.code == c429);
    CHECK(after.max_age == 3);  // 20 in debt, 1 needed: 2.1 s
    CHECK(f.core.telemetry_posts.size() == 2);
}

TEST_CASE("api: a device profile overrides the limits through its options", "[api][security]") {
    fixture f;
    fake_device strict;
    strict.id = 20;
    strict.options = {{"device_message_rate", 1}, {"device_message_burst", 1}, {"unrelated", 5}};
    f.core.add("STRICT", strict);
    fake_device free_dev;
    free_dev.id = 21;
    free_dev.options = {{"device_message_rate", 0}};  // 0: no limit for this profile
    f.core.add("FREE", free_dev);
    f.s.device_message_rate = 5;
    f.s.device_message_burst = 5;
    f.start();
    CHECK(f.answer(f.post("/api/v1/STRICT/telemetry", "{\"a\":1}")).code == c201);
    CHECK(f.answer(f.post("/api/v1/STRICT/telemetry", "{\"a\":1}")).code == c429);
    for (int i = 0; i < 20; ++i) CHECK(f.answer(f.post("/api/v1/FREE/telemetry", "{\"a\":1}")).code == c201);
    for (int i = 0; i < 5; ++i) CHECK(f.answer(f.post("/api/v1/T1/telemetry", "{\"a\":1}")).code == c201);
    CHECK(f.answer(f.post("/api/v1/T1/telemetry", "{\"a\":1}")).code == c429);
}

TEST_CASE("api: a busy core is answered 5.03 with Max-Age busy_max_age", "[api][security]") {
    fixture f;
    f.s.busy_max_age_s = 7;
    f.start();
    f.core.write_status = TERN_BUSY;
    const auto& r = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})"));
    CHECK(r.code == c503);
    CHECK(r.max_age == 7);
    f.core.write_status = TERN_IO;
    const auto& e = f.answer(f.post("/api/v1/T1/telemetry", R"({"a":1})"));
    CHECK(e.code == c500);
    CHECK(e.max_age == -1);
    f.core.auth_status = TERN_BUSY;
    const auto& a = f.answer(f.post("/api/v1/T2/telemetry", R"({"a":1})"));
    CHECK(a.code == c503);
    CHECK(a.max_age == 7);
}

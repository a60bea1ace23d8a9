// The Efento resources on the SDK's fake host with a fake engine and core: routing and its
// codes, time, replies to CON and NON, the cloud_token caches and the per-source limit, the
// profile check, device events, the core's refusals, activity. Every test is single-threaded
// and bounded (the manual reactor runs posted tasks when the test says).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "fixture.hpp"

using namespace tern;
using namespace tern::efento;
using namespace tern::efento::test;

namespace {

constexpr uint8_t c201 = TERN_COAP_CODE(2, 1);
constexpr uint8_t c205 = TERN_COAP_CODE(2, 5);
constexpr uint8_t c400 = TERN_COAP_CODE(4, 0);
constexpr uint8_t c401 = TERN_COAP_CODE(4, 1);
constexpr uint8_t c429 = TERN_COAP_CODE(4, 29);
constexpr uint8_t c500 = TERN_COAP_CODE(5, 0);
constexpr uint8_t c503 = TERN_COAP_CODE(5, 3);

struct started : fixture {
    explicit started(uint32_t shards = 1) : fixture(shards) {
        core.tokens["tok-1"] = fake_device{};
        start();
    }
};

}  // namespace

TEST_CASE("efento registers /efento/** for GET and POST and each alias for POST, listed with ct=42", "[efento]") {
    started f;
    REQUIRE(f.engine.resources.size() == 4);
    const uint32_t get = TERN_COAP_METHOD_BIT(TERN_COAP_GET), post = TERN_COAP_METHOD_BIT(TERN_COAP_POST);
    CHECK(f.engine.resources[0].pattern == "efento/**");
    CHECK(f.engine.resources[0].methods == (get | post));
    CHECK(f.engine.resources[1].pattern == "coap/measurements");
    CHECK(f.engine.resources[2].pattern == "coap/device-info");
    CHECK(f.engine.resources[3].pattern == "coap/configuration");
    for (const auto& r : f.engine.resources) {
        CHECK(r.link_attrs == "ct=42");
        CHECK((r.flags & TERN_COAP_RESOURCE_HIDDEN) == 0);
        CHECK((r.flags & TERN_COAP_RESOURCE_OBSERVABLE) == 0);
        if (r.pattern != "efento/**") CHECK(r.methods == post);
    }
    CHECK(f.res->describe() == "/efento/{m,i,c,t} (aliases: /coap/measurements, /coap/device-info, /coap/configuration)");
    f.res->stop();
    for (const auto& r : f.engine.resources) CHECK(r.removed);
    CHECK(f.core.closed);
}

TEST_CASE("other names, segment counts and methods get 4.00 with a reason", "[efento]") {
    started f;
    const uint64_t bad[] = {
        f.send("efento", measurements("tok-1")),
        f.send("efento/x", measurements("tok-1")),
        f.send("efento/m/extra", measurements("tok-1")),
        f.send("efento/M", measurements("tok-1")),
        f.send("efento/m", "", TERN_COAP_GET),
        f.send("efento/i", "", TERN_COAP_GET),
        f.send("efento/t", "", TERN_COAP_POST),
        f.send("efento/t/x", "", TERN_COAP_GET),
    };
    for (uint64_t x : bad) {
        INFO("exchange " << x);
        const auto& a = f.answer(x);
        CHECK(a.code == c400);
        CHECK_FALSE(a.payload.empty());
        CHECK(a.payload.size() <= 40);  // short: answers to unverified addresses are trimmed
    }
    CHECK(f.h.metrics.value("efento_bad_requests_total") == 8);
    CHECK(f.core.auth_calls == 0);
    CHECK(f.core.writes == 0);
}

TEST_CASE("GET /efento/t answers 2.05 with the Unix seconds as 4 bytes big-endian", "[efento]") {
    started f;
    const auto& a = f.answer(f.send("efento/t", "", TERN_COAP_GET));
    CHECK(a.code == c205);
    CHECK(a.format == -1);
    REQUIRE(a.payload.size() == 4);
    const auto* b = reinterpret_cast<const uint8_t*>(a.payload.data());
    const uint32_t secs = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    CHECK(secs == 1'700'000'123u);  // fixed_wall_ms() / 1000
    CHECK(f.h.metrics.value("efento_time_requests_total") == 1);
}

TEST_CASE("a CON measurement is stored and answered 2.01 without payload once durable", "[efento]") {
    started f;
    const uint64_t x = f.send("efento/m", measurements("tok-1"));
    const auto& a = f.answer(x);
    CHECK(a.code == c201);
    CHECK(a.payload.empty());
    CHECK(a.format == -1);
    CHECK(a.flags == 0);
    REQUIRE(f.core.telemetry_posts.size() == 1);
    const auto& t = f.core.telemetry_posts[0];
    CHECK(t.device == 7);
    REQUIRE(t.records.size() == 2);
    CHECK(t.records[0].first == 1'700'000'000'000);
    CHECK(t.records[0].second.count("temperature_1") == 1);
    CHECK(t.records[1].first == 1'700'000'060'000);
    CHECK(f.messages("measurements", "stored") == 1);
    CHECK(f.h.metrics.value("efento_values_stored_total") == t.values);
    // the device counts as awake, with the transport and the peer's address
    REQUIRE(f.core.sessions.size() == 1);
    CHECK(f.core.sessions[0].device == 7);
    CHECK(f.core.sessions[0].event == TERN_SESSION_ACTIVITY);
    CHECK(f.core.sessions[0].transport == "udp");
    CHECK(f.core.sessions[0].address == "192.0.2.7:5683");
}

TEST_CASE("a NON success gets no reply at all, a NON error is answered", "[efento]") {
    started f;
    const auto& ok = f.answer(f.send("efento/m", measurements("tok-1"), TERN_COAP_POST, TERN_COAP_NON));
    CHECK((ok.flags & TERN_COAP_RESPONSE_SILENT) != 0);
    CHECK(f.core.telemetry_posts.size() == 1);
    const auto& bad = f.answer(f.send("efento/m", measurements("nobody"), TERN_COAP_POST, TERN_COAP_NON));
    CHECK(bad.code == c401);
    CHECK((bad.flags & TERN_COAP_RESPONSE_SILENT) == 0);
    const auto& parse = f.answer(f.send("efento/m", std::string("\xff\xff\xff", 3), TERN_COAP_POST, TERN_COAP_NON));
    CHECK(parse.code == c500);
    CHECK((parse.flags & TERN_COAP_RESPONSE_SILENT) == 0);
}

TEST_CASE("the aliases take their kind of message", "[efento]") {
    started f;
    CHECK(f.answer(f.send("coap/measurements", measurements("tok-1"))).code == c201);
    CHECK(f.answer(f.send("coap/device-info", device_info("tok-1"))).code == c201);
    CHECK(f.answer(f.send("coap/configuration", configuration("tok-1"))).code == c201);
    CHECK(f.core.telemetry_posts.size() == 2);
    REQUIRE(f.core.attribute_posts.size() == 1);
    CHECK(f.core.attribute_posts[0].scope == TERN_SCOPE_CLIENT);
    CHECK(f.core.attribute_posts[0].values.count("cloudToken") == 1);
    CHECK(f.messages("measurements", "stored") == 1);
    CHECK(f.messages("device_info", "stored") == 1);
    CHECK(f.messages("configuration", "stored") == 1);
}

TEST_CASE("bad messages store nothing and get the decoder's code", "[efento]") {
    started f;
    const auto& parse = f.answer(f.send("efento/m", std::string("\x0a\x10garbage", 9)));
    CHECK(parse.code == c500);
    CHECK_FALSE(parse.payload.empty());
    CHECK(f.messages("measurements", "parse_error") == 1);
    CHECK(f.answer(f.send("efento/m", measurements_without_channels("tok-1"))).code == c500);
    CHECK(f.messages("measurements", "empty_channels") == 1);
    CHECK(f.answer(f.send("efento/i", device_info("tok-1", 21))).code == c500);
    CHECK(f.messages("device_info", "incomplete") == 1);
    CHECK(f.core.writes == 0);
    CHECK(f.core.activity == 0);
}

TEST_CASE("a cached cloud_token does not ask the core again", "[efento]") {
    started f;
    for (int i = 0; i < 5; ++i) CHECK(f.answer(f.send("efento/m", measurements("tok-1"))).code == c201);
    CHECK(f.core.auth_calls == 1);
    CHECK(f.h.metrics.value("efento_token_cache_hits_total", "cache=\"token\"") == 4);
    CHECK(f.h.metrics.value("efento_core_lookups_total", "result=\"ok\"") == 1);
    CHECK(f.h.metrics.value("efento_token_cache_entries", "cache=\"token\"") == 1);
    CHECK(f.core.telemetry_posts.size() == 5);
}

TEST_CASE("an unknown cloud_token is 4.01 and remembered for a while", "[efento]") {
    started f;
    CHECK(f.answer(f.send("efento/m", measurements("nobody"))).code == c401);
    CHECK(f.answer(f.send("efento/m", measurements("nobody"))).code == c401);
    CHECK(f.core.auth_calls == 1);
    CHECK(f.messages("measurements", "unknown_token") == 2);
    CHECK(f.h.metrics.value("efento_token_cache_hits_total", "cache=\"unknown_token\"") == 1);
    f.h.reactor.advance(6'000'000'000ull);  // past unknown_token_cache_ttl (5 s)
    CHECK(f.answer(f.send("efento/m", measurements("nobody"))).code == c401);
    CHECK(f.core.auth_calls == 2);
    // no cloud_token at all: nothing to ask
    CHECK(f.answer(f.send("efento/m", measurements(""))).code == c401);
    CHECK(f.core.auth_calls == 2);
}

TEST_CASE("lookups of unknown tokens are limited per source address with 4.29 and Max-Age", "[efento][security]") {
    fixture f;
    f.s.source_rate = 1;
    f.s.source_burst = 2;
    f.core.tokens["tok-1"] = fake_device{};
    f.start();
    CHECK(f.answer(f.send("efento/m", measurements("a"))).code == c401);
    CHECK(f.answer(f.send("efento/m", measurements("b"))).code == c401);
    const auto& limited = f.answer(f.send("efento/m", measurements("c")));
    CHECK(limited.code == c429);
    CHECK(limited.max_age >= 1);
    CHECK(f.messages("measurements", "rate_limited") == 1);
    CHECK(f.core.auth_calls == 2);
    // another address has its own bucket
    CHECK(f.answer(f.send("efento/m", measurements("c"), TERN_COAP_POST, TERN_COAP_CON, 0, 8)).code == c401);
    // a valid token's lookup is given back: a sensor keeps working from a busy address
    f.h.reactor.advance(1'000'000'000ull);
    CHECK(f.answer(f.send("efento/m", measurements("tok-1"))).code == c201);
    CHECK(f.answer(f.send("efento/m", measurements("d"))).code == c401);
}

TEST_CASE("a device whose profile is not of the EFENTO CoAP type gets 4.00", "[efento]") {
    fixture f;
    fake_device plain;
    plain.id = 9;
    plain.coap_type = "DEFAULT";
    f.core.tokens["plain"] = plain;
    fake_device none;
    none.id = 10;
    none.coap_type = "";
    f.core.tokens["none"] = none;
    fake_device orphan;
    orphan.id = 11;
    orphan.profile_id = 0;
    f.core.tokens["orphan"] = orphan;
    f.start();
    for (const char* t : {"plain", "none"}) {
        const auto& a = f.answer(f.send("efento/m", measurements(t)));
        CHECK(a.code == c400);
        CHECK(a.payload == "device profile is not of the EFENTO CoAP type");
    }
    CHECK(f.answer(f.send("efento/m", measurements("plain"))).code == c400);  // from the cache
    CHECK(f.core.auth_calls == 2);
    CHECK(f.messages("measurements", "wrong_profile") == 3);
    CHECK(f.answer(f.send("efento/m", measurements("orphan"))).code == c401);
    CHECK(f.core.writes == 0);
    CHECK(f.core.activity == 0);
}

TEST_CASE("device events drop what the shards cached about the device", "[efento]") {
    started f(2);
    CHECK(f.answer(f.send("efento/m", measurements("tok-1"), TERN_COAP_POST, TERN_COAP_CON, 0)).code == c201);
    CHECK(f.answer(f.send("efento/m", measurements("tok-1"), TERN_COAP_POST, TERN_COAP_CON, 1)).code == c201);
    CHECK(f.core.auth_calls == 2);
    CHECK(f.answer(f.send("efento/m", measurements("new-token"))).code == c401);
    REQUIRE(f.core.listener != nullptr);

    // the profile changed: no longer Efento
    f.core.tokens["tok-1"].coap_type = "DEFAULT";
    f.core.listener->on_device_event(7, TERN_DEVICE_UPDATED);
    f.h.reactor.run_pending();
    CHECK(f.res->cache(0).size() == 0);
    CHECK(f.res->cache(1).size() == 0);
    CHECK(f.answer(f.send("efento/m", measurements("tok-1"), TERN_COAP_POST, TERN_COAP_CON, 1)).code == c400);
    CHECK(f.core.auth_calls == 4);

    // a device got the token remembered as unknown: a credential change forgets unknown tokens
    CHECK(f.res->cache(0).unknown_size() == 1);
    f.core.tokens["new-token"] = fake_device{};
    f.core.listener->on_device_event(7, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.h.reactor.run_pending();
    CHECK(f.res->cache(0).unknown_size() == 0);
    CHECK(f.answer(f.send("efento/m", measurements("new-token"))).code == c201);

    // an event for another device leaves this one cached
    f.core.listener->on_device_event(99, TERN_DEVICE_DELETED);
    f.h.reactor.run_pending();
    CHECK(f.res->cache(0).size() == 1);
}

TEST_CASE("an answer that comes after an invalidation is used but not cached", "[efento]") {
    started f;
    f.core.defer_auth = true;
    const uint64_t x = f.send("efento/m", measurements("tok-1"));
    f.core.listener->on_device_event(7, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.h.reactor.run_pending();
    f.core.run_deferred();
    f.h.reactor.run_pending();
    CHECK(f.answer(x).code == c201);
    CHECK(f.res->cache(0).size() == 0);
}

TEST_CASE("the core's answer comes from another thread and the body is parsed again", "[efento]") {
    started f(2);
    f.core.tokens["tok-2"] = fake_device{8, 3, "Efento sensors", "EFENTO"};
    // tok-2 cached on shard 1 first
    CHECK(f.answer(f.send("efento/m", measurements("tok-2", 100), TERN_COAP_POST, TERN_COAP_CON, 1)).code == c201);
    f.core.telemetry_posts.clear();
    f.core.defer_auth = true;
    const uint64_t x = f.send("efento/m", measurements("tok-1", 215), TERN_COAP_POST, TERN_COAP_CON, 1);
    CHECK_FALSE(f.answered(x));
    // meanwhile the same thread parses and stores another sensor's message
    CHECK(f.answer(f.send("efento/m", measurements("tok-2", 300), TERN_COAP_POST, TERN_COAP_CON, 1)).code == c201);
    f.core.run_deferred();  // on the test's thread, which is no shard: posted back to shard 1
    CHECK_FALSE(f.answered(x));
    f.h.reactor.run_pending();
    CHECK(f.answer(x).code == c201);
    REQUIRE(f.core.telemetry_posts.size() == 2);
    CHECK(f.core.telemetry_posts[1].device == 7);
    // each message's own values: 30.0 (start point 300) and 21.5 (215)
    CHECK(f.core.telemetry_posts[0].records[0].second.at("temperature_1") == "30.000000");
    CHECK(f.core.telemetry_posts[1].records[0].second.at("temperature_1") == "21.500000");
    CHECK(f.res->cache(1).size() == 2);
    CHECK(f.res->contexts_made(1) == 2);  // one waited for the core while the other was written
}

TEST_CASE("the core's refusals: busy 5.03 with Max-Age, refused 4.00, failing 5.00", "[efento]") {
    started f;
    f.core.write_status = TERN_BUSY;
    const auto& busy = f.answer(f.send("efento/m", measurements("tok-1")));
    CHECK(busy.code == c503);
    CHECK(busy.max_age == 5);
    CHECK(f.messages("measurements", "busy") == 1);
    f.core.write_status = TERN_INVALID_ARGUMENT;
    f.core.write_message = "key too long";
    const auto& refused = f.answer(f.send("efento/c", configuration("tok-1")));
    CHECK(refused.code == c400);
    CHECK(refused.payload.find("key too long") != std::string::npos);
    f.core.write_status = TERN_INTERNAL;
    f.core.write_message.clear();
    CHECK(f.answer(f.send("efento/i", device_info("tok-1"))).code == c500);
    CHECK(f.messages("device_info", "backend_error") == 1);
    CHECK(f.h.log.has("the core could not store it: core"));
    CHECK(f.h.metrics.value("efento_values_stored_total") == 0);

    // a lookup that fails: 5.00, not remembered
    fixture g;
    g.core.tokens["tok-1"] = fake_device{};
    g.core.auth_status = TERN_UNAVAILABLE;
    g.start();
    CHECK(g.answer(g.send("efento/m", measurements("tok-1"))).code == c500);
    CHECK(g.h.metrics.value("efento_core_lookups_total", "result=\"error\"") == 1);
    g.core.auth_status = TERN_BUSY;
    CHECK(g.answer(g.send("efento/m", measurements("tok-1"))).code == c503);
    CHECK(g.core.auth_calls == 2);
}

TEST_CASE("the start-up refusals name the setting", "[efento]") {
    auto refused = [](auto change) {
        settings s = default_settings();
        change(s);
        try {
            check(s);
        } catch (const sdk::error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(refused([](settings& s) { s.prefix = "a/b"; }).find("'prefix'") != std::string::npos);
    CHECK(refused([](settings& s) { s.time_path = "m"; }).find("'time_path'") != std::string::npos);
    CHECK(refused([](settings& s) { s.device_info_path = "**"; }).find("'device_info_path'") != std::string::npos);
    CHECK(refused([](settings& s) { s.measurements_aliases = {"coap//m"}; }).find("'measurements_aliases'") !=
          std::string::npos);
    CHECK(refused([](settings& s) { s.configuration_aliases = {"coap/measurements"}; })
              .find("'configuration_aliases'") != std::string::npos);
    CHECK(refused([](settings& s) { s.device_info_aliases = {"x/{id}"}; }).find("'device_info_aliases'") !=
          std::string::npos);
    settings ok = default_settings();
    ok.measurements_aliases = {"/sensors/m"};
    ok.device_info_aliases = {};
    CHECK_NOTHROW(check(ok));
    CHECK(ok.measurements_aliases[0] == "sensors/m");

    fixture f;
    f.s.prefix = "sensors";
    f.s.measurements_path = "measurements";
    f.s.measurements_aliases = {};
    f.s.device_info_aliases = {};
    f.s.configuration_aliases = {};
    f.core.tokens["tok-1"] = fake_device{};
    f.start();
    CHECK(f.res->describe() == "/sensors/{measurements,i,c,t} (aliases: none)");
    CHECK(f.answer(f.send("sensors/measurements", measurements("tok-1"))).code == c201);
    CHECK(f.answer(f.send("sensors/m", measurements("tok-1"))).code == c400);
}

TEST_CASE("stop() waits for a lookup still in the core and answers nothing after", "[efento]") {
    started f;
    f.core.defer_auth = true;
    const uint64_t x = f.send("efento/m", measurements("tok-1"));
    REQUIRE(f.core.deferred.size() == 1);
    // the core answers from its own thread while the plugin stops
    std::thread core_thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        f.core.run_deferred();
    });
    const auto t0 = std::chrono::steady_clock::now();
    f.res->stop();
    core_thread.join();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    f.h.reactor.run_pending();
    CHECK_FALSE(f.answered(x));
    CHECK(f.core.writes == 0);
    CHECK_FALSE(f.h.log.has("unanswered"));
}

TEST_CASE("core trouble is logged at warn at most once a second, refusals at debug", "[efento]") {
    started f;
    f.core.write_status = TERN_INTERNAL;
    for (int i = 0; i < 3; ++i) CHECK(f.answer(f.send("efento/m", measurements("tok-1"))).code == c500);
    std::size_t warns = 0;
    for (const auto& l : f.h.log.entries())
        if (l.level == TERN_LOG_WARN) ++warns;
    CHECK(warns == 1);
    CHECK(f.h.metrics.value("efento_warnings_suppressed_total") == 2);
    f.h.reactor.advance(1'100'000'000ull);
    CHECK(f.answer(f.send("efento/m", measurements("tok-1"))).code == c500);
    CHECK(f.h.log.count("the core could not store it") == 2 + 4);  // 2 warnings, 4 debug refusals
    f.core.write_status = TERN_OK;
    f.h.log.clear();
    CHECK(f.answer(f.send("efento/m", measurements("nobody"))).code == c401);
    CHECK(f.h.log.has("unknown_token 4.01 unknown cloud_token"));
}

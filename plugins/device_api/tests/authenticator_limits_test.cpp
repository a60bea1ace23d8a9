// authenticator under limits (security): the negative token cache, per-source limits of
// unauthenticated work, one core lookup per token at a time.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

TEST_CASE("api: an unknown token is remembered for unknown_token_cache_ttl, a credential change forgets it",
          "[api][security]") {
    fixture f;
    f.s.unknown_token_cache_ttl_ms = 5000;
    f.s.source_rate = 0;
    f.start();
    for (int i = 0; i < 10; ++i) {
        const auto& r = f.answer(f.post("/api/v1/NOPE/telemetry", "{}"));
        CHECK(r.code == c401);
        CHECK(r.payload == "unknown access token");
    }
    CHECK(f.core.auth_calls == 1);
    CHECK(f.a->shard(0).unknown.size() == 1);
    f.reactor.advance(5001 * ms);
    CHECK(f.answer(f.post("/api/v1/NOPE/telemetry", "{}")).code == c401);
    CHECK(f.core.auth_calls == 2);  // expired: asked again
    // the token is created: the core says credentials changed, the next request finds it
    fake_device d;
    d.id = 30;
    f.core.add("NOPE", d);
    f.a->on_device_event(30, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.reactor.run_pending();
    CHECK(f.a->shard(0).unknown.size() == 0);
    CHECK(f.answer(f.post("/api/v1/NOPE/telemetry", "{}")).code == c201);
    CHECK(f.core.auth_calls == 3);
}

TEST_CASE("api: the negative cache is bounded, least recently used first", "[api][security]") {
    fixture f;
    f.s.unknown_token_cache_size = 4;  // 2 per shard
    f.s.source_rate = 0;
    f.start();
    for (const char* t : {"U1", "U2", "U3"}) f.post(std::string("/api/v1/") + t + "/telemetry", "{}");
    CHECK(f.a->shard(0).unknown.size() == 2);
    CHECK(f.core.auth_calls == 3);
    f.post("/api/v1/U3/telemetry", "{}");  // kept
    CHECK(f.core.auth_calls == 3);
    f.post("/api/v1/U1/telemetry", "{}");  // evicted first
    CHECK(f.core.auth_calls == 4);
}

TEST_CASE("api: unauthenticated work is limited per source address, valid tokens give their share back",
          "[api][security]") {
    fixture f;
    f.s.source_rate = 1;
    f.s.source_burst = 2;
    f.start();
    // valid tokens (cache misses) are refunded: they never use up the address's budget
    for (int i = 0; i < 3; ++i) {
        f.a->on_device_event(1, TERN_DEVICE_UPDATED);  // drops T1 from the caches
        f.reactor.run_pending();
        CHECK(f.answer(post_from(f, "/api/v1/T1/telemetry", "{}", 9)).code == c201);
    }
    CHECK(f.answer(post_from(f, "/api/v1/BAD1/telemetry", "{}", 9)).code == c401);
    CHECK(f.answer(post_from(f, "/api/v1/BAD2/telemetry", "{}", 9)).code == c401);
    const int calls = f.core.auth_calls;
    const auto& r = f.answer(post_from(f, "/api/v1/BAD3/telemetry", "{}", 9));
    CHECK(r.code == c429);
    CHECK(r.max_age == 1);
    CHECK(f.core.auth_calls == calls);  // the core was not asked
    // a cached device from the same address is still served; another address is not limited
    CHECK(f.answer(post_from(f, "/api/v1/T1/telemetry", "{}", 9)).code == c201);
    CHECK(f.answer(post_from(f, "/api/v1/BAD3/telemetry", "{}", 10)).code == c401);
    // provisioning shares the budget of its address
    CHECK(f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11)).code == c201);
    CHECK(f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11)).code == c201);
    const auto& p = f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11));
    CHECK(p.code == c429);
    CHECK(p.payload == "too many provisioning requests from this address");
    CHECK(f.core.provisions.size() == 2);
    f.reactor.advance(second);
    CHECK(f.answer(post_from(f, "/api/v1/provision", R"({"provisionDeviceKey":"k","provisionDeviceSecret":"s"})", 11)).code == c201);
}

TEST_CASE("api: requests for a token already being looked up wait for that answer (one core call)",
          "[api][security]") {
    fixture f;
    f.start();
    f.core.defer = true;
    const uint64_t a = f.post("/api/v1/NOPE/telemetry", "{}");
    const uint64_t b = f.post("/api/v1/NOPE/telemetry", "{}");
    const uint64_t c = f.post("/api/v1/T1/telemetry", R"({"a":1})");
    const uint64_t d = f.post("/api/v1/T1/attributes", R"({"b":2})");
    CHECK(f.core.auth_calls == 2);  // NOPE once, T1 once
    f.core.run_deferred();
    f.reactor.run_pending();
    f.core.run_deferred();  // the writes
    CHECK(f.answer(a).code == c401);
    CHECK(f.answer(b).code == c401);
    CHECK(f.answer(c).code == c201);
    CHECK(f.answer(d).code == c201);
    CHECK(f.core.telemetry_posts.size() == 1);
    CHECK(f.core.attribute_posts.size() == 1);
    CHECK(f.a->shard(0).token_lookups.empty());
    // a core error reaches the waiters too
    f.core.failing["BUSY"] = TERN_BUSY;
    const uint64_t e = f.post("/api/v1/BUSY/telemetry", "{}");
    const uint64_t g = f.post("/api/v1/BUSY/telemetry", "{}");
    f.core.run_deferred();
    f.reactor.run_pending();
    CHECK(f.answer(e).code == c503);
    CHECK(f.answer(g).code == c503);
    CHECK(f.core.auth_calls == 3);
}

// authenticator: access tokens and their per-shard caches, lookups finishing on another
// thread, invalidation by the core's device events.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

TEST_CASE("api: unknown tokens, missing tokens, unknown features", "[api]") {
    fixture f;
    f.start();
    const uint64_t x = f.post("/api/v1/NOPE/telemetry", "{}");
    CHECK(f.answer(x).code == c401);
    CHECK(f.answer(x).payload == "unknown access token");
    // token-less X.509 form without a DTLS identity
    CHECK(f.answer(f.post("/api/v1/telemetry", "{}")).code == c401);
    CHECK(f.answer(f.post("/api/v1/T1/nothing", "{}")).code == c400);
    CHECK(f.core.auth_calls == 1);  // shape errors never reach the core
}

TEST_CASE("api: authentication completing on another thread continues on the request's shard", "[api]") {
    fixture f;
    f.start();
    f.core.defer = true;
    const uint64_t x = f.post("/api/v1/T1/attributes", R"({"fw":"1.2"})", 1);
    CHECK(f.engine.find(x) == nullptr);
    // the core's thread: outside every shard
    f.core.run_deferred();              // authentication: posts back to shard 1
    f.reactor.run_pending();
    f.core.run_deferred();  // the attribute write
    CHECK(f.answer(x).code == c201);
    REQUIRE(f.core.attribute_posts.size() == 1);
    CHECK(f.core.attribute_posts[0].second.at("fw") == "1.200000");  // typed as a double (docs/device-api.md §2.2)
    CHECK(f.a->shard(1).tokens.size() == 1);
}

TEST_CASE("api: credential changes and deletions drop cached tokens on every shard", "[api]") {
    fixture f;
    f.start();
    f.post("/api/v1/T1/telemetry", "{}", 0);
    f.post("/api/v1/T1/telemetry", "{}", 1);
    CHECK(f.core.auth_calls == 2);
    f.a->on_device_event(1, TERN_DEVICE_CREDENTIALS_CHANGED);
    f.reactor.run_pending();
    CHECK(f.a->shard(0).tokens.size() == 0);
    CHECK(f.a->shard(1).tokens.size() == 0);
    f.post("/api/v1/T1/telemetry", "{}", 0);
    CHECK(f.core.auth_calls == 3);
}

TEST_CASE("api: an authentication that raced with an invalidation is used once, not cached", "[api]") {
    fixture f;
    f.start();
    f.core.defer = true;
    const uint64_t x = f.post("/api/v1/T1/telemetry", R"({"a":1})", 0);
    f.a->on_device_event(1, TERN_DEVICE_UPDATED);
    f.reactor.run_pending();
    f.core.run_deferred();
    f.reactor.run_pending();
    f.core.run_deferred();
    CHECK(f.answer(x).code == c201);
    CHECK(f.a->shard(0).tokens.size() == 0);
}

TEST_CASE("api: the auth cache is bounded (LRU) and expires", "[api]") {
    fixture f;
    f.s.auth_cache_size = 2;  // one per shard
    f.s.auth_cache_ttl_ms = 1000;
    f.start();
    f.post("/api/v1/T1/telemetry", "{}");
    f.post("/api/v1/T2/telemetry", "{}");  // evicts T1
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.auth_calls == 3);
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.auth_calls == 3);
    f.reactor.advance(1001 * ms);
    f.post("/api/v1/T1/telemetry", "{}");
    CHECK(f.core.auth_calls == 4);
}

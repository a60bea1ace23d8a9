// The token bucket and the per-source table on their own (tern/ratelimit/ratelimit.hpp).
#include <catch2/catch.hpp>

#include "tern/ratelimit/ratelimit.hpp"

using namespace tern::ratelimit;

namespace {
constexpr uint64_t s = 1'000'000'000ull;
constexpr uint64_t t0 = 1'000 * s;

tern_endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port = 5683) {
    tern_endpoint e{};
    e.family = 4;
    e.port = port;
    e.addr[0] = a;
    e.addr[1] = b;
    e.addr[2] = c;
    e.addr[3] = d;
    return e;
}
}  // namespace

TEST_CASE("a bucket starts full, refills at its rate, never beyond its burst", "[ratelimit][security]") {
    token_bucket b;
    for (int i = 0; i < 5; ++i) CHECK(b.take(t0, 10, 5, 1) == 0);
    const uint64_t wait = b.take(t0, 10, 5, 1);
    CHECK(wait == s / 10);  // one token at 10/s
    CHECK(retry_seconds(wait) == 1);
    CHECK(b.take(t0 + s / 10, 10, 5, 1) == 0);
    CHECK(b.take(t0 + s / 10, 10, 5, 1) != 0);
    // an hour later: 5 again, not 36 000
    const uint64_t later = t0 + 3600 * s;
    for (int i = 0; i < 5; ++i) CHECK(b.take(later, 10, 5, 1) == 0);
    CHECK(b.take(later, 10, 5, 1) != 0);
}

TEST_CASE("rate 0 is no limit, a cost over the burst passes on a full bucket and leaves debt",
          "[ratelimit][security]") {
    token_bucket off;
    for (int i = 0; i < 1000; ++i) CHECK(off.take(t0, 0, 1, 1000) == 0);
    token_bucket b;
    CHECK(b.take(t0, 100, 10, 50) == 0);        // 50 on a full bucket of 10
    const uint64_t wait = b.take(t0, 100, 10, 1);  // 40 in debt, 1 needed: 0.41 s
    CHECK(wait == 41 * s / 100);
    CHECK(b.take(t0, 100, 10, 20) == 50 * s / 100);  // at most a full bucket is waited for
    CHECK(b.take(t0 + 41 * s / 100, 100, 10, 1) == 0);
}

TEST_CASE("a refund gives back what valid work took, up to the burst", "[ratelimit][security]") {
    token_bucket b;
    CHECK(b.take(t0, 1, 2, 1) == 0);
    CHECK(b.take(t0, 1, 2, 1) == 0);
    CHECK(b.take(t0, 1, 2, 1) != 0);
    b.refund(t0, 1, 2, 1);
    CHECK(b.take(t0, 1, 2, 1) == 0);
    b.refund(t0, 1, 2, 5);
    CHECK(b.full(t0, 1, 2));
    CHECK(retry_seconds(1) == 1);
    CHECK(retry_seconds(s + 1) == 2);
}

TEST_CASE("source buckets are per address (not port), bounded, idle ones go first",
          "[ratelimit][security]") {
    address_buckets t(16, 42);
    CHECK(t.capacity() == 16);
    token_bucket* a = t.find_or_add(v4(127, 0, 0, 1, 1000), t0, 1, 1);
    REQUIRE(a != nullptr);
    CHECK(a->take(t0, 1, 1, 1) == 0);
    CHECK(t.find_or_add(v4(127, 0, 0, 1, 2000), t0, 1, 1) == a);  // another port, the same host
    CHECK(a->take(t0, 1, 1, 1) != 0);
    // fill far beyond the capacity: the table stays bounded, the used bucket of 127.0.0.1
    // survives while full (idle) ones can make room
    int evicted_with_history = 0;
    for (int i = 0; i < 1000; ++i) {
        bool ev = false;
        token_bucket* b = t.find_or_add(v4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), t0, 1, 1);
        REQUIRE(b != nullptr);
        (void)ev;
    }
    CHECK(t.size() <= 16);
    token_bucket* again = t.find(v4(127, 0, 0, 1));
    if (again != nullptr) CHECK(again->take(t0, 1, 1, 1) != 0);
    // every new address used its bucket: now evictions drop history and say so
    for (int i = 0; i < 100; ++i) {
        bool ev = false;
        token_bucket* b = t.find_or_add(v4(10, 1, 0, static_cast<uint8_t>(i)), t0, 1, 1, &ev);
        REQUIRE(b != nullptr);
        b->take(t0, 1, 1, 1);
        evicted_with_history += ev;
    }
    CHECK(evicted_with_history > 0);
    CHECK(t.size() <= 16);
    address_buckets none(0, 1);
    CHECK(none.find_or_add(v4(127, 0, 0, 1), t0, 1, 1) == nullptr);
}

TEST_CASE("IPv6 addresses are keyed by all 16 bytes", "[ratelimit][security]") {
    address_buckets t(64, 7);
    tern_endpoint a{};
    a.family = 6;
    a.addr[15] = 1;
    tern_endpoint b = a;
    b.addr[0] = 0x20;
    token_bucket* x = t.find_or_add(a, t0, 1, 1);
    token_bucket* y = t.find_or_add(b, t0, 1, 1);
    CHECK(x != y);
    tern_endpoint v4same{};
    v4same.family = 4;
    v4same.addr[15] = 1;  // ignored for IPv4
    CHECK(t.find_or_add(v4same, t0, 1, 1) != x);
}

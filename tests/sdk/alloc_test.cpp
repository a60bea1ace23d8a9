// tern/sdk/testing_alloc.hpp counts allocations and locks, and the fake host's metric updates
// take neither (so a plugin's allocation test may run on it).
#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <vector>

#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_alloc.hpp"

TEST_CASE("alloc counter: counts allocations and locks, on every thread", "[alloc]") {
    std::mutex m;
    tern::sdk::testing::alloc_counter c;
    auto p = std::make_unique<int>(3);
    std::vector<int> v(10);
    { std::lock_guard lk(m); }
    const auto n = c.stop();
    CHECK(n.allocations == 2);
    CHECK(n.locks == 1);
    auto q = std::make_unique<int>(4);
    CHECK(c.read().allocations == 2);  // stopped
}

TEST_CASE("alloc counter: recording_metrics updates allocate nothing and lock nothing", "[alloc]") {
    tern::sdk::testing::fake_host h;
    const tern::sdk::host sh(&h);
    const double buckets[] = {1, 2};
    auto ctr = sh.counter("a_total", "A");
    auto g = sh.gauge("b", "B");
    auto hist = sh.histogram("c", "C", buckets);
    tern::sdk::testing::alloc_counter c;
    for (int i = 0; i < 1000; ++i) {
        ctr.inc();
        g.add(1);
        g.set(i);
        hist.observe(1.5);
    }
    const auto n = c.stop();
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(h.metrics.value("a_total") == 1000);
    CHECK(h.metrics.observations("c") == 1000);
}

// The sink slot: one sink at a time, and a detach that returns only once no other shard is
// inside the old sink.
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <thread>

#include "tern/udp_io/sink_slot.hpp"

using namespace tern;
using namespace tern::udp_io;
using namespace std::chrono_literals;

namespace {

struct null_sink final : datagram_sink_v1 {
    void on_datagrams(uint32_t, const tern_datagram*, uint32_t) noexcept override {}
    void on_session_end(uint32_t, const tern_peer*) noexcept override {}
};

datagram_sink_v1* seen_by(sink_slot& slot, uint32_t shard) {
    datagram_sink_v1* seen = nullptr;
    slot.enter(shard, [&](datagram_sink_v1* s) { seen = s; });
    return seen;
}

}  // namespace

TEST_CASE("one sink at a time: the same one again is fine, another is refused until a detach") {
    sink_slot slot;
    slot.resize(2);
    null_sink a, b;
    CHECK(seen_by(slot, 0) == nullptr);
    CHECK(slot.attach(&a, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
    CHECK(slot.attach(&a, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
    CHECK(slot.attach(&b, TERN_NO_SHARD, sdk::logger{}) == TERN_EXISTS);
    CHECK(seen_by(slot, 1) == &a);
    CHECK(slot.attach(nullptr, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
    CHECK(seen_by(slot, 1) == nullptr);
    CHECK(slot.attach(&b, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
    CHECK(seen_by(slot, 0) == &b);
}

TEST_CASE("a detach waits until no other shard is inside the old sink") {
    sink_slot slot;
    slot.resize(2);
    null_sink a;
    REQUIRE(slot.attach(&a, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
    std::atomic<bool> inside{false}, release{false}, detached{false};
    std::thread shard1([&] {
        slot.enter(1, [&](datagram_sink_v1* s) {
            CHECK(s == &a);
            inside = true;
            while (!release) std::this_thread::sleep_for(1ms);
        });
    });
    while (!inside) std::this_thread::sleep_for(1ms);
    std::thread detacher([&] {
        CHECK(slot.attach(nullptr, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
        detached = true;
    });
    std::this_thread::sleep_for(100ms);
    CHECK_FALSE(detached);
    // meanwhile the sink is gone for every shard that enters now
    CHECK(seen_by(slot, 0) == nullptr);
    release = true;
    shard1.join();
    detacher.join();
    CHECK(detached);
}

TEST_CASE("a shard that detaches from inside the sink does not wait for itself") {
    sink_slot slot;
    slot.resize(3);
    null_sink a;
    REQUIRE(slot.attach(&a, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
    tern_status detach = TERN_INTERNAL;
    slot.enter(2, [&](datagram_sink_v1*) { detach = slot.attach(nullptr, 2, sdk::logger{}); });
    CHECK(detach == TERN_OK);
    CHECK(seen_by(slot, 2) == nullptr);
}

TEST_CASE("resizing keeps the attached sink") {
    sink_slot slot;
    null_sink a;
    REQUIRE(slot.attach(&a, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);  // before any shard exists
    slot.resize(4);
    CHECK(seen_by(slot, 3) == &a);
    CHECK(slot.attach(nullptr, TERN_NO_SHARD, sdk::logger{}) == TERN_OK);
}

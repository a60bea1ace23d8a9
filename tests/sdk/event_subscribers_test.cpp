// tern/sdk/event_subscribers.hpp: the subscriber table of a tern.core.events/1 implementation
// (bound, handles, per-device unions, delivery per flag, close waiting for a listener call).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "tern/sdk/event_subscribers.hpp"
#include "tern/sdk/testing.hpp"

using tern::sdk::event_subscribers;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t attrs = TERN_SUBSCRIBE_ATTRIBUTES;
constexpr uint32_t rpc = TERN_SUBSCRIBE_RPC;

// Counts what it is given; on_device_event can be held until the test lets it go.
struct counting_listener final : tern::core_listener_v1 {
    std::atomic<int> attributes{0}, rpcs{0}, device_events{0};
    std::atomic<bool> hold{false}, inside{false};
    void on_attributes_updated(uint64_t, const tern_kv*, uint32_t, const tern_str*, uint32_t) noexcept override {
        ++attributes;
    }
    void on_rpc_request(uint64_t, const tern_rpc_request*) noexcept override { ++rpcs; }
    void on_device_event(uint64_t, tern_device_event) noexcept override {
        inside = true;
        while (hold.load()) std::this_thread::sleep_for(1ms);
        ++device_events;
        inside = false;
    }
};

void attributes_to(event_subscribers& t, uint64_t device) {
    t.deliver(device, attrs,
              [&](tern::core_listener_v1& l) { l.on_attributes_updated(device, nullptr, 0, nullptr, 0); });
}

void rpc_to(event_subscribers& t, uint64_t device) {
    t.deliver(device, rpc, [&](tern::core_listener_v1& l) { l.on_rpc_request(device, nullptr); });
}

}  // namespace

TEST_CASE("event_subscribers: the bound refuses with TERN_BUSY and counts it", "[sdk][events]") {
    tern::sdk::testing::fake_host h;
    const tern::sdk::host sh(&h);
    event_subscribers t;
    t.set_max_subscribers(3);
    t.set_refused_metric(sh.counter("refused_total", "Refused"));
    counting_listener l;
    std::vector<uint64_t> handles(3);
    for (uint64_t& hd : handles) REQUIRE(t.subscribe(&l, &hd) == TERN_OK);
    uint64_t extra = 7;
    CHECK(t.subscribe(&l, &extra) == TERN_BUSY);
    CHECK(extra == 0);
    CHECK(h.metrics.value("refused_total") == 1);
    CHECK(t.subscribers() == 3);
    t.close(handles[1]);
    CHECK(t.subscribe(&l, &extra) == TERN_OK);  // the closed slot is free again
    CHECK(t.subscribe(nullptr, &extra) == TERN_INVALID_ARGUMENT);
}

TEST_CASE("event_subscribers: handles are never 0 and a stale handle is refused", "[sdk][events]") {
    event_subscribers t;
    t.set_max_subscribers(1);  // every handle reuses slot 0
    counting_listener l;
    std::set<uint64_t> seen;
    uint64_t prev = 0;
    for (int i = 0; i < 100; ++i) {
        uint64_t hd = 0;
        REQUIRE(t.subscribe(&l, &hd) == TERN_OK);
        CHECK(hd != 0);
        CHECK(seen.insert(hd).second);
        if (prev != 0) {
            CHECK(t.subscribe_device(prev, 1, attrs) == TERN_NOT_FOUND);
            t.close(prev);  // nothing: not the slot's subscriber any more
        }
        CHECK(t.subscribe_device(hd, 1, attrs) == TERN_OK);
        t.close(hd);
        CHECK(t.subscribe_device(hd, 1, attrs) == TERN_NOT_FOUND);
        prev = hd;
    }
    CHECK(t.subscribe_device(0, 1, attrs) == TERN_NOT_FOUND);
    CHECK(t.union_of(1) == 0);
}

TEST_CASE("event_subscribers: union changes are reported to the hook", "[sdk][events]") {
    std::vector<event_subscribers::union_change> changes;
    event_subscribers t([&](const event_subscribers::union_change& c) {
        changes.push_back(c);
        return TERN_OK;
    });
    counting_listener l;
    uint64_t a = 0, b = 0;
    REQUIRE(t.subscribe(&l, &a) == TERN_OK);
    REQUIRE(t.subscribe(&l, &b) == TERN_OK);

    REQUIRE(t.subscribe_device(a, 9, attrs) == TERN_OK);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].device_id == 9);
    CHECK(changes[0].before == 0);
    CHECK(changes[0].after == attrs);
    CHECK(changes[0].subscribed == attrs);

    REQUIRE(t.subscribe_device(b, 9, rpc | 0x100) == TERN_OK);  // unknown flag ignored
    CHECK(changes.back().before == attrs);
    CHECK(changes.back().after == (attrs | rpc));
    CHECK(changes.back().subscribed == rpc);
    CHECK(t.union_of(9) == (attrs | rpc));

    t.unsubscribe_device(a, 9, attrs);
    CHECK(changes.back().before == (attrs | rpc));
    CHECK(changes.back().after == rpc);
    CHECK(changes.back().subscribed == 0);

    t.close(b);  // the last holder: the union drops to nothing
    CHECK(changes.back().before == rpc);
    CHECK(changes.back().after == 0);
    CHECK(t.union_of(9) == 0);
    CHECK(changes.size() == 4);
}

TEST_CASE("event_subscribers: a hook's refusal undoes the subscription", "[sdk][events]") {
    bool refuse = true;
    event_subscribers t([&](const event_subscribers::union_change& c) {
        return refuse && c.subscribed != 0 ? TERN_INTERNAL : TERN_OK;
    });
    counting_listener l;
    uint64_t a = 0;
    REQUIRE(t.subscribe(&l, &a) == TERN_OK);
    CHECK(t.subscribe_device(a, 5, attrs) == TERN_INTERNAL);
    CHECK(t.union_of(5) == 0);
    attributes_to(t, 5);
    CHECK(l.attributes == 0);
    refuse = false;
    CHECK(t.subscribe_device(a, 5, attrs) == TERN_OK);
    CHECK(t.union_of(5) == attrs);
}

TEST_CASE("event_subscribers: delivery reaches only the listeners subscribed for the flag", "[sdk][events]") {
    event_subscribers t;
    counting_listener la, lb, lc;
    uint64_t a = 0, b = 0, c = 0;
    REQUIRE(t.subscribe(&la, &a) == TERN_OK);
    REQUIRE(t.subscribe(&lb, &b) == TERN_OK);
    REQUIRE(t.subscribe(&lc, &c) == TERN_OK);
    REQUIRE(t.subscribe_device(a, 1, attrs) == TERN_OK);
    REQUIRE(t.subscribe_device(b, 1, rpc) == TERN_OK);
    REQUIRE(t.subscribe_device(c, 2, attrs | rpc) == TERN_OK);

    attributes_to(t, 1);
    rpc_to(t, 1);
    rpc_to(t, 2);
    CHECK(la.attributes == 1);
    CHECK(la.rpcs == 0);
    CHECK(lb.attributes == 0);
    CHECK(lb.rpcs == 1);
    CHECK(lc.attributes == 0);
    CHECK(lc.rpcs == 1);
    CHECK_FALSE(t.deliver(3, attrs, [](tern::core_listener_v1&) {}));  // nobody: the caller counts a drop

    t.deliver_all([](tern::core_listener_v1& l) { l.on_device_event(1, TERN_DEVICE_DELETED); });
    CHECK(la.device_events == 1);
    CHECK(lb.device_events == 1);
    CHECK(lc.device_events == 1);
}

TEST_CASE("event_subscribers: a reserved slot is open, takes subscriptions and cannot be closed", "[sdk][events]") {
    event_subscribers t({}, 1);
    const uint64_t legacy = t.reserved_handle(0);
    CHECK(legacy != 0);
    CHECK(t.subscribers() == 0);
    counting_listener l;
    t.set_reserved_listener(0, &l);
    REQUIRE(t.subscribe_device(legacy, 4, rpc) == TERN_OK);
    t.close(legacy);
    rpc_to(t, 4);
    CHECK(l.rpcs == 1);
    uint64_t h = 0;
    REQUIRE(t.subscribe(&l, &h) == TERN_OK);
    CHECK((h & (event_subscribers::slot_count - 1)) != 0);
    t.set_reserved_listener(0, nullptr);
    rpc_to(t, 4);
    CHECK(l.rpcs == 1);
}

TEST_CASE("event_subscribers: close waits until a listener call in progress returns", "[sdk][events]") {
    event_subscribers t;
    counting_listener l;
    uint64_t hd = 0;
    REQUIRE(t.subscribe(&l, &hd) == TERN_OK);
    l.hold = true;
    std::thread deliverer([&] {
        t.deliver_all([](tern::core_listener_v1& x) { x.on_device_event(1, TERN_DEVICE_DELETED); });
    });
    while (!l.inside.load()) std::this_thread::sleep_for(1ms);
    std::atomic<bool> closed{false};
    std::thread closer([&] {
        t.close(hd);
        closed = true;
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(closed.load());  // the call still runs
    l.hold = false;
    closer.join();
    deliverer.join();
    CHECK(closed.load());
    CHECK(l.device_events == 1);
    t.deliver_all([](tern::core_listener_v1& x) { x.on_device_event(1, TERN_DEVICE_DELETED); });
    CHECK(l.device_events == 1);  // closed: no more calls
}

TEST_CASE("event_subscribers: the device table is flat, refuses device 0 and shrinks as devices go") {
    std::size_t gone = 0, narrowed = 0;
    event_subscribers subs([&](const event_subscribers::union_change& c) {
        if (c.subscribed == 0 && c.after == 0) ++gone;
        if (c.subscribed == 0 && c.after == rpc) ++narrowed;
        return TERN_OK;
    });
    counting_listener l1, l2;
    uint64_t h1 = 0, h2 = 0;
    REQUIRE(subs.subscribe(&l1, &h1) == TERN_OK);
    REQUIRE(subs.subscribe(&l2, &h2) == TERN_OK);
    CHECK(subs.subscribe_device(h1, 0, attrs) == TERN_INVALID_ARGUMENT);
    CHECK(subs.device_table().entries == 0);
    constexpr uint64_t n = 20000;
    for (uint64_t d = 1; d <= n; ++d) REQUIRE(subs.subscribe_device(h1, d, attrs | rpc) == TERN_OK);
    for (uint64_t d = 1; d <= n; d += 4) REQUIRE(subs.subscribe_device(h2, d, rpc) == TERN_OK);
    auto t = subs.device_table();
    CHECK(t.entries == n);
    CHECK(t.capacity * 7 >= n * 8);  // between 7/12 and 7/8 full
    CHECK(t.capacity * 7 < n * 12);
    CHECK(t.bytes == t.capacity * 24);
    // Closing h1 drops every device but those h2 holds, each told to the hook once.
    subs.close(h1);
    CHECK(gone == n - n / 4);
    CHECK(narrowed == n / 4);
    t = subs.device_table();
    CHECK(t.entries == n / 4);
    for (uint64_t d = 1; d <= n; ++d) REQUIRE(subs.union_of(d) == (d % 4 == 1 ? rpc : 0u));
    for (uint64_t d = 1; d <= n; d += 4) subs.unsubscribe_device(h2, d, rpc);
    t = subs.device_table();
    CHECK(t.entries == 0);
    CHECK(t.capacity >= 1024);  // halved below 1/8 full, not below 1 024 slots
    CHECK(t.capacity < 2048);
    CHECK(gone == n);
}

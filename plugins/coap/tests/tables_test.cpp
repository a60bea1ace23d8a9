// The fixed-capacity building blocks, checked against std containers on random workloads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "completion_queue.hpp"
#include "tables.hpp"
#include "tern/sdk/coap.hpp"

using namespace tern::coap;

TEST_CASE("open_index: insert, find and backward-shift erase agree with std::map", "[tables]") {
    open_index idx;
    idx.init(512);
    std::map<uint32_t, uint32_t> ref;  // slot -> key
    std::vector<uint32_t> keys(512);
    std::mt19937 rng(7);
    // Few distinct hash values force long probe runs and wrap-around.
    auto hash_of = [](uint32_t key) { return ((key * 2654435761u) & 0x3Fu) | (key % 3 == 0 ? 0xFFFFFFC0u : 0); };
    for (int step = 0; step < 20000; ++step) {
        const uint32_t slot = rng() % 512;
        if (ref.count(slot) != 0) {
            CHECK(idx.erase(hash_of(ref[slot]), slot));
            ref.erase(slot);
        } else if (ref.size() < 512) {
            const uint32_t key = rng();
            idx.insert(hash_of(key), slot);
            ref[slot] = key;
            keys[slot] = key;
        }
        if (step % 97 == 0) {
            for (const auto& entry : ref) {
                const uint32_t slot_in = entry.first;
                const uint32_t key = entry.second;
                const uint32_t found =
                    idx.find(hash_of(key), [&](uint32_t c) { return ref.count(c) && ref[c] == key; });
                CHECK(found == slot_in);
            }
        }
    }
    CHECK_FALSE(idx.erase(12345, 600));
}

TEST_CASE("open_index: grows from its initial buckets to the size max_items needs, keeping every item", "[tables]") {
    open_index idx;
    idx.init(50000);
    CHECK(idx.capacity() == open_index::initial_buckets);
    CHECK(idx.max_capacity() == 131072);
    std::mt19937 rng(11);
    std::vector<uint32_t> hashes(50000);
    for (uint32_t s = 0; s < 50000; ++s) {
        hashes[s] = rng();
        idx.insert(hashes[s], s);
        CHECK(idx.capacity() >= 2 * idx.size());
    }
    CHECK(idx.capacity() == idx.max_capacity());
    CHECK(idx.size() == 50000);
    for (uint32_t s = 0; s < 50000; s += 7)
        CHECK(idx.find(hashes[s], [&](uint32_t c) { return c == s; }) == s);
    for (uint32_t s = 0; s < 50000; s += 2) CHECK(idx.erase(hashes[s], s));
    CHECK(idx.size() == 25000);
    for (uint32_t s = 1; s < 50000; s += 14)
        CHECK(idx.find(hashes[s], [&](uint32_t c) { return c == s; }) == s);
    for (uint32_t s = 0; s < 50000; s += 14)
        CHECK(idx.find(hashes[s], [&](uint32_t c) { return c == s; }) == nil);
}

TEST_CASE("slot_pool: emptied and discarded, its slots come back with generations past every old one", "[tables]") {
    struct rec {
        uint32_t gen;
        uint32_t value;
    };
    slot_pool<rec> pool;
    pool.init(1000);
    std::vector<uint32_t> slots;
    uint32_t newest = 0;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 500; ++i) slots.push_back(pool.alloc());
        for (uint32_t s : slots) {
            newest = std::max(newest, pool[s].gen);
            pool.free(s);
        }
        slots.clear();
    }
    pool.discard_if_empty();
    CHECK(pool.high_water() == 0);
    CHECK(pool.touched_bytes() == 0);
    for (int i = 0; i < 500; ++i) {
        const uint32_t s = pool.alloc();
        CHECK(pool[s].gen > newest);  // an id of before the discard stays stale
        CHECK(pool[s].value == 0);    // the page reads as calloc left it
    }
    pool.discard_if_empty();  // not empty: nothing happens
    CHECK(pool.high_water() == 500);
}

TEST_CASE("timer_heap: pops in deadline order with reschedules and cancels", "[tables]") {
    timer_heap h;
    h.init(300, 300);
    std::map<uint32_t, uint64_t> ref;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 5000; ++i) {
        const uint32_t owner = static_cast<uint32_t>(rng() % 300);
        const int op = static_cast<int>(rng() % 3);
        if (op == 0 && ref.count(owner)) {
            h.cancel(owner);
            ref.erase(owner);
        } else {
            const uint64_t d = rng() % 100000;
            h.schedule(owner, d);
            ref[owner] = d;
        }
        REQUIRE(h.size() == ref.size());
        if (!ref.empty()) {
            const auto best = std::min_element(ref.begin(), ref.end(),
                                               [](const auto& a, const auto& b) { return a.second < b.second; });
            CHECK(h.top_deadline() == best->second);
        }
    }
    uint64_t last = 0;
    while (!h.empty()) {
        CHECK(h.top_deadline() >= last);
        last = h.top_deadline();
        const uint32_t o = h.top_owner();
        CHECK(ref.at(o) == last);
        h.cancel(o);
        ref.erase(o);
    }
    CHECK(ref.empty());
}

TEST_CASE("chunk_pool: exact budget, chains round-trip, released chunks are reused", "[tables]") {
    chunk_pool p;
    p.init(10 * chunk_pool::chunk_size);
    std::vector<uint8_t> a(600), b(1000);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(255 - i % 256);
    const uint32_t ca = p.store(a.data(), a.size());  // 3 chunks
    const uint32_t cb = p.store(b.data(), b.size());  // 4 chunks
    REQUIRE(ca != nil);
    REQUIRE(cb != nil);
    CHECK(p.free_chunks() == 3);
    CHECK(p.store(b.data(), b.size()) == nil);  // would need 4
    std::vector<uint8_t> out(1000);
    p.read(cb, 0, out.data(), 1000);
    CHECK(out == b);
    p.read(ca, 300, out.data(), 300);
    CHECK(std::equal(out.begin(), out.begin() + 300, a.begin() + 300));
    p.release(ca);
    CHECK(p.free_chunks() == 6);
    CHECK(p.store(b.data(), b.size()) != nil);
}

TEST_CASE("slot_pool: generations change on reuse, never 0", "[tables]") {
    struct rec {
        uint32_t gen;
        uint32_t v;
    };
    slot_pool<rec> p;
    p.init(2);
    const uint32_t a = p.alloc();
    const uint32_t g1 = p[a].gen;
    CHECK(g1 != 0);
    p[a].v = 5;
    p.free(a);
    CHECK(p[a].v == 0);
    const uint32_t b = p.alloc();
    CHECK(b == a);
    CHECK(p[b].gen != g1);
    p.alloc();
    CHECK(p.full());
    CHECK(p.alloc() == nil);
}

TEST_CASE("completion_queue: single-thread order across ring and overflow", "[tables][threads]") {
    completion_queue q(16);
    int posts = 0;
    for (uint64_t i = 0; i < 100; ++i) {
        completion c;
        tern_coap_response r = tern::sdk::coap::response(0x45);
        REQUIRE(c.fill(completion::op::respond, i, &r, 0, 0));
        bool must_post = false;
        REQUIRE(q.push(std::move(c), must_post));
        posts += must_post ? 1 : 0;
    }
    CHECK(posts == 1);
    std::vector<uint64_t> seen;
    q.drain([&](completion& c) { seen.push_back(c.id); });
    REQUIRE(seen.size() == 100);
    for (uint64_t i = 0; i < 100; ++i) CHECK(seen[i] == i);
    // Idle again: the next push asks for a new drain.
    completion c;
    bool must_post = false;
    q.push(std::move(c), must_post);
    CHECK(must_post);
}

TEST_CASE("completion: options and payloads survive the trip, inline or on the heap", "[tables]") {
    for (std::size_t n : {10u, 2000u}) {
        const std::string payload(n, 'p');
        const uint8_t etag[] = {1, 2, 3};
        tern_coap_option opts[1] = {{TERN_COAP_OPT_ETAG, 0, 0, tern_bytes{etag, 3}}};
        tern_coap_response r = tern::sdk::coap::response(0x45, tern::sdk::to_bytes(payload), 50);
        r.options = opts;
        r.option_count = 1;
        completion c;
        REQUIRE(c.fill(completion::op::notify, 9, &r, 77, 1));
        completion moved(std::move(c));
        tern_coap_option scratch[64];
        const tern_coap_response& back = moved.response(scratch);
        CHECK(moved.cookie == 77);
        CHECK(back.content_format == 50);
        REQUIRE(back.option_count == 1);
        CHECK(back.options[0].number == TERN_COAP_OPT_ETAG);
        CHECK(std::equal(etag, etag + 3, back.options[0].value.data));
        CHECK(std::string(reinterpret_cast<const char*>(back.payload.data), back.payload.size) == payload);
    }
}

// tern/sdk/id_table.hpp: the flat id -> value table of the per-device tables (device_api,
// core_embedded, event_subscribers): probing across the array's end, backward-shift deletion
// checked against std::unordered_map, growth and shrinking, the reserved id, bytes().
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "tern/sdk/id_table.hpp"

using tern::sdk::id_table;

namespace {

// Ids whose home is the last slot of a 16-slot table (the first array), found by the table's
// own hash: the top 4 bits of id * the Fibonacci constant.
std::vector<uint64_t> ids_homed_last(std::size_t n) {
    std::vector<uint64_t> out;
    for (uint64_t id = 1; out.size() < n; ++id)
        if (((id * 0x9E3779B97F4A7C15ull) >> 60) == 15) out.push_back(id);
    return out;
}

}  // namespace

TEST_CASE("id_table: insert, find and erase across the array's end") {
    id_table<uint32_t> t;
    const std::vector<uint64_t> ids = ids_homed_last(4);
    for (uint32_t k = 0; k < ids.size(); ++k) {
        auto [v, made] = t.try_emplace(ids[k]);
        REQUIRE(made);
        *v = k + 100;
    }
    REQUIRE(t.capacity() == 16);  // 4 entries: no growth, so three of them wrapped to slots 0..2
    for (uint32_t k = 0; k < ids.size(); ++k) {
        REQUIRE(t.find(ids[k]) != nullptr);
        CHECK(*t.find(ids[k]) == k + 100);
    }
    auto [again, made] = t.try_emplace(ids[2]);
    CHECK_FALSE(made);
    CHECK(*again == 102);
    // Erasing the one in the home slot shifts the wrapped ones back over the end.
    CHECK(t.erase(ids[0]));
    CHECK_FALSE(t.erase(ids[0]));
    CHECK(t.find(ids[0]) == nullptr);
    for (uint32_t k = 1; k < ids.size(); ++k) {
        REQUIRE(t.find(ids[k]) != nullptr);
        CHECK(*t.find(ids[k]) == k + 100);
    }
    CHECK(t.erase(ids[2]));
    CHECK(*t.find(ids[1]) == 101);
    CHECK(*t.find(ids[3]) == 103);
    CHECK(t.size() == 2);
}

TEST_CASE("id_table: random operations agree with std::unordered_map") {
    id_table<uint64_t> t;
    std::unordered_map<uint64_t, uint64_t> model;
    std::mt19937_64 rng(16);
    for (int round = 0; round < 300000; ++round) {
        // A small id range makes long probe runs and many erasures inside them.
        const uint64_t id = 1 + rng() % 6000;
        if (rng() % 3 == 0) {
            REQUIRE(t.erase(id) == (model.erase(id) == 1));
        } else {
            auto [v, made] = t.try_emplace(id);
            REQUIRE(v != nullptr);
            REQUIRE(made == (model.count(id) == 0));
            *v = static_cast<uint64_t>(round);
            model[id] = static_cast<uint64_t>(round);
        }
        if (round % 10007 == 0) {
            REQUIRE(t.size() == model.size());
            for (const auto& [k, v] : model) REQUIRE((t.find(k) != nullptr && *t.find(k) == v));
        }
    }
    REQUIRE(t.size() == model.size());
    std::size_t seen = 0;
    t.for_each([&](uint64_t id, uint64_t& v) {
        ++seen;
        CHECK(model.at(id) == v);
    });
    CHECK(seen == model.size());
    for (uint64_t id = 6001; id < 7000; ++id) CHECK(t.find(id) == nullptr);
}

TEST_CASE("id_table: grows past 7/8, shrinks below 1/8, gives the array back on clear") {
    id_table<uint32_t> t;
    CHECK(t.capacity() == 0);
    CHECK(t.bytes() == 0);
    constexpr uint64_t n = 100000;
    for (uint64_t id = 1; id <= n; ++id) {
        *t.try_emplace(id).first = static_cast<uint32_t>(id);
        REQUIRE(t.size() * 8 <= t.capacity() * 7);
    }
    // grown by half each time from 16: 100 000 entries sit between 7/12 and 7/8 full
    CHECK(t.capacity() * 7 >= n * 8);
    CHECK(t.capacity() * 7 < n * 12);
    CHECK(t.bytes() == t.capacity() * sizeof(id_table<uint32_t>::slot));
    CHECK(sizeof(id_table<uint32_t>::slot) == 16);
    for (uint64_t id = 1; id <= n; ++id) REQUIRE((t.find(id) != nullptr && *t.find(id) == id));
    for (uint64_t id = 1; id <= n - 100; ++id) REQUIRE(t.erase(id));
    CHECK(t.size() == 100);
    CHECK(t.capacity() >= 1024);  // halved on the way down, not below 1024
    CHECK(t.capacity() < 2048);
    for (uint64_t id = n - 99; id <= n; ++id) REQUIRE((t.find(id) != nullptr && *t.find(id) == id));
    t.clear();
    CHECK(t.size() == 0);
    CHECK(t.bytes() == 0);
    CHECK(t.find(n) == nullptr);
    CHECK(t.try_emplace(7).second);
    CHECK(t.capacity() == 16);
}

TEST_CASE("id_table: the reserved id 0 is refused") {
    id_table<uint32_t> t;
    auto [v, made] = t.try_emplace(0);
    CHECK(v == nullptr);
    CHECK_FALSE(made);
    CHECK(t.size() == 0);
    CHECK(t.find(0) == nullptr);
    CHECK_FALSE(t.erase(0));
    *t.try_emplace(1).first = 5;
    CHECK(t.find(0) == nullptr);
    CHECK_FALSE(t.erase(0));
    CHECK(t.size() == 1);
}

TEST_CASE("id_table: values that own memory are moved and destroyed with their entry") {
    id_table<std::unique_ptr<int>> t;
    auto counted = std::make_shared<int>(0);
    {
        id_table<std::shared_ptr<int>> owners;
        for (uint64_t id = 1; id <= 5000; ++id) *owners.try_emplace(id).first = counted;
        CHECK(counted.use_count() == 5001);
        for (uint64_t id = 1; id <= 4000; ++id) REQUIRE(owners.erase(id));
        CHECK(counted.use_count() == 1001);  // an erased entry let go of its value
        owners.clear();
        CHECK(counted.use_count() == 1);
    }
    for (uint64_t id = 1; id <= 3000; ++id) *t.try_emplace(id).first = std::make_unique<int>(static_cast<int>(id));
    for (uint64_t id = 1; id <= 3000; id += 2) REQUIRE(t.erase(id));
    for (uint64_t id = 2; id <= 3000; id += 2) REQUIRE((t.find(id) != nullptr && **t.find(id) == static_cast<int>(id)));
    CHECK(t.size() == 1500);
}

TEST_CASE("id_table: erase_if sees every entry once and keeps the rest findable") {
    std::mt19937_64 rng(61);
    for (int trial = 0; trial < 20; ++trial) {
        id_table<uint32_t> t;
        std::unordered_map<uint64_t, uint32_t> model;
        const uint64_t range = 200 + rng() % 20000;
        const std::size_t fill = static_cast<std::size_t>(rng() % range);
        for (std::size_t k = 0; k < fill; ++k) {
            const uint64_t id = 1 + rng() % range;
            *t.try_emplace(id).first = 0;
            model[id] = 0;
        }
        const unsigned keep_mod = 1 + static_cast<unsigned>(rng() % 5);  // 1: erase everything
        std::unordered_map<uint64_t, int> visits;
        const std::size_t erased = t.erase_if([&](uint64_t id, uint32_t& v) {
            ++visits[id];
            ++v;  // the value may be changed
            return id % keep_mod != 0 || keep_mod == 1;
        });
        CHECK(visits.size() == model.size());
        for (const auto& [id, n] : visits) REQUIRE(n == 1);
        std::size_t expect_erased = 0;
        for (const auto& [id, v] : model) {
            const bool gone = id % keep_mod != 0 || keep_mod == 1;
            expect_erased += gone;
            if (gone) {
                REQUIRE(t.find(id) == nullptr);
            } else {
                REQUIRE(t.find(id) != nullptr);
                CHECK(*t.find(id) == 1);
            }
        }
        CHECK(erased == expect_erased);
        CHECK(t.size() == model.size() - expect_erased);
        CHECK((t.capacity() < 2 * id_table<int>::min_shrink_capacity || t.size() * 8 >= t.capacity()));
    }
}

TEST_CASE("id_table: a million entries fill it between 7/12 and 7/8, not half empty") {
    // A doubling table would hold 1 000 000 entries (just past 7/8 of 2^20) in 2^21 slots.
    id_table<uint64_t> t;
    constexpr uint64_t n = 1000000;
    for (uint64_t id = 1; id <= n; ++id) *t.try_emplace(id * 7919).first = id;
    CHECK(t.size() == n);
    CHECK(t.capacity() * 7 >= n * 8);
    CHECK(t.capacity() * 7 < n * 12);
    std::printf("id_table: 1000000 entries of 8 bytes in %zu slots: %.1f bytes per entry (slot %zu)\n", t.capacity(),
                static_cast<double>(t.bytes()) / static_cast<double>(n), sizeof(id_table<uint64_t>::slot));
    for (uint64_t id = 1; id <= n; id += 997) REQUIRE((t.find(id * 7919) != nullptr && *t.find(id * 7919) == id));
}

// The LRU map of the authentication caches: LRU order, expiry, groups (device ids).
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "tern/lru/lru_map.hpp"

using namespace tern::lru;

namespace {
using cache = lru_map<std::string, int, string_hash>;

std::string keys(const cache& c) {
    std::string s;
    c.each_recent([&](const std::string& k, const cache::node&) { s += k; });
    return s;
}
}  // namespace

TEST_CASE("the least recently used entry leaves first", "[lru]") {
    cache c(3);
    std::size_t evicted = 0;
    c.put(std::string_view("a"), 1, 10, 1000, &evicted);
    c.put(std::string_view("b"), 2, 20, 1000, &evicted);
    c.put(std::string_view("c"), 3, 30, 1000, &evicted);
    CHECK(keys(c) == "cba");
    REQUIRE(c.find(std::string_view("a"), 0) != nullptr);  // a becomes the most recent
    CHECK(keys(c) == "acb");
    c.put(std::string_view("d"), 4, 40, 1000, &evicted);
    CHECK(evicted == 1);
    CHECK(keys(c) == "dac");
    CHECK(c.find(std::string_view("b"), 0) == nullptr);
    CHECK(c.size() == 3);
}

TEST_CASE("expired entries are gone, refresh slides them", "[lru]") {
    cache c(4);
    c.put(std::string_view("a"), 1, 1, 100);
    CHECK(c.find(std::string_view("a"), 99) != nullptr);
    CHECK(c.find(std::string_view("a"), 100) == nullptr);
    CHECK(c.size() == 0);
    c.put(std::string_view("b"), 2, 1, 100);
    REQUIRE(c.find(std::string_view("b"), 90, 50) != nullptr);  // now expires at 140
    CHECK(c.find(std::string_view("b"), 130) != nullptr);
    CHECK(c.find(std::string_view("b"), 140) == nullptr);
}

TEST_CASE("a group goes at once (device deleted, credentials changed)", "[lru]") {
    cache c(10);
    c.put(std::string_view("t1"), 1, 7, 1000);
    c.put(std::string_view("t2"), 2, 8, 1000);
    c.put(std::string_view("t3"), 3, 7, 1000);
    c.put(std::string_view("t4"), 4, 7, 1000);
    CHECK(c.erase_group(7) == 3);
    CHECK(c.size() == 1);
    CHECK(c.find(std::string_view("t2"), 0) != nullptr);
    CHECK(c.erase_group(7) == 0);
    // re-putting a key moves it to its new group
    c.put(std::string_view("t2"), 5, 9, 1000);
    CHECK(c.erase_group(8) == 0);
    CHECK(c.erase_group(9) == 1);
    CHECK(c.size() == 0);
}

TEST_CASE("replacing a value keeps one entry - capacity 0 stores nothing", "[lru]") {
    cache c(2);
    c.put(std::string_view("a"), 1, 1, 1000);
    c.put(std::string_view("a"), 2, 1, 1000);
    CHECK(c.size() == 1);
    CHECK(c.find(std::string_view("a"), 0)->value == 2);
    cache none(0);
    CHECK(none.put(std::string_view("a"), 1, 1, 1000) == nullptr);
    CHECK(none.find(std::string_view("a"), 0) == nullptr);
}

TEST_CASE("many entries and groups stay consistent", "[lru]") {
    cache c(100);
    for (int i = 0; i < 1000; ++i) c.put(std::to_string(i), i, static_cast<uint64_t>(i % 17), 1000000);
    CHECK(c.size() == 100);
    std::size_t total = 0;
    for (uint64_t g = 0; g < 17; ++g) total += c.erase_group(g);
    CHECK(total == 100);
    CHECK(c.size() == 0);
}

TEST_CASE("entries without expiry leave only by capacity or erase", "[lru]") {
    cache c(2);
    c.put(std::string_view("a"), 1, 1, no_expiry);
    c.put(std::string_view("b"), 2, 2, no_expiry);
    CHECK(c.find(std::string_view("a"), UINT64_MAX - 1) != nullptr);
    CHECK(c.erase(std::string_view("b")));
    CHECK_FALSE(c.erase(std::string_view("b")));
    c.put(std::string_view("c"), 3, 3, no_expiry);
    c.put(std::string_view("d"), 4, 4, no_expiry);
    CHECK(keys(c) == "dc");
    c.clear();
    CHECK(c.size() == 0);
    CHECK(c.erase_group(3) == 0);
}

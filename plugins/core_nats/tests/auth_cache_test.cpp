// The node-local credential cache: bounded LRU, TTL, a device's entries dropped at once, and
// the epoch that keeps an answer requested before a forget() out of the cache.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "auth_cache.hpp"

using tern::core_nats::auth_cache;
using namespace std::chrono_literals;

namespace {

tern_str str(std::string_view s) { return {s.data(), s.size()}; }

tern_device_record record(uint64_t id, std::string_view name) {
    tern_device_record d{};
    d.struct_size = sizeof d;
    d.device_id = id;
    d.device_name = str(name);
    return d;
}

}  // namespace

TEST_CASE("auth_cache: a record is copied, found, and the least recently used goes past the bound") {
    auth_cache c(2, 60s);
    std::string name = "dev-1";
    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "a", record(1, name), c.epoch());
    name.assign("XXXXX");  // the cache holds its own copy
    auto hit = c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a");
    REQUIRE(hit != nullptr);
    CHECK(std::string(hit->record().device_name.data, hit->record().device_name.size) == "dev-1");
    CHECK(c.find(TERN_CREDENTIAL_X509, "a") == nullptr);  // the kind is part of the key

    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "b", record(2, "dev-2"), c.epoch());
    REQUIRE(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a") != nullptr);  // a is now the most recent
    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "c", record(3, "dev-3"), c.epoch());
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "b") == nullptr);
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a") != nullptr);
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "c") != nullptr);
}

TEST_CASE("auth_cache: entries expire after the TTL") {
    auth_cache c(10, 50ms);
    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "a", record(1, "d"), c.epoch());
    c.put_psk("id", 1, tern_bytes{reinterpret_cast<const uint8_t*>("k"), 1}, c.epoch());
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a") != nullptr);
    std::this_thread::sleep_for(80ms);
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a") == nullptr);
    CHECK(c.find_psk("id") == nullptr);
    CHECK(c.size() == 0);
}

TEST_CASE("auth_cache: forget drops every credential and identity of the device, and nothing else") {
    auth_cache c(10, 60s);
    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "a1", record(1, "d1"), c.epoch());
    c.put(TERN_CREDENTIAL_X509, "cert", record(1, "d1"), c.epoch());
    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "a2", record(2, "d2"), c.epoch());
    c.put_psk("id1", 1, tern_bytes{reinterpret_cast<const uint8_t*>("k"), 1}, c.epoch());
    c.forget(1);
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a1") == nullptr);
    CHECK(c.find(TERN_CREDENTIAL_X509, "cert") == nullptr);
    CHECK(c.find_psk("id1") == nullptr);
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a2") != nullptr);
    CHECK(c.size() == 1);
}

TEST_CASE("auth_cache: an answer requested before a forget is not kept, and capacity 0 keeps nothing") {
    auth_cache c(10, 60s);
    const uint64_t before = c.epoch();
    c.forget(7);  // a device event arrives while the request is on its way
    c.put(TERN_CREDENTIAL_ACCESS_TOKEN, "a", record(1, "d"), before);
    c.put_psk("id", 1, tern_bytes{}, before);
    CHECK(c.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a") == nullptr);
    CHECK(c.find_psk("id") == nullptr);

    auth_cache none(0, 60s);
    none.put(TERN_CREDENTIAL_ACCESS_TOKEN, "a", record(1, "d"), none.epoch());
    CHECK(none.find(TERN_CREDENTIAL_ACCESS_TOKEN, "a") == nullptr);
}

// What an idle device with two Observe relations (attributes and rpc) costs the device API:
// the heap measured (glibc's mallinfo2, every shard played on this thread, so one arena) and
// what the plugin's own accounting reports (device_api_memory_bytes{table}), which must agree.
// Prints the bytes per device of each table: the README's Memory section comes from here.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstdio>
#include <string>

#include "service_fixture.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

namespace {

// A ThingsBoard-style access token: 20 characters, past std::string's short buffer.
std::string token_of(int i) {
    char b[32];
    std::snprintf(b, sizeof b, "tok%017d", i);
    return b;
}

int64_t heap_in_use() { return static_cast<int64_t>(mallinfo2().uordblks); }

// Drops what the fakes recorded (responses, calls), so only the plugin's heap stays.
void forget_records(fixture& f) {
    f.engine.responses.clear();
    f.engine.responses.shrink_to_fit();
    f.core.sessions.clear();
    f.core.sessions.shrink_to_fit();
    f.core.sub_calls.clear();
    f.core.sub_calls.shrink_to_fit();
    f.core.reads.clear();
    f.core.reads.shrink_to_fit();
    f.core.auth_values.clear();
    f.core.auth_values.shrink_to_fit();
}

}  // namespace

TEST_CASE("memory: an idle device with two relations, measured and accounted", "[api][memory]") {
    constexpr int n = 20000;
    sdk::testing::fake_host fh;
    const sdk::host h(&fh);
    fixture f;
    f.host = &h;
    for (int i = 0; i < n; ++i) {
        fake_device d;
        d.id = 100 + static_cast<uint64_t>(i);
        f.core.add(token_of(i), d);
        f.core.subs[d.id] = 0;  // the fake's own map grows before the baseline
    }
    f.start();
    const auto value = [&](const char* name, const std::string& labels) { return fh.metrics.value(name, labels); };
    const auto table = [&](const char* t) { return value("device_api_memory_bytes", std::string("table=\"") + t + "\""); };
    int64_t accounted_before = 0;
    for (const char* t : mem_names) accounted_before += table(t);
    forget_records(f);
    malloc_trim(0);
    const int64_t before = heap_in_use();

    for (int i = 0; i < n; ++i) {
        // Each device from its own address and port (127.0.0.H:P), as real devices are.
        req r;
        r.method = TERN_COAP_GET;
        r.observe = 0;
        r.host = static_cast<uint8_t>(1 + i / 40000);
        r.port = static_cast<uint16_t>(20000 + i % 40000);
        r.shard = static_cast<uint32_t>(i % 2);
        r.token = "\x01";
        r.path = "/api/v1/" + token_of(i) + "/attributes";
        f.send(r);
        r.token = "\x02";
        r.path = "/api/v1/" + token_of(i) + "/rpc";
        f.send(r);
        if (i % 1000 == 999) forget_records(f);
    }
    forget_records(f);
    REQUIRE(f.engine.live.size() == 2 * static_cast<std::size_t>(n));
    CHECK(value("device_api_observations", "kind=\"attributes\"") == n);
    CHECK(value("device_api_observations", "kind=\"rpc\"") == n);
    CHECK(value("device_api_entries", "table=\"device_states\"") == n);
    CHECK(value("device_api_entries", "table=\"device_records\"") == n);
    CHECK(value("device_api_entries", "table=\"observation_ids\"") == 2 * n);
    CHECK(value("device_api_entries", "table=\"auth_cache\"") == n);
    CHECK(value("device_api_entries", "table=\"pending_downlinks\"") == 0);

    // The fake engine's set of live relations (a 40-byte node each: a 48-byte chunk) is not
    // the plugin's.
    const int64_t fake = static_cast<int64_t>(f.engine.live.size()) * 48;
    const int64_t measured = heap_in_use() - before - fake;
    int64_t accounted = -accounted_before;
    std::printf("device_api memory per idle device with two relations (%d devices):\n", n);
    for (const char* t : mem_names) {
        accounted += table(t);
        std::printf("  %-18s %7.1f bytes\n", t, static_cast<double>(table(t)) / n);
    }
    std::printf("  accounted %7.1f, measured (heap in use) %7.1f bytes per device\n",
                static_cast<double>(accounted) / n, static_cast<double>(measured) / n);
    // The accounting agrees with the heap within 10 %, and the whole stays small (the process
    // goal is 1 KiB per device, the CoAP engine and the core included). What every device
    // with relations keeps (its state, its record, its observation ids) is apart from the
    // token cache, which is bounded by auth_cache_size whatever the population.
    CHECK(accounted > measured * 9 / 10);
    CHECK(accounted < measured * 11 / 10);
    const int64_t per_device = (table("device_states") + table("device_records") + table("observation_ids")) / n;
    std::printf("  per device with relations, the token cache apart: %lld bytes\n", static_cast<long long>(per_device));
    CHECK(per_device < 600);
    CHECK(measured / n < 900);

    // An attribute change for every device: pending while unacknowledged, gone once delivered.
    for (int i = 0; i < n; i += 100) f.set_shared(100 + static_cast<uint64_t>(i), {{"k", i}});
    CHECK(value("device_api_entries", "table=\"pending_downlinks\"") == n / 100);
    CHECK(table("pending_downlinks") > 0);
}

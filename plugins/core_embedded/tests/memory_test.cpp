// What each table of the core that grows with devices costs per entry, measured: 100 000
// devices fill one table after the other, and the heap the process holds (mallinfo2: in use
// plus mmapped blocks) grows by what the table takes. Prints bytes per entry measured and as
// the core's own accounting reports them (core_memory_bytes), and checks that they agree.
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "event_fanout.hpp"
#include "session_book.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;

namespace {

core_metrics metrics;

size_t heap_now() {
    malloc_trim(0);
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

// A core listener that takes nothing (the fan-out's subscriber).
struct quiet_listener final : tern::core_listener_v1 {
    void on_attributes_updated(uint64_t, const tern_kv*, uint32_t, const tern_str*, uint32_t) noexcept override {}
    void on_rpc_request(uint64_t, const tern_rpc_request*) noexcept override {}
    void on_device_event(uint64_t, tern_device_event) noexcept override {}
};

struct measured {
    const char* table;
    size_t entries;
    double heap_per_entry, accounted_per_entry;
};

}  // namespace

TEST_CASE("memory: bytes per entry of the core's per-device tables at 100 000 devices", "[memory]") {
    constexpr int n = 100000;
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.activity_flush_interval_ms = 0;
    s.credential_cache_size = n;
    embedded_core core(metrics, {});
    core.start(s);
    for (int b = 0; b < n / 10000; ++b) {
        device_import batch;
        for (int i = b * 10000; i < (b + 1) * 10000; ++i)
            batch.rows.push_back({"dev-" + std::to_string(i), "token-of-device-" + std::to_string(i), i + 1});
        auto r = await<import_outcome>([&](callback<import_outcome> cb) { core.import_devices(std::move(batch), cb); });
        REQUIRE(r.ok());
    }
    flush_wait(core);
    std::vector<measured> out;
    // Runs fill, waits for the core to settle, and records the table's growth per entry.
    auto measure = [&](mem_table t, auto&& fill) {
        const size_t before = heap_now();
        const size_t accounted_before = core.memory()[static_cast<size_t>(t)].bytes;
        fill();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // timer tasks it posted have run
        const size_t after = heap_now();
        const table_figure f = core.memory()[static_cast<size_t>(t)];
        REQUIRE(f.entries == static_cast<size_t>(n));
        out.push_back({mem_table_names[static_cast<size_t>(t)], f.entries,
                       static_cast<double>(after - before) / n,
                       static_cast<double>(f.bytes - accounted_before) / n});
    };
    measure(mem_table::sleeping_devices, [&] {
        for (int i = 1; i <= n; ++i)
            core.session_event(static_cast<uint64_t>(i), TERN_SESSION_ASLEEP, {}, {});
    });
    measure(mem_table::subscriptions, [&] {
        for (int i = 1; i <= n; ++i)
            core.subscribe(static_cast<uint64_t>(i), TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC);
    });
    event_fanout fanout(core);
    core.set_memory_extra([&](memory_figures& f) {
        const auto [devices, bytes] = fanout.memory();
        f[static_cast<size_t>(mem_table::event_masks)] = {devices, bytes};
    });
    quiet_listener quiet;
    uint64_t handle = 0;
    REQUIRE(fanout.subscribe(&quiet, &handle) == TERN_OK);
    measure(mem_table::event_masks, [&] {
        for (int i = 1; i <= n; ++i)
            fanout.subscribe_device(handle, static_cast<uint64_t>(i), TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC);
    });
    measure(mem_table::auth_cache, [&] {
        std::atomic<int> ok{0}, left{n};
        auto done = [](void* ctx, tern_status st, const tern_device_info*) {
            auto* c = static_cast<std::pair<std::atomic<int>*, std::atomic<int>*>*>(ctx);
            if (st == TERN_OK) c->first->fetch_add(1);
            c->second->fetch_sub(1);
        };
        std::pair<std::atomic<int>*, std::atomic<int>*> ctx{&ok, &left};
        std::vector<std::string> tokens;
        for (int i = 0; i < n; ++i) tokens.push_back("token-of-device-" + std::to_string(i));
        for (int i = 0; i < n; ++i) {
            while (left.load() - (n - i) >= 2000) std::this_thread::yield();  // at most 2 000 reads waiting
            core.authenticate(TERN_CREDENTIAL_ACCESS_TOKEN, tern::sdk::to_str(tokens[i]), done, &ctx);
        }
        for (int k = 0; k < 1000 && left.load() > 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(ok.load() == n);
        tokens.clear();
        tokens.shrink_to_fit();
    });
    core.set_memory_extra({});

    // Sessions on a book of their own, so that its flush can run without a writer (the
    // core's would add 100 000 attribute rows to SQLite's page cache, which is heap too):
    // first with the connect times waiting for the flush, then idle after it.
    {
        core_parts parts(metrics, {});
        session_book book(parts);
        const size_t before = heap_now();
        for (int i = 1; i <= n; ++i) {
            const std::string addr = "127." + std::to_string(80 + i / 64000) + "." + std::to_string(i / 250 % 256) + "." +
                                     std::to_string(1 + i % 250) + ":5683";
            book.event(static_cast<uint64_t>(i), TERN_SESSION_OPEN, tern::sdk::to_str("udp"), tern::sdk::to_str(addr));
        }
        const size_t opened = heap_now();
        const session_book::table_memory busy = book.sessions_memory();
        book.flush();  // no writer: the write is refused, the tables are emptied all the same
        const size_t idle = heap_now();
        const session_book::table_memory m = book.sessions_memory();
        REQUIRE(m.entries == static_cast<size_t>(n));
        REQUIRE(book.count() == static_cast<size_t>(n));
        out.push_back({"sessions (+connect times)", busy.entries, static_cast<double>(opened - before) / n,
                       static_cast<double>(busy.bytes) / n});
        out.push_back({"sessions", m.entries, static_cast<double>(idle - before) / n, static_cast<double>(m.bytes) / n});
        book.clear();
    }
    std::printf("\n%-26s %9s %22s %22s\n", "table", "entries", "heap bytes/entry", "accounted bytes/entry");
    for (const measured& m : out) {
        std::printf("%-26s %9zu %22.1f %22.1f\n", m.table, m.entries, m.heap_per_entry, m.accounted_per_entry);
        INFO(m.table);
        CHECK(m.heap_per_entry > 0);
        // The accounting is the core's model of its tables; within a quarter of what the
        // allocator reports (the flat tables' exact, the node maps' estimated).
        CHECK(m.accounted_per_entry >= m.heap_per_entry * 0.75);
        CHECK(m.accounted_per_entry <= m.heap_per_entry * 1.25);
    }
    core.stop();
}

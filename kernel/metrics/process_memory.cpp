#include "kernel/metrics/process_memory.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "kernel/metrics/store.hpp"

namespace tern::kernel::metrics {

namespace {

uint64_t resident_bytes() {
    // /proc/self/statm: size resident shared text lib data dt, in pages.
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long long size = 0, resident = 0;
    const int got = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    if (got != 2) return 0;
    return static_cast<uint64_t>(resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

process_memory read_process_memory() {
    process_memory m;
    m.resident = resident_bytes();
    const struct mallinfo2 mi = ::mallinfo2();
    m.heap_in_use = mi.uordblks;
    m.heap_free = mi.fordblks;
    m.heap_mmapped = mi.hblkhd;
    return m;
}

bool register_process_memory(store& s, std::string& err) {
    bool ok = true;
    auto add = [&](const char* name, const char* help, const std::string& labels) {
        const uint64_t id = s.add(TERN_METRIC_GAUGE, name, help, labels, err);
        ok = ok && id != 0;
        return id;
    };
    const uint64_t rss = add("tern_resident_bytes", "Bytes of the process resident in memory (VmRSS)", "");
    const char* heap_help =
        "Bytes of glibc's heap: in_use (allocated from its arenas), free (kept in the arenas, not "
        "returned to the system: the allocator's slack and fragmentation), mmapped (large "
        "allocations with a mapping of their own)";
    const uint64_t in_use = add("tern_heap_bytes", heap_help, "state=\"in_use\"");
    const uint64_t free_ = add("tern_heap_bytes", heap_help, "state=\"free\"");
    const uint64_t mapped = add("tern_heap_bytes", heap_help, "state=\"mmapped\"");
    s.add_scrape_hook([&s, rss, in_use, free_, mapped] {
        const process_memory m = read_process_memory();
        s.gauge_set(rss, static_cast<int64_t>(m.resident));
        s.gauge_set(in_use, static_cast<int64_t>(m.heap_in_use));
        s.gauge_set(free_, static_cast<int64_t>(m.heap_free));
        s.gauge_set(mapped, static_cast<int64_t>(m.heap_mmapped));
    });
    return ok;
}

}  // namespace tern::kernel::metrics

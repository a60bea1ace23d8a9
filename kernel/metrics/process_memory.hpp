// The process's memory as the kernel reports it: what the operating system holds resident
// and what glibc's allocator keeps (in use by the program, free but kept, served by mmap).
// The difference between resident size and the plugins' own tables is told apart with
// these: heap "free" is the allocator's slack and fragmentation.
#pragma once

#include <cstdint>
#include <string>

namespace tern::kernel::metrics {

class store;

struct process_memory {
    uint64_t resident = 0;      // bytes resident (VmRSS)
    uint64_t heap_in_use = 0;   // allocated from the allocator's arenas
    uint64_t heap_free = 0;     // free in the arenas, not given back to the system
    uint64_t heap_mmapped = 0;  // allocations served by mmap of their own (in use)
};

// Reads the figures now (a few microseconds per allocator arena; scrape time only).
process_memory read_process_memory();

// Registers tern_resident_bytes and tern_heap_bytes{state=...} and refreshes them before
// every scrape. False (with the reason in err) when one could not be registered.
bool register_process_memory(store& s, std::string& err);

}  // namespace tern::kernel::metrics

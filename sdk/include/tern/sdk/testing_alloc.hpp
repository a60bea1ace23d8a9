// Counting allocations and mutex locks, for tests that prove a path allocates nothing and
// takes no lock: this header REPLACES the global operator new/delete and interposes
// pthread_mutex_lock, so include it in exactly ONE translation unit of a test binary.
//
//     #include "tern/sdk/testing_alloc.hpp"
//     ...
//     warm_up();                                  // caches, pools, first-time registrations
//     tern::sdk::testing::alloc_counter c;        // counts from here, on every thread
//     for (int i = 0; i < 10000; ++i) one_request();
//     const auto n = c.stop();
//     CHECK(n.allocations == 0);
//     CHECK(n.locks == 0);
#pragma once

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace tern::sdk::testing {

namespace alloc_detail {
inline std::atomic<bool> counting{false};
inline std::atomic<long> allocations{0};
inline std::atomic<long> locks{0};

inline void* allocate(std::size_t n) noexcept {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
}  // namespace alloc_detail

struct alloc_counts {
    long allocations = 0;
    long locks = 0;
};

// Counts operator new calls and pthread_mutex_lock calls, on every thread, from its
// construction until stop() (or its end). One at a time.
class alloc_counter {
public:
    alloc_counter() noexcept {
        alloc_detail::allocations.store(0);
        alloc_detail::locks.store(0);
        alloc_detail::counting.store(true);
    }
    ~alloc_counter() { alloc_detail::counting.store(false); }
    alloc_counter(const alloc_counter&) = delete;
    alloc_counter& operator=(const alloc_counter&) = delete;

    // The counts so far; counting goes on.
    alloc_counts read() const noexcept { return {alloc_detail::allocations.load(), alloc_detail::locks.load()}; }
    // Stops counting and returns the counts.
    alloc_counts stop() noexcept {
        alloc_detail::counting.store(false);
        return read();
    }
};

}  // namespace tern::sdk::testing

// operator delete frees what operator new got from malloc: GCC cannot see that they pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
    if (void* p = tern::sdk::testing::alloc_detail::allocate(n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return tern::sdk::testing::alloc_detail::allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

// over-aligned types: counted too
void* operator new(std::size_t n, std::align_val_t a) {
    if (tern::sdk::testing::alloc_detail::counting.load(std::memory_order_relaxed))
        tern::sdk::testing::alloc_detail::allocations.fetch_add(1, std::memory_order_relaxed);
    const std::size_t al = static_cast<std::size_t>(a);
    if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al == 0 ? al : (n + al - 1) / al * al)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

extern "C" int pthread_mutex_lock(pthread_mutex_t* m) {
    using fn = int (*)(pthread_mutex_t*);
    static const fn real = reinterpret_cast<fn>(::dlsym(RTLD_NEXT, "pthread_mutex_lock"));
    if (tern::sdk::testing::alloc_detail::counting.load(std::memory_order_relaxed))
        tern::sdk::testing::alloc_detail::locks.fetch_add(1, std::memory_order_relaxed);
    return real(m);
}

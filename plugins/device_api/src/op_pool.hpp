// Contexts of the core calls on the uplink hot path, recycled per shard so a telemetry
// POST allocates none: a shard takes them from its own free list; completions (any
// thread) give them back through a lock-free stack that the shard empties in one
// exchange when its list runs dry (only the owner pops, so there is no ABA).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tern::device_api {

template <class T>  // T has a member `T* pool_next`
class op_pool {
public:
    op_pool() = default;
    op_pool(const op_pool&) = delete;
    op_pool& operator=(const op_pool&) = delete;

    // [the owning shard]
    T* get() {
        if (local_ == nullptr) local_ = remote_.exchange(nullptr, std::memory_order_acquire);
        if (local_ == nullptr) {
            all_.push_back(std::make_unique<T>());
            return all_.back().get();
        }
        T* t = local_;
        local_ = t->pool_next;
        t->pool_next = nullptr;
        return t;
    }
    // [the owning shard]
    void put_local(T* t) noexcept {
        t->pool_next = local_;
        local_ = t;
    }
    // [any-thread]
    void put(T* t) noexcept {
        T* head = remote_.load(std::memory_order_relaxed);
        do {
            t->pool_next = head;
        } while (!remote_.compare_exchange_weak(head, t, std::memory_order_release,
                                                std::memory_order_relaxed));
    }
    std::size_t made() const noexcept { return all_.size(); }

private:
    T* local_ = nullptr;
    std::atomic<T*> remote_{nullptr};
    std::vector<std::unique_ptr<T>> all_;  // owns every context ever made
};

}  // namespace tern::device_api

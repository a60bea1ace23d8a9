// Per-shard recycling of the contexts a plugin hands to asynchronous calls (a core call's
// ctx, a task posted to another shard), so the hot path allocates none once warm: the owning
// shard takes them from its own free list; completions on any thread give them back through a
// lock-free stack that the shard empties in one exchange when its list runs dry (only the
// owner pops, so there is no ABA). The pool owns every context it ever made, until it goes.
//
//     struct op { op* pool_next = nullptr; /* the call's state */ };
//     tern::sdk::shard_pool<op> pool;          // one per shard
//     op* o = pool.get();                       // [the owning shard]
//     ... core->post_telemetry(..., &done, o);  // done() [any thread]: pool.put(o)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tern::sdk {

template <class T>  // T has a member `T* pool_next`
class shard_pool {
public:
    shard_pool() = default;
    shard_pool(const shard_pool&) = delete;
    shard_pool& operator=(const shard_pool&) = delete;

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

}  // namespace tern::sdk

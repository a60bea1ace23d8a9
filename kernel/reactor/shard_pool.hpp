// The reactor handed to plugins (reactor_v1): a fixed set of shards, one thread each.
// Shards run for the whole time plugins are started: started before the first start(),
// stopped after the last stop() returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel/reactor/shard.hpp"
#include "tern/abi/host.h"

namespace tern::kernel::metrics {
class store;
}

namespace tern::kernel::reactor {

class shard_pool final : public tern::reactor_v1 {
public:
    explicit shard_pool(uint32_t count);
    shard_pool(const shard_pool&) = delete;
    shard_pool& operator=(const shard_pool&) = delete;
    ~shard_pool();

    // Spawns the shard threads. [start-stop]
    void start();
    // Refuses further posts, stops every shard and joins its thread; pending tasks are
    // dropped. [start-stop]
    void stop();
    bool running() const noexcept { return running_.load(std::memory_order_acquire); }

    // Where reactor problems go (a failed fd wait); the kernel logs them.
    void set_reporter(std::function<void(const std::string&)> report) { report_ = std::move(report); }
    void report(const std::string& msg) const;
    // Counts every accepted post() in ids[shard] of store (tern_reactor_tasks_posted_total).
    void set_post_counters(metrics::store* store, std::vector<uint64_t> ids);

    shard& at(uint32_t i) { return *shards_[i]; }

    // reactor_v1
    uint32_t shard_count() noexcept override;
    uint32_t current_shard() noexcept override;
    uint64_t now_ns() noexcept override;
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override;
    tern_status watch_fd(uint32_t shard, int fd, uint32_t events, tern_fd_fn fn, void* ctx,
                         uint64_t* out_watch) noexcept override;
    void unwatch_fd(uint64_t watch) noexcept override;
    tern_status timer_create(uint32_t shard, tern_task_fn fn, void* ctx, uint64_t* out_timer) noexcept override;
    void timer_arm(uint64_t timer, uint64_t delay_ns) noexcept override;
    void timer_cancel(uint64_t timer) noexcept override;
    void timer_destroy(uint64_t timer) noexcept override;

private:
    enum class wait_mode { none, wait };
    // Runs f on shard s: at once when the caller is that shard or the shards are not
    // running; otherwise posted, and waited for unless the caller is another shard
    // (waiting there could deadlock two shards).
    template <class F>
    void on_shard(shard& s, F f, wait_mode mode);
    shard* owner(uint64_t handle) noexcept;

    std::vector<std::unique_ptr<shard>> shards_;
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
    std::function<void(const std::string&)> report_;
    metrics::store* post_store_ = nullptr;
    std::vector<uint64_t> post_ids_;
};

// The shard the calling thread runs, of whatever pool, or null.
const shard* current_shard_of_thread() noexcept;

}  // namespace tern::kernel::reactor

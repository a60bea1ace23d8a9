// The kernel's metric store. Registration happens at start-up under a mutex; updates are
// lock-free: every series has one cache-line-aligned cell per shard, written only by that
// shard's thread (relaxed load + store), plus one shared cell for every other thread
// (atomic read-modify-write). A scrape sums the cells.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/host.h"

namespace tern::kernel::reactor {
class shard_pool;
}

namespace tern::kernel::metrics {

struct series_snapshot {
    std::string labels;  // canonical label pairs without braces: instance="udp",method="GET"
    uint64_t counter = 0;
    int64_t gauge = 0;
    std::vector<double> bounds;
    std::vector<uint64_t> buckets;  // per bound, not cumulative; one more for +Inf
    double sum = 0;
    uint64_t count = 0;
};

struct family_snapshot {
    std::string name;
    std::string help;
    tern_metric_kind kind = 0;
    std::vector<series_snapshot> series;
};

class store {
public:
    // shards: how many per-shard cells each series has; pool: tells which shard the
    // calling thread is (null: every update uses the shared cell).
    store(uint32_t shards, reactor::shard_pool* pool);
    store(const store&) = delete;
    store& operator=(const store&) = delete;
    ~store();

    // Registers one series. instance: the label the kernel adds (empty: none, for the
    // kernel's own metrics). [start-stop]
    tern_status add(const tern_metric_desc& desc, std::string_view instance, uint64_t& out, std::string& err);
    // Registers a counter or gauge of the kernel's own (no instance label; labels as in
    // tern_metric_desc, e.g. shard="0"): its id, or 0 with the reason in err. [start-stop]
    uint64_t add(tern_metric_kind kind, const char* name, const char* help, const std::string& labels,
                 std::string& err);

    void count(uint64_t id, uint64_t delta) noexcept;
    void gauge_add(uint64_t id, int64_t delta) noexcept;
    void gauge_set(uint64_t id, int64_t value) noexcept;
    void observe(uint64_t id, double value) noexcept;

    // Runs before every snapshot (the kernel refreshes tern_uptime_seconds there).
    void add_scrape_hook(std::function<void()> hook);
    std::vector<family_snapshot> snapshot();

    static constexpr uint32_t max_series = 16384;

private:
    struct series;
    series* lookup(uint64_t id, tern_metric_kind kind) const noexcept;
    // The cell index of the calling thread: its shard, or the shared cell.
    uint32_t cell_index() const noexcept;

    const uint32_t shards_;
    reactor::shard_pool* pool_;
    std::mutex mu_;
    std::unique_ptr<std::atomic<series*>[]> table_;
    std::vector<std::unique_ptr<series>> owned_;
    struct family {
        std::string name;
        std::string help;
        tern_metric_kind kind;
        std::vector<series*> members;
    };
    std::vector<family> families_;
    std::map<std::string, std::size_t, std::less<>> family_index_;
    std::map<std::string, uint64_t, std::less<>> series_index_;  // name{labels} -> id
    std::vector<std::function<void()>> hooks_;
};

}  // namespace tern::kernel::metrics

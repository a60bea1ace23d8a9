// The history of deleted devices (ts_purge): removed in bounded steps, one write op per
// step riding in an ordinary batch, until none is left; a removal cut short by a stop
// resumes at the next start.
#pragma once

#include <atomic>
#include <cstdint>

#include "core_parts.hpp"

namespace tern::core_embedded {

class history_purge {
public:
    explicit history_purge(core_parts& parts) : p_(parts) {}

    // Start-up, on the writer's connection: how many devices wait. true when any do.
    bool load(db::connection& c);
    // A deleted device's history was queued: count it and run.
    void device_queued();
    // Queues the next step unless one is under way (at most one step is queued).
    void run();

    uint64_t devices() const noexcept { return devices_.load(); }  // still being removed
    uint64_t points() const noexcept { return points_.load(); }    // removed since start

private:
    core_parts& p_;
    std::atomic<bool> running_{false}, again_{false};
    std::atomic<uint64_t> devices_{0}, points_{0};
};

}  // namespace tern::core_embedded

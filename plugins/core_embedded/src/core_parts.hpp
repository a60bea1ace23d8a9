// What every component of the embedded core shares, owned by embedded_core: the writer,
// the readers, the timer thread, the listener, metrics, log and settings. Components keep
// a reference to one core_parts and reach each other only through embedded_core's wiring.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "core_types.hpp"
#include "listener_hub.hpp"
#include "metrics.hpp"
#include "reader.hpp"
#include "tern/sdk/host.hpp"
#include "timers.hpp"
#include "writer.hpp"

namespace tern::core_embedded {

struct core_parts {
    core_parts(core_metrics& m, sdk::logger l) : metrics(m), log(l), writes(m, l), reads(m, l) {}
    core_parts(const core_parts&) = delete;
    core_parts& operator=(const core_parts&) = delete;

    core_metrics& metrics;
    sdk::logger log;
    core_settings settings;        // set by start(), read-only while running
    std::atomic<bool> running{false};
    writer writes;
    reader_pool reads;
    timer_service timers;
    listener_hub listener;

    bool submit(std::unique_ptr<write_op> op) { return writes.submit(std::move(op)); }
    bool submit(fn_op::apply_fn a, fn_op::finish_fn f) { return writes.submit(std::move(a), std::move(f)); }

    // Queues fn on a reader; when it cannot be queued, cb gets why.
    template <class T>
    bool read(std::function<void(db::connection&)> fn, const callback<T>& cb) {
        return reads.submit(std::move(fn), [cb](tern_status s) {
            result<T> r;
            r.status = s;
            r.message = s == TERN_BUSY ? "the store's read queue is full" : "the store is not running";
            cb(std::move(r));
        });
    }
};

}  // namespace tern::core_embedded

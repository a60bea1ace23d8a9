#include "history_purge.hpp"

#include "store.hpp"

namespace tern::core_embedded {

namespace {
// Seeks plus removed points per history-purge step: about 3-5 ms of the writer (measured on
// a 3-million-message table), added to the batch it rides in. At one step per batch a busy
// core removes a day of one-second buckets in a few seconds.
constexpr uint64_t purge_step_budget = 1000;
}  // namespace

bool history_purge::load(db::connection& c) {
    auto q = c.query("SELECT count(*) FROM ts_purge");
    if (q->step()) devices_ = static_cast<uint64_t>(q->get_int(0));
    p_.metrics.telemetry_purge_devices.set(static_cast<int64_t>(devices_.load()));
    return devices_ > 0;
}

void history_purge::device_queued() {
    p_.metrics.telemetry_purge_devices.set(static_cast<int64_t>(++devices_));
    run();
}

void history_purge::run() {
    // Whoever finds a step under way leaves the flag for that step's completion, which
    // then starts another: no request is lost, and at most one step is queued.
    again_ = true;
    if (running_.exchange(true)) return;
    again_ = false;
    auto progress = std::make_shared<store::ts_purge_progress>();
    p_.submit(
        [progress](write_txn& t, std::string&) -> tern_status {
            *progress = store::ts_purge_step(t.conn(), purge_step_budget);
            return TERN_OK;
        },
        [this, progress](tern_status s, const std::string& msg) {
            running_ = false;
            if (s == TERN_OK) {
                points_ += progress->points;
                devices_ = progress->devices;
                p_.metrics.telemetry_purged.inc(progress->points);
                p_.metrics.telemetry_purge_devices.set(static_cast<int64_t>(progress->devices));
                if (progress->devices > 0 || again_) run();
            } else if (s != TERN_UNAVAILABLE) {  // stopping: the next start resumes
                p_.log.warn("removing the history of deleted devices: ", msg, "; retrying in 1 s");
                p_.timers.schedule(1000, [this] { run(); });
            }
        });
}

}  // namespace tern::core_embedded

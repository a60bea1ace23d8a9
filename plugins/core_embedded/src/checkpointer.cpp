#include "checkpointer.hpp"

#include <sqlite3.h>

#include <chrono>

#include "db.hpp"

namespace tern::core_embedded {

void checkpointer::start(const std::string& database, int64_t interval_ms, int64_t wal_limit_pages) {
    stop();
    interval_ms_ = interval_ms;
    wal_limit_pages_ = wal_limit_pages;
    if (interval_ms_ <= 0) return;  // SQLite checkpoints inside the writer's commits
    {
        std::lock_guard lk(mutex_);
        stopping_ = false;
    }
    thread_ = std::thread([this, database] { run(database); });
}

void checkpointer::stop() {
    {
        std::lock_guard lk(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void checkpointer::run(std::string database) {
    db::connection c;
    try {
        c = db::connection::open(database, false, false);
        // A connection learns that the file is in WAL mode when it first reads it; until
        // then a checkpoint is a no-op.
        c.exec("SELECT count(*) FROM sqlite_master");
    } catch (const std::exception& e) {
        log_.error("WAL checkpoints: cannot open ", database, " (", e.what(),
                   "); the WAL grows until the next start");
        return;
    }
    // A failing checkpoint (a full disk) fails again every interval: the first failure and
    // each change of error are logged, the repeats counted, and the recovery reported.
    int failing_rc = SQLITE_OK;
    uint64_t failures = 0;
    std::unique_lock lk(mutex_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(interval_ms_), [this] { return stopping_; })) {
        lk.unlock();
        int frames = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(c.raw(), "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
        if (rc == SQLITE_OK && wal_limit_pages_ > 0 && frames > wal_limit_pages_) {
            // The writer has not paused long enough for the WAL to restart: wait for it
            // (between two of its commits, via the busy handler) and restart the WAL.
            rc = sqlite3_wal_checkpoint_v2(c.raw(), "main", SQLITE_CHECKPOINT_RESTART, &frames, &copied);
            metrics_.wal_restarts.inc();
        }
        if (rc == SQLITE_OK) {
            metrics_.wal_checkpoints.inc();
            metrics_.wal_frames.set(frames);
            if (failures > 0)
                log_.info("WAL checkpoints work again (", failures, " failed in a row)");
            failing_rc = SQLITE_OK;
            failures = 0;
        } else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            if (rc != failing_rc)
                log_.warn("WAL checkpoint failed: ", sqlite3_errmsg(c.raw()),
                          failures > 0 ? " (after other failures)" : "", "; retried every ", interval_ms_,
                          " ms, logged again when the error changes or checkpoints work");
            failing_rc = rc;
            ++failures;
        }
        lk.lock();
    }
}

}  // namespace tern::core_embedded

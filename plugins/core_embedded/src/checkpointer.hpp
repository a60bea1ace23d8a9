// Moves WAL checkpoints off the writer thread.
//
// SQLite's automatic checkpoint runs inside the COMMIT that crosses wal_autocheckpoint:
// that commit (and every device waiting for it) waits while thousands of pages are copied
// into the database file and it is fsynced, hundreds of ms on a small VM. Here the writer's
// connection has autocheckpoint off, and this thread runs PASSIVE checkpoints on a
// connection of its own every `interval`: they copy what the WAL holds without blocking the
// writer, and the writer restarts the WAL from its beginning once a checkpoint has caught up.
// Should the WAL still outgrow `wal_limit_pages` (a writer that never pauses), one RESTART
// checkpoint waits for the writer between two commits and brings it back to the start.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "metrics.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

class checkpointer {
public:
    checkpointer(core_metrics& m, sdk::logger log) : metrics_(m), log_(log) {}
    ~checkpointer() { stop(); }
    checkpointer(const checkpointer&) = delete;
    checkpointer& operator=(const checkpointer&) = delete;

    void start(const std::string& database, int64_t interval_ms, int64_t wal_limit_pages);
    void stop();

private:
    void run(std::string database);

    core_metrics& metrics_;
    sdk::logger log_;
    int64_t interval_ms_ = 0;
    int64_t wal_limit_pages_ = 0;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace tern::core_embedded

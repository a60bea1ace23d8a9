// Open sessions per device (the transport's session_event) and the activity times they
// produce: lastActivityTime, lastConnectTime and lastDisconnectTime (server attributes),
// written at most once per device per activity_flush_interval, whatever the message rate.
// Also which devices a transport reported asleep (ASLEEP, ABI 1.2) and since when, until
// their next ACTIVITY or OPEN: in memory only, one entry per sleeping device.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core_parts.hpp"

namespace tern::core_embedded {

class session_book {
public:
    explicit session_book(core_parts& parts) : p_(parts) {}

    // Starts the periodic flush (activity_flush_interval > 0).
    void start();
    void event(uint64_t device_id, tern_session_event event, tern_str transport, tern_str address) noexcept;
    // Writes what the devices did since the last flush, in one op; re-arms the timer while
    // the core runs.
    void flush();
    void list(callback<std::vector<session_info>> cb);
    size_t count();
    void clear();
    // The device's state as the session events tell it: asleep since, the last activity kept
    // in memory, whether it had any traffic since start() (stored_activity_ts: the stored
    // lastActivityTime, counted when it is from this run).
    void power_of(uint64_t device_id, int64_t stored_activity_ts, device_power_status& out);
    // A deleted device: what is kept of it goes.
    void forget(uint64_t device_id);
    size_t asleep();

private:
    struct device_sessions {
        std::vector<session_info> open;
        int64_t last_activity_ts = 0;
        bool dirty = false;       // lastActivityTime not yet written
        std::vector<kv> pending;  // lastConnectTime / lastDisconnectTime to write
    };

    core_parts& p_;
    std::mutex mutex_;
    std::unordered_map<uint64_t, device_sessions> sessions_;
    std::unordered_map<uint64_t, int64_t> asleep_;  // device -> since (wall ms)
    int64_t started_ts_ = 0;
    size_t count_ = 0;
    uint64_t timer_ = 0;
};

}  // namespace tern::core_embedded

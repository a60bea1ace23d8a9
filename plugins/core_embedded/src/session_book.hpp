// Open sessions per device (the transport's session_event) and the activity times they
// produce: lastActivityTime, lastConnectTime and lastDisconnectTime (server attributes),
// written at most once per device per activity_flush_interval, whatever the message rate.
// Also which devices a transport reported asleep (ASLEEP, ABI 1.2) and since when, until
// their next ACTIVITY or OPEN: in memory only, one entry per sleeping device.
//
// Sized for a million online devices: a device's first session lives in a 24-byte entry
// of a flat table (sdk::id_table) when its transport is one of the first 255 names seen and its
// address is IPv4 `a.b.c.d:port`; further sessions and other addresses go to a side map
// (`extra`). The flush walks only the devices active since the last one.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core_parts.hpp"
#include "tern/sdk/id_table.hpp"

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
    // At most limit open sessions (any limit of them when there are more), sorted by device name.
    void list(size_t limit, callback<std::vector<session_info>> cb);
    size_t count();
    void clear();
    // The device's state as the session events tell it: asleep since, the last activity kept
    // in memory, whether it had any traffic since start() (stored_activity_ts: the stored
    // lastActivityTime, counted when it is from this run).
    void power_of(uint64_t device_id, int64_t stored_activity_ts, device_power_status& out);
    // A deleted device: what is kept of it goes.
    void forget(uint64_t device_id);
    size_t asleep();

    // What the tables hold now (core_memory_bytes): entries and bytes.
    struct table_memory {
        size_t entries = 0;
        size_t bytes = 0;
    };
    table_memory sessions_memory();  // devices with sessions or unflushed activity, and the side map
    table_memory asleep_memory();    // sleeping devices

private:
    enum : uint8_t {
        inline_open = 1,  // the entry holds an open session
        dirty = 2,        // lastActivityTime not yet written (the device is in dirty_)
        has_extra = 4,    // extra_ holds sessions of this device
    };
    struct entry {
        int64_t last_activity_ts = 0;  // wall ms of the last ACTIVITY, 0: none since start
        int64_t opened_ts = 0;         // the inline session's
        uint32_t ipv4 = 0;             // the inline session's address (host order) and port
        uint16_t port = 0;
        uint8_t transport = 0;  // index in transports_
        uint8_t flags = 0;
    };
    static_assert(sizeof(entry) == 24);
    struct connect_times {
        int64_t connect_ts = 0, disconnect_ts = 0;  // to write; 0: none
    };

    bool open_session(uint64_t device_id, entry& e, std::string_view tr, std::string_view ad, int64_t now);
    bool close_session(uint64_t device_id, entry& e, std::string_view tr, std::string_view ad);
    // The transport's index in transports_, adding it (at most 255); -1 when full.
    int transport_index(std::string_view tr);
    void drop_if_idle(uint64_t device_id, const entry& e);

    core_parts& p_;
    std::mutex mutex_;
    sdk::id_table<entry> sessions_;
    std::unordered_map<uint64_t, std::vector<session_info>> extra_;  // sessions that do not fit an entry
    size_t extra_bytes_ = 0;                                          // their strings' heap
    std::vector<std::string> transports_;
    std::vector<uint64_t> dirty_;       // devices with activity since the last flush
    sdk::id_table<connect_times> pending_;   // connect/disconnect times since the last flush
    sdk::id_table<int64_t> asleep_;          // device -> since (wall ms)
    int64_t started_ts_ = 0;
    size_t count_ = 0;
    uint64_t timer_ = 0;
};

}  // namespace tern::core_embedded

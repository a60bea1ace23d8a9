// Server-side RPC (the server asks a device): each RPC's state from QUEUED to a final one,
// persisted in `rpcs`, sent to the listener when the device subscribed, re-sent for
// persistent RPCs, expired by the timer thread, and answered to whoever waits for it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core_parts.hpp"

namespace tern::core_embedded {

class rpc_tracker {
public:
    explicit rpc_tracker(core_parts& parts) : p_(parts) {}

    // Start-up, on the writer's connection before the writer runs: closes what cannot go
    // on after a restart and keeps the persistent RPCs to resume().
    void restore(db::connection& c);
    // Once the writer runs: tracks what restore() kept (their expiry may be stored).
    void resume();

    // The callback gets the record when queued (persistent, or wait == false) or when it
    // reached a final state or its expiration (wait == true).
    void send(rpc_request_spec spec, callback<rpc_record> cb);
    void get(std::string device, int64_t id, callback<rpc_record> cb);
    void list(std::string device, int64_t limit, callback<std::vector<rpc_record>> cb);

    // core_v1 (the caller checked that the core runs).
    void status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status, tern_str error) noexcept;
    void reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done, void* ctx) noexcept;
    void resend(uint64_t device_id) noexcept;  // from the timer thread, soon
    // Sends what waits for a device that subscribed to RPCs (resend: persistent ones again).
    void dispatch(uint64_t device_id, bool resend);

    // A deleted device's RPCs fail; whoever waits hears so.
    void device_deleted(uint64_t device_id);
    size_t pending();
    // Devices with tracked RPCs and the bytes they hold (core_memory_bytes{table="rpcs"}).
    std::pair<size_t, size_t> memory();
    // The device's RPCs not yet final: how many in each state, the earliest expiration.
    rpc_pending_summary pending_of(uint64_t device_id);
    // Everyone waiting gets the RPC's current state; nothing is tracked any more.
    void stop();

private:
    struct tracked {
        int64_t id = 0;
        std::string method, params;
        uint32_t flags = 0;
        tern_rpc_status status = TERN_RPC_QUEUED;
        int64_t created_ts = 0;
        int64_t expiration_ts = 0;
        bool dispatched = false;
        int32_t retries = 0;
        uint64_t expiry_timer = 0;
        // A final status reached and not yet stored: the entry stays, with these, until its
        // write completes, so reads in between see the end (not the stored state before it).
        std::string result, error;
    };
    struct waiter {
        callback<rpc_record> cb;
    };

    void track(uint64_t device_id, tracked l);
    void transition(uint64_t device_id, int64_t rpc_id, tern_rpc_status status, std::string result,
                    std::string error, tern_core_done_fn done, void* ctx);
    // The status a transport's report leads to from r's (not final) one.
    tern_rpc_status step(tracked& r, tern_rpc_status reported, int64_t now, bool& changed);
    void forget_settled(uint64_t device_id, int64_t rpc_id);  // its final state is stored
    static void settled(const tracked& r, rpc_record& rec);     // a final state's result and error
    void expire(uint64_t device_id, int64_t rpc_id);
    void answer_waiters(rpc_record rec);  // a final state reached
    void persist(const rpc_record& rec, std::function<void(tern_status, const std::string&)> then);
    void count(tern_rpc_status s) {
        if (s >= 0 && s < 7) p_.metrics.rpc_by_status[s].inc();
    }

    core_parts& p_;
    std::mutex mutex_;
    std::unordered_map<uint64_t, std::map<int64_t, tracked>> rpcs_;
    std::multimap<std::pair<uint64_t, int64_t>, std::shared_ptr<waiter>> waiters_;
    std::vector<std::pair<uint64_t, tracked>> restored_;
};

}  // namespace tern::core_embedded

// uplinks: the durable uplinks of every partition, applied through the core strictly in
// stream order and acknowledged in order once durable (README "Ordering and idempotence").
//
// Per partition a pipeline holds the deliveries not yet acknowledged, sorted by stream
// sequence. The pump hands the next ones to the core (at most `window` at once; the core's
// writer is FIFO, so its commits keep the order of the calls). A completed prefix leaves the
// pipeline: its mark is written to the state file and its deliveries acked, by the worker.
// When the core answers TERN_BUSY (or another transient failure), the partition stops
// submitting, waits for its calls in flight, and after busy_retry_delay applies that message
// and everything after it again, in order: the writes are idempotent, so the final state is
// the one of applying each once in order. A delivery arriving out of order (a redelivery
// after a lost fetch) is inserted at its place and rewinds the same way.
//
// Threads: on_delivery runs on the partition's consumer thread, completions on any thread
// (possibly inside the core call), the flush on the worker. No lock is held across a core call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common.hpp"
#include "state_file.hpp"
#include "tern/core_wire/codec.hpp"
#include "tern/nats_link/link.hpp"
#include "worker.hpp"

namespace tern::nats_bridge {

class uplinks {
public:
    struct config {
        uint32_t partitions = 16;
        uint32_t window = 256;
        std::chrono::milliseconds busy_delay{200};
        std::string stream;  // the state file's key
    };

    uplinks(const core_caps& core, bridge_metrics& metrics, sdk::logger log, worker& w, state_file& state);
    ~uplinks();
    uplinks(const uplinks&) = delete;
    uplinks& operator=(const uplinks&) = delete;

    // Before any delivery: the partitions and their applied marks from the state file.
    void configure(const config& c, const std::map<uint32_t, uint64_t>& applied);

    // [consumer thread of partition p] One delivery of the durable consumer.
    void on_delivery(uint32_t p, nats_link::delivery&& d);
    // From a disconnect until a partition's old consumer is deleted, its deliveries are
    // dropped (not acked): the fresh consumer delivers them again, in order.
    void set_resetting();
    void consumer_reset(uint32_t p);
    // The stream was created anew (its sequences start again): the marks are forgotten.
    void forget_applied();
    // The highest applied sequence of a partition (tests, logs).
    uint64_t applied(uint32_t p) const;

    // Shutdown, first step: refuse deliveries, wait (bounded) for the calls in flight.
    // False when some are still running (their entries are then kept).
    bool quiesce(std::chrono::milliseconds wait);
    // Last step, once the worker stopped: writes the marks and acks what finished, drops the
    // rest (not acked: JetStream delivers it again after the ack wait).
    void drain();

private:
    enum class state : uint8_t { queued, submitted, ok, refused, retry };
    struct partition;
    struct entry {
        uplinks* owner = nullptr;
        partition* part = nullptr;
        uint64_t seq = 0;
        uplink_op op = uplink_op::unknown;
        state st = state::queued;
        uint64_t device_id = 0;
        nats_link::delivery d;
    };
    struct partition {
        uint32_t index = 0;
        std::mutex mu;
        std::deque<std::unique_ptr<entry>> q;  // sorted by seq
        size_t cursor = 0;                     // entries before it are not queued
        uint64_t done_upto = 0;                // highest seq applied (left the pipeline)
        // Applied, for telling a redelivery from a late first delivery: every seq <= floor,
        // and those in recent (bounded; trimming raises the floor).
        uint64_t floor = 0;
        std::set<uint64_t> recent;
        std::atomic<bool> resetting{true};
        uint32_t inflight = 0;
        bool pumping = false;
        bool again = false;
        bool rewind = false;      // requeue everything once inflight is 0
        bool hold = false;        // ... but only after the busy delay
        bool retry_posted = false;
        uint32_t busy_streak = 0;  // transient answers since the partition last moved on
        core_wire::decoder dec;   // used by the pump owner only
    };
    struct commit_item {
        uint32_t partition;
        uint64_t seq;
        nats_link::delivery d;
    };

    void pump(partition& p);
    void submit(entry& e);
    static void on_done(void* ctx, tern_status status, tern_str message) noexcept;
    void complete(entry& e, tern_status status, std::string_view message);
    // Under p.mu: moves the finished prefix to `out`.
    void settle(partition& p, std::vector<commit_item>& out);
    void hand_to_worker(std::vector<commit_item>&& items);
    void flush();

    const core_caps& core_;
    bridge_metrics& metrics_;
    sdk::logger log_;
    worker& worker_;
    state_file& state_;
    config cfg_;
    std::vector<std::unique_ptr<partition>> parts_;
    std::atomic<bool> stopping_{false};
    std::atomic<int64_t> held_{0};
    bool quiesced_ = true;

    std::mutex flush_mu_;  // the state file is used by one thread at a time
    std::mutex commit_mu_;
    std::vector<commit_item> commits_;
    bool flush_posted_ = false;
};

}  // namespace tern::nats_bridge

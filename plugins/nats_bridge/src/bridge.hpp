// bridge: the core node's NATS side. It owns the link, the worker thread, the state file and
// the three parts (uplinks, requests, downlinks), and runs the setup after every (re)connect:
//
//   1. the cluster's uplink partition count (KV <P>_cluster, key uplink_partitions): written
//      when absent; a different value stops the bridge with a message saying what to do;
//   2. the uplink stream <P>_UP (work queue, discard new, duplicate window 120 s);
//   3. per partition the durable pull consumer <P>-core-p<p>, created afresh (deleted first)
//      so that it delivers what is left in the stream from the oldest on, in order;
//   4. once: the request subscriptions (queue group <P>-core) and the $KV route watch;
//   5. <P>.core.v1.events.hello, so that transport nodes send their subscriptions again.
#pragma once

#include <array>
#include <condition_variable>
#include <functional>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.hpp"
#include "downlinks.hpp"
#include "requests.hpp"
#include "settings.hpp"
#include "state_file.hpp"
#include "uplinks.hpp"
#include "worker.hpp"

namespace tern::nats_bridge {

class bridge {
public:
    // fatal: a runtime failure that must stop the process (the kernel's request_stop).
    bridge(const settings& s, const core_caps& core, bridge_metrics& metrics, sdk::logger log,
           std::function<void(const std::string&)> fatal);
    ~bridge();
    bridge(const bridge&) = delete;
    bridge& operator=(const bridge&) = delete;

    // Opens the state file and the link and waits up to startup_wait for the setup. Throws
    // sdk::error when the setup finds a conflict (partition count) or the state file fails.
    void start();
    void stop();

    // For tests.
    uint64_t applied(uint32_t partition) const { return uplinks_.applied(partition); }
    std::string cached_route(uint64_t device) { return downlinks_.cached_route(device); }
    bool ready() const { return ready_.load(); }

private:
    enum class outcome { done, retry, fatal };

    void on_link_state(nats_link::link_state st);
    void request_setup();
    void run_setup();
    outcome setup_once(std::string& why);
    outcome check_partitions(nats_link::link& l, std::string& why);
    outcome check_stream(nats_link::link& l, std::string& why);
    outcome reset_consumer(nats_link::link& l, uint32_t p, std::string& why);
    outcome subscribe_all(nats_link::link& l, std::string& why);
    nats_link::consumer_settings consumer(uint32_t p) const;

    settings s_;
    names names_;
    core_caps core_;
    bridge_metrics& metrics_;
    sdk::logger log_;
    std::function<void(const std::string&)> fatal_;

    worker worker_;
    state_file state_;
    downlinks downlinks_;
    std::shared_ptr<requests> requests_;  // also held by each call waiting for the core
    uplinks uplinks_;
    // One decoder per request subscription (each runs on its own nats.c thread).
    std::array<core_wire::decoder, request_op_count> decoders_;

    std::atomic<bool> setup_needed_{false};
    std::atomic<bool> ready_{false};
    std::atomic<bool> stopping_{false};
    std::mutex result_mu_;
    std::condition_variable result_cv_;
    bool setup_finished_ = false;  // one setup ended (done or fatal) since start
    bool start_returned_ = false;  // a fatal setup now goes to the kernel
    std::string fatal_reason_;
    std::vector<bool> consuming_;  // worker only: consume() done for the partition
    std::array<bool, request_op_count + 1> subscribed_{};  // worker only: requests, then the $KV watch

    // Last member: destroyed first, so that no callback of it runs into the parts above.
    std::unique_ptr<nats_link::link> link_;
    std::atomic<nats_link::link*> raw_link_{nullptr};
};

}  // namespace tern::nats_bridge

// From a checked manifest to running instances and back:
//   make_plan: load every library the manifest names, check descriptors, requirements and
//              tables, order instances by dependency (nothing is created);
//   runtime:   create (dependency order) -> publish interfaces -> start shards -> start
//              (dependency order) ... stop (reverse) -> stop shards -> destroy (reverse),
//              library handles dropped last (by whoever owns the plan).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kernel/diagnostics.hpp"
#include "kernel/host/host.hpp"
#include "kernel/loader.hpp"
#include "kernel/log.hpp"
#include "kernel/manifest.hpp"
#include "kernel/metrics/store.hpp"
#include "kernel/reactor/shard_pool.hpp"
#include "kernel/registry.hpp"
#include "kernel/schema.hpp"

namespace tern::kernel {

struct planned_instance {
    const instance_decl* decl = nullptr;
    std::shared_ptr<plugin_library> library;
    config_values config;
    tern_log_level log_level = TERN_LOG_INFO;
};

struct plan {
    std::unique_ptr<manifest> m;
    std::vector<planned_instance> instances;  // start order
};

// Checks everything that can be checked without creating an instance. Every error goes to
// diag (all of them, not just the first); notes for the log too. Returns diag.ok().
bool make_plan(std::unique_ptr<manifest> m, plan& out, diagnostics& diag);

// "config/tern.toml"-relative names of the instances in start order: "udp, coap".
std::string instance_names(const plan& p);

// A stop request: from a signal, from host_v1::request_stop, from a test.
class stop_request {
public:
    // The first request wins; failure makes the exit code non-zero.
    void trigger(std::string reason, bool failure);
    // Blocks until triggered (or timeout); true when triggered.
    bool wait_for(std::chrono::milliseconds timeout);
    void wait();
    bool triggered() const;
    std::string reason() const;
    bool failure() const;

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool triggered_ = false;
    bool failure_ = false;
    std::string reason_;
};

class runtime {
public:
    // shards: reactor threads (>= 1). The plan must outlive the runtime.
    runtime(plan& p, logging& logs, uint32_t shards);
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    ~runtime();

    // Creates, publishes and starts every instance. On failure everything already done is
    // undone (stop reverse, destroy reverse) and the one-line reason is returned.
    bool start(std::string& reason);
    // Creates the instances pick() selects, publishes what they provide and starts the
    // shards, but starts no instance: what a command-line extension (tern.cli/1) needs.
    bool create_only(const std::function<bool(const planned_instance&)>& pick, std::string& reason);
    // The published interfaces iid, as (instance, interface), in manifest order.
    std::vector<std::pair<std::string, void*>> interfaces(std::string_view iid);
    // Stops and destroys everything (idempotent). When limit passes before it is done,
    // on_overrun(step) is called from a watchdog thread with what is still running, e.g.
    // "instance 'udp' is still stopping".
    void stop(std::chrono::milliseconds limit = std::chrono::milliseconds::max(),
              std::function<void(const std::string&)> on_overrun = {});

    stop_request& stop_requests() noexcept { return stops_; }
    reactor::shard_pool& reactor() noexcept { return pool_; }
    metrics::store& metrics() noexcept { return store_; }
    kernel::registry& registry() noexcept { return registry_; }
    std::size_t started_count() const noexcept { return started_; }

private:
    struct live_instance {
        planned_instance* planned = nullptr;
        std::unique_ptr<host::instance_host> host;
        tern::plugin_v1* instance = nullptr;
    };

    bool create_and_publish(const std::function<bool(const planned_instance&)>& pick, std::string& reason);
    void register_kernel_metrics();
    void set_step(std::string step);
    std::string step() const;
    void stop_started(std::size_t count);
    void destroy_created();

    plan& plan_;
    logging& logs_;
    reactor::shard_pool pool_;
    metrics::store store_;
    kernel::registry registry_;
    host::shared_services shared_;
    stop_request stops_;
    std::vector<live_instance> live_;  // created, in start order
    std::size_t started_ = 0;
    bool shards_running_ = false;
    uint64_t instances_gauge_ = 0;
    mutable std::mutex step_mu_;
    std::string step_;
    std::chrono::steady_clock::time_point born_ = std::chrono::steady_clock::now();
};

}  // namespace tern::kernel

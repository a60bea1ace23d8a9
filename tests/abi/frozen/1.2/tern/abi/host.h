// The instance interface every plugin implements and the services the kernel offers it.
// C++ only: interfaces are abstract structs under COM rules (docs/abi.md):
//   - pure virtual noexcept methods only, no data members, single inheritance, no virtual
//     destructor (lifetime goes through an explicit call), no overloaded virtuals;
//   - nothing from std::, Boost, RTTI or exceptions in any signature;
//   - a released interface is frozen; new behaviour gets a new interface and a new id.
//
// Thread tags on every method:
//   [start-stop]  only on the kernel's start-stop thread (create, start, stop, destroy)
//   [shard]       only on a reactor shard thread (the doc says which shard)
//   [any-thread]  from any thread, including threads a plugin made itself
#ifndef TERN_ABI_HOST_H
#define TERN_ABI_HOST_H

#ifndef __cplusplus
#error "tern/abi/host.h declares C++ interfaces; include it from C++"
#endif

#include <stddef.h>
#include <stdint.h>

#include "plugin.h"
#include "status.h"
#include "types.h"

// Host service ids, queried with host_v1::query.
#define TERN_IID_LOG_V1 "tern.log/1"
#define TERN_IID_REACTOR_V1 "tern.reactor/1"
#define TERN_IID_REGISTRY_V1 "tern.registry/1"
#define TERN_IID_METRICS_V1 "tern.metrics/1"
#define TERN_IID_CONFIG_V1 "tern.config/1"

extern "C" {

typedef int32_t tern_log_level;
enum {
    TERN_LOG_TRACE = 0,
    TERN_LOG_DEBUG = 1,
    TERN_LOG_INFO = 2,
    TERN_LOG_WARN = 3,
    TERN_LOG_ERROR = 4,
    TERN_LOG_CRITICAL = 5,
    TERN_LOG_OFF = 6
};

// events of reactor_v1::watch_fd
enum {
    TERN_FD_READ = 1u << 0,
    TERN_FD_WRITE = 1u << 1
};

// current_shard() when the caller is not on a shard thread
#define TERN_NO_SHARD 0xFFFFFFFFu

typedef void (*tern_task_fn)(void* ctx);
typedef void (*tern_fd_fn)(void* ctx, int fd, uint32_t events);

typedef int32_t tern_metric_kind;
enum {
    TERN_METRIC_COUNTER = 1,   // monotonically increasing uint64
    TERN_METRIC_GAUGE = 2,     // int64 that goes up and down
    TERN_METRIC_HISTOGRAM = 3  // observations of a double into fixed buckets
};

// A metric to register. name: [a-z_][a-z0-9_]*, Prometheus style (counters end in
// _total). labels: constant label pairs in Prometheus syntax without braces, e.g.
// method="GET",code="2.05"; may be null. The kernel adds instance="<instance name>".
// buckets: upper bounds, ascending, for histograms (null otherwise). One registration
// per distinct (name, labels). OWNERSHIP: caller; copied by the kernel.
typedef struct tern_metric_desc {
    uint32_t struct_size;
    tern_metric_kind kind;
    const char* name;
    const char* help;
    const char* labels;
    const double* buckets;
    uint32_t bucket_count;
    uint32_t reserved;  // zero
} tern_metric_desc;

}  // extern "C"

namespace tern {

// Logging tagged with the instance name. The kernel formats and writes the line (text or
// JSON, as the operator chose); the plugin only supplies the message.
struct log_v1 {
    // The lowest level that is written; cheap. [any-thread]
    virtual tern_log_level level() noexcept = 0;
    // Writes one line. msg is borrowed for the call. [any-thread]
    virtual void write(tern_log_level level, tern_str msg) noexcept = 0;

protected:
    ~log_v1() = default;
};

// The reactor: one event loop per shard thread. Each shard is a single thread; whatever a
// plugin keeps per shard is touched only from that shard, so no locks are needed. Work
// crosses shards only by post().
struct reactor_v1 {
    // Number of shard threads; fixed for the process's life. [any-thread]
    virtual uint32_t shard_count() noexcept = 0;
    // The calling thread's shard, or TERN_NO_SHARD. [any-thread]
    virtual uint32_t current_shard() noexcept = 0;
    // Monotonic clock in nanoseconds. [any-thread]
    virtual uint64_t now_ns() noexcept = 0;

    // Runs fn(ctx) on the shard's thread, soon, in posting order per posting thread.
    // Returns TERN_UNAVAILABLE once the reactor is stopping (fn will not run). [any-thread]
    // LIFETIME: ctx must stay valid until fn has run.
    virtual tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept = 0;

    // Calls fn(ctx, fd, events) on the shard's thread whenever fd becomes readable
    // (TERN_FD_READ) or writable (TERN_FD_WRITE), until unwatch_fd. The callback should
    // drain what it can without blocking. fd stays owned by the caller. One watch per fd
    // per shard (a second one: TERN_EXISTS); ask for both directions in one watch (each
    // callback carries one event bit); regular files cannot be watched (TERN_UNSUPPORTED).
    // [start-stop] or [shard]. LIFETIME: ctx until unwatch_fd returns.
    virtual tern_status watch_fd(uint32_t shard, int fd, uint32_t events, tern_fd_fn fn,
                                 void* ctx, uint64_t* out_watch) noexcept = 0;
    // Stops a watch. When it returns, fn is not running and will not run again (from the
    // start-stop thread it waits for the shard). [start-stop] or [the watch's shard]
    virtual void unwatch_fd(uint64_t watch) noexcept = 0;

    // A reusable one-shot timer on a shard; arming it allocates nothing.
    // [start-stop] or [shard]. LIFETIME: ctx until timer_destroy returns.
    virtual tern_status timer_create(uint32_t shard, tern_task_fn fn, void* ctx,
                                     uint64_t* out_timer) noexcept = 0;
    // (Re)arms: fn runs once, delay_ns from now; re-arming replaces the deadline.
    // [the timer's shard]
    virtual void timer_arm(uint64_t timer, uint64_t delay_ns) noexcept = 0;
    // Disarms; fn will not run for the cancelled deadline. [the timer's shard]
    virtual void timer_cancel(uint64_t timer) noexcept = 0;
    // Disarms and frees. Same waiting rule as unwatch_fd. [start-stop] or [the timer's shard]
    virtual void timer_destroy(uint64_t timer) noexcept = 0;

protected:
    ~reactor_v1() = default;
};

// The registry: interfaces provided by running instances, found by id.
struct registry_v1 {
    // The interface iid of the instance named instance, or of the first instance (in
    // manifest order) providing it when instance is empty; null when there is none.
    // The pointer stays valid until the providing instance is stopped, which happens
    // only after every instance requiring iid has stopped. [any-thread]
    virtual void* find(tern_str iid, tern_str instance) noexcept = 0;
    // Calls sink(ctx, instance_name, interface) for every instance providing iid, in
    // manifest order, synchronously: LIFETIME: sink and ctx for the call; instance_name
    // is borrowed for the sink's call, interface lives as find()'s does. [any-thread]
    virtual void list(tern_str iid, void (*sink)(void* ctx, tern_str instance, void* iface),
                      void* ctx) noexcept = 0;

protected:
    ~registry_v1() = default;
};

// Metrics, served by the kernel in Prometheus text format. Registration happens at
// start-up; updates are lock-free and cheap enough for the per-message path.
struct metrics_v1 {
    // Registers a metric and returns its handle in *out. [start-stop]
    virtual tern_status add_metric(const tern_metric_desc* desc, uint64_t* out) noexcept = 0;
    // Counter += delta. [any-thread]
    virtual void count(uint64_t metric, uint64_t delta) noexcept = 0;
    // Gauge += delta (negative to decrease). [any-thread]
    virtual void gauge_add(uint64_t metric, int64_t delta) noexcept = 0;
    // Gauge = value. Do not mix with gauge_add on one gauge. [any-thread]
    virtual void gauge_set(uint64_t metric, int64_t value) noexcept = 0;
    // Histogram observation. [any-thread]
    virtual void observe(uint64_t metric, double value) noexcept = 0;

protected:
    ~metrics_v1() = default;
};

// The instance's own configuration table, already checked against the descriptor's
// schema with defaults filled in: every declared key has a value of its declared type.
// key is the schema name ("bind_port", "credentials.cert_file"). Returned strings live
// until the instance's destroy(). [any-thread]
struct config_v1 {
    virtual tern_status get_bool(tern_str key, int32_t* out) noexcept = 0;
    virtual tern_status get_int(tern_str key, int64_t* out) noexcept = 0;
    virtual tern_status get_double(tern_str key, double* out) noexcept = 0;
    virtual tern_status get_string(tern_str key, tern_str* out) noexcept = 0;
    virtual tern_status get_array_size(tern_str key, uint32_t* out) noexcept = 0;
    virtual tern_status get_array_string(tern_str key, uint32_t index, tern_str* out) noexcept = 0;
    // Where the key's value came from, for error messages: "config/tern.toml:12",
    // "--set", or "default". [any-thread]
    virtual tern_str origin(tern_str key) noexcept = 0;

protected:
    ~config_v1() = default;
};

// What the kernel hands to create(): the way to every host service.
struct host_v1 {
    // A host service by id (TERN_IID_LOG_V1, ...), or null when this kernel has none.
    // Services live as long as the host. [any-thread]
    virtual void* query(tern_str iid) noexcept = 0;
    // The manifest's name of this instance ("udp", "udp6"). [any-thread]
    virtual tern_str instance_name() noexcept = 0;
    // The kernel's ABI version. [any-thread]
    virtual uint32_t abi_major() noexcept = 0;
    virtual uint32_t abi_minor() noexcept = 0;
    // A fatal runtime failure: the kernel logs reason and stops the process with a
    // non-zero exit code, stopping every instance in order. [any-thread]
    virtual void request_stop(tern_str reason) noexcept = 0;

protected:
    ~host_v1() = default;
};

// One plugin instance, made by the descriptor's create(). The kernel calls, in order:
// create (dependency order) → start (dependency order) → stop (reverse) → destroy
// (reverse). Interfaces from query() are published in the registry after every create
// and before the first start, so start() may look up what it requires.
struct plugin_v1 {
    // The interface iid this instance provides (one of the descriptor's provides), or
    // null. Called once per provided id after create. [start-stop]
    virtual void* query(tern_str iid) noexcept = 0;
    // Opens sockets, files, threads; returns TERN_OK or a status with the reason in err.
    // A failed start stops start-up: instances already started are stopped. [start-stop]
    virtual tern_status start(tern_error* err) noexcept = 0;
    // Stops all activity within a bounded time: after it returns no callback of this
    // instance runs on any shard and no thread of it touches another instance.
    // Called only after a successful start. [start-stop]
    virtual void stop() noexcept = 0;
    // Frees the instance. [start-stop]
    virtual void destroy() noexcept = 0;

protected:
    ~plugin_v1() = default;
};

}  // namespace tern

#endif

// The engine's only way to the outside world: clock, one timer per shard, sending, posting
// to a shard, logging. The plugin implements it over the kernel's reactor and transports;
// unit tests and the fuzz target implement it with a hand-driven clock and captured output,
// so every behaviour of the engine is testable without threads, sockets or a kernel.
#pragma once

#include <cstdint>
#include <string_view>

#include "tern/abi/host.h"
#include "tern/abi/transport.h"

namespace tern::coap {

class engine_env {
public:
    // Monotonic nanoseconds. [any-thread]
    virtual uint64_t now_ns() noexcept = 0;
    // The calling thread's shard, or TERN_NO_SHARD. [any-thread]
    virtual uint32_t current_shard() noexcept = 0;
    // (Re)arms the shard's one timer: the engine's on_timer(shard) runs after delay_ns.
    // [shard]
    virtual void arm_timer(uint32_t shard, uint64_t delay_ns) noexcept = 0;
    // Sends datagrams from shard through transport number `transport` (the engine's
    // index). [shard]
    virtual void send(uint32_t shard, uint32_t transport, const tern_datagram* batch,
                      uint32_t count) noexcept = 0;
    // Runs fn(ctx) on shard's thread soon. [any-thread]
    virtual tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept = 0;
    // Runs fn(ctx, shard) on every shard's thread (or inline when the shards are not
    // running) and returns when all have run. [start-stop]
    virtual void run_on_shards(void (*fn)(void* ctx, uint32_t shard), void* ctx) noexcept = 0;
    virtual void log(tern_log_level level, std::string_view message) noexcept = 0;
    // Seed for MIDs, back-off jitter and hash keys. [start-stop]
    virtual uint64_t random_seed() noexcept = 0;

protected:
    ~engine_env() = default;
};

}  // namespace tern::coap

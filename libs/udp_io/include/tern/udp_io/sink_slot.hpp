// The datagram sink of a transport (transport_v1::attach) and the handshake that makes
// detaching safe: a shard marks itself inside before it reads the sink and unmarks itself
// after its call returns; attach(nullptr) clears the sink, then waits until no shard is
// inside. Both sides are sequentially consistent (Dekker-style), so either the shard reads
// null or the detacher sees the shard's mark and waits for it. The shard's side takes no
// lock and allocates nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "tern/abi/transport.h"
#include "tern/sdk/host.hpp"

namespace tern::udp_io {

class sink_slot {
public:
    sink_slot() = default;
    sink_slot(const sink_slot&) = delete;
    sink_slot& operator=(const sink_slot&) = delete;

    // The shards that may enter (indexes 0..shards-1); the attached sink stays. Only while
    // no shard can enter (before the transport's sockets are watched). [start-stop]
    void resize(uint32_t shards);

    // transport_v1::attach. A sink: TERN_OK (also for the sink already attached), or
    // TERN_EXISTS while another one is attached. nullptr: detaches, and returns once no
    // shard but `caller` (reactor_v1::current_shard(): a shard detaching from inside the
    // sink would wait for itself) is inside the old sink; a warning goes to log for every
    // second it waits. [start-stop]
    tern_status attach(datagram_sink_v1* sink, uint32_t caller, const sdk::logger& log) noexcept;

    // Calls f(sink), marked inside for `shard` (< the size given to resize), with the sink
    // attached now, or nullptr when none is (the caller counts its drop). [that shard]
    template <class F>
    void enter(uint32_t shard, F&& f) noexcept {
        std::atomic<uint32_t>& inside = inside_[shard].v;
        inside.store(1, std::memory_order_seq_cst);
        f(sink_.load(std::memory_order_seq_cst));
        inside.store(0, std::memory_order_release);
    }

private:
    // One cache line per shard: shards never write the same line.
    struct alignas(64) flag {
        std::atomic<uint32_t> v{0};
    };
    std::atomic<datagram_sink_v1*> sink_{nullptr};
    std::unique_ptr<flag[]> inside_;
    uint32_t shards_ = 0;
};

}  // namespace tern::udp_io

#include "tern/udp_io/sink_slot.hpp"

#include <chrono>
#include <thread>

namespace tern::udp_io {

void sink_slot::resize(uint32_t shards) {
    inside_ = shards == 0 ? nullptr : std::make_unique<flag[]>(shards);
    shards_ = shards;
}

tern_status sink_slot::attach(datagram_sink_v1* sink, uint32_t caller, const sdk::logger& log) noexcept {
    if (sink != nullptr) {
        datagram_sink_v1* expected = nullptr;
        if (sink_.compare_exchange_strong(expected, sink)) return TERN_OK;
        return expected == sink ? TERN_OK : TERN_EXISTS;
    }
    sink_.store(nullptr, std::memory_order_seq_cst);
    auto warn_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (uint32_t i = 0; i < shards_; ++i) {
        if (i == caller) continue;
        while (inside_[i].v.load(std::memory_order_seq_cst) != 0) {
            if (std::chrono::steady_clock::now() > warn_at) {
                try {
                    log.warn("detaching: shard ", i, " is still inside the datagram sink; waiting");
                } catch (...) {
                }
                warn_at += std::chrono::seconds(1);
            }
            std::this_thread::yield();
        }
    }
    return TERN_OK;
}

}  // namespace tern::udp_io

// What each table of a shard holds (coap_memory_bytes{table}, coap_entries{table}), from the
// engine's own accounting: records as handed out (a slot pool's touched slots, never its
// untouched capacity), indexes as grown, rings and chunk pools as written. Reported as each
// shard's change since its last report, at most once a second, off the message path.
#include <algorithm>

#include "shard_impl.hpp"

namespace tern::coap {

table_figures shard::memory() const noexcept {
    table_figures f{};
    auto put = [&f](mem t, std::size_t bytes, std::size_t entries) {
        f.bytes[static_cast<std::size_t>(t)] = static_cast<int64_t>(bytes);
        f.entries[static_cast<std::size_t>(t)] = static_cast<int64_t>(entries);
    };
    put(mem::peers,
        peers_.touched_bytes() + peer_index_.touched_bytes() + prefixes_.touched_bytes() +
            prefix_index_.touched_bytes(),
        peers_.used());
    // A relation slot's published generation and timer position word are touched with it.
    put(mem::observations,
        rels_.touched_bytes() + std::size_t{rels_.high_water()} * (sizeof(uint32_t) * 2),
        rels_.used());
    // An exchange slot's published generation and relation, request size, timer position.
    put(mem::exchanges,
        exch_.touched_bytes() + std::size_t{exch_.high_water()} *
                                    (sizeof(uint32_t) + sizeof(uint64_t) + sizeof(uint16_t) +
                                     sizeof(uint32_t)),
        exch_.used());
    put(mem::dedup,
        dedups_.touched_bytes() + dedup_index_.touched_bytes() + static_cast<std::size_t>(arena_touched_),
        dedups_.used());
    put(mem::notifications, notes_.touched_bytes() + note_chunks_.touched_bytes(), notes_.used());
    put(mem::retransmissions,
        mid_index_.touched_bytes() + heap_.touched_entry_bytes() + tx_chunks_.touched_bytes(),
        heap_.size());
    std::size_t buffers = 0;
    for (uint32_t t = 0; t < xfers_.high_water(); ++t)
        if (xfers_[t].buf != nullptr) buffers += static_cast<std::size_t>(xfers_[t].cap);
    put(mem::block1, xfers_.touched_bytes() + xfer_index_.touched_bytes() + buffers, xfers_.used());
    put(mem::verified_addresses,
        amp_.verified.touched_bytes() + amp_.held_off.touched_bytes() + amp_.pinging.touched_bytes(),
        amp_.verified.occupied());
    return f;
}

void shard::memory_tick() noexcept {
    if (now_ < mem_due_ns_) {
        mem_dirty_ = true;  // retransmit::rearm brings the report in at mem_due_ns_
        return;
    }
    mem_dirty_ = false;
    mem_due_ns_ = now_ + 1000000000;
    const table_figures f = memory();
    for (std::size_t i = 0; i < f.bytes.size(); ++i)
        m_.memory(static_cast<mem>(i), f.bytes[i] - mem_reported_.bytes[i],
                  f.entries[i] - mem_reported_.entries[i]);
    mem_reported_ = f;
}

}  // namespace tern::coap

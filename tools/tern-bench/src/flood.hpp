// `tern-bench flood`: a bounded stream of unauthenticated CoAP datagrams (flood_messages.hpp)
// from many (address, port) pairs of 127.0.0.0/8, at a fixed rate, to measure what it does
// to real devices beside it (tools/bench/flood.sh). Loopback only, stops by itself.
#pragma once

#include "flood_messages.hpp"
#include "options.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tern::bench {

struct flood_result {
    uint64_t sent = 0;
    std::array<uint64_t, flood_kind_count> sent_by_kind{};
    uint64_t pairs = 0;        // distinct (address, port) pairs datagrams were sent from
    uint64_t addresses = 0;    // distinct source addresses among them
    uint64_t send_errors = 0;  // datagrams the local stack refused
    uint64_t answers = 0;      // datagrams from the target, to any of the pairs
    uint64_t empty_acks = 0;
    uint64_t rst = 0;
    std::array<uint64_t, 256> codes{};  // answers by response code
    uint64_t max_behind_ns = 0;         // largest lag of a send behind its due time
    uint64_t elapsed_ns = 0;            // first datagram to last
};

// 0 when the flood ran to its end (or was interrupted), 1 on a socket error (in `error`).
int run_flood(const flood_options& opts, flood_result& result, std::string& error);

void print_flood_report(const flood_options& opts, const flood_result& result, std::FILE* out);

}  // namespace tern::bench

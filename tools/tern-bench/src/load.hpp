// The request generator: T threads, each owning a share of the client sockets, an epoll
// set, a timer wheel and its own counters; merged once at the end.
#pragma once

#include "histogram.hpp"
#include "options.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace tern::bench {

struct load_result {
    // Requests whose (intended) send time lies in the measured window.
    uint64_t sent = 0;
    uint64_t ok = 0;          // 2.xx
    uint64_t responses = 0;   // any response code
    uint64_t timeouts = 0;
    uint64_t rst = 0;
    uint64_t unsent = 0;      // --rate: due in the window but never sent (all sockets busy)
    std::array<uint64_t, 256> codes{};  // by raw code byte
    histogram latency;                  // ns

    // Diagnostics over the whole run (warm-up included).
    uint64_t responses_total = 0;  // every response, for per-response server CPU cost
    uint64_t ok_total = 0;         // every 2.xx: what a server must have stored, warm-up included
    uint64_t separate = 0;        // responses that came after an empty ACK, or as NON/CON
    uint64_t empty_acks = 0;
    uint64_t retransmissions = 0;
    uint64_t stray = 0;           // late, duplicate or unknown-token messages
    uint64_t malformed = 0;
    uint64_t send_errors = 0;     // datagrams the local stack refused
    uint64_t icmp_errors = 0;     // ECONNREFUSED: nothing listens on the target port
    uint64_t mid_reuse_clients = 0;  // sockets that reused a MID within EXCHANGE_LIFETIME

    uint64_t notifications = 0;
    uint64_t observe_registered = 0;
    uint64_t observe_rejected = 0;  // 2.xx without Observe: server declined to observe
    uint64_t observe_failed = 0;    // error code, RST or timeout
    uint64_t observe_ended = 0;     // server ended an established observation
    uint64_t observe_cancelled = 0;

    uint64_t window_start_ns = 0;
    uint64_t window_end_ns = 0;  // last issue or last measured response, whichever is later
    uint64_t warmup_ns = 0;

    void merge(const load_result& o);
    double window_seconds() const;
    uint64_t errors() const { return responses - ok; }
};

// Returns 0 when the run completed, 1 on a socket error (message in `error`).
int run_load(const load_options& opts, load_result& result, std::string& error);

// Set from a signal handler: ends the measured window early; the report still prints.
extern std::atomic<bool> stop_requested;

}  // namespace tern::bench

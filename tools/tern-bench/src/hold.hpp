// `tern-bench hold`: N idle devices, each from its own loopback (address, port), each
// holding a CON GET Observe:0 relation on every --observe path, kept alive as a device
// would (ACKs, RST to pings, re-registration of a lost relation). It is how
// tools/bench/scale.sh is a million devices from a few sockets and a few dozen bytes each.
#pragma once

#include "options.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace tern::bench {

struct hold_result {
    uint64_t devices = 0;
    uint64_t relations = 0;  // devices x paths
    // Every relation by the outcome of its latest registration (at the end, or at ready).
    uint64_t registered = 0;  // 2.xx with Observe
    uint64_t refused = 0;     // 2.xx without Observe, or 4.xx/5.xx (not 5.03 or 4.29)
    uint64_t failed = 0;      // no answer after the retransmissions, RST, or lost: retried
    uint64_t pending = 0;     // no first outcome yet (5.03 until now, or stopped early)

    uint64_t notifications = 0;    // after a relation's first response (the notify-log lines)
    uint64_t acks_sent = 0;        // ACKs of CON notifications and separate responses
    uint64_t pings_answered = 0;   // empty CONs answered with RST
    uint64_t reregistrations = 0;  // after a lost or failed relation
    uint64_t refreshes = 0;        // --refresh
    uint64_t busy_retries = 0;     // after a 5.03 or 4.29, when its Max-Age passed
    uint64_t retransmissions = 0;
    uint64_t lost = 0;             // relations the server ended (error or Observe-less notification)
    uint64_t send_errors = 0;      // datagrams the local stack refused
    uint64_t stray = 0;            // unknown, late or duplicate messages
    uint64_t malformed = 0;
    uint64_t registrations_sent = 0;  // first attempts and every later one, retransmissions not counted

    double ready_s = -1;    // start to ready; -1: never ready
    double elapsed_s = 0;   // start to end
    uint64_t rss_bytes = 0; // the generator's own resident memory at the end
};

// 0 when the hold ended (duration passed, or SIGINT/SIGTERM), 1 on a setup error.
int run_hold(const hold_options& opts, hold_result& result, std::string& error);

// The ready file's JSON object (one line, no newline).
std::string hold_ready_json(const hold_result& result);
void print_hold_report(const hold_options& opts, const hold_result& result, std::FILE* out);

}  // namespace tern::bench

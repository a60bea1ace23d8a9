// The ready file and the final report of `tern-bench hold`.
#include "hold.hpp"

namespace tern::bench {

namespace {

unsigned long long n(uint64_t v) { return static_cast<unsigned long long>(v); }

// First registrations per second up to ready (every relation's first attempt ended).
double registration_rate(const hold_result& r) { return r.ready_s > 0 ? static_cast<double>(r.relations) / r.ready_s : 0; }

}  // namespace

std::string hold_ready_json(const hold_result& r) {
    char b[256];
    std::snprintf(b, sizeof b,
                  "{\"devices\":%llu,\"registered\":%llu,\"refused\":%llu,\"failed\":%llu,\"elapsed_s\":%.3f,"
                  "\"registration_rate\":%.1f}",
                  n(r.devices), n(r.registered), n(r.refused), n(r.failed), r.ready_s, registration_rate(r));
    return b;
}

void print_hold_report(const hold_options& o, const hold_result& r, std::FILE* out) {
    if (o.json) {
        std::fprintf(out,
                     "{\"target\":\"%s\",\"devices\":%llu,\"paths\":%zu,\"relations\":%llu,\"registered\":%llu,"
                     "\"refused\":%llu,\"failed\":%llu,\"pending\":%llu,\"notifications\":%llu,\"acks_sent\":%llu,"
                     "\"pings_answered\":%llu,\"reregistrations\":%llu,\"refreshes\":%llu,\"busy_retries\":%llu,"
                     "\"lost\":%llu,\"retransmissions\":%llu,\"registrations_sent\":%llu,\"send_errors\":%llu,"
                     "\"stray\":%llu,\"malformed\":%llu,\"ready_s\":%.3f,\"registration_rate\":%.1f,"
                     "\"elapsed_s\":%.3f,\"rss_bytes\":%llu}\n",
                     format_address(o.addr).c_str(), n(r.devices), o.observe.size(), n(r.relations), n(r.registered),
                     n(r.refused), n(r.failed), n(r.pending), n(r.notifications), n(r.acks_sent), n(r.pings_answered),
                     n(r.reregistrations), n(r.refreshes), n(r.busy_retries), n(r.lost), n(r.retransmissions),
                     n(r.registrations_sent), n(r.send_errors), n(r.stray), n(r.malformed), r.ready_s,
                     registration_rate(r), r.elapsed_s, n(r.rss_bytes));
        return;
    }
    std::fprintf(out, "target         %s  (hold: %llu devices x %zu paths from %u sockets)\n",
                 format_address(o.addr).c_str(), n(r.devices), o.observe.size(), o.sockets);
    std::fprintf(out, "relations      %llu: registered %llu, refused %llu, failed %llu, pending %llu\n", n(r.relations),
                 n(r.registered), n(r.refused), n(r.failed), n(r.pending));
    if (r.ready_s >= 0)
        std::fprintf(out, "ready          after %.3f s (%.1f registrations/s)\n", r.ready_s, registration_rate(r));
    else
        std::fprintf(out, "ready          never (stopped before every registration had ended)\n");
    std::fprintf(out, "held           %.3f s in all; notifications %llu, ACKs sent %llu, pings answered %llu\n",
                 r.elapsed_s, n(r.notifications), n(r.acks_sent), n(r.pings_answered));
    std::fprintf(out,
                 "registrations  %llu sent: re-registrations %llu (lost relations %llu), refreshes %llu, after 5.03 "
                 "%llu, retransmissions %llu\n",
                 n(r.registrations_sent), n(r.reregistrations), n(r.lost), n(r.refreshes), n(r.busy_retries),
                 n(r.retransmissions));
    std::fprintf(out, "diagnostics    send-errors %llu  stray %llu  malformed %llu  client RSS %.1f MiB\n",
                 n(r.send_errors), n(r.stray), n(r.malformed), static_cast<double>(r.rss_bytes) / 1048576.0);
}

}  // namespace tern::bench

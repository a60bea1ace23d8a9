#include "report.hpp"

#include "coap_wire.hpp"

#include <cstdio>
#include <string>

namespace tern::bench {

namespace {

std::string code_text(unsigned code) {
    char b[8];
    std::snprintf(b, sizeof b, "%u.%02u", coap::code_class(static_cast<uint8_t>(code)),
                  coap::code_detail(static_cast<uint8_t>(code)));
    return b;
}

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

const char* method_name(uint8_t m) {
    switch (m) {
    case coap::code_get: return "GET";
    case coap::code_post: return "POST";
    case coap::code_put: return "PUT";
    default: return "DELETE";
    }
}

// The URL is user text; JSON needs quotes, backslashes and control bytes escaped.
std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            out += b;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

constexpr double quantiles[] = {0.5, 0.9, 0.99, 0.999};
constexpr const char* quantile_names[] = {"p50", "p90", "p99", "p99.9"};

}  // namespace

void print_report(const load_options& o, const load_result& r, std::FILE* out) {
    const double window = r.window_seconds();
    const double throughput = window > 0 ? static_cast<double>(r.responses) / window : 0;
    const auto& h = r.latency;

    if (o.json) {
        std::fprintf(out, "{\"target\":%s,\"method\":\"%s\",\"type\":\"%s\",\"clients\":%u,"
                          "\"concurrency\":%u,\"threads\":%u,\"devices\":%llu,\"rate\":%.3f,",
                     json_string(o.url).c_str(), method_name(o.method), o.confirmable ? "con" : "non",
                     o.clients, o.concurrency, o.threads, static_cast<unsigned long long>(o.devices), o.rate);
        std::fprintf(out, "\"window_s\":%.6f,\"sent\":%llu,\"ok\":%llu,\"errors\":%llu,\"errors_by_code\":{",
                     window, static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.ok),
                     static_cast<unsigned long long>(r.errors()));
        bool first = true;
        for (unsigned c = 0; c < 256; ++c) {
            if (!r.codes[c] || coap::code_class(static_cast<uint8_t>(c)) == 2) continue;
            std::fprintf(out, "%s\"%s\":%llu", first ? "" : ",", code_text(c).c_str(),
                         static_cast<unsigned long long>(r.codes[c]));
            first = false;
        }
        std::fprintf(out, "},\"timeouts\":%llu,\"rst\":%llu,\"unsent\":%llu,\"throughput\":%.1f,\"latency_us\":{",
                     static_cast<unsigned long long>(r.timeouts), static_cast<unsigned long long>(r.rst),
                     static_cast<unsigned long long>(r.unsent), throughput);
        for (size_t i = 0; i < 4; ++i)
            std::fprintf(out, "\"%s\":%.1f,", quantile_names[i], us(h.quantile(quantiles[i])));
        std::fprintf(out, "\"max\":%.1f,\"min\":%.1f},", us(h.max()), us(h.min()));
        std::fprintf(out,
                     "\"responses_total\":%llu,\"ok_total\":%llu,\"separate\":%llu,\"empty_acks\":%llu,\"retransmissions\":%llu,\"stray\":%llu,"
                     "\"malformed\":%llu,\"send_errors\":%llu,\"icmp_errors\":%llu,\"mid_reuse_clients\":%llu,"
                     "\"notifications\":%llu,\"observe_registered\":%llu,\"observe_rejected\":%llu,"
                     "\"observe_failed\":%llu,\"observe_ended\":%llu,\"observe_cancelled\":%llu}\n",
                     static_cast<unsigned long long>(r.responses_total), static_cast<unsigned long long>(r.ok_total),
                     static_cast<unsigned long long>(r.separate), static_cast<unsigned long long>(r.empty_acks),
                     static_cast<unsigned long long>(r.retransmissions), static_cast<unsigned long long>(r.stray),
                     static_cast<unsigned long long>(r.malformed), static_cast<unsigned long long>(r.send_errors),
                     static_cast<unsigned long long>(r.icmp_errors),
                     static_cast<unsigned long long>(r.mid_reuse_clients),
                     static_cast<unsigned long long>(r.notifications),
                     static_cast<unsigned long long>(r.observe_registered),
                     static_cast<unsigned long long>(r.observe_rejected),
                     static_cast<unsigned long long>(r.observe_failed),
                     static_cast<unsigned long long>(r.observe_ended),
                     static_cast<unsigned long long>(r.observe_cancelled));
        return;
    }

    auto n = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(out, "target       %s  (%s %s, %u clients x %u, %u thread%s", o.url.c_str(),
                 o.confirmable ? "CON" : "NON", method_name(o.method), o.clients, o.concurrency, o.threads,
                 o.threads == 1 ? "" : "s");
    if (o.device_mode) std::fprintf(out, ", %llu devices", n(o.devices));
    if (o.rate > 0) std::fprintf(out, ", %.0f req/s paced)\n", o.rate);
    else std::fprintf(out, ", closed loop)\n");
    std::fprintf(out, "window       %.3f s (after %.3f s warm-up)\n", window, static_cast<double>(r.warmup_ns) / 1e9);
    std::fprintf(out, "sent         %llu\n", n(r.sent));
    std::fprintf(out, "ok (2.xx)    %llu\n", n(r.ok));
    std::fprintf(out, "errors       %llu", n(r.errors()));
    for (unsigned c = 0; c < 256; ++c)
        if (r.codes[c] && coap::code_class(static_cast<uint8_t>(c)) != 2)
            std::fprintf(out, "  %s: %llu", code_text(c).c_str(), n(r.codes[c]));
    std::fprintf(out, "\ntimeouts     %llu\nrst          %llu\n", n(r.timeouts), n(r.rst));
    if (o.rate > 0) std::fprintf(out, "unsent       %llu (due in the window, every socket busy)\n", n(r.unsent));
    std::fprintf(out, "throughput   %.1f responses/s\n", throughput);
    std::fprintf(out, "latency us   ");
    for (size_t i = 0; i < 4; ++i) std::fprintf(out, "%s %.1f  ", quantile_names[i], us(h.quantile(quantiles[i])));
    std::fprintf(out, "max %.1f%s\n", us(h.max()), o.rate > 0 ? "  (from intended send time)" : "");
    std::fprintf(out, "diagnostics  separate %llu  empty-acks %llu  retransmissions %llu  stray %llu  malformed %llu"
                      "  send-errors %llu  icmp-errors %llu\n",
                 n(r.separate), n(r.empty_acks), n(r.retransmissions), n(r.stray), n(r.malformed),
                 n(r.send_errors), n(r.icmp_errors));
    if (o.observe)
        std::fprintf(out, "observe      registered %llu  rejected %llu  failed %llu  ended %llu  cancelled %llu"
                          "  notifications %llu\n",
                     n(r.observe_registered), n(r.observe_rejected), n(r.observe_failed), n(r.observe_ended),
                     n(r.observe_cancelled), n(r.notifications));
}

void print_warnings(const load_options& o, const load_result& r, std::FILE* err) {
    if (r.mid_reuse_clients)
        std::fprintf(err,
                     "warning: %llu client socket(s) reused Message IDs within EXCHANGE_LIFETIME (247 s); a server "
                     "that deduplicates per RFC 7252 may answer them from its cache. Use more --clients.\n",
                     static_cast<unsigned long long>(r.mid_reuse_clients));
    if (r.icmp_errors)
        std::fprintf(err, "warning: %llu ICMP port-unreachable errors: is a server listening on %s%s?\n",
                     static_cast<unsigned long long>(r.icmp_errors), format_address(o.addr).c_str(),
                     o.targets.size() > 1 ? " and each of the other --target-ports" : "");
    if (o.rate > 0 && r.unsent)
        std::fprintf(err, "warning: %llu requests were due but every socket was busy: the target rate was not "
                          "reached (raise --clients/--concurrency or lower --rate)\n",
                     static_cast<unsigned long long>(r.unsent));
}

}  // namespace tern::bench

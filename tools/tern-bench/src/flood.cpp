#include "flood.hpp"

#include "clock.hpp"
#include "coap_wire.hpp"
#include "load.hpp"  // stop_requested
#include "pktinfo_sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

namespace tern::bench {

namespace {

constexpr uint64_t max_sleep_ns = 50'000'000;  // keep noticing stop_requested
constexpr uint64_t slack_ns = 1'000'000;       // send what fell due in bursts, at most 1 ms late
constexpr unsigned max_burst = 256;            // sends before the clock is read again
constexpr size_t recv_size = 2048;

// The flood's side of pktinfo_sockets: pair k is source address k mod N on socket
// (k / N) mod M, so M sockets send from N x M (address, port) pairs and read every answer
// the target sends back to any of them.
class flooder {
public:
    flooder(const flood_options& o, flood_result& r) : o_(o), r_(r) {}

    bool open(std::string& error) {
        socket_buffers b;  // answers pile up while a burst is sent: count them all
        return s_.open(o_.ports, b, o_.addr, o_.addr_len, flood_max_datagram, recv_size, error);
    }

    // Room for the next datagram from pair `pair`; fill it and call commit(len, kind).
    uint8_t* stage(uint64_t pair) {
        const auto socket = static_cast<uint32_t>((pair / o_.sources) % o_.ports);
        return s_.stage(socket, o_.source_base + static_cast<uint32_t>(pair % o_.sources) * o_.source_step);
    }
    void commit(size_t len, flood_kind kind) { s_.commit(len, static_cast<uint8_t>(kind)); }

    void flush() {
        s_.flush();
        const send_counts& c = s_.counts();
        r_.sent = c.sent;
        r_.send_errors = c.errors + encode_errors_;
        for (size_t i = 0; i < flood_kind_count; ++i) r_.sent_by_kind[i] = c.by_tag[i];
        if (c.refused_first == EINVAL && fatal_.empty()) {
            // The very first datagram refused: the source address cannot be used here.
            fatal_ = std::string("sendmmsg from ") + std::to_string(o_.source_base >> 24) +
                     ".x.y.z: " + std::strerror(EINVAL) + " (does this system route 127.0.0.0/8 to lo?)";
        }
    }
    void encode_error() { ++encode_errors_; }

    // Reads answers until `until_ns` (or until nothing is pending when it has passed).
    void wait_and_read(uint64_t until_ns) {
        epoll_event events[64];
        for (;;) {
            const uint64_t now = mono_ns();
            const uint64_t wait = until_ns > now ? std::min(until_ns - now, max_sleep_ns) : 0;
            timespec ts{static_cast<time_t>(wait / 1'000'000'000u), static_cast<long>(wait % 1'000'000'000u)};
            const int n = epoll_pwait2(s_.epoll_fd(), events, 64, &ts, nullptr);
            if (n < 0 && errno != EINTR) return;
            for (int i = 0; i < n; ++i) s_.receive(events[i].data.u32, [this](const pktinfo_sockets::datagram& d) { answer(d); });
            // Past `until_ns`, one poll without waiting reads what is pending, then return.
            if (wait == 0 || stop_requested.load(std::memory_order_relaxed)) return;
        }
    }

    const std::string& fatal() const { return fatal_; }

private:
    void answer(const pktinfo_sockets::datagram& d) {
        const auto* target = reinterpret_cast<const sockaddr_in*>(&o_.addr);
        if (d.from.sin_addr.s_addr != target->sin_addr.s_addr || d.from.sin_port != target->sin_port) return;
        ++r_.answers;
        coap::message m;
        if (d.truncated || !coap::parse(d.data, d.len, m)) return;
        if (m.type == coap::type_rst) ++r_.rst;
        else if (m.code == coap::code_empty) ++r_.empty_acks;
        else ++r_.codes[m.code];
        // A separate CON response wants an ACK; a spoofed source would never send one,
        // so neither does the flood (the server retransmits it, as it would then).
    }

    const flood_options& o_;
    flood_result& r_;
    pktinfo_sockets s_;
    uint64_t encode_errors_ = 0;
    std::string fatal_;
};

std::string code_text(unsigned code) {
    char b[8];
    std::snprintf(b, sizeof b, "%u.%02u", code >> 5, code & 31u);
    return b;
}

}  // namespace

int run_flood(const flood_options& o, flood_result& r, std::string& error) {
    prctl(PR_SET_TIMERSLACK, 50'000UL, 0, 0, 0);
    rng random(std::random_device{}() ^ mono_ns());
    flooder f(o, r);
    if (!f.open(error)) return 1;
    const uint32_t mix_total = o.mix.total();
    const double ns_per = 1e9 / o.rate;
    auto mid = static_cast<uint16_t>(random.next());

    const uint64_t start = mono_ns();
    const uint64_t end = start + static_cast<uint64_t>(o.duration * 1e9);
    uint64_t pairs_started = 0;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
    uint64_t k = 0;
    auto due_of = [&](uint64_t i) { return start + static_cast<uint64_t>(static_cast<double>(i) * ns_per); };
    while (k < o.count && !stop_requested.load(std::memory_order_relaxed)) {
        const uint64_t now = mono_ns();
        if (due_of(k) >= end) break;  // what fell due before the end is still sent
        if (due_of(k) > now) {
            f.wait_and_read(std::min(due_of(k) + slack_ns, end));
            continue;
        }
        r.max_behind_ns = std::max(r.max_behind_ns, now - due_of(k));
        for (unsigned b = 0; b < max_burst && k < o.count && due_of(k) <= now && due_of(k) < end; ++b) {
            const uint64_t pair = k / o.per_pair;
            if (k % o.per_pair == 0) ++pairs_started;
            const auto kind = o.mix.pick(random.below(mix_total));
            uint8_t* buf = f.stage(pair);
            const size_t len = encode_flood(kind, mid++, k, random, o.params, buf, flood_max_datagram);
            ++k;
            if (len == 0) {
                f.encode_error();
                continue;
            }
            f.commit(len, kind);
        }
        f.flush();
        if (!f.fatal().empty()) {
            error = f.fatal();
            return 1;
        }
        last_ns = mono_ns();
        if (!first_ns) first_ns = now;
    }
    f.flush();
    r.elapsed_ns = last_ns > first_ns ? last_ns - first_ns : 0;
    const uint64_t distinct = uint64_t{o.sources} * o.ports;
    r.pairs = std::min(pairs_started, distinct);
    r.addresses = std::min<uint64_t>(pairs_started, o.sources);
    f.wait_and_read(mono_ns() + uint64_t{o.linger_ms} * 1'000'000u);
    return 0;
}

void print_flood_report(const flood_options& o, const flood_result& r, std::FILE* out) {
    auto n = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    const double secs = static_cast<double>(r.elapsed_ns) / 1e9;
    const double achieved = secs > 0 ? static_cast<double>(r.sent) / secs : 0;
    in_addr base{};
    base.s_addr = htonl(o.source_base);
    char base_text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &base, base_text, sizeof base_text);

    if (o.json) {
        std::fprintf(out, "{\"target\":\"%s\",\"rate\":%.3f,\"achieved_rate\":%.1f,\"elapsed_s\":%.3f,\"sent\":%llu,"
                          "\"sent_by_kind\":{",
                     format_address(o.addr).c_str(), o.rate, achieved, secs, n(r.sent));
        for (size_t i = 0; i < flood_kind_count; ++i)
            std::fprintf(out, "%s\"%s\":%llu", i ? "," : "", flood_kind_name(static_cast<flood_kind>(i)),
                         n(r.sent_by_kind[i]));
        std::fprintf(out, "},\"pairs\":%llu,\"addresses\":%llu,\"ports\":%u,\"source_base\":\"%s\",\"source_step\":%u,\"per_pair\":%u,"
                          "\"send_errors\":%llu,\"answers\":%llu,"
                          "\"empty_acks\":%llu,\"rst\":%llu,\"answers_by_code\":{",
                     n(r.pairs), n(r.addresses), o.ports, base_text, o.source_step, o.per_pair, n(r.send_errors),
                     n(r.answers), n(r.empty_acks), n(r.rst));
        bool first = true;
        for (unsigned c = 0; c < 256; ++c) {
            if (!r.codes[c]) continue;
            std::fprintf(out, "%s\"%s\":%llu", first ? "" : ",", code_text(c).c_str(), n(r.codes[c]));
            first = false;
        }
        std::fprintf(out, "},\"max_behind_us\":%.1f}\n", static_cast<double>(r.max_behind_ns) / 1e3);
        return;
    }
    std::fprintf(out, "target       %s  (flood, %.0f datagrams/s, %u per pair)\n", format_address(o.addr).c_str(),
                 o.rate, o.per_pair);
    std::fprintf(out, "sent         %llu in %.3f s (%.1f/s):", n(r.sent), secs, achieved);
    for (size_t i = 0; i < flood_kind_count; ++i)
        std::fprintf(out, "  %s %llu", flood_kind_name(static_cast<flood_kind>(i)), n(r.sent_by_kind[i]));
    std::fprintf(out, "\nsources      %llu distinct (address, port) pairs: %llu addresses from %s (step %u)"
                      " x %u ports\n",
                 n(r.pairs), n(r.addresses), base_text, o.source_step, o.ports);
    std::fprintf(out, "answers      %llu:", n(r.answers));
    for (unsigned c = 0; c < 256; ++c)
        if (r.codes[c]) std::fprintf(out, "  %s: %llu", code_text(c).c_str(), n(r.codes[c]));
    std::fprintf(out, "  empty ACK: %llu  RST: %llu\n", n(r.empty_acks), n(r.rst));
    std::fprintf(out, "diagnostics  send-errors %llu  max-behind %.1f us (sends are batched up to 1 ms late)\n",
                 n(r.send_errors), static_cast<double>(r.max_behind_ns) / 1e3);
}

}  // namespace tern::bench

#include "flood.hpp"

#include "clock.hpp"
#include "coap_wire.hpp"
#include "load.hpp"  // stop_requested

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
constexpr unsigned send_batch = 64;
constexpr unsigned recv_batch = 32;
constexpr size_t recv_size = 2048;

// M sockets bound to the wildcard address on M ephemeral ports; each datagram picks its
// source address with IP_PKTINFO, so M sockets send from N x M (address, port) pairs and
// read every answer the target sends back to any of them.
class flooder {
public:
    flooder(const flood_options& o, flood_result& r) : o_(o), r_(r) {}
    ~flooder() {
        for (int fd : fds_) ::close(fd);
        if (ep_ >= 0) ::close(ep_);
    }

    bool open(std::string& error) {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) {
            error = std::string("epoll_create1: ") + std::strerror(errno);
            return false;
        }
        for (uint32_t i = 0; i < o_.ports; ++i) {
            const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                error = std::string("socket: ") + std::strerror(errno) +
                        (errno == EMFILE ? " (use fewer --ports or raise `ulimit -n`)" : "");
                return false;
            }
            fds_.push_back(fd);
            const int buf = 1 << 20;  // answers pile up while a burst is sent: count them all
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
            sockaddr_in any{};
            any.sin_family = AF_INET;
            if (::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
                error = std::string("bind: ") + std::strerror(errno);
                return false;
            }
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = i;
            if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
                error = std::string("epoll_ctl: ") + std::strerror(errno);
                return false;
            }
        }
        out_buf_.resize(send_batch * flood_max_datagram);
        out_iov_.resize(send_batch);
        out_hdr_.resize(send_batch);
        out_cmsg_.resize(send_batch);
        out_len_.resize(send_batch);
        in_buf_.resize(recv_batch * recv_size);
        in_iov_.resize(recv_batch);
        in_hdr_.resize(recv_batch);
        in_from_.resize(recv_batch);
        return true;
    }

    // Room for the next datagram from pair `pair`; fill it and call sent(len).
    uint8_t* stage(uint64_t pair) {
        const int fd = fds_[(pair / o_.sources) % o_.ports];
        if (staged_ == send_batch || (staged_ && fd != staged_fd_)) flush();
        staged_fd_ = fd;
        cmsg_space& c = out_cmsg_[staged_];
        std::memset(&c, 0, sizeof c);
        cmsghdr* cm = reinterpret_cast<cmsghdr*>(c.bytes);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo pi{};
        pi.ipi_spec_dst.s_addr = htonl(o_.source_base + static_cast<uint32_t>(pair % o_.sources) * o_.source_step);
        std::memcpy(CMSG_DATA(cm), &pi, sizeof pi);
        return out_buf_.data() + staged_ * flood_max_datagram;
    }
    void commit(size_t len, flood_kind kind) {
        out_len_[staged_] = len;
        out_kind_[staged_] = kind;
        ++staged_;
    }

    void flush() {
        for (unsigned i = 0; i < staged_; ++i) {
            out_iov_[i] = {out_buf_.data() + i * flood_max_datagram, out_len_[i]};
            msghdr& h = out_hdr_[i].msg_hdr;
            h = {};
            h.msg_name = const_cast<sockaddr_storage*>(&o_.addr);
            h.msg_namelen = o_.addr_len;
            h.msg_iov = &out_iov_[i];
            h.msg_iovlen = 1;
            h.msg_control = out_cmsg_[i].bytes;
            h.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
        }
        unsigned done = 0;
        while (done < staged_) {
            const int rc = ::sendmmsg(staged_fd_, out_hdr_.data() + done, staged_ - done, 0);
            if (rc > 0) {
                for (int i = 0; i < rc; ++i) {
                    ++r_.sent;
                    ++r_.sent_by_kind[static_cast<size_t>(out_kind_[done + static_cast<unsigned>(i)])];
                }
                done += static_cast<unsigned>(rc);
                continue;
            }
            if (rc < 0 && errno == EINTR) continue;
            if (rc < 0 && errno == EINVAL && r_.sent == 0) {
                // The very first datagram refused: the source address cannot be used here.
                fatal_ = std::string("sendmmsg from ") + std::to_string(o_.source_base >> 24) +
                         ".x.y.z: " + std::strerror(errno) + " (does this system route 127.0.0.0/8 to lo?)";
            }
            ++r_.send_errors;  // EAGAIN/ENOBUFS: this datagram is dropped
            ++done;
        }
        staged_ = 0;
    }

    // Reads answers until `until_ns` (or until nothing is pending when it has passed).
    void wait_and_read(uint64_t until_ns) {
        epoll_event events[64];
        for (;;) {
            const uint64_t now = mono_ns();
            const uint64_t wait = until_ns > now ? std::min(until_ns - now, max_sleep_ns) : 0;
            timespec ts{static_cast<time_t>(wait / 1'000'000'000u), static_cast<long>(wait % 1'000'000'000u)};
            const int n = epoll_pwait2(ep_, events, 64, &ts, nullptr);
            if (n < 0 && errno != EINTR) return;
            for (int i = 0; i < n; ++i) receive(fds_[events[i].data.u32]);
            // Past `until_ns`, one poll without waiting reads what is pending, then return.
            if (wait == 0 || stop_requested.load(std::memory_order_relaxed)) return;
        }
    }

    const std::string& fatal() const { return fatal_; }

private:
    struct cmsg_space {
        alignas(cmsghdr) uint8_t bytes[CMSG_SPACE(sizeof(in_pktinfo))];
    };

    void receive(int fd) {
        for (;;) {
            for (unsigned i = 0; i < recv_batch; ++i) {
                in_iov_[i] = {in_buf_.data() + i * recv_size, recv_size};
                msghdr& h = in_hdr_[i].msg_hdr;
                h = {};
                h.msg_name = &in_from_[i];
                h.msg_namelen = sizeof(sockaddr_in);
                h.msg_iov = &in_iov_[i];
                h.msg_iovlen = 1;
            }
            const int n = ::recvmmsg(fd, in_hdr_.data(), recv_batch, MSG_DONTWAIT, nullptr);
            if (n <= 0) return;
            const auto* target = reinterpret_cast<const sockaddr_in*>(&o_.addr);
            for (int i = 0; i < n; ++i) {
                const sockaddr_in& from = in_from_[i];
                if (from.sin_addr.s_addr != target->sin_addr.s_addr || from.sin_port != target->sin_port) continue;
                ++r_.answers;
                coap::message m;
                if (!coap::parse(static_cast<const uint8_t*>(in_iov_[i].iov_base), in_hdr_[i].msg_len, m)) continue;
                if (m.type == coap::type_rst) ++r_.rst;
                else if (m.code == coap::code_empty) ++r_.empty_acks;
                else ++r_.codes[m.code];
                // A separate CON response wants an ACK; a spoofed source would never send one,
                // so neither does the flood (the server retransmits it, as it would then).
            }
            if (static_cast<unsigned>(n) < recv_batch) return;
        }
    }

    const flood_options& o_;
    flood_result& r_;
    int ep_ = -1;
    std::vector<int> fds_;
    std::vector<uint8_t> out_buf_;
    std::vector<iovec> out_iov_;
    std::vector<mmsghdr> out_hdr_;
    std::vector<cmsg_space> out_cmsg_;
    std::vector<size_t> out_len_;
    std::array<flood_kind, send_batch> out_kind_{};
    unsigned staged_ = 0;
    int staged_fd_ = -1;
    std::vector<uint8_t> in_buf_;
    std::vector<iovec> in_iov_;
    std::vector<mmsghdr> in_hdr_;
    std::vector<sockaddr_in> in_from_;
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
                ++r.send_errors;
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

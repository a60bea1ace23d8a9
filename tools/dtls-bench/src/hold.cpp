// dtls-bench hold (hold.hpp): one thread, M wildcard sockets with IP_PKTINFO, wolfSSL
// objects only for the sessions in progress (at most --window), each behind custom I/O
// callbacks whose context is its slot. A received datagram finds its slot by the address it
// was sent to and the socket it came in on (sources.hpp), then a small map of the sessions in
// progress; a finished session's WOLFSSL is freed without close_notify, so the client's
// memory does not grow with N.
#include "hold.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sources.hpp"
#include "tern/dtls_client/coap_mini.hpp"
#include "tern/dtls_client/dtls_peer.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

namespace tern::dtls::bench {
namespace {

using namespace tern::dtls::test;

std::atomic<bool> interrupted{false};
void on_signal(int) { interrupted.store(true); }

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

long rss_kb(int pid) {
    if (pid <= 0) return -1;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

constexpr int64_t ms_ns = 1000000;
constexpr int64_t session_limit_ns = 90000 * ms_ns;  // a session not made by then failed
constexpr int request_tries = 4;                     // retransmissions of the CON request
constexpr size_t batch = 32;                         // datagrams per recvmmsg
constexpr size_t datagram_room = 4096;

using fields = std::vector<std::pair<std::string, std::string>>;

std::string json_of(const fields& kv) {
    std::ostringstream j;
    j << "{";
    for (size_t i = 0; i < kv.size(); ++i) {
        const auto& [k, v] = kv[i];
        const bool number = !v.empty() && v.find_first_not_of("0123456789.-") == std::string::npos;
        j << (i ? "," : "") << "\"" << k << "\":" << (number ? v : "\"" + v + "\"");
    }
    j << "}";
    return j.str();
}

class runner {
public:
    explicit runner(const hold_options& o, source_plan plan) : o_(o), plan_(plan) {}
    ~runner() {
        for (auto& s : slots_)
            if (s.ssl != nullptr) wolfSSL_free(s.ssl);
        for (int fd : fds_) ::close(fd);
        if (ep_ >= 0) ::close(ep_);
    }
    int run();

private:
    struct slot {
        runner* owner = nullptr;
        WOLFSSL* ssl = nullptr;
        uint64_t index = 0;
        bool requesting = false;
        bool acked = false;       // an empty ACK came: the response will be separate
        int tries = 0;
        int64_t started_ns = 0;
        int64_t deadline_ns = 0;  // the next retransmission (or giving up)
        int64_t wait_ns = 0;      // the request's current retransmission timeout
        const uint8_t* in = nullptr;
        size_t in_len = 0;
        std::vector<uint8_t> request;
    };

    bool open_sockets();
    void start(uint64_t i);
    void drive(slot& s);
    void send_request(slot& s);
    void finish(slot& s, bool made);
    void receive(uint32_t socket, bool holding);
    void timeouts();
    int send_from(const slot& s, const char* data, int size);
    fields report(long after_kb) const;
    static int on_recv(WOLFSSL* ssl, char* buf, int sz, void* ctx);
    static int on_send(WOLFSSL* ssl, char* buf, int sz, void* ctx);

    const hold_options& o_;
    source_plan plan_;
    WOLFSSL_CTX* ctx_ = nullptr;
    sockaddr_in server_{};
    std::vector<int> fds_;
    int ep_ = -1;
    std::vector<slot> slots_;
    std::vector<uint32_t> free_;
    std::unordered_map<uint64_t, uint32_t> active_;  // session index -> slot, at most window
    int64_t now_ = 0;
    int64_t t0_ = 0;
    double elapsed_s_ = 0;
    long before_kb_ = -1;
    // what the report counts
    uint64_t started_ = 0, made_ = 0, failed_ = 0, error_responses_ = 0, no_cid_ = 0;
    uint64_t handshake_failures_ = 0, request_failures_ = 0;
    uint64_t stray_ = 0, truncated_ = 0, send_errors_ = 0, late_ = 0;
    std::vector<uint8_t> plain_ = std::vector<uint8_t>(datagram_room);
};

bool runner::open_sockets() {
    // RLIMIT_NOFILE: the sockets and a few more
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o_.sockets + 64) {
        rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, o_.sockets + 64);
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return false;
    const bool root = ::geteuid() == 0;
    bool warned = false;
    for (uint32_t j = 0; j < o_.sockets; ++j) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            std::cerr << "dtls-bench: socket " << j << ": " << std::strerror(errno)
                      << " (raise the open files limit: ulimit -n " << o_.sockets + 64 << ")\n";
            return false;
        }
        fds_.push_back(fd);
        const int on = 1;
        ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
        const int want = 4 << 20;
        if (!root || ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
        int got = 0;
        socklen_t gl = sizeof got;
        ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
        if (got < want && !warned) {
            std::cerr << "dtls-bench: receive buffers are " << got << " bytes; for " << want
                      << " run as root or set sysctl net.core.rmem_max=" << want << "\n";
            warned = true;
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            std::cerr << "dtls-bench: bind: " << std::strerror(errno) << "\n";
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = j;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
    }
    return true;
}

int runner::send_from(const slot& s, const char* data, int size) {
    iovec iov{const_cast<char*>(data), static_cast<size_t>(size)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr m{};
    m.msg_name = &server_;
    m.msg_namelen = sizeof server_;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst.s_addr = htonl(plan_.address_of(s.index));
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    if (::sendmsg(fds_[plan_.socket_of(s.index)], &m, MSG_DONTWAIT) < 0) ++send_errors_;  // lost: retransmitted
    return size;
}

int runner::on_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* s = static_cast<slot*>(ctx);
    if (s->in == nullptr) return WOLFSSL_CBIO_ERR_WANT_READ;
    const size_t n = std::min(s->in_len, static_cast<size_t>(sz));
    std::memcpy(buf, s->in, n);
    s->in = nullptr;
    return static_cast<int>(n);
}

int runner::on_send(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* s = static_cast<slot*>(ctx);
    return s->owner->send_from(*s, buf, sz);
}

void runner::start(uint64_t i) {
    const uint32_t k = free_.back();
    slot& s = slots_[k];
    s.ssl = wolfSSL_new(ctx_);
    if (s.ssl == nullptr) {
        ++failed_;
        ++handshake_failures_;
        return;
    }
    free_.pop_back();
    s.index = i;
    s.requesting = s.acked = false;
    s.tries = 0;
    s.started_ns = now_;
    s.in = nullptr;
    wolfSSL_SSLSetIORecv(s.ssl, &on_recv);
    wolfSSL_SSLSetIOSend(s.ssl, &on_send);
    wolfSSL_SetIOReadCtx(s.ssl, &s);
    wolfSSL_SetIOWriteCtx(s.ssl, &s);
    wolfSSL_dtls_set_using_nonblock(s.ssl, 1);
#ifdef WOLFSSL_DTLS_CID
    if (o_.cid) {
        wolfSSL_dtls_cid_use(s.ssl);
        wolfSSL_dtls_cid_set(s.ssl, nullptr, 0);  // an empty CID of our own, as devices behind NAT
    }
#endif
    active_.emplace(i, k);
    ++started_;
    drive(s);
}

void runner::send_request(slot& s) {
    if (wolfSSL_write(s.ssl, s.request.data(), static_cast<int>(s.request.size())) !=
        static_cast<int>(s.request.size())) {
        ++request_failures_;
        finish(s, false);
        return;
    }
    s.deadline_ns = now_ + s.wait_ns;
}

void runner::drive(slot& s) {
    if (!s.requesting) {
        const int r = wolfSSL_connect(s.ssl);
        if (r != WOLFSSL_SUCCESS) {
            const int err = wolfSSL_get_error(s.ssl, r);
            if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
                s.deadline_ns = now_ + static_cast<int64_t>(wolfSSL_dtls_get_current_timeout(s.ssl)) * 1000 * ms_ns;
                return;
            }
            ++handshake_failures_;
            finish(s, false);
            return;
        }
#ifdef WOLFSSL_DTLS_CID
        unsigned int cid = 0;
        if (o_.cid && (wolfSSL_dtls_cid_get_tx_size(s.ssl, &cid) != WOLFSSL_SUCCESS || cid == 0)) {
            ++no_cid_;
            finish(s, false);
            return;
        }
#endif
        s.requesting = true;
        std::string path = o_.path;
        for (size_t at; (at = path.find("{i}")) != std::string::npos;) path.replace(at, 3, std::to_string(s.index));
        s.request = coap_request(con, o_.method, static_cast<uint16_t>(s.index), static_cast<uint32_t>(s.index),
                                 path, o_.payload);
        s.wait_ns = 2000 * ms_ns;
        send_request(s);
        return;
    }
    for (;;) {
        const int r = wolfSSL_read(s.ssl, plain_.data(), static_cast<int>(plain_.size()));
        if (r <= 0) {
            const int err = wolfSSL_get_error(s.ssl, r);
            if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return;
            ++request_failures_;
            finish(s, false);
            return;
        }
        const std::vector<uint8_t> d(plain_.begin(), plain_.begin() + r);
        const auto m = coap_parse(d);
        if (!m) continue;
        if (m->code == 0) {  // an empty ACK: a separate response follows
            if (m->type == ack && m->mid == static_cast<uint16_t>(s.index)) {
                s.acked = true;
                s.deadline_ns = now_ + 30000 * ms_ns;
            }
            continue;
        }
        const uint32_t token = static_cast<uint32_t>(s.index);
        if (m->token.size() != 4 || (static_cast<uint32_t>(m->token[0]) << 24 | m->token[1] << 16 |
                                      m->token[2] << 8 | m->token[3]) != token)
            continue;
        if (m->type == con) {
            const auto a = coap_empty_ack(m->mid);
            wolfSSL_write(s.ssl, a.data(), static_cast<int>(a.size()));
        }
        if ((m->code >> 5) != 2) ++error_responses_;
        finish(s, true);
        return;
    }
}

void runner::finish(slot& s, bool made) {
    ++(made ? made_ : failed_);
    // No close_notify: the server keeps the session until its inactivity timeout.
    wolfSSL_free(s.ssl);
    s.ssl = nullptr;
    s.request.clear();
    active_.erase(s.index);
    free_.push_back(static_cast<uint32_t>(&s - slots_.data()));
}

void runner::receive(uint32_t socket, bool holding) {
    static thread_local std::vector<uint8_t> room(batch * datagram_room);
    alignas(cmsghdr) static thread_local char control[batch][CMSG_SPACE(sizeof(in_pktinfo)) + 64];
    for (int rounds = 0; rounds < 64; ++rounds) {
        mmsghdr msgs[batch] = {};
        iovec iov[batch];
        sockaddr_in from[batch];
        for (size_t k = 0; k < batch; ++k) {
            iov[k] = {room.data() + k * datagram_room, datagram_room};
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_hdr.msg_name = &from[k];
            msgs[k].msg_hdr.msg_namelen = sizeof from[k];
            msgs[k].msg_hdr.msg_control = control[k];
            msgs[k].msg_hdr.msg_controllen = sizeof control[k];
        }
        const int n = ::recvmmsg(fds_[socket], msgs, batch, MSG_DONTWAIT, nullptr);
        if (n <= 0) return;
        now_ = now_ns();
        for (int k = 0; k < n; ++k) {
            const msghdr& h = msgs[k].msg_hdr;
            if ((h.msg_flags & MSG_TRUNC) != 0) {
                ++truncated_;
                continue;
            }
            std::optional<uint64_t> index;
            for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
                if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO) continue;
                in_pktinfo info;
                std::memcpy(&info, CMSG_DATA(c), sizeof info);
                index = plan_.index_of(ntohl(info.ipi_addr.s_addr), socket);
            }
            auto it = index ? active_.find(*index) : active_.end();
            if (from[k].sin_port != server_.sin_port || it == active_.end()) {
                // after its session was made (the server closing it, a late retransmission)
                // or nobody's
                ++(holding || (index && *index < o_.sessions) ? late_ : stray_);
                continue;
            }
            slot& s = slots_[it->second];
            s.in = room.data() + static_cast<size_t>(k) * datagram_room;
            s.in_len = msgs[k].msg_len;
            drive(s);
            if (s.ssl != nullptr) s.in = nullptr;
        }
        if (static_cast<size_t>(n) < batch) return;
    }
}

void runner::timeouts() {
    for (uint32_t k = 0; k < slots_.size(); ++k) {
        slot& s = slots_[k];
        if (s.ssl == nullptr || s.deadline_ns > now_) continue;
        if (now_ - s.started_ns > session_limit_ns) {
            ++(s.requesting ? request_failures_ : handshake_failures_);
            finish(s, false);
        } else if (!s.requesting) {
            if (wolfSSL_dtls_got_timeout(s.ssl) != WOLFSSL_SUCCESS) {
                ++handshake_failures_;
                finish(s, false);
                continue;
            }
            s.deadline_ns = now_ + static_cast<int64_t>(wolfSSL_dtls_get_current_timeout(s.ssl)) * 1000 * ms_ns;
        } else if (s.acked || s.tries >= request_tries) {
            ++request_failures_;
            finish(s, false);
        } else {
            ++s.tries;
            s.wait_ns *= 2;
            send_request(s);  // the same CON message again (RFC 7252 §4.2)
        }
    }
}

fields runner::report(long after_kb) const {
    fields f = {
        {"sessions", std::to_string(made_)},
        {"failed", std::to_string(failed_)},
        {"elapsed_s", std::to_string(elapsed_s_)},
        {"started", std::to_string(started_)},
        {"handshake_failures", std::to_string(handshake_failures_)},
        {"request_failures", std::to_string(request_failures_)},
        {"error_responses", std::to_string(error_responses_)},
        {"sockets", std::to_string(o_.sockets)},
        {"addresses", std::to_string(plan_.addresses_for(o_.sessions))},
        {"cid", o_.cid ? "yes" : "no"},
        {"send_errors", std::to_string(send_errors_)},
        {"late", std::to_string(late_)},
        {"stray", std::to_string(stray_)},
        {"truncated", std::to_string(truncated_)},
    };
    if (o_.cid) f.emplace_back("cid_not_negotiated", std::to_string(no_cid_));
    if (o_.server_pid > 0) {
        f.emplace_back("server_rss_before_kb", std::to_string(before_kb_));
        f.emplace_back("server_rss_after_kb", std::to_string(after_kb));
        // -1: the server's resident size could not be read (it is gone)
        char per[32] = "-1";
        if (before_kb_ >= 0 && after_kb >= 0)
            std::snprintf(per, sizeof per, "%.0f",
                          made_ > 0 ? static_cast<double>(after_kb - before_kb_) * 1024.0 / static_cast<double>(made_)
                                    : 0.0);
        f.emplace_back("bytes_per_session", per);
    }
    return f;
}

int runner::run() {
    server_.sin_family = AF_INET;
    server_.sin_port = htons(o_.port);
    server_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!open_sockets()) return 1;
    peer_options po;
    po.p256_only = true;
    po.tickets = false;
    po.cid = o_.cid;
    po.cert_file = o_.cert;
    po.key_file = o_.key;
    client_context ctx(po);
    ctx_ = ctx.get();
    wolfSSL_CTX_set_session_cache_mode(ctx_, WOLFSSL_SESS_CACHE_OFF);  // nothing kept per session

    slots_.resize(o_.window);
    for (auto& s : slots_) s.owner = this;
    for (uint32_t k = o_.window; k-- > 0;) free_.push_back(k);
    active_.reserve(o_.window * 2);

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    before_kb_ = rss_kb(o_.server_pid);
    start_order order(o_.sessions, o_.sockets);
    const int64_t interval = static_cast<int64_t>(1e9 / o_.rate);
    now_ = t0_ = now_ns();
    int64_t next_start = now_;
    std::optional<uint64_t> next = order.next();
    epoll_event ev[64];
    while (!interrupted.load() && (next || !active_.empty())) {
        now_ = now_ns();
        while (next && !free_.empty() && next_start <= now_) {
            start(*next);
            next = order.next();
            // paced; after a full window, no burst to catch up beyond a few starts
            next_start = std::max(next_start + interval, now_ - 4 * interval);
        }
        int64_t wake = now_ + 50 * ms_ns;
        if (next && !free_.empty()) wake = std::min(wake, next_start);
        for (const auto& s : slots_)
            if (s.ssl != nullptr) wake = std::min(wake, s.deadline_ns);
        const int wait_ms = static_cast<int>(std::max<int64_t>(0, (wake - now_ + ms_ns - 1) / ms_ns));
        const int n = ::epoll_wait(ep_, ev, 64, wait_ms);
        for (int k = 0; k < n; ++k) receive(ev[k].data.u32, false);
        now_ = now_ns();
        timeouts();
    }
    for (auto& s : slots_)
        if (s.ssl != nullptr) finish(s, false);  // interrupted
    elapsed_s_ = static_cast<double>(now_ns() - t0_) / 1e9;
    if (!o_.ready_file.empty()) {
        const std::string tmp = o_.ready_file + ".tmp";
        {
            std::ofstream f(tmp);
            f << json_of(report(rss_kb(o_.server_pid))) << "\n";
        }
        if (std::rename(tmp.c_str(), o_.ready_file.c_str()) != 0)
            std::cerr << "dtls-bench: cannot write " << o_.ready_file << ": " << std::strerror(errno) << "\n";
    }
    // Hold: the server keeps the sessions; whatever it still sends is read and counted.
    const int64_t hold_until = o_.duration > 0 ? now_ns() + static_cast<int64_t>(o_.duration * 1e9) : INT64_MAX;
    while (!interrupted.load() && now_ns() < hold_until) {
        const int n = ::epoll_wait(ep_, ev, 64, 200);
        for (int k = 0; k < n; ++k) receive(ev[k].data.u32, true);
    }
    const fields f = report(rss_kb(o_.server_pid));
    if (o_.json) {
        std::cout << json_of(f) << std::endl;
    } else {
        for (const auto& [k, v] : f) std::cout << k << " " << v << "\n";
        std::cout.flush();
    }
    return made_ == o_.sessions && error_responses_ == 0 ? 0 : 1;
}

}  // namespace

int hold(const hold_options& o) {
    in_addr base{};
    if (inet_pton(AF_INET, o.source_base.c_str(), &base) != 1) {
        std::cerr << "dtls-bench: --source-base '" << o.source_base << "' is not an IPv4 address\n";
        return 64;
    }
    const source_plan plan(ntohl(base.s_addr), o.sockets);
    if (!plan.valid() || (ntohl(base.s_addr) >> 24) != 127) {
        std::cerr << "dtls-bench: --source-base must be in 127.0.0.0/8 and not end in .0 or .255\n";
        return 64;
    }
    if (!plan.fits(o.sessions)) {
        std::cerr << "dtls-bench: " << o.sessions << " sessions over " << o.sockets << " sockets need "
                  << plan.addresses_for(o.sessions) << " addresses from " << o.source_base
                  << ", past 127.255.255.254: use more --sockets or a lower --source-base\n";
        return 64;
    }
    runner r(o, plan);
    return r.run();
}

}  // namespace tern::dtls::bench

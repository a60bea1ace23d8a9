#include "udp_transport.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "endpoint.hpp"
#include "tern/sdk/status.hpp"

namespace tern::udp {

const char* drop_name(drop d) noexcept {
    switch (d) {
        case drop::truncated: return "truncated";
        case drop::no_sink: return "no_sink";
        case drop::would_block: return "would_block";
        case drop::send_error: return "send_error";
        case drop::unreachable: return "unreachable";
        case drop::recv_error: return "recv_error";
        case drop::count_: break;
    }
    return "unknown";
}

namespace {

constexpr size_t drop_kinds = static_cast<size_t>(drop::count_);

std::string errno_text(int err) {
    char buf[128];
    // GNU strerror_r returns the message, possibly not in buf.
    const char* s = strerror_r(err, buf, sizeof buf);
    return s != nullptr ? std::string(s) : std::string("errno ") + std::to_string(err);
}

}  // namespace

// Everything one shard touches on its hot path; only that shard's thread uses the
// scratch arrays. Aligned so two shards never share a cache line.
struct alignas(64) transport::shard {
    transport* owner = nullptr;
    uint32_t index = 0;
    int fd = -1;
    uint64_t watch = 0;
    bool watching = false;

    // 1 while this shard may be inside the sink: attach(nullptr) waits for 0.
    std::atomic<uint32_t> in_sink{0};
    // A drain continuation is posted and has not finished: stop() waits for false.
    std::atomic<bool> continuation{false};

    // receive scratch: batch_size buffers of max_datagram_size
    std::vector<mmsghdr> rmsg;
    std::vector<iovec> riov;
    std::vector<sockaddr_storage> raddr;
    std::vector<uint8_t> rbuf;
    std::vector<tern_datagram> rdg;

    // send scratch: batch_size messages per sendmmsg
    std::vector<mmsghdr> smsg;
    std::vector<iovec> siov;
    std::vector<sockaddr_storage> saddr;

    // for rate-limited logging of drops
    uint64_t drops_logged[drop_kinds] = {};
};

transport::transport(sdk::logger log, reactor_v1& reactor, counters metrics, settings s)
    : log_(log), reactor_(reactor), metrics_(metrics), cfg_(std::move(s)) {}

transport::~transport() { stop(); }

// ---- start and stop ----------------------------------------------------------------------

int transport::open_socket(const sockaddr_storage& addr, socklen_t len, bool reuseport,
                           bool warn_clamped, std::string& error) {
    const int fd = ::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        error = "socket(): " + errno_text(errno);
        return -1;
    }
    const int one = 1;
    if (family_ == AF_INET6) {
        const int v6only = cfg_.ipv6_only ? 1 : 0;
        if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
            error = "setsockopt(IPV6_V6ONLY): " + errno_text(errno);
            ::close(fd);
            return -1;
        }
    }
    if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        error = "setsockopt(SO_REUSEPORT): " + errno_text(errno);
        ::close(fd);
        return -1;
    }
    auto set_buffer = [&](int opt, int want, const char* key) {
        if (want <= 0) return true;
        if (::setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want) != 0) {
            error = std::string("setsockopt(") + key + "): " + errno_text(errno);
            return false;
        }
        int got = 0;
        socklen_t gl = sizeof got;
        // Linux reports twice the granted size (it counts its bookkeeping too).
        if (warn_clamped && ::getsockopt(fd, SOL_SOCKET, opt, &got, &gl) == 0 && got / 2 < want)
            log_.warn(key, ": asked for ", want, " bytes, the OS granted ", got / 2,
                      " (raise net.core.", opt == SO_RCVBUF ? "rmem_max" : "wmem_max", ")");
        return true;
    };
    if (!set_buffer(SO_RCVBUF, cfg_.recv_buffer, "recv_buffer") ||
        !set_buffer(SO_SNDBUF, cfg_.send_buffer, "send_buffer")) {
        ::close(fd);
        return -1;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        const int e = errno;
        error = "cannot bind " + to_string(reinterpret_cast<const sockaddr*>(&addr), len) +
                ": " + errno_text(e);
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void transport::open_sockets() {
    std::string error;
    auto parsed = parse_bind_address(cfg_.bind_address, cfg_.bind_port, error);
    if (!parsed) throw sdk::error(TERN_CONFIG, error);
    family_ = parsed->family;
    const uint32_t n = reactor_.shard_count() == 0 ? 1 : reactor_.shard_count();

    auto with_port = [&](uint16_t port) {
        sockaddr_storage a = parsed->addr;
        if (family_ == AF_INET)
            reinterpret_cast<sockaddr_in*>(&a)->sin_port = htons(port);
        else
            reinterpret_cast<sockaddr_in6*>(&a)->sin6_port = htons(port);
        return a;
    };

    // SO_REUSEPORT lets any socket of the same user join the port's group, silently
    // sharing its traffic. Two guards: a probe bind WITHOUT SO_REUSEPORT first (fails if
    // anybody holds the port, and for bind_port 0 it picks a port nobody holds: Linux's
    // ephemeral choice for a SO_REUSEPORT socket may pick a port another reuseport group
    // of the same user already owns), then the group binds that port. Another process
    // could take the port between the probe's close and our first bind; for an ephemeral
    // port we then try another one.
    constexpr int attempts = 8;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        sockaddr_storage probe_addr = with_port(cfg_.bind_port);
        const int probe = open_socket(probe_addr, parsed->len, false, false, error);
        if (probe < 0) {
            if (errno == EADDRINUSE)
                throw sdk::error(TERN_IO, error + " (another process uses this port; set "
                                                  "bind_port to a free port, or 0 for any)");
            throw sdk::error(TERN_IO, error);
        }
        sockaddr_storage bound{};
        socklen_t bl = sizeof bound;
        if (::getsockname(probe, reinterpret_cast<sockaddr*>(&bound), &bl) != 0) {
            error = "getsockname(): " + errno_text(errno);
            ::close(probe);
            throw sdk::error(TERN_IO, error);
        }
        const uint16_t port = family_ == AF_INET
                                  ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                  : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
        ::close(probe);

        std::vector<int> fds;
        const sockaddr_storage addr = with_port(port);
        bool lost_race = false;
        for (uint32_t i = 0; i < n; ++i) {
            const int fd = open_socket(addr, parsed->len, true, i == 0, error);
            if (fd < 0) {
                const int e = errno;
                for (int f : fds) ::close(f);
                fds.clear();
                if (e == EADDRINUSE && cfg_.bind_port == 0 && i == 0) {
                    lost_race = true;
                    break;
                }
                throw sdk::error(TERN_IO, error);
            }
            fds.push_back(fd);
        }
        if (lost_race) continue;

        shards_.clear();
        for (uint32_t i = 0; i < n; ++i) {
            auto sh = std::make_unique<shard>();
            sh->owner = this;
            sh->index = i;
            sh->fd = fds[i];
            shards_.push_back(std::move(sh));
        }
        port_ = port;
        return;
    }
    throw sdk::error(TERN_IO, "could not bind an ephemeral port after " +
                                  std::to_string(attempts) + " attempts");
}

void transport::start() {
    if (running_.load()) throw sdk::error(TERN_INVALID_ARGUMENT, "transport already started");
    open_sockets();

    const uint32_t b = cfg_.batch_size;
    const uint32_t size = cfg_.max_datagram_size;
    for (auto& shp : shards_) {
        shard& sh = *shp;
        sh.rmsg.assign(b, mmsghdr{});
        sh.riov.assign(b, iovec{});
        sh.raddr.assign(b, sockaddr_storage{});
        sh.rbuf.assign(static_cast<size_t>(b) * size, 0);
        sh.rdg.assign(b, tern_datagram{});
        for (uint32_t i = 0; i < b; ++i) {
            sh.riov[i].iov_base = sh.rbuf.data() + static_cast<size_t>(i) * size;
            sh.riov[i].iov_len = size;
            sh.rmsg[i].msg_hdr.msg_iov = &sh.riov[i];
            sh.rmsg[i].msg_hdr.msg_iovlen = 1;
            sh.rmsg[i].msg_hdr.msg_name = &sh.raddr[i];
        }
        sh.smsg.assign(b, mmsghdr{});
        sh.siov.assign(b, iovec{});
        sh.saddr.assign(b, sockaddr_storage{});
        for (uint32_t i = 0; i < b; ++i) {
            sh.smsg[i].msg_hdr.msg_iov = &sh.siov[i];
            sh.smsg[i].msg_hdr.msg_iovlen = 1;
            sh.smsg[i].msg_hdr.msg_name = &sh.saddr[i];
        }
    }

    running_.store(true);
    for (auto& shp : shards_) {
        const tern_status s =
            reactor_.watch_fd(shp->index, shp->fd, TERN_FD_READ, &on_readable, shp.get(), &shp->watch);
        if (s != TERN_OK) {
            const std::string why = sdk::cat("cannot watch the socket of shard ", shp->index, " (",
                                             sdk::status_name(s), ")");
            stop();
            throw sdk::error(s, why);
        }
        shp->watching = true;
    }

    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    std::string where = "?";
    if (::getsockname(shards_.front()->fd, reinterpret_cast<sockaddr*>(&bound), &bl) == 0)
        where = to_string(reinterpret_cast<sockaddr*>(&bound), bl);
    log_.info("listening on ", where, " (", shards_.size(), " sockets)");
}

void transport::stop() noexcept {
    running_.store(false);
    for (auto& shp : shards_) {
        if (shp->watching) {
            reactor_.unwatch_fd(shp->watch);  // waits for a running callback
            shp->watching = false;
        }
    }
    // A posted drain continuation sees running_ == false and returns at once; wait for
    // those still queued so that nothing touches a shard after stop() returns.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool leaked = false;
    for (auto& shp : shards_) {
        while (shp->continuation.load(std::memory_order_acquire)) {
            if (std::chrono::steady_clock::now() > deadline) {
                leaked = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    for (auto& shp : shards_) {
        if (shp->fd >= 0) {
            ::close(shp->fd);
            shp->fd = -1;
        }
    }
    if (leaked) {
        // A queued task still points at its shard: keep the memory rather than free it
        // under the task's feet (the reactor never ran it; the process is stopping).
        log_.error("a shard did not run its queued read task within 5 s; leaking its state");
        for (auto& shp : shards_)
            if (shp->continuation.load()) (void)shp.release();
    }
    shards_.clear();
}

// ---- receiving ---------------------------------------------------------------------------

void transport::on_readable(void* ctx, int, uint32_t) noexcept {
    shard& sh = *static_cast<shard*>(ctx);
    transport& self = *sh.owner;
    if (!self.running_.load(std::memory_order_relaxed)) return;
    if (self.drain(sh) && !sh.continuation.load(std::memory_order_relaxed)) {
        sh.continuation.store(true, std::memory_order_relaxed);
        if (self.reactor_.post(sh.index, &on_continue, &sh) != TERN_OK)
            sh.continuation.store(false, std::memory_order_release);
    }
}

// The fairness bound was hit: keep reading after the shard's other work had its turn.
// The watch alone might not fire again if the reactor is edge-triggered.
void transport::on_continue(void* ctx) noexcept {
    shard& sh = *static_cast<shard*>(ctx);
    transport& self = *sh.owner;
    if (self.running_.load(std::memory_order_acquire) && self.drain(sh) &&
        self.reactor_.post(sh.index, &on_continue, &sh) == TERN_OK)
        return;  // still pending
    // the last touch of the shard: stop() may free it once it reads false
    sh.continuation.store(false, std::memory_order_release);
}

bool transport::drain(shard& sh) noexcept {
    const uint32_t b = cfg_.batch_size;
    uint32_t errors = 0;
    for (uint32_t round = 0; round < cfg_.drain_batches; ++round) {
        for (uint32_t i = 0; i < b; ++i) {
            sh.rmsg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            sh.rmsg[i].msg_hdr.msg_flags = 0;
            sh.rmsg[i].msg_hdr.msg_control = nullptr;
            sh.rmsg[i].msg_hdr.msg_controllen = 0;
        }
        const int n = ::recvmmsg(sh.fd, sh.rmsg.data(), b, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            const int e = errno;
            if (e == EINTR) continue;
            if (e == EAGAIN || e == EWOULDBLOCK) return false;
            // ICMP errors queued on the socket surface here (ECONNREFUSED and friends);
            // they concern an earlier send, the socket itself is fine.
            count_drop(&sh, drop::recv_error, 0, e);
            if (++errors > 2) return false;  // something persistent: wait for the next wake-up
            continue;
        }
        if (n == 0) return false;
        deliver(sh, static_cast<uint32_t>(n));
        // Keep reading even after a short batch: an edge-triggered reactor would not
        // report datagrams that arrived in between.
    }
    return true;
}

void transport::deliver(shard& sh, uint32_t n) noexcept {
    uint32_t k = 0;
    uint64_t bytes = 0;
    uint64_t truncated = 0, strange = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const msghdr& h = sh.rmsg[i].msg_hdr;
        if ((h.msg_flags & MSG_TRUNC) != 0) {
            ++truncated;
            continue;
        }
        tern_datagram& d = sh.rdg[k];
        if (!to_endpoint(reinterpret_cast<const sockaddr*>(&sh.raddr[i]), h.msg_namelen,
                         d.peer.endpoint)) {
            ++strange;
            continue;
        }
        d.peer.session = 0;
        d.data.data = static_cast<const uint8_t*>(sh.riov[i].iov_base);
        d.data.size = sh.rmsg[i].msg_len;
        bytes += d.data.size;
        ++k;
    }
    metrics_.datagrams_received.inc(n);
    metrics_.bytes_received.inc(bytes);
    if (truncated != 0) count_drop(&sh, drop::truncated, truncated, 0);
    if (strange != 0) count_drop(&sh, drop::recv_error, strange, EAFNOSUPPORT);
    if (k == 0) return;

    // Dekker-style handshake with attach(nullptr): publish "inside" before reading the
    // sink; the detacher clears the sink before reading "inside" (both sequentially
    // consistent), so either we see null or it sees us and waits.
    sh.in_sink.store(1, std::memory_order_seq_cst);
    datagram_sink_v1* sink = sink_.load(std::memory_order_seq_cst);
    if (sink != nullptr)
        sink->on_datagrams(sh.index, sh.rdg.data(), k);
    else
        count_drop(&sh, drop::no_sink, k, 0);
    sh.in_sink.store(0, std::memory_order_release);
}

// ---- sending -----------------------------------------------------------------------------

tern_status transport::send(uint32_t shard_index, const tern_datagram* batch,
                            uint32_t count) noexcept {
    if (count == 0) return TERN_OK;
    if (batch == nullptr) return TERN_INVALID_ARGUMENT;
    if (!running_.load(std::memory_order_relaxed) || shard_index >= shards_.size()) {
        count_drop(nullptr, drop::send_error, count, 0);
        return running_.load() ? TERN_INVALID_ARGUMENT : TERN_UNAVAILABLE;
    }
    shard& sh = *shards_[shard_index];
    // The scratch arrays belong to the shard's thread; a caller elsewhere (a misuse the
    // ABI does not allow, but cheap to survive) takes the plain path.
    if (reactor_.current_shard() != shard_index) return send_off_shard(sh, batch, count);

    tern_status status = TERN_OK;
    uint64_t sent = 0, bytes = 0;
    uint32_t next = 0;
    while (next < count) {
        // fill one sendmmsg batch, skipping peers this socket cannot reach
        uint32_t k = 0, unreachable = 0;
        while (next < count && k < cfg_.batch_size) {
            const tern_datagram& d = batch[next++];
            const socklen_t len = to_sockaddr(d.peer.endpoint, family_, sh.saddr[k]);
            if (len == 0) {
                ++unreachable;
                continue;
            }
            mmsghdr& m = sh.smsg[k];
            m.msg_hdr.msg_namelen = len;
            m.msg_hdr.msg_control = nullptr;
            m.msg_hdr.msg_controllen = 0;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
            sh.siov[k].iov_base = const_cast<uint8_t*>(d.data.data);
            sh.siov[k].iov_len = d.data.size;
            ++k;
        }
        if (unreachable != 0) {
            count_drop(&sh, drop::unreachable, unreachable, EAFNOSUPPORT);
            status = TERN_INVALID_ARGUMENT;
        }
        uint32_t off = 0;
        while (off < k) {
            const int r = ::sendmmsg(sh.fd, sh.smsg.data() + off, k - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r > 0) {
                for (int i = 0; i < r; ++i) bytes += sh.smsg[off + i].msg_len;
                sent += r;
                off += r;
                continue;
            }
            const int e = r < 0 ? errno : EIO;
            if (e == EINTR) continue;
            if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
                // The send buffer is full: what is left of this call cannot go either.
                // UDP drops instead of blocking the shard.
                const uint64_t rest = (k - off) + (count - next);
                count_drop(&sh, drop::would_block, rest, e);
                metrics_.datagrams_sent.inc(sent);
                metrics_.bytes_sent.inc(bytes);
                return TERN_BUSY;
            }
            // This one datagram failed (EMSGSIZE, ENETUNREACH, EPERM by a firewall, ...);
            // the next ones may well go.
            count_drop(&sh, drop::send_error, 1, e);
            status = TERN_IO;
            ++off;
        }
    }
    metrics_.datagrams_sent.inc(sent);
    metrics_.bytes_sent.inc(bytes);
    return status;
}

tern_status transport::send_off_shard(shard& sh, const tern_datagram* batch,
                                      uint32_t count) noexcept {
    tern_status status = TERN_OK;
    uint64_t sent = 0, bytes = 0;
    for (uint32_t i = 0; i < count; ++i) {
        sockaddr_storage to;
        const socklen_t len = to_sockaddr(batch[i].peer.endpoint, family_, to);
        if (len == 0) {
            count_drop(nullptr, drop::unreachable, 1, EAFNOSUPPORT);
            status = TERN_INVALID_ARGUMENT;
            continue;
        }
        ssize_t r;
        do {
            r = ::sendto(sh.fd, batch[i].data.data, batch[i].data.size, MSG_DONTWAIT | MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(&to), len);
        } while (r < 0 && errno == EINTR);
        if (r >= 0) {
            ++sent;
            bytes += static_cast<uint64_t>(r);
            continue;
        }
        const int e = errno;
        const bool full = e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
        count_drop(nullptr, full ? drop::would_block : drop::send_error, 1, e);
        status = full ? TERN_BUSY : TERN_IO;
    }
    metrics_.datagrams_sent.inc(sent);
    metrics_.bytes_sent.inc(bytes);
    return status;
}

void transport::count_drop(shard* sh, drop why, uint64_t n, int err) noexcept {
    const size_t w = static_cast<size_t>(why);
    if (n != 0) metrics_.drops[w].inc(n);
    // Log the 1st, 2nd, 4th, 8th, ... occurrence per shard: visible, never a flood.
    if (sh == nullptr) return;
    const uint64_t seen = ++sh->drops_logged[w];
    if ((seen & (seen - 1)) != 0) return;
    if (!log_.enabled(TERN_LOG_WARN)) return;
    try {
        std::string detail = err != 0 ? sdk::cat(" (", errno_text(err), ")") : std::string();
        log_.warn("shard ", sh->index, ": dropped ", n, " datagram(s): ", drop_name(why), detail,
                  " [occurrence ", seen, " on this shard]");
    } catch (...) {
        // logging must never take the hot path down
    }
}

// ---- the rest of transport_v1 ------------------------------------------------------------

tern_str transport::scheme() noexcept { return tern_str{"coap", 4}; }

uint32_t transport::max_datagram_size() noexcept { return cfg_.max_datagram_size; }

tern_status transport::attach(datagram_sink_v1* sink) noexcept {
    if (sink != nullptr) {
        datagram_sink_v1* expected = nullptr;
        if (sink_.compare_exchange_strong(expected, sink)) return TERN_OK;
        return expected == sink ? TERN_OK : TERN_EXISTS;
    }
    sink_.store(nullptr, std::memory_order_seq_cst);
    // Wait until no shard is inside the old sink (see deliver()). A shard calling this
    // from inside the sink would wait for itself: skip its own flag.
    const uint32_t me = reactor_.current_shard();
    auto warn_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (auto& shp : shards_) {
        if (shp->index == me) continue;
        while (shp->in_sink.load(std::memory_order_seq_cst) != 0) {
            if (std::chrono::steady_clock::now() > warn_at) {
                log_.warn("detaching: shard ", shp->index,
                          " is still inside the datagram sink; waiting");
                warn_at += std::chrono::seconds(1);
            }
            std::this_thread::yield();
        }
    }
    return TERN_OK;
}

tern_status transport::peer_auth(const tern_peer* peer, tern_peer_auth_sink sink,
                                 void* ctx) noexcept {
    if (peer == nullptr || sink == nullptr) return TERN_INVALID_ARGUMENT;
    tern_peer_auth auth{};
    auth.struct_size = sizeof auth;
    auth.kind = TERN_AUTH_NONE;
    sink(ctx, &auth);
    return TERN_OK;
}

}  // namespace tern::udp

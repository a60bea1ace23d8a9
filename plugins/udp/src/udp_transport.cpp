#include "udp_transport.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

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

using udp_io::errno_text;

}  // namespace

// Everything one shard touches on its hot path; only that shard's thread uses the
// scratch arrays. Aligned so two shards never share a cache line.
struct alignas(64) transport::shard {
    transport* owner = nullptr;
    uint32_t index = 0;
    int fd = -1;
    uint64_t watch = 0;
    bool watching = false;

    // A drain continuation is posted and has not finished: stop() waits for false.
    std::atomic<bool> continuation{false};

    // receive scratch: batch_size buffers of max_datagram_size
    udp_io::receive_batch rx;
    std::vector<tern_datagram> rdg;
    // send scratch: batch_size messages per sendmmsg
    udp_io::send_batch tx;

    // for rate-limited logging of drops
    uint64_t drops_logged[drop_kinds] = {};
};

transport::transport(sdk::logger log, reactor_v1& reactor, counters metrics, settings s)
    : log_(log), reactor_(reactor), metrics_(metrics), cfg_(std::move(s)) {}

transport::~transport() { stop(); }

// ---- start and stop ----------------------------------------------------------------------

void transport::start() {
    if (running_.load()) throw sdk::error(TERN_INVALID_ARGUMENT, "transport already started");
    sockets_ = udp_io::open_group(
        udp_io::socket_options{cfg_.bind_address, cfg_.bind_port, cfg_.ipv6_only,
                               cfg_.recv_buffer, cfg_.send_buffer},
        reactor_.shard_count(), log_);
    family_ = sockets_.family;
    port_ = sockets_.port;
    shards_.clear();
    sink_.resize(static_cast<uint32_t>(sockets_.fds.size()));
    for (uint32_t i = 0; i < sockets_.fds.size(); ++i) {
        auto sh = std::make_unique<shard>();
        sh->owner = this;
        sh->index = i;
        sh->fd = sockets_.fds[i];
        sh->rx.init(cfg_.batch_size, cfg_.max_datagram_size);
        sh->rdg.assign(cfg_.batch_size, tern_datagram{});
        sh->tx.init(cfg_.batch_size);
        shards_.push_back(std::move(sh));
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

    log_.info("listening on ", sockets_.local, " (", shards_.size(), " sockets)");
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
    for (auto& shp : shards_) shp->fd = -1;
    sockets_.close();
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
    uint32_t errors = 0;
    for (uint32_t round = 0; round < cfg_.drain_batches; ++round) {
        const int n = sh.rx.receive(sh.fd);
        if (n < 0) {
            // ICMP errors queued on the socket surface here (ECONNREFUSED and friends);
            // they concern an earlier send, the socket itself is fine.
            count_drop(&sh, drop::recv_error, 0, -n);
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
        if (sh.rx.truncated(i)) {
            ++truncated;
            continue;
        }
        tern_datagram& d = sh.rdg[k];
        if (!sh.rx.endpoint(i, d.peer.endpoint)) {
            ++strange;
            continue;
        }
        d.peer.session = 0;
        d.data.data = sh.rx.data(i);
        d.data.size = sh.rx.size(i);
        bytes += d.data.size;
        ++k;
    }
    metrics_.datagrams_received.inc(n);
    metrics_.bytes_received.inc(bytes);
    if (truncated != 0) count_drop(&sh, drop::truncated, truncated, 0);
    if (strange != 0) count_drop(&sh, drop::recv_error, strange, EAFNOSUPPORT);
    if (k == 0) return;

    // Inside the sink slot, attach(nullptr) waits for this call to return.
    sink_.enter(sh.index, [&](datagram_sink_v1* sink) {
        if (sink != nullptr)
            sink->on_datagrams(sh.index, sh.rdg.data(), k);
        else
            count_drop(&sh, drop::no_sink, k, 0);
    });
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
    udp_io::send_stats st;
    uint64_t unreachable = 0;
    for (uint32_t next = 0; next < count; ++next) {
        const tern_datagram& d = batch[next];
        if (!sh.tx.add(d.peer.endpoint, family_, d.data.data, d.data.size)) {
            ++unreachable;
            continue;
        }
        if (sh.tx.full() && !sh.tx.flush(sh.fd, st)) {
            // The send buffer is full: what is left of this call cannot go either. UDP
            // drops instead of blocking the shard.
            st.would_block += count - next - 1;
            break;
        }
    }
    if (!sh.tx.empty()) sh.tx.flush(sh.fd, st);
    if (unreachable != 0) {
        count_drop(&sh, drop::unreachable, unreachable, EAFNOSUPPORT);
        status = TERN_INVALID_ARGUMENT;
    }
    const tern_status s = account(sh, st);
    return s != TERN_OK ? s : status;
}

tern_status transport::account(shard& sh, udp_io::send_stats& st) noexcept {
    metrics_.datagrams_sent.inc(st.sent);
    metrics_.bytes_sent.inc(st.bytes);
    tern_status status = TERN_OK;
    if (st.failed != 0) {
        count_drop(&sh, drop::send_error, st.failed, st.last_errno);
        status = TERN_IO;
    }
    if (st.would_block != 0) {
        count_drop(&sh, drop::would_block, st.would_block, st.last_errno);
        status = TERN_BUSY;
    }
    st = udp_io::send_stats{};
    return status;
}

tern_status transport::send_off_shard(shard& sh, const tern_datagram* batch,
                                      uint32_t count) noexcept {
    tern_status status = TERN_OK;
    uint64_t sent = 0, bytes = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const int e = udp_io::send_one(sh.fd, family_, batch[i].peer.endpoint, batch[i].data.data,
                                       batch[i].data.size);
        if (e == 0) {
            ++sent;
            bytes += batch[i].data.size;
            continue;
        }
        if (e == EAFNOSUPPORT) {
            count_drop(nullptr, drop::unreachable, 1, e);
            status = TERN_INVALID_ARGUMENT;
            continue;
        }
        const bool full = udp_io::is_full(e);
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
    return sink_.attach(sink, reactor_.current_shard(), log_);
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

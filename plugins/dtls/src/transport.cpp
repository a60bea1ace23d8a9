#include "transport.hpp"

#include <chrono>
#include <thread>

#include "tern/sdk/status.hpp"

namespace tern::dtls {

transport::transport(sdk::logger log, reactor_v1& reactor, settings s)
    : log_(log), reactor_(reactor), cfg_(std::move(s)) {}

transport::~transport() { stop(); }

void transport::start(const counters& metrics, core_auth_v1* core) {
    if (alive_->running.load()) throw sdk::error(TERN_INVALID_ARGUMENT, "transport already started");
    metrics_ = metrics;
    if (!context::can_export()) cfg_.idle_compact_after_ms = 0;  // reported with the missing features
    if (!context::global_init()) throw sdk::error(TERN_INTERNAL, "wolfSSL_Init failed");
    wolfssl_initialised_ = true;
    try {
        identities_ = std::make_unique<identity_store>(
            cfg_.session_cache || cfg_.session_tickets ? cfg_.resumption_identities : 0,
            cfg_.resumption_lifetime_ms * 1000000);
        tls_ = std::make_unique<context>(cfg_, core != nullptr, *identities_, log_);
        sockets_ = udp_io::open_group(cfg_, reactor_.shard_count(), log_);

        env_.log = log_;
        env_.reactor = &reactor_;
        env_.m = metrics_;
        env_.cfg = &cfg_;
        env_.tls = tls_.get();
        env_.identities = identities_.get();
        env_.core = tls_->psk_enabled() ? core : nullptr;
        env_.sink = &sink_;
        env_.alive = alive_;
        env_.shard_count = static_cast<uint32_t>(sockets_.fds.size());

        shards_.clear();
        alive_->shards.clear();
        sink_.resize(env_.shard_count);
        alive_->reactor = &reactor_;
        for (uint32_t i = 0; i < sockets_.fds.size(); ++i) {
            auto sl = std::make_unique<slot>();
            sl->owner = this;
            sl->sh = std::make_unique<shard>(env_, i, sockets_.fds[i], sockets_.family);
            alive_->shards.push_back(sl->sh.get());
            shards_.push_back(std::move(sl));
        }
        for (auto& sl : shards_) sl->sh->start_timer();
        alive_->running.store(true);
        for (auto& sl : shards_) {
            const tern_status s = reactor_.watch_fd(sl->sh->index(), sl->sh->fd(), TERN_FD_READ,
                                                    &on_readable, sl.get(), &sl->watch);
            if (s != TERN_OK)
                throw sdk::error(s, sdk::cat("cannot watch the socket of shard ", sl->sh->index(), " (",
                                             sdk::status_name(s), ")"));
            sl->watching = true;
        }
    } catch (...) {
        stop();
        throw;
    }
    const auto missing = context::missing_features();
    for (const auto& m : missing) log_.warn("wolfSSL ", context::library_version(), " lacks ", m);
    log_.info("wolfSSL ", context::library_version(), ", ",
              cfg_.dtls12 && cfg_.dtls13 ? "DTLS 1.2 and 1.3" : cfg_.dtls13 ? "DTLS 1.3" : "DTLS 1.2",
              tls_->cid() ? sdk::cat(", Connection ID ", cfg_.connection_id_length, " bytes (DTLS 1.2 and 1.3)")
                          : std::string(), tls_->psk_enabled() ? ", PSK via the core" : ", no PSK",
              cfg_.cert_file.empty() ? ", no server certificate (PSK suites only)" : "",
              cfg_.trust_store.empty() ? ", any client chain (identity by hash)"
                                       : ", client chains verified against " + cfg_.trust_store);
    log_.info("cipher suites: ", tls_->suites());
    log_.info("listening on ", sockets_.local, " (", shards_.size(), " sockets)");
}

void transport::stop() noexcept {
    alive_->running.store(false);
    for (auto& sl : shards_) {
        if (sl->watching) {
            reactor_.unwatch_fd(sl->watch);  // waits for a running callback
            sl->watching = false;
        }
    }
    for (auto& sl : shards_) sl->sh->stop_timer();
    // Work queued on shards or promised by the core (posted datagrams, drain continuations,
    // PSK answers) sees running == false and lets go; wait for it before freeing shards.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool leaked = false;
    auto busy = [&] {
        if (alive_->in_flight.load(std::memory_order_acquire) != 0) return true;
        for (auto& sl : shards_)
            if (sl->continuation.load(std::memory_order_acquire)) return true;
        return false;
    };
    while (busy()) {
        if (std::chrono::steady_clock::now() > deadline) {
            leaked = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (leaked) {
        // Something still points at the shards: keep their memory rather than free it
        // under its feet (the process is stopping).
        log_.error("work queued for the DTLS shards did not finish within 5 s; leaking their state");
        for (auto& sl : shards_) {
            (void)sl->sh.release();
            (void)sl.release();
        }
    } else {
        for (auto& sl : shards_) sl->sh->clear();
    }
    shards_.clear();
    alive_->shards.clear();
    sockets_.close();
    tls_.reset();
    identities_.reset();
    if (wolfssl_initialised_) {
        context::global_cleanup();
        wolfssl_initialised_ = false;
    }
}

// ---- receiving ---------------------------------------------------------------------------

void transport::on_readable(void* ctx, int, uint32_t) noexcept {
    slot& sl = *static_cast<slot*>(ctx);
    transport& self = *sl.owner;
    if (!self.alive_->running.load(std::memory_order_relaxed)) return;
    if (sl.sh->drain() && !sl.continuation.load(std::memory_order_relaxed)) {
        sl.continuation.store(true, std::memory_order_relaxed);
        if (self.reactor_.post(sl.sh->index(), &on_continue, &sl) != TERN_OK)
            sl.continuation.store(false, std::memory_order_release);
    }
}

// The fairness bound was hit: keep reading after the shard's other work had its turn.
void transport::on_continue(void* ctx) noexcept {
    slot& sl = *static_cast<slot*>(ctx);
    transport& self = *sl.owner;
    if (self.alive_->running.load(std::memory_order_acquire) && sl.sh->drain() &&
        self.reactor_.post(sl.sh->index(), &on_continue, &sl) == TERN_OK)
        return;  // still pending
    sl.continuation.store(false, std::memory_order_release);
}

// ---- transport_v1 ------------------------------------------------------------------------

tern_str transport::scheme() noexcept { return tern_str{"coaps", 5}; }

uint32_t transport::max_datagram_size() noexcept { return cfg_.max_datagram_size; }

tern_status transport::attach(datagram_sink_v1* sink) noexcept {
    return sink_.attach(sink, reactor_.current_shard(), log_);
}

tern_status transport::send(uint32_t shard_index, const tern_datagram* batch, uint32_t count) noexcept {
    if (count == 0) return TERN_OK;
    if (batch == nullptr) return TERN_INVALID_ARGUMENT;
    if (!alive_->running.load(std::memory_order_relaxed)) return TERN_UNAVAILABLE;
    if (shard_index >= shards_.size()) return TERN_INVALID_ARGUMENT;
    // A session's wolfSSL object belongs to its shard's thread: a send from elsewhere
    // (which the ABI does not allow) is refused rather than raced.
    if (reactor_.current_shard() != shard_index) return TERN_INVALID_ARGUMENT;
    return shards_[shard_index]->sh->send(batch, count);
}

tern_status transport::peer_auth(const tern_peer* peer, tern_peer_auth_sink sink, void* ctx) noexcept {
    if (peer == nullptr || sink == nullptr) return TERN_INVALID_ARGUMENT;
    const uint32_t home = static_cast<uint32_t>(peer->session & 0x3ff);
    if (peer->session == 0 || home >= shards_.size() || !alive_->running.load(std::memory_order_relaxed))
        return TERN_NOT_FOUND;
    if (reactor_.current_shard() != home) return TERN_INVALID_ARGUMENT;
    return shards_[home]->sh->peer_auth(*peer, sink, ctx);
}

}  // namespace tern::dtls

// The shard's frame: construction, the one reactor timer that every deadline of the shard
// shares (on_timer hands each behaviour its turn), and the rate-limited drop log. What the
// shard does lives in the files named after it: io, cookies, handshake, psk, sessions,
// compaction (README, "Files").
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <algorithm>
#include <cmath>
#include <string>

#include "tern/udp_io/endpoint.hpp"

namespace tern::dtls {

namespace {

constexpr size_t read_buffer_size = 4096;  // scratch for draining oversized records

void on_timer_cb(void* ctx) noexcept { static_cast<shard*>(ctx)->on_timer(); }

}  // namespace

session* session_of(WOLFSSL* ssl) noexcept {
    return ssl == nullptr ? nullptr : static_cast<session*>(wolfSSL_GetIOReadCtx(ssl));
}

const identity_ptr& no_identity() {
    static const identity_ptr none = std::make_shared<identity>();
    return none;
}

shard::shard(environment& env, uint32_t index, int fd, int family)
    : env_(env), index_(index), fd_(fd), family_(family) {
    const settings& c = *env_.cfg;
    const uint32_t n = std::max<uint32_t>(1, env_.shard_count);
    session_cap_ = std::max<size_t>(1, (c.max_sessions + n - 1) / n);
    handshake_cap_ = std::max<size_t>(1, (c.max_handshakes + n - 1) / n);
    // Per source, this shard's share (the kernel spreads a host's ports over the shards).
    source_session_cap_ = c.max_sessions_per_source == 0 ? 0 : (c.max_sessions_per_source + n - 1) / n;
    source_handshake_cap_ = c.max_handshakes_per_source == 0 ? 0 : (c.max_handshakes_per_source + n - 1) / n;
    if (c.handshake_rate_per_source != 0) {
        tokens_per_ns_ = static_cast<double>(c.handshake_rate_per_source) / n / 1e9;
        burst_ = std::max(1.0, std::ceil(static_cast<double>(c.handshake_burst_per_source) / n));
    }
    idle_source_cap_ = std::max<size_t>(1, (c.rate_limited_sources + n - 1) / n);
    sources_on_ = source_session_cap_ != 0 || source_handshake_cap_ != 0 || tokens_per_ns_ > 0;
    anon_idle_ns_ = c.anonymous_session_timeout_ms * ms;
    rx_.init(c.batch_size, receive_size(c));
    tx_.init(c.batch_size);
    tx_slot_ = std::max<size_t>(c.mtu, c.max_datagram_size + record_overhead);
    tx_arena_.assign(tx_slot_ * c.batch_size, 0);
    plain_arena_.assign(static_cast<size_t>(c.max_datagram_size + 1) * c.batch_size, 0);
    plain_.assign(c.batch_size, tern_datagram{});
    hvr_.assign(record_header_size + handshake_header_size + 3 + 32, 0);
    read_buf_.assign(read_buffer_size, 0);
    by_id_.reserve(std::min<size_t>(session_cap_, 4096));
    by_addr_.reserve(std::min<size_t>(session_cap_, 4096));
    now_ = env_.reactor->now_ns();
    rotate_cookie_secret(now_);
    rotate_cookie_secret(now_);
}

shard::~shard() { clear(); }

void shard::start_timer() {
    if (env_.reactor->timer_create(index_, &on_timer_cb, this, &timer_) != TERN_OK)
        throw sdk::error(TERN_INTERNAL, sdk::cat("cannot create the timer of shard ", index_));
    timer_made_ = true;
    arm(now_ + env_.cfg->cookie_secret_lifetime_ms * ms);
    arm(now_ + ms);  // the first memory report
}

void shard::stop_timer() noexcept {
    if (timer_made_) env_.reactor->timer_destroy(timer_);
    timer_made_ = false;
    armed_at_ = 0;
}

void shard::count_drop(drop why, uint64_t n, int err) noexcept {
    const size_t w = static_cast<size_t>(why);
    if (n != 0) env_.m.drops[w].inc(n);
    // The 1st, 2nd, 4th, 8th, ... of each kind per shard: visible, never a flood. Drops
    // of what is not DTLS at all (scanners, plain CoAP) and of records for sessions that
    // ended (a client still retransmitting, a device still using the CID of a session the
    // server no longer has) are routine: debug only.
    const uint64_t seen = ++drops_logged_[w];
    if ((seen & (seen - 1)) != 0) return;
    const tern_log_level level = why == drop::not_dtls || why == drop::no_session || why == drop::unknown_cid
                                     ? TERN_LOG_DEBUG
                                     : TERN_LOG_WARN;
    if (!env_.log.enabled(level)) return;
    try {
        std::string detail = err != 0 ? sdk::cat(" (", udp_io::errno_text(err), ")") : std::string();
        env_.log.write(level, "shard ", index_, ": dropped ", n, " datagram(s): ", drop_label(why),
                       detail, " [occurrence ", seen, " on this shard]");
    } catch (...) {
    }
}

void shard::arm(uint64_t at) noexcept {
    if (!timer_made_) return;
    if (armed_at_ != 0 && armed_at_ <= at) return;
    armed_at_ = at;
    const uint64_t now = env_.reactor->now_ns();
    env_.reactor->timer_arm(timer_, at > now ? at - now : 1);
}

void shard::on_timer() noexcept {
    armed_at_ = 0;
    now_ = env_.reactor->now_ns();
    retransmit_due();
    end_idle_sessions();
    compact_idle();
    report_memory();
    const settings& c = *env_.cfg;
    if (now_ - cookie_rotated_ns_ >= c.cookie_secret_lifetime_ms * ms) rotate_cookie_secret(now_);
    deliver();
    flush();

    uint64_t next = cookie_rotated_ns_ + c.cookie_secret_lifetime_ms * ms;
    if (!timers_.empty()) next = std::min(next, timers_.top().first);
    next = std::min(next, idle_due());
    next = std::min(next, compaction_due());
    next = std::min(next, memory_due_ns_);
    arm(std::max(next, now_ + ms));
}

}  // namespace tern::dtls

#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>
// clang-format on

#include <malloc.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <ctime>

#include "tern/udp_io/endpoint.hpp"
#include "tern/udp_io/socket_group.hpp"
#include "chain.hpp"
#include "x509.hpp"

namespace tern::dtls {

namespace {

constexpr uint64_t ms = 1000000;
constexpr size_t max_held_datagrams = 8;
constexpr size_t psk_cache_limit = 4096;   // entries per shard
constexpr size_t read_buffer_size = 4096;  // scratch for draining oversized records
constexpr uint64_t compact_scan_min_gap_ns = 100 * ms;  // the idle-compaction pass walks every session
constexpr size_t compact_trim_threshold = 256;           // compactions that warrant a malloc_trim

// RFC 8446 §4.1.3: the random of a HelloRetryRequest.
constexpr uint8_t hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                    0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

int seconds_of(uint64_t ms_value) {
    return static_cast<int>(std::clamp<uint64_t>((ms_value + 999) / 1000, 1, 3600));
}

bool same_endpoint(const tern_endpoint& a, const tern_endpoint& b) noexcept {
    return a.family == b.family && a.port == b.port && a.scope_id == b.scope_id &&
           std::memcmp(a.addr, b.addr, a.family == 6 ? 16 : 4) == 0;
}

uint64_t mix(uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// Is this datagram (written by wolfSSL for a DTLS 1.3 ClientHello) a HelloRetryRequest?
bool is_hello_retry_request(const uint8_t* data, size_t size) noexcept {
    auto r = first_record(bytes_view{data, size});
    if (!r || r->type != ct_handshake || r->epoch != 0) return false;
    const bytes_view f = r->fragment;
    // handshake header, then legacy_version (2) and random (32)
    if (f.size() < handshake_header_size + 34 || f[0] != 2 /* server_hello */) return false;
    return std::memcmp(f.data() + handshake_header_size + 2, hrr_random, 32) == 0;
}

handshake_result classify_error(int err) noexcept {
    switch (err) {
        case FATAL_ERROR: return handshake_result::peer_alert;
        case VERIFY_MAC_ERROR:
        case DECRYPT_ERROR:
        case VERIFY_FINISHED_ERROR:
        case BAD_BINDER: return handshake_result::decrypt_error;
        case MATCH_SUITE_ERROR: return handshake_result::no_shared_cipher;
        case PSK_KEY_ERROR: return handshake_result::unknown_psk_identity;
        case ASN_AFTER_DATE_E:
        case ASN_BEFORE_DATE_E: return handshake_result::certificate_expired;
        case VERIFY_CERT_ERROR:
        case ASN_PARSE_E: return handshake_result::bad_certificate;
        case ASN_NO_SIGNER_E: return handshake_result::untrusted_certificate;
        default: return handshake_result::protocol_error;
    }
}

struct forwarded {
    std::shared_ptr<liveness> alive;
    uint32_t shard;
    tern_endpoint from;
    std::vector<uint8_t> data;
};

void run_forwarded(void* ctx) noexcept {
    auto* f = static_cast<forwarded*>(ctx);
    if (f->alive->running.load(std::memory_order_acquire)) {
        shard* sh = f->alive->shards[f->shard];
        sh->handle(f->data.data(), f->data.size(), f->from);
        sh->deliver();
        sh->flush();
    }
    auto alive = std::move(f->alive);
    delete f;
    alive->in_flight.fetch_sub(1, std::memory_order_acq_rel);
}

struct psk_lookup {
    std::shared_ptr<liveness> alive;
    uint32_t shard;
    uint64_t session;
    std::string identity;
    tern_status status = TERN_INTERNAL;
    std::vector<uint8_t> key;
};

void run_psk_answer(void* ctx) noexcept {
    auto* l = static_cast<psk_lookup*>(ctx);
    if (l->alive->running.load(std::memory_order_acquire))
        l->alive->shards[l->shard]->psk_answer(l->session, l->identity, l->status, std::move(l->key));
    auto alive = std::move(l->alive);
    delete l;
    alive->in_flight.fetch_sub(1, std::memory_order_acq_rel);
}

// The core's answer, on whatever thread the core uses: back to the session's shard.
void on_psk_found(void* ctx, tern_status status, const tern_device_info* device) noexcept {
    auto* l = static_cast<psk_lookup*>(ctx);
    l->status = status;
    if (status == TERN_OK && device != nullptr &&
        device->struct_size >= offsetof(tern_device_info, credential_value) + sizeof(tern_bytes) &&
        device->credential_value.size != 0) {
        try {
            l->key.assign(device->credential_value.data,
                          device->credential_value.data + device->credential_value.size);
        } catch (...) {
            l->status = TERN_INTERNAL;
        }
    } else if (status == TERN_OK) {
        l->status = TERN_NOT_FOUND;  // a device without a key cannot do PSK
    }
    if (l->alive->running.load(std::memory_order_acquire) &&
        l->alive->reactor->post(l->shard, &run_psk_answer, l) == TERN_OK)
        return;
    auto alive = std::move(l->alive);
    delete l;
    alive->in_flight.fetch_sub(1, std::memory_order_acq_rel);
}

void on_timer_cb(void* ctx) noexcept { static_cast<shard*>(ctx)->on_timer(); }

// The key a PSK handshake with an identity no device has is answered with: HMAC-SHA256 of
// the identity under a secret drawn once per process, so the same identity always gets the
// same key. The handshake then fails at the client's Finished exactly as with a wrong key,
// and the client cannot tell unknown identities from known ones (no enumeration).
constexpr unsigned int decoy_psk_size = 16;
bool decoy_psk(std::string_view identity, unsigned char out[decoy_psk_size]) noexcept {
    static const auto secret = [] {
        std::array<uint8_t, 32> k{};
        size_t got = 0;
        while (got < k.size()) {
            const ssize_t r = ::getrandom(k.data() + got, k.size() - got, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;  // never expected on Linux >= 3.17; the decoy is still keyed per process
            got += static_cast<size_t>(r);
        }
        if (got < k.size()) {
            const uint64_t x = mix(static_cast<uint64_t>(::time(nullptr)) ^ reinterpret_cast<uintptr_t>(&got));
            std::memcpy(k.data(), &x, 8);
        }
        return k;
    }();
    uint8_t mac[32];
    Hmac h;
    bool ok = wc_HmacInit(&h, nullptr, INVALID_DEVID) == 0;
    ok = ok && wc_HmacSetKey(&h, WC_SHA256, secret.data(), static_cast<word32>(secret.size())) == 0;
    ok = ok && wc_HmacUpdate(&h, reinterpret_cast<const byte*>(identity.data()), static_cast<word32>(identity.size())) == 0;
    ok = ok && wc_HmacFinal(&h, mac) == 0;
    wc_HmacFree(&h);
    if (!ok) return false;
    std::memcpy(out, mac, decoy_psk_size);
    return true;
}

// A session's place in its source's lists (src_older / src_newer).
void src_push(session_list& l, session& s) noexcept {
    s.src_older = l.newest;
    s.src_newer = nullptr;
    if (l.newest != nullptr) l.newest->src_newer = &s; else l.oldest = &s;
    l.newest = &s;
}
void src_unlink(session_list& l, session& s) noexcept {
    if (s.src_older != nullptr) s.src_older->src_newer = s.src_newer; else if (l.oldest == &s) l.oldest = s.src_newer;
    if (s.src_newer != nullptr) s.src_newer->src_older = s.src_older; else if (l.newest == &s) l.newest = s.src_older;
    s.src_older = s.src_newer = nullptr;
}

}  // namespace

// ---- callbacks wolfSSL calls ----------------------------------------------------------

session* session_of(WOLFSSL* ssl) noexcept {
    return ssl == nullptr ? nullptr : static_cast<session*>(wolfSSL_GetIOReadCtx(ssl));
}

const identity_ptr& no_identity() {
    static const identity_ptr none = std::make_shared<identity>();
    return none;
}

int io_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* s = static_cast<session*>(ctx);
    if (s == nullptr || s->in == nullptr) return WOLFSSL_CBIO_ERR_WANT_READ;
    // A datagram is read whole or not at all: wolfSSL's buffer holds any datagram the
    // shard accepts (context MTU >= receive buffer).
    if (s->in_len > static_cast<uint32_t>(sz)) {
        s->in = nullptr;
        return WOLFSSL_CBIO_ERR_WANT_READ;
    }
    std::memcpy(buf, s->in, s->in_len);
    const int n = static_cast<int>(s->in_len);
    s->in = nullptr;
    return n;
}

int io_send(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* s = static_cast<session*>(ctx);
    if (s == nullptr || s->home == nullptr || sz < 0) return WOLFSSL_CBIO_ERR_GENERAL;
    return s->home->emit(*s, reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(sz));
}

int verify_callback(int preverify, WOLFSSL_X509_STORE_CTX* store) {
    if (store == nullptr) return 0;
    auto* s = static_cast<session*>(store->userCtx);
    if (s == nullptr || s->home == nullptr || s->hs == nullptr) return 0;
    const settings& cfg = s->home->cfg();
    const bool date_error = store->error == ASN_AFTER_DATE_E || store->error == ASN_BEFORE_DATE_E;
    const bool trust = !cfg.trust_store.empty();

    if (store->error_depth > 0) {
        // A CA certificate of the client's chain that wolfSSL found fault with (with no
        // trust store, unknown issuers are not faults: WOLFSSL_ALT_CERT_CHAINS). Only
        // dates may be overlooked, and only when asked to.
        if (preverify) return 1;
        if (date_error && cfg.skip_validity_check) return 1;
        s->hs->failure = date_error ? handshake_result::certificate_expired
                                    : (trust ? handshake_result::untrusted_certificate
                                             : handshake_result::bad_certificate);
        return 0;
    }

    // The leaf, with the whole chain in store->certs (leaf first): keep it as the
    // session's identity. (Called with no certificate too, for a client that sent an
    // empty Certificate: one-way DTLS.)
    if (store->totalCerts <= 0 || store->certs == nullptr) return 1;
    try {
        auto who = std::make_shared<identity>();
        who->kind = TERN_AUTH_X509;
        const int n = std::min(store->totalCerts, 16);
        size_t total = 0;
        // Only the leaf and the links proven above it may name the device (chain.hpp): a
        // certificate the client merely appended is dropped here, before anyone looks it up.
        std::span<const uint8_t> sent[16];
        for (int i = 0; i < n; ++i) sent[i] = {store->certs[i].buffer, store->certs[i].length};
        const chain_walk walked = verified_links({sent, static_cast<size_t>(n)});
        if (n > 1) s->home->count_chain(walked.fault);
        const int kept = static_cast<int>(walked.verified);
        for (int i = 0; i < kept; ++i) total += store->certs[i].length;
        who->der.reserve(total);
        for (int i = 0; i < kept; ++i) {
            const auto& c = store->certs[i];
            who->der.insert(who->der.end(), c.buffer, c.buffer + c.length);
            who->ends.push_back(static_cast<uint32_t>(who->der.size()));
        }
        if (!cfg.skip_validity_check) {
            const int64_t now = static_cast<int64_t>(::time(nullptr));
            for (size_t i = 0; i < who->chain_count(); ++i) {
                switch (check_dates(who->cert(i), now)) {
                    case date_check::valid: break;
                    case date_check::unreadable:
                        s->hs->failure = handshake_result::bad_certificate;
                        return 0;
                    case date_check::expired:
                    case date_check::not_yet_valid:
                        s->hs->failure = handshake_result::certificate_expired;
                        return 0;
                }
            }
        }
        if (trust && !preverify && !(date_error && cfg.skip_validity_check)) {
            s->hs->failure = date_error ? handshake_result::certificate_expired
                                        : handshake_result::untrusted_certificate;
            return 0;
        }
        s->hs->ident = std::move(who);
        return 1;
    } catch (...) {
        s->hs->failure = handshake_result::protocol_error;
        return 0;
    }
}

unsigned int psk_callback(WOLFSSL* ssl, const char* identity_text, unsigned char* key,
                          unsigned int key_max) {
    session* s = session_of(ssl);
    if (s == nullptr || s->home == nullptr || s->hs == nullptr || identity_text == nullptr) return 0;
    const std::string_view id(identity_text);
    std::vector<uint8_t> cached;
    const std::vector<uint8_t>* k = nullptr;
    if (!s->hs->psk_answered.empty() && s->hs->psk_answered == id) {
        // the core's answer for this very handshake (with psk_cache_ttl = 0 the cache
        // keeps nothing)
        if (!s->hs->psk_answer.empty()) k = &s->hs->psk_answer;
    } else if (s->home->psk_key(id, cached)) {
        k = &cached;
    }
    if (k == nullptr || k->size() > key_max) {
        // No such identity (or the core failed, or a key wolfSSL cannot take): a decoy key,
        // so the handshake fails at the client's Finished as a wrong key does, with the same
        // datagrams and timing, instead of an unknown_psk_identity alert that would let
        // identities be enumerated. No identity is kept; the metric still tells operators.
        s->hs->failure = handshake_result::unknown_psk_identity;
        if (key_max < decoy_psk_size || !decoy_psk(id, key)) return 0;
        return decoy_psk_size;
    }
    std::memcpy(key, k->data(), k->size());
    const auto key_size = static_cast<unsigned int>(k->size());
    try {
        auto who = std::make_shared<identity>();
        who->kind = TERN_AUTH_PSK;
        who->psk.assign(id);
        s->hs->ident = std::move(who);
    } catch (...) {
        return 0;
    }
    return key_size;
}

// ---- the shard -------------------------------------------------------------------------

bool shard::addr_key::operator==(const addr_key& o) const noexcept {
    return std::memcmp(bytes, o.bytes, sizeof bytes) == 0;
}
size_t shard::addr_hash::operator()(const addr_key& k) const noexcept {
    uint64_t a, b, c;
    std::memcpy(&a, k.bytes, 8);
    std::memcpy(&b, k.bytes + 8, 8);
    std::memcpy(&c, k.bytes + 16, 8);
    return static_cast<size_t>(mix(a ^ mix(b ^ mix(c))));
}
bool shard::cid_key::operator==(const cid_key& o) const noexcept {
    return len == o.len && std::memcmp(bytes, o.bytes, len) == 0;
}
size_t shard::cid_hash::operator()(const cid_key& k) const noexcept {
    uint64_t a = 0, b = 0;
    std::memcpy(&a, k.bytes, 8);
    std::memcpy(&b, k.bytes + 8, 8);
    return static_cast<size_t>(mix(a ^ mix(b ^ k.len)));
}

shard::addr_key shard::key_of(const tern_endpoint& ep) noexcept {
    addr_key k;
    k.bytes[0] = static_cast<uint8_t>(ep.family);
    std::memcpy(k.bytes + 2, &ep.port, 2);
    std::memcpy(k.bytes + 4, &ep.scope_id, 4);
    std::memcpy(k.bytes + 8, ep.addr, ep.family == 6 ? 16 : 4);
    return k;
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
}

void shard::stop_timer() noexcept {
    if (timer_made_) env_.reactor->timer_destroy(timer_);
    timer_made_ = false;
    armed_at_ = 0;
}

void shard::clear() noexcept {
    while (!by_id_.empty()) destroy(*by_id_.begin()->second);
    by_addr_.clear();
    by_cid_.clear();
    while (idle_oldest_ != nullptr) source_erase(*idle_oldest_);
    while (!timers_.empty()) timers_.pop();
}

session* shard::find(uint64_t id) const noexcept {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
}

void shard::count_drop(drop why, uint64_t n, int err) noexcept {
    const size_t w = static_cast<size_t>(why);
    if (n != 0) env_.m.drops[w].inc(n);
    // The 1st, 2nd, 4th, 8th, ... of each kind per shard: visible, never a flood. Drops
    // of what is not DTLS at all (scanners, plain CoAP) and of records for sessions that
    // ended (a client still retransmitting) are routine: debug only.
    const uint64_t seen = ++drops_logged_[w];
    if ((seen & (seen - 1)) != 0) return;
    const tern_log_level level =
        why == drop::not_dtls || why == drop::no_session ? TERN_LOG_DEBUG : TERN_LOG_WARN;
    if (!env_.log.enabled(level)) return;
    try {
        std::string detail = err != 0 ? sdk::cat(" (", udp_io::errno_text(err), ")") : std::string();
        env_.log.write(level, "shard ", index_, ": dropped ", n, " datagram(s): ", drop_label(why),
                       detail, " [occurrence ", seen, " on this shard]");
    } catch (...) {
    }
}

// ---- receiving -------------------------------------------------------------------------

bool shard::drain() noexcept {
    uint32_t errors = 0;
    bool more = true;
    for (uint32_t round = 0; round < env_.cfg->drain_batches; ++round) {
        const int n = rx_.receive(fd_);
        if (n < 0) {
            // ICMP errors of earlier sends surface here; the socket itself is fine.
            count_drop(drop::recv_error, 0, -n);
            if (++errors > 2) {
                more = false;
                break;
            }
            continue;
        }
        if (n == 0) {
            more = false;
            break;
        }
        now_ = env_.reactor->now_ns();
        uint64_t bytes = 0, truncated = 0;
        for (int i = 0; i < n; ++i) {
            if (rx_.truncated(i)) {
                ++truncated;
                continue;
            }
            tern_endpoint from{};
            if (!rx_.endpoint(i, from)) {
                count_drop(drop::recv_error, 1, EAFNOSUPPORT);
                continue;
            }
            bytes += rx_.size(i);
            handle(rx_.data(i), rx_.size(i), from);
        }
        env_.m.datagrams_received.inc(static_cast<uint64_t>(n));
        env_.m.bytes_received.inc(bytes);
        if (truncated != 0) count_drop(drop::truncated, truncated);
        deliver();
        flush();
    }
    return more;
}

void shard::handle(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    const bytes_view d{data, size};
    switch (classify(d)) {
        case datagram_kind::other:
            count_drop(drop::not_dtls);
            return;
        case datagram_kind::unified_header:
            on_unified_record(data, size, from);
            return;
        case datagram_kind::plaintext_record: {
            // An RFC 9146 record (DTLS 1.2 with a Connection ID, which wolfSSL never
            // negotiates) has its CID before the length, so its header does not read as a
            // DTLS 1.2 one: its content type alone tells it.
            if (data[0] == ct_tls12_cid) {
                count_drop(drop::dtls12_cid);
                return;
            }
            auto r = first_record(d);
            if (!r) {
                count_drop(drop::not_dtls);
                return;
            }
            on_plaintext_record(*r, data, size, from);
            return;
        }
    }
}

void shard::on_plaintext_record(const record_header& r, const uint8_t* data, size_t size,
                                const tern_endpoint& from) noexcept {
    session* s = nullptr;
    if (auto it = by_addr_.find(key_of(from)); it != by_addr_.end()) s = it->second;
    if (s != nullptr && s->state == session_state::handshake) {
        feed(*s, data, size, from);
        return;
    }
    // An epoch-0 ClientHello starts a handshake, even from the address of an established
    // session (the client lost its state, RFC 6347 §4.2.8): the cookie exchange comes
    // first either way.
    if (r.type == ct_handshake && r.epoch == 0) {
        if (auto ch = parse_client_hello(r)) {
            on_client_hello(*ch, data, size, from, s);
            return;
        }
    }
    if (s != nullptr) {
        feed(*s, data, size, from);
        return;
    }
    count_drop(drop::no_session);
}

void shard::on_unified_record(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    const bytes_view d{data, size};
    if (tls().cid() && (data[0] & 0x10) != 0) {
        auto cid = unified_header_cid(d, env_.cfg->connection_id_length);
        if (!cid) {
            count_drop(drop::no_session);
            return;
        }
        cid_key k;
        k.len = static_cast<uint8_t>(cid->size());
        std::memcpy(k.bytes, cid->data(), cid->size());
        if (auto it = by_cid_.find(k); it != by_cid_.end()) {
            feed(*it->second, data, size, from);
            return;
        }
        // The first CID byte names the shard that made it: after a NAT rebinding the new
        // address may hash to another shard's socket.
        const uint32_t owner = (*cid)[0];
        if (owner != index_ && owner < env_.shard_count) {
            forward(owner, data, size, from);
            return;
        }
        count_drop(drop::no_session);
        return;
    }
    if (auto it = by_addr_.find(key_of(from)); it != by_addr_.end()) {
        feed(*it->second, data, size, from);
        return;
    }
    count_drop(drop::no_session);
}

void shard::forward(uint32_t to_shard, const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    forwarded* f = nullptr;
    try {
        f = new forwarded{env_.alive, to_shard, from, std::vector<uint8_t>(data, data + size)};
    } catch (...) {
        count_drop(drop::no_session);
        return;
    }
    env_.alive->in_flight.fetch_add(1, std::memory_order_acq_rel);
    if (env_.reactor->post(to_shard, &run_forwarded, f) != TERN_OK) {
        delete f;
        env_.alive->in_flight.fetch_sub(1, std::memory_order_acq_rel);
        return;
    }
    env_.m.cid_forwarded.inc();
}

// ---- stateless cookies ---------------------------------------------------------------------

void shard::rotate_cookie_secret(uint64_t now) noexcept {
    std::memcpy(cookie_secrets_[1], cookie_secrets_[0], 32);
    size_t got = 0;
    while (got < 32) {
        const ssize_t r = ::getrandom(cookie_secrets_[0] + got, 32 - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            // Never expected on Linux >= 3.17; fall back to a secret that still differs
            // per shard and start.
            const uint64_t x = mix(now ^ index_ ^ reinterpret_cast<uintptr_t>(this));
            std::memcpy(cookie_secrets_[0], &x, 8);
            break;
        }
        got += static_cast<size_t>(r);
    }
    cookie_rotated_ns_ = now;
}

void shard::cookie(const uint8_t secret[32], const client_hello& ch, const tern_endpoint& from,
                   uint8_t out[32]) noexcept {
    // wolfSSL's DTLS 1.2 cookie (src/dtls.c, CreateDtlsCookie): HMAC-SHA256 over the peer's
    // socket address as the WOLFSSL object holds it, then the ClientHello's version,
    // random, session id, cipher suites and compression methods.
    sockaddr_storage sa;
    const socklen_t len = udp_io::to_sockaddr(from, family_, sa);
    Hmac h;
    bool ok = wc_HmacInit(&h, nullptr, INVALID_DEVID) == 0;
    ok = ok && wc_HmacSetKey(&h, WC_SHA256, secret, 32) == 0;
    ok = ok && wc_HmacUpdate(&h, reinterpret_cast<const byte*>(&sa), len) == 0;
    ok = ok && wc_HmacUpdate(&h, ch.version_bytes.data(), 2) == 0;
    ok = ok && wc_HmacUpdate(&h, ch.random.data(), 32) == 0;
    ok = ok && wc_HmacUpdate(&h, ch.session_id.data(), static_cast<word32>(ch.session_id.size())) == 0;
    ok = ok && wc_HmacUpdate(&h, ch.cipher_suites.data(), static_cast<word32>(ch.cipher_suites.size())) == 0;
    ok = ok && wc_HmacUpdate(&h, ch.compression.data(), static_cast<word32>(ch.compression.size())) == 0;
    ok = ok && wc_HmacFinal(&h, out) == 0;
    wc_HmacFree(&h);
    if (!ok) std::memset(out, 0, 32);
}

int shard::verify_cookie(const client_hello& ch, const tern_endpoint& from) noexcept {
    if (ch.cookie.size() != 32) return -1;
    uint8_t expect[32];
    for (int i = 0; i < 2; ++i) {
        cookie(cookie_secrets_[i], ch, from, expect);
        // constant time: the comparison must not tell how much of a guess was right
        uint8_t diff = 0;
        for (size_t k = 0; k < 32; ++k) diff |= static_cast<uint8_t>(expect[k] ^ ch.cookie[k]);
        if (diff == 0) return i;
    }
    return -1;
}

void shard::on_client_hello(const client_hello& ch, const uint8_t* data, size_t size,
                            const tern_endpoint& from, session* existing) noexcept {
    const settings& c = *env_.cfg;
    int secret = 0;
    const bool dtls13 = tls().dtls13() && ch.offers_dtls13;
    if (!dtls13) {
        if (!c.dtls12) {
            count_drop(drop::no_session);  // a DTLS 1.2 client of a 1.3-only server
            return;
        }
        secret = verify_cookie(ch, from);
        if (secret < 0) {
            // No state and no amplification: the HelloVerifyRequest is smaller than the
            // ClientHello it answers, and nothing is kept.
            if (!ch.cookie.empty()) env_.m.cookies_failed.inc();
            uint8_t fresh[32];
            cookie(cookie_secrets_[0], ch, from, fresh);
            const size_t n = write_hello_verify_request(ch, bytes_view{fresh, 32}, hvr_);
            if (n != 0) {
                session probe;  // emit() needs a destination only
                probe.addr = from;
                emit(probe, hvr_.data(), n);
                env_.m.cookies_sent.inc();
            }
            return;
        }
        env_.m.cookies_verified.inc();
    }
    // A DTLS 1.3 first flight (no cookie extension) is answered with wolfSSL's stateless
    // HelloRetryRequest and its object destroyed at once: it must not evict handshakes or
    // idle sessions on the way, or spoofed ClientHellos could push real devices out.
    const bool probe13 = dtls13 && !ch.has_cookie_extension;
    // The client proved its address, so the handshake counts against its source: the
    // source's handshake rate first (over it, the ClientHello is dropped; the client
    // retransmits it later), then its caps. A probe has proved nothing and touches no
    // source.
    source_entry* src = probe13 ? nullptr : source_for(from);
    if (src != nullptr && !take_token(*src)) {
        count_drop(drop::rate_limited);
        return;
    }
    // A new handshake replaces what the client had at this address (before room is made:
    // a client that lost its state makes room with its own old session). A probe leaves
    // what is there, which gets its address back below.
    const uint64_t existing_id = existing != nullptr ? existing->id : 0;
    if (!probe13 && existing != nullptr) end(*existing, end_reason::replaced, false);
    if (!probe13 && !make_room(src)) {
        count_drop(drop::shed);
        return;
    }
    session* s = create(from, secret, dtls13, src);
    if (s == nullptr) return;
    if (ch.session_id.size() == 32 && !ch.has_ticket)
        s->hs->client_session_id.assign(ch.session_id.begin(), ch.session_id.end());
    if (dtls13) s->hs->dtls13_probe = true;
    const uint64_t id = s->id;
    feed(*s, data, size, from);
    s = find(id);
    if (s == nullptr || !s->hs || !s->hs->dtls13_probe) return;
    if (s->hs->sent_hrr) {
        // wolfSSL's stateless HelloRetryRequest (its cookie covers the transcript): the
        // object is not kept until the client comes back with the cookie.
        env_.m.cookies_sent.inc();
        destroy(*s);
        if (session* e = existing_id != 0 ? find(existing_id) : nullptr; e != nullptr && e->indexed_by_addr)
            by_addr_[key_of(e->addr)] = e;
        return;
    }
    // wolfSSL went on without a retry: this is a handshake with state now, so it must fit,
    // and it replaces what the client had at this address.
    s->hs->dtls13_probe = false;
    if (session* e = existing_id != 0 ? find(existing_id) : nullptr; e != nullptr && e != s)
        end(*e, end_reason::replaced, false);
    if (handshakes_ > handshake_cap_ || by_id_.size() > session_cap_) {
        if (!make_room_for(*s)) {
            count_drop(drop::shed);
            destroy(*s);
            return;
        }
    }
    env_.m.cookies_verified.inc();
}

// ---- sessions ----------------------------------------------------------------------------

bool shard::make_room_for(session& newcomer) noexcept {
    // As make_room, with the newcomer already counted (and never its own victim).
    if (handshakes_ > handshake_cap_ && hs_oldest_ != nullptr && hs_oldest_ != &newcomer)
        handshake_failed(*hs_oldest_, handshake_result::evicted);
    if (by_id_.size() <= session_cap_) return true;
    if (evict_anonymous()) return true;
    session* victim = known_.oldest;
    if (victim == nullptr || victim == &newcomer) return false;
    if (victim->last_ns + env_.cfg->stale_session_threshold_ms * ms > now_) return false;
    end(*victim, end_reason::evicted, true);
    return true;
}

bool shard::evict_anonymous() noexcept {
    if (anon_.oldest == nullptr) return false;
    end(*anon_.oldest, end_reason::evicted_anonymous, true);
    return true;
}

bool shard::make_room(source_entry* src) noexcept {
    // A source at one of its caps makes room from its own: its oldest handshake; for the
    // session cap its least recently active anonymous session first, then its oldest
    // handshake, then its least recently active session. Never another source's.
    if (src != nullptr) {
        if (source_handshake_cap_ != 0 && src->handshakes >= source_handshake_cap_ && src->hs.oldest != nullptr)
            handshake_failed(*src->hs.oldest, handshake_result::source_limit);
        if (source_session_cap_ != 0 && src->sessions >= source_session_cap_) {
            if (src->anon.oldest != nullptr)
                end(*src->anon.oldest, end_reason::source_limit, true);
            else if (src->hs.oldest != nullptr)
                handshake_failed(*src->hs.oldest, handshake_result::source_limit);
            else if (src->known.oldest != nullptr)
                end(*src->known.oldest, end_reason::source_limit, true);
        }
    }
    // Handshakes in flight over all: the newcomer's source gives up its own oldest if it
    // has one, else the oldest goes.
    if (handshakes_ >= handshake_cap_) {
        session* victim = src != nullptr && src->hs.oldest != nullptr ? src->hs.oldest : hs_oldest_;
        if (victim != nullptr) handshake_failed(*victim, handshake_result::evicted);
    }
    if (by_id_.size() < session_cap_) return true;
    // Full: an anonymous session goes first (whoever the newcomer is, so a device is never
    // locked out by sessions that proved nothing); else the least recently active session
    // goes if it has been idle long enough; otherwise the newcomer is refused (a flood of
    // new handshakes cannot push out devices that are in use).
    if (evict_anonymous()) return true;
    session* victim = known_.oldest;
    if (victim == nullptr) return false;
    if (victim->last_ns + env_.cfg->stale_session_threshold_ms * ms > now_) return false;
    end(*victim, end_reason::evicted, true);
    return true;
}

session* shard::create(const tern_endpoint& from, int secret, bool dtls13, source_entry* src) noexcept {
    const settings& c = *env_.cfg;
    session* s = nullptr;
    try {
        s = new session;
        s->hs = std::make_unique<handshake_state>();
    } catch (...) {
        delete s;
        return nullptr;
    }
    s->id = (++next_serial_ << 10) | index_;
    s->addr = from;
    s->home = this;
    s->last_ns = now_;
    s->hs->started_ns = now_;
    WOLFSSL* ssl = wolfSSL_new(tls().ctx());
    if (ssl == nullptr) {
        delete s;
        return nullptr;
    }
    s->ssl = ssl;
    wolfSSL_SetIOReadCtx(ssl, s);
    wolfSSL_SetIOWriteCtx(ssl, s);
    wolfSSL_SetCertCbCtx(ssl, s);
    wolfSSL_dtls_set_using_nonblock(ssl, 1);
    sockaddr_storage sa;
    const socklen_t len = udp_io::to_sockaddr(from, family_, sa);
    wolfSSL_dtls_set_peer(ssl, &sa, len);
    wolfSSL_DTLS_SetCookieSecret(ssl, cookie_secrets_[secret], 32);
    wolfSSL_dtls_set_timeout_init(ssl, seconds_of(c.retransmission_timeout_ms));
    wolfSSL_dtls_set_timeout_max(ssl, std::max(seconds_of(c.max_retransmission_timeout_ms),
                                               seconds_of(c.retransmission_timeout_ms)));
#ifdef WOLFSSL_DTLS_MTU
    wolfSSL_dtls_set_mtu(ssl, static_cast<unsigned short>(handshake_mtu(c)));
#endif
#ifdef WOLFSSL_DTLS13
    if (dtls13) wolfSSL_send_hrr_cookie(ssl, cookie_secrets_[0], 32);
#endif
#ifdef WOLFSSL_DTLS_CID
    if (dtls13 && tls().cid()) {
        // CID: our shard's index, then random bytes (unguessable, unique in the shard).
        s->cid_len = static_cast<uint8_t>(c.connection_id_length);
        cid_key k;
        k.len = s->cid_len;
        for (int attempt = 0; attempt < 8; ++attempt) {
            k.bytes[0] = static_cast<uint8_t>(index_);
            if (::getrandom(k.bytes + 1, k.len - 1, 0) != static_cast<ssize_t>(k.len - 1)) continue;
            if (by_cid_.count(k) == 0) break;
        }
        std::memcpy(s->cid, k.bytes, k.len);
        if (wolfSSL_dtls_cid_use(ssl) != WOLFSSL_SUCCESS ||
            wolfSSL_dtls_cid_set(ssl, s->cid, s->cid_len) != WOLFSSL_SUCCESS)
            s->cid_len = 0;
    }
#else
    (void)dtls13;
#endif
    try {
        by_id_.emplace(s->id, s);
        if (s->cid_len != 0) {
            cid_key k;
            k.len = s->cid_len;
            std::memcpy(k.bytes, s->cid, s->cid_len);
            by_cid_[k] = s;
        }
        by_addr_[key_of(from)] = s;
        s->indexed_by_addr = true;
    } catch (...) {
        destroy(*s);
        return nullptr;
    }
    // the newest handshake in flight
    s->hs->older = hs_newest_;
    if (hs_newest_ != nullptr) hs_newest_->hs->newer = s;
    hs_newest_ = s;
    if (hs_oldest_ == nullptr) hs_oldest_ = s;
    ++handshakes_;
    env_.m.handshakes_in_flight.add(1);
    if (src != nullptr) {
        source_busy(*src);
        s->src = src;
        src_push(src->hs, *s);
        ++src->sessions;
        ++src->handshakes;
    }
    return s;
}

void shard::hs_remove(session& s) noexcept {
    if (!s.hs) return;
    session* o = s.hs->older;
    session* n = s.hs->newer;
    if (o != nullptr) o->hs->newer = n; else if (hs_oldest_ == &s) hs_oldest_ = n;
    if (n != nullptr) n->hs->older = o; else if (hs_newest_ == &s) hs_newest_ = o;
    s.hs->older = s.hs->newer = nullptr;
}

void shard::lru_remove(session& s) noexcept {
    session_list& l = s.anonymous ? anon_ : known_;
    if (s.older != nullptr) s.older->newer = s.newer; else if (l.oldest == &s) l.oldest = s.newer;
    if (s.newer != nullptr) s.newer->older = s.older; else if (l.newest == &s) l.newest = s.older;
    s.older = s.newer = nullptr;
    if (s.src != nullptr) src_unlink(s.anonymous ? s.src->anon : s.src->known, s);
}

void shard::lru_push(session& s) noexcept {
    session_list& l = s.anonymous ? anon_ : known_;
    s.older = l.newest;
    s.newer = nullptr;
    if (l.newest != nullptr) l.newest->newer = &s;
    l.newest = &s;
    if (l.oldest == nullptr) l.oldest = &s;
    if (s.src != nullptr) src_push(s.anonymous ? s.src->anon : s.src->known, s);
    // the timer must come back for this session's idle deadline (cheap when it is armed
    // earlier anyway, which is the rule: older sessions expire first)
    const settings& c = *env_.cfg;
    uint64_t at = s.last_ns + c.inactivity_timeout_ms * ms;
    if (s.anonymous) at = std::min(at, s.last_ns + anon_idle_ns_);
    if (c.idle_compact_after_ms != 0) {
        const uint64_t compact_at = std::max(s.last_ns, s.used_ns) + c.idle_compact_after_ms * ms;
        compact_due_ns_ = std::min(compact_due_ns_, compact_at);
        at = std::min(at, compact_at);
    }
    arm(at);
}

void shard::vouch(session& s) noexcept {
    if (!s.anonymous) return;
    lru_remove(s);
    s.anonymous = false;
    lru_push(s);
    env_.m.anonymous_sessions.add(-1);
}

// ---- sources -------------------------------------------------------------------------------

shard::addr_key shard::source_key(const tern_endpoint& ep) const noexcept {
    addr_key k;
    k.bytes[0] = static_cast<uint8_t>(ep.family);
    const bool v6 = ep.family == 6;
    if (v6) std::memcpy(k.bytes + 4, &ep.scope_id, 4);
    const uint32_t prefix = v6 ? env_.cfg->source_prefix_ipv6 : env_.cfg->source_prefix_ipv4;
    const uint32_t size = v6 ? 16 : 4;
    for (uint32_t i = 0; i < size && i * 8 < prefix; ++i) {
        const uint32_t bits = std::min<uint32_t>(8, prefix - i * 8);
        k.bytes[8 + i] = static_cast<uint8_t>(ep.addr[i] & static_cast<uint8_t>(0xff00u >> bits));
    }
    return k;
}

source_entry* shard::source_for(const tern_endpoint& from) noexcept {
    if (!sources_on_) return nullptr;
    const addr_key k = source_key(from);
    if (auto it = sources_.find(k); it != sources_.end()) return &it->second;
    // A new source: the table keeps at most idle_source_cap_ sources without a session
    // (the longest unused go first; each has a session otherwise, so the table is bounded).
    while (idle_sources_ >= idle_source_cap_ && idle_oldest_ != nullptr) source_erase(*idle_oldest_);
    try {
        source_entry& e = sources_.try_emplace(k).first->second;
        std::memcpy(e.key, k.bytes, sizeof e.key);
        e.tokens = burst_;
        e.refilled_ns = now_;
        source_idle(e);
        env_.m.sources.add(1);
        return &e;
    } catch (...) {
        return nullptr;
    }
}

bool shard::take_token(source_entry& e) noexcept {
    if (e.idle) {  // used now: the last of the idle ones to be forgotten
        source_busy(e);
        source_idle(e);
    }
    if (tokens_per_ns_ <= 0) return true;
    e.tokens = std::min(burst_, e.tokens + static_cast<double>(now_ - e.refilled_ns) * tokens_per_ns_);
    e.refilled_ns = now_;
    if (e.tokens < 1.0) return false;
    e.tokens -= 1.0;
    return true;
}

bool shard::bucket_full(const source_entry& e) const noexcept {
    return tokens_per_ns_ <= 0 || e.tokens + static_cast<double>(now_ - e.refilled_ns) * tokens_per_ns_ >= burst_;
}

void shard::source_idle(source_entry& e) noexcept {
    if (e.idle) return;
    e.idle = true;
    e.idle_older = idle_newest_;
    e.idle_newer = nullptr;
    if (idle_newest_ != nullptr) idle_newest_->idle_newer = &e; else idle_oldest_ = &e;
    idle_newest_ = &e;
    ++idle_sources_;
}

void shard::source_busy(source_entry& e) noexcept {
    if (!e.idle) return;
    if (e.idle_older != nullptr) e.idle_older->idle_newer = e.idle_newer; else idle_oldest_ = e.idle_newer;
    if (e.idle_newer != nullptr) e.idle_newer->idle_older = e.idle_older; else idle_newest_ = e.idle_older;
    e.idle_older = e.idle_newer = nullptr;
    e.idle = false;
    --idle_sources_;
}

void shard::source_erase(source_entry& e) noexcept {
    // only sources without a session (none points at it)
    source_busy(e);
    addr_key k;
    std::memcpy(k.bytes, e.key, sizeof k.bytes);
    sources_.erase(k);
    env_.m.sources.add(-1);
}

void shard::destroy(session& s) noexcept {
    by_id_.erase(s.id);
    if (s.indexed_by_addr) {
        auto it = by_addr_.find(key_of(s.addr));
        if (it != by_addr_.end() && it->second == &s) by_addr_.erase(it);
    }
    if (s.cid_len != 0) {
        cid_key k;
        k.len = s.cid_len;
        std::memcpy(k.bytes, s.cid, s.cid_len);
        auto it = by_cid_.find(k);
        if (it != by_cid_.end() && it->second == &s) by_cid_.erase(it);
    }
    if (s.state == session_state::handshake) {
        hs_remove(s);
        --handshakes_;
        env_.m.handshakes_in_flight.add(-1);
        if (s.src != nullptr) {
            src_unlink(s.src->hs, s);
            --s.src->handshakes;
        }
    } else {
        lru_remove(s);
        if (s.anonymous) env_.m.anonymous_sessions.add(-1);
    }
    if (s.src != nullptr && --s.src->sessions == 0) source_idle(*s.src);
    if (s.ssl != nullptr) wolfSSL_free(s.ssl);
    delete &s;
}

void shard::end(session& s, end_reason why, bool notify_peer) noexcept {
    if (s.state != session_state::established) {
        destroy(s);
        return;
    }
    // What the session said before it ended reaches the engine before the end does.
    deliver();
    if (notify_peer && (s.ssl != nullptr || restore(s))) wolfSSL_shutdown(s.ssl);
    const tern_peer p = s.peer();
    in_sink.store(1, std::memory_order_seq_cst);
    if (datagram_sink_v1* sink = env_.sink->load(std::memory_order_seq_cst)) sink->on_session_end(index_, &p);
    in_sink.store(0, std::memory_order_release);
    env_.m.ended[static_cast<size_t>(why)].inc();
    env_.m.sessions.add(-1);
    if (s.blob) env_.m.compact_sessions.add(-1);
    --established_;
    destroy(s);
}

void shard::feed(session& s, const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    if (s.state == session_state::handshake) {
        if (psk_hold(s, data, size)) return;
        s.in = data;
        s.in_len = static_cast<uint32_t>(size);
        const uint64_t id = s.id;
        advance_handshake(s);
        session* again = find(id);
        if (again == nullptr) return;
        again->in = nullptr;
        if (again->state == session_state::established) read_application_data(*again, from);
        return;
    }
    if (s.ssl == nullptr && !restore(s)) {
        end(s, end_reason::error, false);
        return;
    }
    s.in = data;
    s.in_len = static_cast<uint32_t>(size);
    read_application_data(s, from);
}

void shard::advance_handshake(session& s) noexcept {
    const int r = wolfSSL_accept(s.ssl);
    if (r == WOLFSSL_SUCCESS) {
        handshake_done(s);
        return;
    }
    const int err = wolfSSL_get_error(s.ssl, r);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
        if (!(s.hs->dtls13_probe && s.hs->sent_hrr)) schedule(s);
        return;
    }
    if (env_.log.enabled(TERN_LOG_DEBUG)) {
        char text[WOLFSSL_MAX_ERROR_SZ];
        try {
            env_.log.debug("shard ", index_, ": wolfSSL refused the handshake with ", udp_io::to_string(s.addr),
                           ": ", err, " ", wolfSSL_ERR_error_string(static_cast<unsigned long>(err), text));
        } catch (...) {
        }
    }
    handshake_failed(s, s.hs->failure != handshake_result::count_ ? s.hs->failure : classify_error(err));
}

void shard::handshake_failed(session& s, handshake_result why) noexcept {
    env_.m.handshakes[static_cast<size_t>(why)].inc();
    if (env_.log.enabled(TERN_LOG_DEBUG)) {
        try {
            env_.log.debug("shard ", index_, ": handshake with ", udp_io::to_string(s.addr), " failed: ",
                           handshake_result_label(why));
        } catch (...) {
        }
    }
    destroy(s);
}

void shard::handshake_done(session& s) noexcept {
    const bool resumed = wolfSSL_session_reused(s.ssl) == 1;
    const char* version = wolfSSL_get_version(s.ssl);
    s.dtls13 = version != nullptr && std::strcmp(version, "DTLSv1.3") == 0;
    identity_ptr who;
    if (resumed) {
        who = s.hs->resumed_ident;
        if (!who && !s.hs->client_session_id.empty())
            who = env_.identities->session_id(s.hs->client_session_id, now_);
        if (!who) {
            // Resumed from wolfSSL's cache after the plugin forgot who it was: the device
            // must prove itself again with a full handshake.
            env_.m.handshakes[static_cast<size_t>(handshake_result::identity_lost)].inc();
            wolfSSL_shutdown(s.ssl);
            destroy(s);
            return;
        }
    } else {
        who = s.hs->ident ? s.hs->ident : no_identity();
        if (env_.cfg->session_cache && !s.dtls13 && !s.hs->server_session_id.empty())
            env_.identities->add_session_id(s.hs->server_session_id, who, now_);
    }
    env_.m.handshakes[static_cast<size_t>(resumed ? handshake_result::resumed : handshake_result::full)].inc();
    if (resumed) (s.hs->ticket_opened ? env_.m.resumptions_ticket : env_.m.resumptions_cache).inc();
    s.ident = std::move(who);
    hs_remove(s);
    --handshakes_;
    env_.m.handshakes_in_flight.add(-1);
    if (s.src != nullptr) {
        src_unlink(s.src->hs, s);
        --s.src->handshakes;
    }
    s.hs.reset();
    s.state = session_state::established;
    s.last_ns = s.used_ns = now_;
    s.anonymous = s.ident->kind == TERN_AUTH_NONE;
    if (s.anonymous) env_.m.anonymous_sessions.add(1);
    lru_push(s);
    ++established_;
    env_.m.sessions.add(1);
#ifdef WOLFSSL_DTLS_MTU
    // Handshake flights fit the MTU; application records carry whole CoAP messages of up to
    // max_datagram_size (IP fragments them if the path needs it).
    wolfSSL_dtls_set_mtu(s.ssl, static_cast<unsigned short>(env_.cfg->max_datagram_size + record_overhead));
#endif
    if (env_.log.enabled(TERN_LOG_DEBUG)) {
        try {
            env_.log.debug("shard ", index_, ": session ", s.id, " with ", udp_io::to_string(s.addr), ": ",
                           wolfSSL_get_version(s.ssl), " ", wolfSSL_get_cipher_name(s.ssl),
                           resumed ? " (resumed)" : "",
                           s.ident->kind == TERN_AUTH_X509 ? " client certificate"
                           : s.ident->kind == TERN_AUTH_PSK ? " PSK " + s.ident->psk
                                                            : std::string(" no client identity"));
        } catch (...) {
        }
    }
    schedule(s);
}

void shard::read_application_data(session& s, const tern_endpoint& from) noexcept {
    bool any = false;
    const uint32_t limit = env_.cfg->max_datagram_size;
    for (;;) {
        // Asking for one byte more than a datagram may have tells an oversized record
        // apart. (The size asked for also sizes wolfSSL's input buffer, which an idle
        // session keeps: a small ask keeps it small.)
        if (plain_used_ == plain_.size()) deliver();
        uint8_t* slot = plain_arena_.data() + static_cast<size_t>(plain_used_) * (limit + 1);
        const int n = wolfSSL_read(s.ssl, slot, static_cast<int>(limit + 1));
        if (n > 0) {
            if (!any && !same_endpoint(from, s.addr)) move_to(s, from);
            any = true;
            if (static_cast<uint32_t>(n) > limit) {
                // the rest of the record waits in wolfSSL: read and drop it too
                while (wolfSSL_pending(s.ssl) > 0 && wolfSSL_read(s.ssl, read_buf_.data(), static_cast<int>(read_buf_.size())) > 0) {
                }
                count_drop(drop::too_large);
                continue;
            }
            tern_datagram& d = plain_[plain_used_++];
            d.peer = s.peer();
            d.data = tern_bytes{slot, static_cast<size_t>(n)};
            continue;
        }
        const int err = wolfSSL_get_error(s.ssl, n);
        if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) break;
        s.in = nullptr;
        end(s, err == WOLFSSL_ERROR_ZERO_RETURN ? end_reason::close_notify : end_reason::error, false);
        return;
    }
    s.in = nullptr;
    if (any) {
        s.last_ns = s.used_ns = now_;
        lru_remove(s);
        lru_push(s);
    }
    schedule(s);
}

void shard::move_to(session& s, const tern_endpoint& from) noexcept {
    if (s.indexed_by_addr) {
        auto it = by_addr_.find(key_of(s.addr));
        if (it != by_addr_.end() && it->second == &s) by_addr_.erase(it);
    }
    s.addr = from;
    try {
        session*& slot = by_addr_[key_of(from)];
        if (slot != nullptr && slot != &s) slot->indexed_by_addr = false;
        slot = &s;
        s.indexed_by_addr = true;
    } catch (...) {
        s.indexed_by_addr = false;
    }
    env_.m.cid_address_changes.inc();
}

void shard::schedule(session& s) noexcept {
    if (s.ssl == nullptr) return;
    bool want = s.state == session_state::handshake;
#ifdef WOLFSSL_DTLS13
    // DTLS 1.3 retransmits unacknowledged records after the handshake too.
    if (!want && s.dtls13) want = wolfSSL_dtls13_has_pending_msg(s.ssl) != 0;
#endif
    if (!want) {
        s.timer_ns = 0;
        return;
    }
    const int t = wolfSSL_dtls_get_current_timeout(s.ssl);
    const uint64_t at = now_ + static_cast<uint64_t>(std::max(t, 1)) * 1000 * ms;
    if (s.timer_ns == at) return;
    s.timer_ns = at;
    try {
        timers_.emplace(at, s.id);
    } catch (...) {
        return;
    }
    arm(at);
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
    while (!timers_.empty() && timers_.top().first <= now_) {
        const auto [at, id] = timers_.top();
        timers_.pop();
        session* s = find(id);
        if (s == nullptr || s->timer_ns != at || s->ssl == nullptr) continue;
        s->timer_ns = 0;
        if (wolfSSL_dtls_got_timeout(s->ssl) != WOLFSSL_SUCCESS) {
            if (s->state == session_state::handshake) {
                // DTLS drops records that fail authentication silently; a handshake that
                // dies after such drops had keys that disagreed (a wrong PSK).
                handshake_result why = handshake_result::timeout;
                // (an unknown PSK identity answered with a decoy key ends here too)
                if (s->hs && s->hs->failure != handshake_result::count_) why = s->hs->failure;
#ifdef WOLFSSL_DTLS_DROP_STATS
                word32 mac_drops = 0, replay_drops = 0;
                if (why == handshake_result::timeout &&
                    wolfSSL_dtls_get_drop_stats(s->ssl, &mac_drops, &replay_drops) == WOLFSSL_SUCCESS &&
                    mac_drops != 0)
                    why = handshake_result::decrypt_error;
#endif
                handshake_failed(*s, why);
            }
            else
                end(*s, end_reason::error, false);
            continue;
        }
        schedule(*s);
    }
    const settings& c = *env_.cfg;
    const uint64_t idle_ns = c.inactivity_timeout_ms * ms;
    while (known_.oldest != nullptr && known_.oldest->last_ns + idle_ns <= now_)
        end(*known_.oldest, end_reason::inactivity, true);
    const uint64_t anon_ns = std::min(idle_ns, anon_idle_ns_);
    while (anon_.oldest != nullptr && anon_.oldest->last_ns + anon_ns <= now_)
        end(*anon_.oldest, anon_ns < idle_ns ? end_reason::anonymous_idle : end_reason::inactivity, true);
    // sources without a session whose bucket is full again are as good as unknown
    while (idle_oldest_ != nullptr && bucket_full(*idle_oldest_)) source_erase(*idle_oldest_);
    if (c.idle_compact_after_ms != 0 && compact_due_ns_ <= now_ &&
        now_ - compact_scanned_ns_ >= compact_scan_min_gap_ns) {
        // One pass: compact what has been quiet long enough, and note when the next one will
        // be. Sessions are in order of last receipt, but a send (used_ns) or a pending timer
        // can hold one back while newer ones are due, so the pass does not stop early.
        const uint64_t after = c.idle_compact_after_ms * ms;
        uint64_t due = UINT64_MAX;
        size_t compacted = 0;
        for (session* first : {known_.oldest, anon_.oldest}) {
            for (session* s = first; s != nullptr; s = s->newer) {
                if (s->ssl == nullptr || s->dtls13 || s->keep_object) continue;
                const uint64_t at = std::max(s->last_ns, s->used_ns) + after;
                if (at <= now_ && s->timer_ns == 0) {
                    compact(*s);
                    ++compacted;
                } else {
                    due = std::min(due, std::max(at, now_ + ms));
                }
            }
        }
        compact_due_ns_ = due;
        // Each compaction frees ~9 KB in pieces; once a few hundred have been freed, give the
        // pages back to the OS so the resident size (what operators watch) shows the saving.
        compacted_since_trim_ += compacted;
        if (compacted_since_trim_ >= compact_trim_threshold) {
            ::malloc_trim(0);
            compacted_since_trim_ = 0;
        }
        compact_scanned_ns_ = now_;
    }
    if (now_ - cookie_rotated_ns_ >= c.cookie_secret_lifetime_ms * ms) rotate_cookie_secret(now_);
    deliver();
    flush();

    uint64_t next = cookie_rotated_ns_ + c.cookie_secret_lifetime_ms * ms;
    if (!timers_.empty()) next = std::min(next, timers_.top().first);
    if (known_.oldest != nullptr) next = std::min(next, known_.oldest->last_ns + idle_ns);
    if (anon_.oldest != nullptr) next = std::min(next, anon_.oldest->last_ns + anon_ns);
    if (c.idle_compact_after_ms != 0 && compact_due_ns_ != UINT64_MAX)
        next = std::min(next, std::max(compact_due_ns_, compact_scanned_ns_ + compact_scan_min_gap_ns));
    arm(std::max(next, now_ + ms));
}

// ---- PSK -------------------------------------------------------------------------------

bool shard::psk_key(std::string_view identity, std::vector<uint8_t>& key) noexcept {
    auto it = psk_cache_.find(std::string(identity));
    if (it == psk_cache_.end() || it->second.expires_ns <= now_ || !it->second.found) return false;
    try {
        key = it->second.key;
    } catch (...) {
        return false;
    }
    return true;
}

bool shard::psk_hold(session& s, const uint8_t* data, size_t size) noexcept {
    if (!s.hs->psk_awaited.empty()) {
        // Still waiting for the core: keep the client's retransmissions in order.
        if (s.hs->held.size() < max_held_datagrams) {
            try {
                s.hs->held.emplace_back(data, data + size);
            } catch (...) {
            }
        }
        return true;
    }
    if (!tls().psk_enabled() || env_.core == nullptr) return false;
    const auto id = psk_identity(bytes_view{data, size});
    if (!id) return false;
    const char* suite = wolfSSL_get_cipher_name(s.ssl);
    if (suite == nullptr || std::strstr(suite, "PSK") == nullptr) return false;
    // the core answered for this handshake: the callback takes that answer
    if (!s.hs->psk_answered.empty() && s.hs->psk_answered == *id) return false;
    try {
        const std::string identity(*id);
        if (auto it = psk_cache_.find(identity); it != psk_cache_.end() && it->second.expires_ns > now_) {
            env_.m.psk_lookups_hit.inc();
            return false;  // known (or known not to exist): the callback answers at once
        }
        // Ask the core without blocking the shard; the handshake goes on when it answers.
        s.hs->psk_awaited = identity;
        s.hs->held.emplace_back(data, data + size);
        auto* l = new psk_lookup{env_.alive, index_, s.id, identity, TERN_INTERNAL, {}};
        env_.alive->in_flight.fetch_add(1, std::memory_order_acq_rel);
        env_.core->authenticate(TERN_CREDENTIAL_PSK, sdk::to_str(l->identity), &on_psk_found, l);
        return true;
    } catch (...) {
        s.hs->psk_awaited.clear();
        s.hs->held.clear();
        return false;
    }
}

void shard::psk_answer(uint64_t session_id, const std::string& identity, tern_status status,
                       std::vector<uint8_t> key) noexcept {
    now_ = env_.reactor->now_ns();
    const settings& c = *env_.cfg;
    // The handshake that asked takes this answer whatever the cache keeps of it (with
    // psk_cache_ttl = 0, nothing): it must not ask again for its own retry.
    session* s = find(session_id);
    const bool waiting = s != nullptr && s->hs && s->hs->psk_awaited == identity;
    if (waiting) {
        s->hs->psk_awaited.clear();
        try {
            s->hs->psk_answer = status == TERN_OK ? key : std::vector<uint8_t>{};
            s->hs->psk_answered = identity;
        } catch (...) {
            s->hs->psk_answered.clear();
            s->hs->psk_answer.clear();
        }
    }
    try {
        if (psk_cache_.size() >= psk_cache_limit) {
            for (auto it = psk_cache_.begin(); it != psk_cache_.end();)
                it = it->second.expires_ns <= now_ ? psk_cache_.erase(it) : std::next(it);
            if (psk_cache_.size() >= psk_cache_limit) psk_cache_.erase(psk_cache_.begin());
        }
        psk_entry& e = psk_cache_[identity];
        e.found = status == TERN_OK;
        e.key = std::move(key);
        // "No such identity" for psk_negative_cache_ttl (a device added meanwhile is found
        // soon), and backend trouble briefly only: the next handshake asks again.
        e.expires_ns = now_ + (status == TERN_OK          ? c.psk_cache_ttl_ms * ms
                               : status == TERN_NOT_FOUND ? c.psk_negative_cache_ttl_ms * ms
                                                          : ms);
    } catch (...) {
    }
    (status == TERN_OK ? env_.m.psk_lookups_found
                       : status == TERN_NOT_FOUND ? env_.m.psk_lookups_not_found : env_.m.psk_lookups_error)
        .inc();
    if (status != TERN_OK && status != TERN_NOT_FOUND)
        env_.log.warn("PSK identity look-up failed (", sdk::status_name(status), "); the handshake fails");
    if (!waiting) return;
    std::vector<std::vector<uint8_t>> held = std::move(s->hs->held);
    s->hs->held.clear();
    const tern_endpoint from = s->addr;
    for (auto& d : held) {
        s = find(session_id);
        if (s == nullptr) break;
        feed(*s, d.data(), d.size(), from);
    }
    deliver();
    flush();
}

// ---- compact idle sessions -----------------------------------------------------------------

void shard::compact(session& s) noexcept {
#ifdef WOLFSSL_SESSION_EXPORT
    unsigned int size = 0;
    wolfSSL_dtls_export(s.ssl, nullptr, &size);
    std::unique_ptr<uint8_t[]> buf(new (std::nothrow) uint8_t[size]);
    if (!buf) return;
    const int n = wolfSSL_dtls_export(s.ssl, buf.get(), &size);
    if (n <= 0) {
        s.keep_object = true;  // not exportable: do not try every tick
        return;
    }
    std::unique_ptr<uint8_t[]> blob(new (std::nothrow) uint8_t[static_cast<size_t>(n)]);
    if (!blob) return;
    std::memcpy(blob.get(), buf.get(), static_cast<size_t>(n));
    wolfSSL_free(s.ssl);
    s.ssl = nullptr;
    s.blob = std::move(blob);
    s.blob_len = static_cast<uint32_t>(n);
    env_.m.compact_sessions.add(1);
#else
    (void)s;
#endif
}

bool shard::restore(session& s) noexcept {
#ifdef WOLFSSL_SESSION_EXPORT
    if (s.ssl != nullptr) return true;
    if (!s.blob) return false;
    WOLFSSL* ssl = wolfSSL_new(tls().ctx());
    if (ssl == nullptr) return false;
    if (wolfSSL_dtls_import(ssl, s.blob.get(), s.blob_len) <= 0) {
        wolfSSL_free(ssl);
        return false;
    }
    wolfSSL_SetIOReadCtx(ssl, &s);
    wolfSSL_SetIOWriteCtx(ssl, &s);
    wolfSSL_SetCertCbCtx(ssl, &s);
    wolfSSL_dtls_set_using_nonblock(ssl, 1);
#ifdef WOLFSSL_DTLS_MTU
    wolfSSL_dtls_set_mtu(ssl, static_cast<unsigned short>(env_.cfg->max_datagram_size + record_overhead));
#endif
    s.ssl = ssl;
    s.blob.reset();
    s.blob_len = 0;
    env_.m.compact_sessions.add(-1);
    // restored for traffic (either way): compact again once that is quiet
    s.used_ns = now_;
    compact_due_ns_ = std::min(compact_due_ns_, now_ + env_.cfg->idle_compact_after_ms * ms);
    arm(now_ + env_.cfg->idle_compact_after_ms * ms);
    return true;
#else
    (void)s;
    return false;
#endif
}

// ---- sending -----------------------------------------------------------------------------

int shard::emit(session& s, const uint8_t* data, size_t size) noexcept {
    if (s.hs) {
        if (s.hs->dtls13_probe && is_hello_retry_request(data, size)) s.hs->sent_hrr = true;
        // The session ID our ServerHello gives: what wolfSSL's cache will know it by.
        if (s.hs->server_session_id.empty()) {
            if (auto sid = server_hello_session_id(bytes_view{data, size}); sid && !sid->empty()) {
                try {
                    s.hs->server_session_id.assign(sid->begin(), sid->end());
                } catch (...) {
                }
            }
        }
    }
    if (size > tx_slot_) {
        count_drop(drop::send_error, 1, EMSGSIZE);
        return static_cast<int>(size);
    }
    if (tx_.full()) flush();
    uint8_t* slot = tx_arena_.data() + static_cast<size_t>(tx_used_) * tx_slot_;
    std::memcpy(slot, data, size);
    if (!tx_.add(s.addr, family_, slot, size)) {
        count_drop(drop::unreachable, 1, EAFNOSUPPORT);
        return static_cast<int>(size);
    }
    ++tx_used_;
    // wolfSSL treats its send as done: a datagram the socket cannot take is lost, as UDP
    // loses it, and DTLS retransmission recovers handshake flights.
    return static_cast<int>(size);
}

void shard::flush() noexcept {
    if (!tx_.empty()) tx_.flush(fd_, tx_stats_);
    tx_used_ = 0;
    if (tx_stats_.sent != 0) {
        env_.m.datagrams_sent.inc(tx_stats_.sent);
        env_.m.bytes_sent.inc(tx_stats_.bytes);
    }
    if (tx_stats_.failed != 0) count_drop(drop::send_error, tx_stats_.failed, tx_stats_.last_errno);
    if (tx_stats_.would_block != 0) count_drop(drop::would_block, tx_stats_.would_block, tx_stats_.last_errno);
    tx_stats_ = udp_io::send_stats{};
}

void shard::deliver() noexcept {
    if (plain_used_ == 0) return;
    // Dekker-style handshake with attach(nullptr): publish "inside" before reading the
    // sink; the detacher clears the sink before reading "inside".
    in_sink.store(1, std::memory_order_seq_cst);
    datagram_sink_v1* sink = env_.sink->load(std::memory_order_seq_cst);
    if (sink != nullptr)
        sink->on_datagrams(index_, plain_.data(), plain_used_);
    else
        count_drop(drop::no_sink, plain_used_);
    in_sink.store(0, std::memory_order_release);
    plain_used_ = 0;
}

tern_status shard::send(const tern_datagram* batch, uint32_t count) noexcept {
    now_ = env_.reactor->now_ns();
    tern_status status = TERN_OK;
    for (uint32_t i = 0; i < count; ++i) {
        const tern_datagram& d = batch[i];
        session* s = find(d.peer.session);
        if (s == nullptr || s->state != session_state::established) {
            count_drop(drop::send_no_session);
            status = TERN_NOT_FOUND;
            continue;
        }
        if (d.data.size > env_.cfg->max_datagram_size || d.data.size == 0) {
            count_drop(drop::too_large);
            status = TERN_INVALID_ARGUMENT;
            continue;
        }
        if (s->ssl == nullptr && !restore(*s)) {
            end(*s, end_reason::error, false);
            status = TERN_NOT_FOUND;
            continue;
        }
        s->used_ns = now_;
        if (s->anonymous && coap_response_vouches(bytes_view{d.data.data, d.data.size})) vouch(*s);
        const int w = wolfSSL_write(s->ssl, d.data.data, static_cast<int>(d.data.size));
        if (w != static_cast<int>(d.data.size)) {
            count_drop(drop::send_error);
            status = TERN_IO;
        }
        schedule(*s);
    }
    flush();
    return status;
}

tern_status shard::peer_auth(const tern_peer& peer, tern_peer_auth_sink sink, void* ctx) noexcept {
    session* s = find(peer.session);
    if (s == nullptr || s->state != session_state::established) return TERN_NOT_FOUND;
    const identity& who = s->ident ? *s->ident : *no_identity();
    tern_bytes chain[16];
    const size_t n = std::min<size_t>(who.chain_count(), 16);
    for (size_t i = 0; i < n; ++i) {
        const auto c = who.cert(i);
        chain[i] = tern_bytes{c.data(), c.size()};
    }
    tern_peer_auth auth{};
    auth.struct_size = sizeof auth;
    auth.kind = who.kind;
    auth.chain = n != 0 ? chain : nullptr;
    auth.chain_count = static_cast<uint32_t>(n);
    auth.psk_identity = sdk::to_str(who.psk);
    sink(ctx, &auth);
    return TERN_OK;
}

}  // namespace tern::dtls

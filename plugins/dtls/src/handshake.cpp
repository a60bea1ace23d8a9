// Handshakes: the WOLFSSL object a verified ClientHello gets, wolfSSL_accept driven one
// datagram at a time, the certificate verify callback (the client chain kept as the
// session's identity), success (identity, resumption, the session established), failure
// by reason, and the retransmission timers of handshake flights (and of DTLS 1.3 records).
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <span>

#include "chain.hpp"
#include "tern/udp_io/endpoint.hpp"
#include "x509.hpp"

namespace tern::dtls {

namespace {

// RFC 8446 §4.1.3: the random of a HelloRetryRequest.
constexpr uint8_t hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                    0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

int seconds_of(uint64_t ms_value) {
    return static_cast<int>(std::clamp<uint64_t>((ms_value + 999) / 1000, 1, 3600));
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

}  // namespace

// ---- wolfSSL's verify callback ---------------------------------------------------------

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

// ---- the handshake -----------------------------------------------------------------------

bool shard::open_ssl(session* s, const tern_endpoint& from, int secret, bool dtls13) noexcept {
    const settings& c = *env_.cfg;
    WOLFSSL* ssl = wolfSSL_new(tls().ctx());
    if (ssl == nullptr) return false;
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
    if (tls().cid()) {
        // CID (RFC 9146 on DTLS 1.2, RFC 9147 on 1.3): our shard's index, then random bytes
        // (unguessable, unique in the shard). Offered to every client; one that does not
        // negotiate it leaves the index when its handshake completes (handshake_done).
        // The session is indexed by it from the start: on DTLS 1.2 the client's Finished
        // already comes in a tls12_cid record.
        s->cid_len = static_cast<uint8_t>(c.connection_id_length);
        cid_key k;
        k.len = s->cid_len;
        for (int attempt = 0; attempt < 8; ++attempt) {
            k.bytes[0] = static_cast<uint8_t>(index_);
            if (::getrandom(k.bytes + 1, k.len - 1, 0) != static_cast<ssize_t>(k.len - 1)) continue;
            if (!by_cid_.contains(k)) break;
        }
        std::memcpy(s->cid, k.bytes, k.len);
        if (wolfSSL_dtls_cid_use(ssl) != WOLFSSL_SUCCESS ||
            wolfSSL_dtls_cid_set(ssl, s->cid, s->cid_len) != WOLFSSL_SUCCESS)
            s->cid_len = 0;
    }
#endif
    (void)dtls13;
    return true;
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
        if (!who && !s.hs->client_session_id.empty()) {
            who = env_.identities->session_id(s.hs->client_session_id, now_);
            count_identity_lookup(who != nullptr);
        }
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
    ident_bytes_ += identity_heap(*s.ident);
    cid_negotiated(s);
    leave_handshakes(s);
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
                           s.cid_len != 0 ? " CID" : "", resumed ? " (resumed)" : "",
                           s.ident->kind == TERN_AUTH_X509 ? " client certificate"
                           : s.ident->kind == TERN_AUTH_PSK ? " PSK " + s.ident->psk
                                                            : std::string(" no client identity"));
        } catch (...) {
        }
    }
    schedule(s);
}

void shard::cid_negotiated(session& s) noexcept {
    if (s.cid_len == 0) return;
#ifdef WOLFSSL_DTLS_CID
    // wolfSSL drops the extension when the client did not offer it; when it did, the
    // client writes our CID into every record it protects.
    unsigned int rx = 0;
    if (wolfSSL_dtls_cid_is_enabled(s.ssl) == 1 && wolfSSL_dtls_cid_get_rx_size(s.ssl, &rx) == WOLFSSL_SUCCESS &&
        rx == s.cid_len) {
        env_.m.cid_sessions.add(1);
        return;
    }
#endif
    // Not negotiated: found by address only, and compacted when idle like any DTLS 1.2 one.
    cid_unindex(s);
}

void shard::note_flight(session& s, const uint8_t* data, size_t size) noexcept {
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

// ---- retransmissions ---------------------------------------------------------------------

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

void shard::retransmit_due() noexcept {
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
}

}  // namespace tern::dtls

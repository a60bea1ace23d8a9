// Stateless cookies (RFC 6347 §4.2.1): a DTLS 1.2 ClientHello without a valid cookie gets
// a HelloVerifyRequest and leaves no state; a DTLS 1.3 first flight gets wolfSSL's
// stateless HelloRetryRequest. Only a client that proved its address gets a session.
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <wolfssl/wolfcrypt/hmac.h>

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "hash_mix.hpp"
#include "tern/udp_io/endpoint.hpp"

namespace tern::dtls {

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
        if (session* e = existing_id != 0 ? find(existing_id) : nullptr; e != nullptr && e->indexed_by_addr) {
            try {
                by_addr_.put(e);
            } catch (...) {
                e->indexed_by_addr = false;  // found by its CID only, if it has one
            }
        }
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

}  // namespace tern::dtls

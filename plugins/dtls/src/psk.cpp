// PSK identities: looked up in the core without blocking the shard (the handshake's
// datagrams are held meanwhile), cached per shard with a positive and a negative lifetime,
// and handed to wolfSSL by its PSK callback; an unknown identity gets a decoy key.
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <wolfssl/wolfcrypt/hmac.h>

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "hash_mix.hpp"

namespace tern::dtls {

namespace {

constexpr size_t max_held_datagrams = 8;
constexpr size_t psk_cache_limit = 4096;   // entries per shard

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
void on_psk_key(void* ctx, tern_status status, uint64_t, tern_bytes key) noexcept {
    auto* l = static_cast<psk_lookup*>(ctx);
    l->status = status;
    if (status == TERN_OK && key.size != 0) {
        try {
            l->key.assign(key.data, key.data + key.size);
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

}  // namespace

// ---- wolfSSL's PSK callback ------------------------------------------------------------

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

// ---- the look-up and its cache ---------------------------------------------------------

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
        env_.core->psk_key(sdk::to_str(l->identity), &on_psk_key, l);
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

}  // namespace tern::dtls

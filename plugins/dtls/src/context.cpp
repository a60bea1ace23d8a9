#include "context.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
// clang-format on

#include <malloc.h>
#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "session.hpp"
#include "shard.hpp"
#include "tern/sdk/status.hpp"

namespace tern::dtls {

uint64_t monotonic_ns() noexcept {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

namespace {

// The suites offered when the manifest names none: certificate suites with ECDHE (ECDSA
// keys first, RFC 7252's mandatory ECDHE-ECDSA-AES128-CCM-8 among them), then PSK suites
// (RFC 7252's mandatory PSK-AES128-CCM-8 first), then DTLS 1.3's. Names this wolfSSL does
// not know are left out with a warning at start-up.
const char* const default_suites[] = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-CCM-8",
    "ECDHE-ECDSA-AES128-CCM",        "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",   "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",   "ECDHE-RSA-AES128-SHA256",
    "PSK-AES128-CCM-8",              "PSK-AES128-GCM-SHA256",
    "PSK-AES256-GCM-SHA384",         "PSK-AES128-CCM",
    "PSK-CHACHA20-POLY1305",         "PSK-AES128-CBC-SHA256",
    "ECDHE-PSK-AES128-CBC-SHA256",   "ECDHE-PSK-CHACHA20-POLY1305",
    "TLS13-AES128-GCM-SHA256",       "TLS13-AES256-GCM-SHA384",
    "TLS13-CHACHA20-POLY1305-SHA256", "TLS13-AES128-CCM-SHA256",
    "TLS13-AES128-CCM-8-SHA256",
};

bool is_psk_suite(const std::string& s) { return s.find("PSK") != std::string::npos; }
bool is_tls13_suite(const std::string& s) { return s.rfind("TLS13-", 0) == 0; }

// wolfSSL says only that it could not load a file; a file that cannot be opened at all
// (a typo, a relative path from another working directory, permissions) gets the system's
// reason instead.
void check_readable(const char* key, const std::string& file) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (f == nullptr)
        throw sdk::error(TERN_CONFIG, std::string(key) + " '" + file +
                                          "': " + std::system_category().message(errno));
    std::fclose(f);
}

void random_bytes(void* out, size_t n) {
    auto* p = static_cast<uint8_t*>(out);
    while (n > 0) {
        const ssize_t r = ::getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw sdk::error(TERN_INTERNAL, "getrandom() failed");
        }
        p += r;
        n -= static_cast<size_t>(r);
    }
}

int ticket_callback(WOLFSSL* ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                    unsigned char iv[WOLFSSL_TICKET_IV_SZ], unsigned char mac[WOLFSSL_TICKET_MAC_SZ],
                    int enc, unsigned char* ticket, int in_len, int* out_len, void* user) {
    auto* cx = static_cast<context*>(user);
    session* s = session_of(ssl);
    if (cx == nullptr || s == nullptr || s->hs == nullptr) return WOLFSSL_TICKET_RET_FATAL;
    if (enc != 0) {
        identity_ptr who = s->hs->ident ? s->hs->ident : s->hs->resumed_ident;
        if (!who) who = no_identity();
        uint64_t ref = 0;
        try {
            ref = cx->identities().add_ticket(who, monotonic_ns());
        } catch (...) {
        }
        if (ref == 0) return WOLFSSL_TICKET_RET_FATAL;
        return cx->seal_ticket(key_name, iv, mac, ticket, in_len, out_len, ref);
    }
    uint64_t ref = 0;
    const int r = cx->open_ticket(key_name, iv, mac, ticket, in_len, out_len, ref);
    if (r != WOLFSSL_TICKET_RET_OK && r != WOLFSSL_TICKET_RET_CREATE) return r;
    identity_ptr who = cx->identities().ticket(ref, monotonic_ns());
    if (s->home != nullptr) s->home->count_identity_lookup(who != nullptr);
    // The identity this ticket resumes is gone (evicted or expired): a full handshake
    // proves it again rather than resuming a session of unknown identity.
    if (!who) return WOLFSSL_TICKET_RET_REJECT;
    s->hs->resumed_ident = std::move(who);
    s->hs->ticket_opened = true;
    return r;
}

}  // namespace

std::vector<std::string> context::missing_features() {
    std::vector<std::string> missing;
#ifndef WOLFSSL_DTLS13
    missing.emplace_back("DTLS 1.3 (versions = [\"1.3\"] is refused)");
#endif
#ifndef WOLFSSL_DTLS_CID
    missing.emplace_back("DTLS Connection ID (connection_id_length is ignored)");
#endif
#ifndef WOLFSSL_STATIC_PSK
    missing.emplace_back("static-PSK suites (PSK-AES128-CCM-8, RFC 7252's mandatory PSK suite)");
#endif
#ifndef WOLFSSL_DTLS_MTU
    missing.emplace_back("the MTU setter (handshake flights use wolfSSL's built-in MTU)");
#endif
#ifndef WOLFSSL_SESSION_EXPORT
    missing.emplace_back("session export (idle sessions keep their wolfSSL object; idle_compact_after is ignored)");
#endif
#ifndef WOLFSSL_ALWAYS_VERIFY_CB
    missing.emplace_back("the verify callback on verified chains (a client chain that a trust "
                         "store verifies is checked by wolfSSL's dates, not the plugin's)");
#endif
    return missing;
}

bool context::can_export() noexcept {
#ifdef WOLFSSL_SESSION_EXPORT
    return true;
#else
    return false;
#endif
}

// wolfSSL's heap, counted: what its allocations take (usable size and the chunk header),
// for dtls_memory_bytes{table="wolfssl"}. One relaxed atomic per wolfSSL allocation.
#if !defined(WOLFSSL_STATIC_MEMORY) && !defined(WOLFSSL_DEBUG_MEMORY) && !defined(NO_WOLFSSL_MEMORY)
#define TERN_DTLS_COUNT_WOLFSSL_HEAP 1
namespace {
std::atomic<int64_t> wolfssl_heap{0};
int64_t chunk_of(void* p) noexcept { return static_cast<int64_t>(::malloc_usable_size(p) + sizeof(size_t)); }
void* counted_malloc(size_t n) {
    void* p = std::malloc(n);
    if (p != nullptr) wolfssl_heap.fetch_add(chunk_of(p), std::memory_order_relaxed);
    return p;
}
void counted_free(void* p) {
    if (p == nullptr) return;
    wolfssl_heap.fetch_sub(chunk_of(p), std::memory_order_relaxed);
    std::free(p);
}
void* counted_realloc(void* p, size_t n) {
    const int64_t old = p != nullptr ? chunk_of(p) : 0;
    void* q = std::realloc(p, n);
    if (q != nullptr) wolfssl_heap.fetch_add(chunk_of(q) - old, std::memory_order_relaxed);
    else if (n == 0) wolfssl_heap.fetch_sub(old, std::memory_order_relaxed);
    return q;
}
}  // namespace
#endif

int64_t context::heap_bytes() noexcept {
#ifdef TERN_DTLS_COUNT_WOLFSSL_HEAP
    // blocks wolfSSL had before the allocators were installed may be freed through them
    return std::max<int64_t>(0, wolfssl_heap.load(std::memory_order_relaxed));
#else
    return -1;
#endif
}

bool context::global_init() noexcept {
#ifdef TERN_DTLS_COUNT_WOLFSSL_HEAP
    static const bool counted = wolfSSL_SetAllocators(&counted_malloc, &counted_free, &counted_realloc) == 0;
    (void)counted;
#endif
    // wolfSSL's own trace on stderr, for a wolfSSL built with --enable-debug (a no-op in
    // the bundled build).
    if (std::getenv("TERN_DTLS_WOLFSSL_DEBUG") != nullptr) wolfSSL_Debugging_ON();
    return wolfSSL_Init() == WOLFSSL_SUCCESS;
}
void context::global_cleanup() noexcept { wolfSSL_Cleanup(); }

std::string context::library_version() { return LIBWOLFSSL_VERSION_STRING; }

context::context(const settings& cfg, bool psk_available, identity_store& identities, sdk::logger log)
    : cfg_(cfg), identities_(identities), log_(log) {
#ifndef WOLFSSL_DTLS13
    if (cfg_.dtls13)
        throw sdk::error(TERN_CONFIG, "versions lists \"1.3\", but this wolfSSL has no DTLS 1.3 "
                                      "(build with TERN_WOLFSSL=bundled)");
#endif
    dtls13_ = cfg_.dtls13;
#ifdef WOLFSSL_DTLS_CID
    cid_ = cfg_.connection_id_length > 0;  // RFC 9146 on DTLS 1.2, RFC 9147 on 1.3
#endif

    WOLFSSL_METHOD* method = nullptr;
#ifdef WOLFSSL_DTLS13
    if (cfg_.dtls12 && cfg_.dtls13)
        method = wolfDTLS_server_method();
    else if (cfg_.dtls13)
        method = wolfDTLSv1_3_server_method();
    else
#endif
        method = wolfDTLSv1_2_server_method();
    ctx_ = wolfSSL_CTX_new(method);
    if (ctx_ == nullptr) throw sdk::error(TERN_INTERNAL, "wolfSSL_CTX_new failed");
    try {
        if (cfg_.dtls12 && cfg_.dtls13 &&
            wolfSSL_CTX_SetMinVersion(ctx_, WOLFSSL_DTLSV1_2) != WOLFSSL_SUCCESS)
            throw sdk::error(TERN_INTERNAL, "cannot limit the versions to DTLS 1.2 and 1.3");

        load_credentials();
        verify_clients();
        // PSK: identities resolved through the core (the shard caches them).
        psk_ = cfg_.psk && psk_available;
        if (psk_) wolfSSL_CTX_set_psk_server_callback(ctx_, &psk_callback);
        choose_suites();
        // Handshake datagrams fit max_transmission_unit (set per session); the context's
        // MTU sizes wolfSSL's receive buffer, so it must hold the largest datagram fed.
        const uint32_t rx = receive_size(cfg_);
#ifdef WOLFSSL_DTLS_MTU
        wolfSSL_CTX_dtls_set_mtu(ctx_, static_cast<unsigned short>(std::min<uint32_t>(rx, 16384)));
#else
        (void)rx;
#endif

        set_resumption();
        // Several handshake messages per datagram (a flight in one or two datagrams rather
        // than one per message).
        wolfSSL_CTX_set_group_messages(ctx_);
        wolfSSL_CTX_SetIORecv(ctx_, &io_recv);
        wolfSSL_CTX_SetIOSend(ctx_, &io_send);
#ifdef WOLFSSL_SESSION_EXPORT
        if (cfg_.dtls12 && cfg_.dtls13) {
            ctx12_ = wolfSSL_CTX_new(wolfDTLSv1_2_server_method());
            if (ctx12_ == nullptr) throw sdk::error(TERN_INTERNAL, "wolfSSL_CTX_new (DTLS 1.2 imports) failed");
            wolfSSL_CTX_SetIORecv(ctx12_, &io_recv);
            wolfSSL_CTX_SetIOSend(ctx12_, &io_send);
        }
#endif
    } catch (...) {
        wolfSSL_CTX_free(ctx_);
        ctx_ = nullptr;
        if (ctx12_ != nullptr) wolfSSL_CTX_free(ctx12_);
        ctx12_ = nullptr;
        throw;
    }
}

// ---- the constructor's steps ------------------------------------------------------------

void context::load_credentials() {
    if (cfg_.cert_file.empty() && !cfg_.key_file.empty())
        throw sdk::error(TERN_CONFIG, "credentials.key_file is set but credentials.cert_file is "
                                      "empty (set both, or neither for a PSK-only server)");
    if (!cfg_.cert_file.empty()) {
        check_readable("credentials.cert_file", cfg_.cert_file);
        if (wolfSSL_CTX_use_certificate_chain_file(ctx_, cfg_.cert_file.c_str()) != WOLFSSL_SUCCESS)
            throw sdk::error(TERN_CONFIG, "credentials.cert_file '" + cfg_.cert_file +
                                              "': cannot read a PEM certificate chain");
        if (cfg_.key_file.empty())
            throw sdk::error(TERN_CONFIG, "credentials.key_file is empty but cert_file is set");
        check_readable("credentials.key_file", cfg_.key_file);
        if (wolfSSL_CTX_use_PrivateKey_file(ctx_, cfg_.key_file.c_str(), WOLFSSL_FILETYPE_PEM) !=
            WOLFSSL_SUCCESS)
            throw sdk::error(TERN_CONFIG, "credentials.key_file '" + cfg_.key_file +
                                              "': cannot read a PEM private key");
        if (wolfSSL_CTX_check_private_key(ctx_) != WOLFSSL_SUCCESS)
            throw sdk::error(TERN_CONFIG, "credentials.key_file '" + cfg_.key_file +
                                              "' does not match the certificate of '" +
                                              cfg_.cert_file + "'");
    }
}

// Client certificates: asked for, never required (one-way DTLS for token devices).
void context::verify_clients() {
    if (!cfg_.trust_store.empty()) check_readable("x509.trust_store", cfg_.trust_store);
    if (!cfg_.trust_store.empty() &&
        wolfSSL_CTX_load_verify_locations(ctx_, cfg_.trust_store.c_str(), nullptr) != WOLFSSL_SUCCESS)
        throw sdk::error(TERN_CONFIG, "x509.trust_store '" + cfg_.trust_store +
                                          "': cannot read PEM CA certificates");
    wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_PEER, &verify_callback);
}

// The configured (or default) suite names this wolfSSL knows, those of disabled features
// left out.
void context::choose_suites() {
    std::vector<std::string> wanted = cfg_.cipher_suites;
    const bool defaults = wanted.empty();
    if (defaults) wanted.assign(std::begin(default_suites), std::end(default_suites));
    // DTLS 1.3 suites go first: wolfSSL picks in server order, and a DTLS 1.3 client
    // offering older suites too must not be handed one of those (wolfSSL then fails
    // the handshake: "ciphersuite from lesser version").
    std::stable_partition(wanted.begin(), wanted.end(), is_tls13_suite);
    std::vector<std::string> unknown;
    for (const auto& s : wanted) {
        const bool tls13 = is_tls13_suite(s);
        if (tls13 && !cfg_.dtls13) continue;
        if (!tls13 && !cfg_.dtls12) continue;
        if (is_psk_suite(s) && !psk_) continue;
        if (!tls13 && !is_psk_suite(s) && cfg_.cert_file.empty()) continue;
        if (wolfSSL_CTX_set_cipher_list(ctx_, s.c_str()) != WOLFSSL_SUCCESS) {
            unknown.push_back(s);
            continue;
        }
        if (!suites_.empty()) suites_ += ':';
        suites_ += s;
    }
    if (!unknown.empty()) {
        std::string list;
        for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
        if (defaults)
            log_.warn("this wolfSSL lacks some default cipher suites (left out): ", list);
        else
            throw sdk::error(TERN_CONFIG, "cipher_suites: not available in this wolfSSL: " + list);
    }
    if (suites_.empty())
        throw sdk::error(TERN_CONFIG, cfg_.cert_file.empty() && !psk_
                                          ? "no cipher suite is usable: set credentials.cert_file "
                                            "(certificate suites) or enable psk with a core"
                                          : "no configured cipher suite is usable");
    if (wolfSSL_CTX_set_cipher_list(ctx_, suites_.c_str()) != WOLFSSL_SUCCESS)
        throw sdk::error(TERN_CONFIG, "wolfSSL refused the cipher suites " + suites_);
}

void context::set_resumption() {
    // Resumption. wolfSSL's session cache is global to the process; a session one
    // dtls instance made and another resumes finds no identity in the second
    // instance's store and is refused (identity_lost), so instances stay apart.
    // A resumed session takes the identity its full handshake proved; with no room to
    // remember identities (resumption_identities = 0) there is no resumption at all
    // (a ticket could not even be issued, which fails the handshake).
    const bool remember = cfg_.resumption_identities > 0;
    const auto lifetime_s =
        static_cast<unsigned>(std::max<uint64_t>(1, cfg_.resumption_lifetime_ms / 1000));
    wolfSSL_CTX_set_timeout(ctx_, lifetime_s);
    if (!cfg_.session_cache || !remember) wolfSSL_CTX_set_session_cache_mode(ctx_, WOLFSSL_SESS_CACHE_OFF);
    if (cfg_.session_tickets && remember) {
        rotate_ticket_key(monotonic_ns());
        wolfSSL_CTX_set_TicketEncCb(ctx_, &ticket_callback);
        wolfSSL_CTX_set_TicketEncCtx(ctx_, this);
        wolfSSL_CTX_set_TicketHint(ctx_, static_cast<int>(lifetime_s));
    } else {
        wolfSSL_CTX_NoTicketTLSv12(ctx_);
    }
#ifdef WOLFSSL_DTLS13
    // DTLS 1.3 resumption would carry no identity the plugin could restore.
    if (cfg_.dtls13) wolfSSL_CTX_no_ticket_TLSv13(ctx_);
#endif
}

context::~context() {
    if (ctx_ != nullptr) wolfSSL_CTX_free(ctx_);
    if (ctx12_ != nullptr) wolfSSL_CTX_free(ctx12_);
    for (auto& k : ticket_keys_) std::memset(k.key, 0, sizeof k.key);
}

void context::rotate_ticket_key(uint64_t now_ns) {
    ticket_keys_[1] = ticket_keys_[0];
    ticket_keys_[0].generation = ticket_keys_[1].generation + 1;
    random_bytes(ticket_keys_[0].key, sizeof ticket_keys_[0].key);
    ticket_keys_[0].created_ns = now_ns;
}

int context::seal_ticket(uint8_t key_name[16], uint8_t iv[16], uint8_t mac[32], uint8_t* ticket,
                         int len, int* out_len, uint64_t ref) noexcept {
    uint8_t key[32];
    uint32_t generation;
    {
        std::lock_guard lk(ticket_mu_);
        const uint64_t now = monotonic_ns();
        // A key seals tickets for half the lifetime: tickets it sealed stay readable
        // (as the previous key) for at least the other half.
        if (now - ticket_keys_[0].created_ns > cfg_.resumption_lifetime_ms * 1000000 / 2) {
            try {
                rotate_ticket_key(now);
            } catch (...) {
                return WOLFSSL_TICKET_RET_FATAL;
            }
        }
        std::memcpy(key, ticket_keys_[0].key, sizeof key);
        generation = ticket_keys_[0].generation;
    }
    std::memset(key_name, 0, 16);
    std::memcpy(key_name, &generation, 4);
    std::memcpy(key_name + 4, &ref, 8);
    try {
        random_bytes(iv, 16);
    } catch (...) {
        return WOLFSSL_TICKET_RET_FATAL;
    }
    std::memset(mac, 0, 32);
    // key_name (generation and identity reference) is authenticated with the ticket.
    const int r = wc_ChaCha20Poly1305_Encrypt(key, iv, key_name, 16, ticket, static_cast<word32>(len),
                                              ticket, mac);
    std::memset(key, 0, sizeof key);
    if (r != 0) return WOLFSSL_TICKET_RET_FATAL;
    *out_len = len;
    return WOLFSSL_TICKET_RET_OK;
}

int context::open_ticket(const uint8_t key_name[16], const uint8_t iv[16], const uint8_t mac[32],
                         uint8_t* ticket, int len, int* out_len, uint64_t& ref) noexcept {
    uint32_t generation;
    std::memcpy(&generation, key_name, 4);
    std::memcpy(&ref, key_name + 4, 8);
    uint8_t key[32];
    bool previous = false;
    {
        std::lock_guard lk(ticket_mu_);
        if (generation == ticket_keys_[0].generation && ticket_keys_[0].generation != 0) {
            std::memcpy(key, ticket_keys_[0].key, sizeof key);
        } else if (generation == ticket_keys_[1].generation && ticket_keys_[1].generation != 0) {
            std::memcpy(key, ticket_keys_[1].key, sizeof key);
            previous = true;
        } else {
            return WOLFSSL_TICKET_RET_REJECT;
        }
    }
    const int r = wc_ChaCha20Poly1305_Decrypt(key, iv, key_name, 16, ticket, static_cast<word32>(len),
                                              mac, ticket);
    std::memset(key, 0, sizeof key);
    if (r != 0) return WOLFSSL_TICKET_RET_REJECT;
    *out_len = len;
    // Sealed with the previous key: resume, and hand out a ticket under the current one.
    return previous ? WOLFSSL_TICKET_RET_CREATE : WOLFSSL_TICKET_RET_OK;
}

}  // namespace tern::dtls

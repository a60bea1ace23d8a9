// The wolfSSL side of the plugin that every shard shares: the WOLFSSL_CTX (methods,
// server credentials, suites, client certificate policy, PSK, resumption), the session
// ticket keys, and the callbacks wolfSSL calls during a handshake. Only this file and
// session code include wolfSSL headers; none of them includes OpenSSL's.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "identity.hpp"
#include "settings.hpp"
#include "tern/sdk/host.hpp"

struct WOLFSSL;
struct WOLFSSL_CTX;

namespace tern::dtls {

class context {
public:
    // Builds the WOLFSSL_CTX; throws sdk::error (TERN_CONFIG) with the reason when the
    // credentials, the trust store or the suites are unusable. psk_available: a core is
    // there to look PSK identities up.
    context(const settings& cfg, bool psk_available, identity_store& identities, sdk::logger log);
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    WOLFSSL_CTX* ctx() const noexcept { return ctx_; }
    // The context a compacted DTLS 1.2 session is imported into: wolfSSL imports a session
    // only into an object whose version is the exported one, and an object of the context
    // that offers DTLS 1.2 and 1.3 starts as 1.3. So with both versions, a DTLS 1.2-only
    // context (no credentials: the handshake is over) carries the imports.
    WOLFSSL_CTX* restore_ctx() const noexcept { return ctx12_ != nullptr ? ctx12_ : ctx_; }
    const settings& cfg() const noexcept { return cfg_; }
    identity_store& identities() noexcept { return identities_; }
    bool psk_enabled() const noexcept { return psk_; }
    bool dtls13() const noexcept { return dtls13_; }
    bool cid() const noexcept { return cid_; }
    // The suites in use, ':'-separated (for the start-up log).
    const std::string& suites() const noexcept { return suites_; }

    // wolfSSL_Init / wolfSSL_Cleanup (reference-counted by wolfSSL).
    static bool global_init() noexcept;
    // The heap wolfSSL holds in this process now (counted by the allocators global_init
    // installs; -1 when this wolfSSL cannot take them). Shared by every dtls instance.
    static int64_t heap_bytes() noexcept;
    static void global_cleanup() noexcept;
    // Whether sessions can be exported (idle compaction).
    static bool can_export() noexcept;
    // What this wolfSSL lacks of what Tern can use (empty for the bundled build).
    static std::vector<std::string> missing_features();
    static std::string library_version();

    // Ticket protection (the callback wolfSSL calls to seal and open session tickets).
    // Tickets name the identity they resume in their key_name (an identity_store ref),
    // sealed with ChaCha20-Poly1305 under a key rotated every resumption_lifetime.
    int seal_ticket(uint8_t key_name[16], uint8_t iv[16], uint8_t mac[32], uint8_t* ticket,
                    int len, int* out_len, uint64_t ref) noexcept;
    int open_ticket(const uint8_t key_name[16], const uint8_t iv[16], const uint8_t mac[32],
                    uint8_t* ticket, int len, int* out_len, uint64_t& ref) noexcept;

private:
    struct ticket_key {
        uint32_t generation = 0;
        uint8_t key[32] = {};
        uint64_t created_ns = 0;
    };
    void rotate_ticket_key(uint64_t now_ns);
    // The constructor's steps; each throws sdk::error.
    void load_credentials();  // server certificate chain and key
    void verify_clients();    // client certificates: asked for, checked by the verify callback
    void choose_suites();     // suites_ from cipher_suites (or the defaults)
    void set_resumption();    // session cache and tickets

    settings cfg_;
    identity_store& identities_;
    sdk::logger log_;
    WOLFSSL_CTX* ctx_ = nullptr;
    WOLFSSL_CTX* ctx12_ = nullptr;  // restore_ctx() when both versions are offered
    bool psk_ = false;
    bool dtls13_ = false;
    bool cid_ = false;
    std::string suites_;

    std::mutex ticket_mu_;
    ticket_key ticket_keys_[2];  // [0] current, [1] previous
};

// Monotonic nanoseconds (the tickets' clock).
uint64_t monotonic_ns() noexcept;

}  // namespace tern::dtls

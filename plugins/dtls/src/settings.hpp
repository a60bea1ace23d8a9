// The dtls plugin's configuration, read once from the manifest table (dtls_plugin.cpp
// holds the schema and the defaults; README.md documents every key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/udp_io/socket_group.hpp"

namespace tern::dtls {

struct settings {
    udp_io::socket_options socket{"0.0.0.0", 5684, false, 0, 0};
    uint32_t batch_size = 32;
    uint32_t drain_batches = 16;

    bool dtls12 = true;
    bool dtls13 = false;
    std::vector<std::string> cipher_suites;  // wolfSSL names; empty: the built-in default

    // server credentials (PEM); an empty cert_file makes a PSK-only server
    std::string cert_file, key_file;
    // client certificates
    bool skip_validity_check = false;
    std::string trust_store;  // CA bundle (PEM); empty: any chain, identity by hash only

    bool psk = true;            // PSK suites, keys from the core (tern.core/1)
    uint64_t psk_cache_ttl_ms = 30000;
    uint64_t psk_negative_cache_ttl_ms = 5000;  // "no such identity" (and core failures: 1 ms)

    uint64_t retransmission_timeout_ms = 9000;      // first handshake retransmission
    uint64_t max_retransmission_timeout_ms = 60000; // handshake given up past it
    uint32_t mtu = 1024;                 // handshake datagrams fit in it
    uint32_t max_fragment_length = 1024; // largest handshake fragment
    uint32_t max_datagram_size = 2048;   // largest application datagram (CoAP message)
    uint32_t connection_id_length = 8;   // DTLS 1.3 CID (0: none)

    uint64_t inactivity_timeout_ms = 86400000;
    uint64_t stale_session_threshold_ms = 1800000;
    uint64_t idle_compact_after_ms = 60000;  // 0: idle sessions keep their wolfSSL object
    uint32_t max_sessions = 150000;      // over all shards
    uint32_t max_handshakes = 10000;     // over all shards
    uint64_t cookie_secret_lifetime_ms = 60000;

    // Per source: a peer's address cut to these prefixes (README, per-source limits). Caps
    // and rates are over all shards, divided evenly between them; 0 turns one off.
    uint32_t source_prefix_ipv4 = 32;
    uint32_t source_prefix_ipv6 = 64;
    uint32_t max_sessions_per_source = 4096;
    uint32_t max_handshakes_per_source = 64;
    uint32_t handshake_rate_per_source = 50;    // new handshakes per second
    uint32_t handshake_burst_per_source = 200;  // the bucket's size
    uint32_t rate_limited_sources = 65536;      // sources without a session remembered
    // Sessions without a peer identity not (yet) vouched for by a response (README).
    uint64_t anonymous_session_timeout_ms = 300000;

    bool session_cache = true;
    bool session_tickets = true;
    uint64_t resumption_lifetime_ms = 86400000;
    uint32_t resumption_identities = 200000;  // identities kept for resumption
};

// Bytes a record adds to its plaintext at most (DTLS 1.2 header 13, explicit IV 16, MAC
// up to 48, CBC padding up to 16; DTLS 1.3 and AEAD suites add less), rounded up.
constexpr uint32_t record_overhead = 128;

// The largest datagram read from the socket and fed to wolfSSL: a client's handshake
// flights follow its own MTU, so the server takes more than it sends.
inline uint32_t receive_size(const settings& s) {
    uint32_t n = 8192;
    if (s.mtu + record_overhead > n) n = s.mtu + record_overhead;
    if (s.max_datagram_size + record_overhead > n) n = s.max_datagram_size + record_overhead;
    return n;
}

// What wolfSSL is told the MTU is while handshaking: handshake datagrams fit the MTU, and
// handshake fragments are at most max_fragment_length.
inline uint32_t handshake_mtu(const settings& s) {
    const uint32_t frag = s.max_fragment_length + 13 + 12;
    return s.mtu < frag ? s.mtu : frag;
}

}  // namespace tern::dtls

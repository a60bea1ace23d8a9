// The dtls plugin's configuration: the settings struct and its schema, each key declared
// once (tern/sdk/config.hpp): name, member, default, range, unit and doc text. The
// descriptor publishes settings_schema.keys() (the README's table is generated from it) and
// the instance loads the struct with load_settings(); README.md explains every key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/sdk/config.hpp"
#include "tern/sdk/status.hpp"
#include "tern/udp_io/socket_group.hpp"

namespace tern::dtls {

// The socket keys (bind_address, bind_port, ipv6_only, recv_buffer, send_buffer) are
// udp_io's socket_options, which the socket group opens with.
struct settings : udp_io::socket_options {
    uint32_t batch_size{};
    uint32_t drain_batches{};

    std::vector<std::string> versions;       // "1.2", "1.3"
    bool dtls12 = true;                      // from versions (complete())
    bool dtls13 = false;
    std::vector<std::string> cipher_suites;  // wolfSSL names; empty: the built-in default

    // server credentials (PEM); an empty cert_file makes a PSK-only server
    std::string cert_file, key_file;
    // client certificates
    bool skip_validity_check{};
    std::string trust_store;  // CA bundle (PEM); empty: any chain, identity by hash only

    bool psk{};  // PSK suites, keys from the core
    uint64_t psk_cache_ttl_ms{};
    uint64_t psk_negative_cache_ttl_ms{};  // "no such identity" (and core failures: 1 ms)

    uint64_t retransmission_timeout_ms{};      // first handshake retransmission
    uint64_t max_retransmission_timeout_ms{};  // handshake given up past it
    uint32_t mtu{};                  // handshake datagrams fit in it
    uint32_t max_fragment_length{};  // largest handshake fragment
    uint32_t max_datagram_size{};    // largest application datagram (CoAP message)
    uint32_t connection_id_length{}; // CID on DTLS 1.2 and 1.3 (0: none)

    uint64_t inactivity_timeout_ms{};
    uint64_t stale_session_threshold_ms{};
    uint64_t idle_compact_after_ms{};  // 0: idle sessions keep their wolfSSL object
    uint32_t max_sessions{};           // over all shards
    uint32_t max_handshakes{};         // over all shards
    uint64_t cookie_secret_lifetime_ms{};

    // Per source: a peer's address cut to these prefixes (README, per-source limits). Caps
    // and rates are over all shards, divided evenly between them; 0 turns one off.
    uint32_t source_prefix_ipv4{};
    uint32_t source_prefix_ipv6{};
    uint32_t max_sessions_per_source{};
    uint32_t max_handshakes_per_source{};
    uint32_t handshake_rate_per_source{};   // new handshakes per second
    uint32_t handshake_burst_per_source{};  // the bucket's size
    uint32_t rate_limited_sources{};        // sources without a session remembered
    // Sessions without a peer identity not (yet) vouched for by a response (README).
    uint64_t anonymous_session_timeout_ms{};

    bool session_cache{};
    bool session_tickets{};
    uint64_t resumption_lifetime_ms{};
    uint32_t resumption_identities{};  // identities kept for resumption
};

namespace cfg = tern::sdk::cfg;

inline constexpr auto settings_schema = cfg::bind<settings>(
    cfg::string("bind_address", &settings::bind_address, "0.0.0.0",
                "IPv4 or IPv6 address literal to listen on; \"::\" is a dual-stack socket that "
                "also accepts IPv4 (unless ipv6_only). Host names are not accepted"),
    cfg::integer("bind_port", &settings::bind_port, 5684, "UDP port of DTLS; 0 picks a free ephemeral port (logged at start)")
        .range(0, 65535),
    cfg::boolean("ipv6_only", &settings::ipv6_only, false, "With an IPv6 bind_address: refuse IPv4 peers (IPV6_V6ONLY)"),
    cfg::integer("recv_buffer", &settings::recv_buffer, 4194304,
                 "Socket receive buffer (SO_RCVBUF) per socket, room for bursts from many devices "
                 "at once; 0 keeps the OS default. Granted past net.core.rmem_max with "
                 "CAP_NET_ADMIN (root), else a warning is logged when the OS grants less")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("send_buffer", &settings::send_buffer, 0, "Socket send buffer (SO_SNDBUF) per socket; 0 keeps the OS default")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("batch_size", &settings::batch_size, 32, "Datagrams read (recvmmsg) or written (sendmmsg) per system call")
        .range(1, 1024),
    cfg::integer("drain_batches", &settings::drain_batches, 16,
                 "Fairness bound: recvmmsg calls per wake-up before the shard runs its other work")
        .range(1, 1024),
    cfg::strings("versions", &settings::versions, R"(["1.2"])",
                 "DTLS versions offered: \"1.2\", \"1.3\" or both. Both carry Connection IDs "
                 "(connection_id_length); DTLS 1.3 needs the bundled wolfSSL"),
    cfg::strings("cipher_suites", &settings::cipher_suites, "[]",
                 "wolfSSL suite names in order of preference (e.g. ECDHE-ECDSA-AES128-CCM-8, "
                 "PSK-AES128-CCM-8, TLS13-AES128-GCM-SHA256); empty: the built-in list (README). "
                 "PSK suites apply only with psk on, certificate suites only with a cert_file"),
    cfg::string("credentials.type", "PEM",
                "Format of the server credentials: PEM files only. Kept under ThingsBoard's key name so "
                "its settings carry over; nothing reads it")
        .choices("PEM"),
    cfg::string("credentials.cert_file", &settings::cert_file, "",
                 "Server certificate chain, PEM, leaf first. Empty: a PSK-only server")
        .path(),
    cfg::string("credentials.key_file", &settings::key_file, "", "Private key of the server certificate, PEM").path(),
    cfg::boolean("x509.skip_validity_check_for_client_cert", &settings::skip_validity_check, false,
                 "Accept client certificates outside their notBefore/notAfter dates"),
    cfg::string("x509.trust_store", &settings::trust_store, "",
                 "CA certificates (PEM) client chains must verify against; empty: any chain is "
                 "accepted and the device is found by certificate hash (ThingsBoard's behaviour)")
        .path(),
    cfg::boolean("psk", &settings::psk, true,
                 "Offer PSK suites; identities and keys come from the core "
                 "(tern.core.auth/1). Needs a core instance"),
    cfg::integer("psk_cache_ttl", &settings::psk_cache_ttl_ms, 30000,
                 "How long a shard remembers a PSK identity's key (or that it has none) before "
                 "asking the core again; a changed or deleted PSK takes effect within it")
        .range(0, 86400000)
        .unit("ms"),
    cfg::integer("psk_negative_cache_ttl", &settings::psk_negative_cache_ttl_ms, 5000,
                 "How long a shard remembers that the core has no such PSK identity; a device "
                 "added meanwhile can handshake after it")
        .range(0, 86400000)
        .unit("ms"),
    cfg::integer("retransmission_timeout", &settings::retransmission_timeout_ms, 9000,
                 "First handshake retransmission timeout, doubled each time (wolfSSL counts whole "
                 "seconds: rounded up)")
        .range(1, 3600000)
        .unit("ms"),
    cfg::integer("max_retransmission_timeout", &settings::max_retransmission_timeout_ms, 60000,
                 "A handshake whose retransmission timeout would exceed this is given up")
        .range(1000, 3600000)
        .unit("ms"),
    cfg::integer("max_transmission_unit", &settings::mtu, 1024, "Handshake datagrams are fragmented to fit it")
        .range(256, 16384)
        .unit("bytes"),
    cfg::integer("max_fragment_length", &settings::max_fragment_length, 1024, "Largest handshake message fragment")
        .range(64, 16384)
        .unit("bytes"),
    cfg::integer("max_datagram_size", &settings::max_datagram_size, 2048,
                 "Largest application datagram (CoAP message) a session carries either way; the "
                 "record may exceed the MTU (IP fragments it)")
        .range(64, 16000)
        .unit("bytes"),
    cfg::integer("connection_id_length", &settings::connection_id_length, 8,
                 "Length of the Connection IDs the server gives clients that offer the extension, "
                 "DTLS 1.2 (RFC 9146) and 1.3 (first byte: the shard, the rest random); a session "
                 "with one is found by it and follows the device to a new address (README). 0: none; "
                 "1..3 are refused")
        .range(0, 16)
        .unit("bytes"),
    cfg::integer("dtls_session_inactivity_timeout", &settings::inactivity_timeout_ms, 86400000,
                 "A session with nothing received for this long is closed (close_notify sent)")
        .range(1000, 31536000000)
        .unit("ms"),
    cfg::integer("stale_session_threshold", &settings::stale_session_threshold_ms, 1800000,
                 "With max_sessions reached, the least recently active session is evicted for a "
                 "new handshake only if idle this long; otherwise the handshake is refused")
        .range(0, 31536000000)
        .unit("ms"),
    cfg::integer("idle_compact_after", &settings::idle_compact_after_ms, 60000,
                 "A DTLS 1.2 session with no datagram either way for this long gives its wolfSSL object (about 9 KB) up for its exported state, packed "
                 "(about 0.25 KB), re-imported for the next datagram (about 50 us); 0: never. Not DTLS 1.3, nor a "
                 "session whose device asked for a non-empty Connection ID of its own (README)")
        .range(0, 31536000000)
        .unit("ms"),
    cfg::integer("max_sessions", &settings::max_sessions, 150000,
                 "Sessions (established and handshaking) over all shards, divided evenly between "
                 "shards")
        .range(1, 16777216),
    cfg::integer("max_handshakes", &settings::max_handshakes, 10000,
                 "Handshakes in flight over all shards; past it the oldest one is dropped")
        .range(1, 1048576),
    cfg::integer("cookie_secret_lifetime", &settings::cookie_secret_lifetime_ms, 60000,
                 "The stateless cookie secret is replaced this often (the previous one is still "
                 "accepted)")
        .range(1000, 86400000)
        .unit("ms"),
    cfg::integer("source_prefix_ipv4", &settings::source_prefix_ipv4, 32,
                 "Per-source limits count IPv4 peers by this many leading address bits (32: each "
                 "address; 24: each /24)")
        .range(8, 32)
        .unit("bits"),
    cfg::integer("source_prefix_ipv6", &settings::source_prefix_ipv6, 64,
                 "Per-source limits count IPv6 peers by this many leading address bits (64: each /64)")
        .range(16, 128)
        .unit("bits"),
    cfg::integer("max_sessions_per_source", &settings::max_sessions_per_source, 4096,
                 "Sessions (established and handshaking) per source over all shards, divided evenly "
                 "between shards; a new handshake past it closes that source's own least recently "
                 "active anonymous session, else its oldest handshake, else its least recently "
                 "active session. 0: no cap")
        .range(0, 16777216),
    cfg::integer("max_handshakes_per_source", &settings::max_handshakes_per_source, 64,
                 "Handshakes in flight per source over all shards, divided evenly between shards; "
                 "past it that source's own oldest handshake is dropped. 0: no cap")
        .range(0, 1048576),
    cfg::integer("handshake_rate_per_source", &settings::handshake_rate_per_source, 50,
                 "New handshakes a source may start per second (a token bucket per source, divided "
                 "evenly between shards); a ClientHello over it is dropped (the client retransmits "
                 "it). 0: no limit")
        .range(0, 1000000)
        .unit("per second"),
    cfg::integer("handshake_burst_per_source", &settings::handshake_burst_per_source, 200,
                 "Handshakes a source may start at once before handshake_rate_per_source applies")
        .range(1, 1000000),
    cfg::integer("rate_limited_sources", &settings::rate_limited_sources, 65536,
                 "Sources without a session whose handshake rate is remembered, over all shards; "
                 "past it the longest unused are forgotten")
        .range(1, 16777216),
    cfg::integer("anonymous_session_timeout", &settings::anonymous_session_timeout_ms, 300000,
                 "An anonymous session (no client certificate or PSK identity, and no response "
                 "yet that showed an authenticated request: README) with nothing received for this "
                 "long is closed; anonymous sessions are also the first to make room when "
                 "max_sessions is reached")
        .range(1000, 31536000000)
        .unit("ms"),
    cfg::boolean("session_cache", &settings::session_cache, true, "Resumption by session ID (wolfSSL's server-side cache)"),
    cfg::boolean("session_tickets", &settings::session_tickets, true, "Resumption by session tickets (RFC 5077; DTLS 1.2)"),
    cfg::integer("resumption_lifetime", &settings::resumption_lifetime_ms, 86400000,
                 "How long a session may be resumed (ticket lifetime hint, cache timeout)")
        .range(1000, 31536000000)
        .unit("ms"),
    cfg::integer("resumption_identities", &settings::resumption_identities, 200000,
                 "Client identities remembered for resumed sessions (LRU over all shards); a "
                 "resumption whose identity was forgotten falls back to a full handshake. 0: no "
                 "resumption (session_cache and session_tickets are then off)")
        .range(0, 16777216));

// What the schema cannot check, and what follows from the keys: dtls12 and dtls13 from
// versions, and connection_id_length's forbidden 1..3. Throws sdk::error (TERN_CONFIG).
inline void complete(settings& s) {
    s.dtls12 = s.dtls13 = false;
    for (const auto& v : s.versions) {
        if (v == "1.2")
            s.dtls12 = true;
        else if (v == "1.3")
            s.dtls13 = true;
        else
            throw sdk::error(TERN_CONFIG, "versions: '" + v + "' is not a DTLS version Tern serves "
                                          "(\"1.2\", \"1.3\")");
    }
    if (!s.dtls12 && !s.dtls13) throw sdk::error(TERN_CONFIG, "versions is empty: list \"1.2\" and/or \"1.3\"");
    if (s.connection_id_length != 0 && s.connection_id_length < 4)
        throw sdk::error(TERN_CONFIG, "connection_id_length must be 0 (no CID) or 4..16: shorter CIDs "
                                      "would be guessable and collide");
}

// The instance's settings, read from its validated configuration.
inline settings load_settings(const sdk::config& c) {
    settings s = settings_schema.load(c);
    complete(s);
    return s;
}

// The settings of an empty table (the schema's defaults): where tests start.
inline settings default_settings() {
    settings s = settings_schema.defaults();
    complete(s);
    return s;
}

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

// The dtls plugin's descriptor and its glue to the host: config schema, metrics, and the
// transport_v1 it provides. The sessions live in shard.cpp, wolfSSL's set-up in context.cpp.
#include <memory>
#include <string>
#include <string_view>

#include "chain.hpp"
#include "metrics.hpp"
#include "settings.hpp"
#include "tern/abi/core.h"
#include "tern/abi/transport.h"
#include "tern/sdk/plugin.hpp"
#include "transport.hpp"

namespace tern::dtls {
namespace {

namespace cfg = tern::sdk::cfg;

constexpr tern_config_key config_schema[] = {
    cfg::string("bind_address", "0.0.0.0",
                "IPv4 or IPv6 address literal to listen on; \"::\" is a dual-stack socket that "
                "also accepts IPv4 (unless ipv6_only). Host names are not accepted"),
    cfg::integer("bind_port", 5684, "UDP port of DTLS; 0 picks a free ephemeral port (logged at start)")
        .range(0, 65535),
    cfg::boolean("ipv6_only", false, "With an IPv6 bind_address: refuse IPv4 peers (IPV6_V6ONLY)"),
    cfg::integer("recv_buffer", 4194304,
                 "Socket receive buffer (SO_RCVBUF) per socket, room for bursts from many devices "
                 "at once; 0 keeps the OS default. Granted past net.core.rmem_max with "
                 "CAP_NET_ADMIN (root), else a warning is logged when the OS grants less")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("send_buffer", 0, "Socket send buffer (SO_SNDBUF) per socket; 0 keeps the OS default")
        .range(0, 2147483647)
        .unit("bytes"),
    cfg::integer("batch_size", 32, "Datagrams read (recvmmsg) or written (sendmmsg) per system call")
        .range(1, 1024),
    cfg::integer("drain_batches", 16,
                 "Fairness bound: recvmmsg calls per wake-up before the shard runs its other work")
        .range(1, 1024),
    cfg::strings("versions", R"(["1.2"])",
                 "DTLS versions offered: \"1.2\", \"1.3\" or both. DTLS 1.3 brings the Connection ID "
                 "(RFC 9147; wolfSSL has no RFC 9146 CID for DTLS 1.2) and needs the bundled wolfSSL"),
    cfg::strings("cipher_suites", "[]",
                 "wolfSSL suite names in order of preference (e.g. ECDHE-ECDSA-AES128-CCM-8, "
                 "PSK-AES128-CCM-8, TLS13-AES128-GCM-SHA256); empty: the built-in list (README). "
                 "PSK suites apply only with psk on, certificate suites only with a cert_file"),
    cfg::string("credentials.type", "PEM", "Format of the server credentials (PEM files)").choices("PEM"),
    cfg::string("credentials.cert_file", "",
                 "Server certificate chain, PEM, leaf first. Empty: a PSK-only server")
        .path(),
    cfg::string("credentials.key_file", "", "Private key of the server certificate, PEM").path(),
    cfg::boolean("x509.skip_validity_check_for_client_cert", false,
                 "Accept client certificates outside their notBefore/notAfter dates"),
    cfg::string("x509.trust_store", "",
                 "CA certificates (PEM) client chains must verify against; empty: any chain is "
                 "accepted and the device is found by certificate hash (ThingsBoard's behaviour)")
        .path(),
    cfg::boolean("psk", true,
                 "Offer PSK suites; identities and keys come from the core "
                 "(core_v1::authenticate(PSK, identity)). Needs a core instance"),
    cfg::integer("psk_cache_ttl", 30000,
                 "How long a shard remembers a PSK identity's key (or that it has none) before "
                 "asking the core again; a changed or deleted PSK takes effect within it")
        .range(0, 86400000)
        .unit("ms"),
    cfg::integer("psk_negative_cache_ttl", 5000,
                 "How long a shard remembers that the core has no such PSK identity; a device "
                 "added meanwhile can handshake after it")
        .range(0, 86400000)
        .unit("ms"),
    cfg::integer("retransmission_timeout", 9000,
                 "First handshake retransmission timeout, doubled each time (wolfSSL counts whole "
                 "seconds: rounded up)")
        .range(1, 3600000)
        .unit("ms"),
    cfg::integer("max_retransmission_timeout", 60000,
                 "A handshake whose retransmission timeout would exceed this is given up")
        .range(1000, 3600000)
        .unit("ms"),
    cfg::integer("max_transmission_unit", 1024, "Handshake datagrams are fragmented to fit it")
        .range(256, 16384)
        .unit("bytes"),
    cfg::integer("max_fragment_length", 1024, "Largest handshake message fragment")
        .range(64, 16384)
        .unit("bytes"),
    cfg::integer("max_datagram_size", 2048,
                 "Largest application datagram (CoAP message) a session carries either way; the "
                 "record may exceed the MTU (IP fragments it)")
        .range(64, 16000)
        .unit("bytes"),
    cfg::integer("connection_id_length", 8,
                 "Length of the Connection IDs the server asks DTLS 1.3 clients to use (first byte: "
                 "the shard); 0: none. Only with versions including \"1.3\"")
        .range(0, 16)
        .unit("bytes"),
    cfg::integer("dtls_session_inactivity_timeout", 86400000,
                 "A session with nothing received for this long is closed (close_notify sent)")
        .range(1000, 31536000000)
        .unit("ms"),
    cfg::integer("stale_session_threshold", 1800000,
                 "With max_sessions reached, the least recently active session is evicted for a "
                 "new handshake only if idle this long; otherwise the handshake is refused")
        .range(0, 31536000000)
        .unit("ms"),
    cfg::integer("idle_compact_after", 60000,
                 "A DTLS 1.2 session with no datagram either way for this long gives its wolfSSL "
                 "object (about 9 KB) up for its exported state (about 0.7 KB), re-imported for "
                 "the next datagram (about 80 us); 0: never (README, memory)")
        .range(0, 31536000000)
        .unit("ms"),
    cfg::integer("max_sessions", 150000,
                 "Sessions (established and handshaking) over all shards, divided evenly between "
                 "shards")
        .range(1, 16777216),
    cfg::integer("max_handshakes", 10000,
                 "Handshakes in flight over all shards; past it the oldest one is dropped")
        .range(1, 1048576),
    cfg::integer("cookie_secret_lifetime", 60000,
                 "The stateless cookie secret is replaced this often (the previous one is still "
                 "accepted)")
        .range(1000, 86400000)
        .unit("ms"),
    cfg::integer("source_prefix_ipv4", 32,
                 "Per-source limits count IPv4 peers by this many leading address bits (32: each "
                 "address; 24: each /24)")
        .range(8, 32)
        .unit("bits"),
    cfg::integer("source_prefix_ipv6", 64,
                 "Per-source limits count IPv6 peers by this many leading address bits (64: each /64)")
        .range(16, 128)
        .unit("bits"),
    cfg::integer("max_sessions_per_source", 4096,
                 "Sessions (established and handshaking) per source over all shards, divided evenly "
                 "between shards; a new handshake past it closes that source's own least recently "
                 "active anonymous session, else its oldest handshake, else its least recently "
                 "active session. 0: no cap")
        .range(0, 16777216),
    cfg::integer("max_handshakes_per_source", 64,
                 "Handshakes in flight per source over all shards, divided evenly between shards; "
                 "past it that source's own oldest handshake is dropped. 0: no cap")
        .range(0, 1048576),
    cfg::integer("handshake_rate_per_source", 50,
                 "New handshakes a source may start per second (a token bucket per source, divided "
                 "evenly between shards); a ClientHello over it is dropped (the client retransmits "
                 "it). 0: no limit")
        .range(0, 1000000)
        .unit("per second"),
    cfg::integer("handshake_burst_per_source", 200,
                 "Handshakes a source may start at once before handshake_rate_per_source applies")
        .range(1, 1000000),
    cfg::integer("rate_limited_sources", 65536,
                 "Sources without a session whose handshake rate is remembered, over all shards; "
                 "past it the longest unused are forgotten")
        .range(1, 16777216),
    cfg::integer("anonymous_session_timeout", 300000,
                 "An anonymous session (no client certificate or PSK identity, and no response "
                 "yet that showed an authenticated request: README) with nothing received for this "
                 "long is closed; anonymous sessions are also the first to make room when "
                 "max_sessions is reached")
        .range(1000, 31536000000)
        .unit("ms"),
    cfg::boolean("session_cache", true, "Resumption by session ID (wolfSSL's server-side cache)"),
    cfg::boolean("session_tickets", true, "Resumption by session tickets (RFC 5077; DTLS 1.2)"),
    cfg::integer("resumption_lifetime", 86400000,
                 "How long a session may be resumed (ticket lifetime hint, cache timeout)")
        .range(1000, 31536000000)
        .unit("ms"),
    cfg::integer("resumption_identities", 200000,
                 "Client identities remembered for resumed sessions (LRU over all shards); a "
                 "resumption whose identity was forgotten falls back to a full handshake. 0: no "
                 "resumption (session_cache and session_tickets are then off)")
        .range(0, 16777216),
};

constexpr const char* provides[] = {TERN_IID_TRANSPORT_V1};
constexpr tern_requirement requirements[] = {sdk::may_use(TERN_IID_CORE_V1)};

settings read_settings(const sdk::config& c) {
    settings s;
    s.socket.bind_address = std::string(c.get_string("bind_address"));
    s.socket.bind_port = static_cast<uint16_t>(c.get_int("bind_port"));
    s.socket.ipv6_only = c.get_bool("ipv6_only");
    s.socket.recv_buffer = static_cast<int>(c.get_int("recv_buffer"));
    s.socket.send_buffer = static_cast<int>(c.get_int("send_buffer"));
    s.batch_size = static_cast<uint32_t>(c.get_int("batch_size"));
    s.drain_batches = static_cast<uint32_t>(c.get_int("drain_batches"));
    s.dtls12 = s.dtls13 = false;
    for (const auto& v : c.get_strings("versions")) {
        if (v == "1.2")
            s.dtls12 = true;
        else if (v == "1.3")
            s.dtls13 = true;
        else
            throw sdk::error(TERN_CONFIG, "versions: '" + v + "' is not a DTLS version Tern serves "
                                          "(\"1.2\", \"1.3\")");
    }
    if (!s.dtls12 && !s.dtls13) throw sdk::error(TERN_CONFIG, "versions is empty: list \"1.2\" and/or \"1.3\"");
    s.cipher_suites = c.get_strings("cipher_suites");
    s.cert_file = std::string(c.get_string("credentials.cert_file"));
    s.key_file = std::string(c.get_string("credentials.key_file"));
    s.skip_validity_check = c.get_bool("x509.skip_validity_check_for_client_cert");
    s.trust_store = std::string(c.get_string("x509.trust_store"));
    s.psk = c.get_bool("psk");
    s.psk_cache_ttl_ms = static_cast<uint64_t>(c.get_int("psk_cache_ttl"));
    s.psk_negative_cache_ttl_ms = static_cast<uint64_t>(c.get_int("psk_negative_cache_ttl"));
    s.retransmission_timeout_ms = static_cast<uint64_t>(c.get_int("retransmission_timeout"));
    s.max_retransmission_timeout_ms = static_cast<uint64_t>(c.get_int("max_retransmission_timeout"));
    s.mtu = static_cast<uint32_t>(c.get_int("max_transmission_unit"));
    s.max_fragment_length = static_cast<uint32_t>(c.get_int("max_fragment_length"));
    s.max_datagram_size = static_cast<uint32_t>(c.get_int("max_datagram_size"));
    s.connection_id_length = static_cast<uint32_t>(c.get_int("connection_id_length"));
    if (s.connection_id_length != 0 && s.connection_id_length < 4)
        throw sdk::error(TERN_CONFIG, "connection_id_length must be 0 (no CID) or 4..16: shorter CIDs "
                                      "would be guessable and collide");
    s.inactivity_timeout_ms = static_cast<uint64_t>(c.get_int("dtls_session_inactivity_timeout"));
    s.stale_session_threshold_ms = static_cast<uint64_t>(c.get_int("stale_session_threshold"));
    s.idle_compact_after_ms = static_cast<uint64_t>(c.get_int("idle_compact_after"));
    s.max_sessions = static_cast<uint32_t>(c.get_int("max_sessions"));
    s.max_handshakes = static_cast<uint32_t>(c.get_int("max_handshakes"));
    s.cookie_secret_lifetime_ms = static_cast<uint64_t>(c.get_int("cookie_secret_lifetime"));
    s.source_prefix_ipv4 = static_cast<uint32_t>(c.get_int("source_prefix_ipv4"));
    s.source_prefix_ipv6 = static_cast<uint32_t>(c.get_int("source_prefix_ipv6"));
    s.max_sessions_per_source = static_cast<uint32_t>(c.get_int("max_sessions_per_source"));
    s.max_handshakes_per_source = static_cast<uint32_t>(c.get_int("max_handshakes_per_source"));
    s.handshake_rate_per_source = static_cast<uint32_t>(c.get_int("handshake_rate_per_source"));
    s.handshake_burst_per_source = static_cast<uint32_t>(c.get_int("handshake_burst_per_source"));
    s.rate_limited_sources = static_cast<uint32_t>(c.get_int("rate_limited_sources"));
    s.anonymous_session_timeout_ms = static_cast<uint64_t>(c.get_int("anonymous_session_timeout"));
    s.session_cache = c.get_bool("session_cache");
    s.session_tickets = c.get_bool("session_tickets");
    s.resumption_lifetime_ms = static_cast<uint64_t>(c.get_int("resumption_lifetime"));
    s.resumption_identities = static_cast<uint32_t>(c.get_int("resumption_identities"));
    return s;
}

class dtls_instance final : public sdk::instance {
public:
    explicit dtls_instance(const tern_create_args& args) : instance(args) {
        // Read the configuration at create time so the transport exists when the kernel
        // asks for the interface (before any start).
        transport_ = std::make_unique<transport>(log(), host().reactor(), read_settings(config()));
    }

protected:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_TRANSPORT_V1) return static_cast<transport_v1*>(transport_.get());
        return nullptr;
    }

    void on_start() override {
        const sdk::host& h = host();
        counters m;
        m.datagrams_received = h.counter("dtls_datagrams_received_total", "UDP datagrams read from the DTLS sockets");
        m.datagrams_sent = h.counter("dtls_datagrams_sent_total", "UDP datagrams sent by the DTLS transport");
        m.bytes_received = h.counter("dtls_bytes_received_total", "Bytes of the datagrams read");
        m.bytes_sent = h.counter("dtls_bytes_sent_total", "Bytes of the datagrams sent");
        for (size_t i = 0; i < count_of<drop>(); ++i)
            m.drops[i] = h.counter("dtls_drops_total", "Datagrams dropped, by reason", drop_label(static_cast<drop>(i)));
        for (size_t i = 0; i < count_of<handshake_result>(); ++i)
            m.handshakes[i] = h.counter("dtls_handshakes_total", "Handshakes by result and reason",
                                        handshake_result_label(static_cast<handshake_result>(i)));
        for (size_t i = 0; i < count_of<end_reason>(); ++i)
            m.ended[i] = h.counter("dtls_sessions_ended_total", "Established sessions that ended, by reason",
                                   end_reason_label(static_cast<end_reason>(i)));
        for (size_t i = 0; i < std::size(m.chains); ++i) {
            const auto f = static_cast<link_fault>(i);
            const std::string labels = f == link_fault::none
                ? std::string("result=\"proven\",reason=\"none\"")
                : "result=\"cut\",reason=\"" + std::string(link_fault_name(f)) + "\"";
            m.chains[i] = h.counter("dtls_client_chains_total",
                                    "Client chains of more than one certificate: every link proven, or cut where a "
                                    "link failed (only the certificates below it may name a device)",
                                    labels.c_str());
        }
        m.resumptions_ticket = h.counter("dtls_resumptions_total", "Resumed handshakes, by mechanism",
                                         "mechanism=\"ticket\"");
        m.resumptions_cache = h.counter("dtls_resumptions_total", "Resumed handshakes, by mechanism",
                                        "mechanism=\"session_id\"");
        m.cookies_sent = h.counter("dtls_cookies_total", "Stateless cookie exchanges", "result=\"sent\"");
        m.cookies_verified = h.counter("dtls_cookies_total", "Stateless cookie exchanges", "result=\"verified\"");
        m.cookies_failed = h.counter("dtls_cookies_total", "Stateless cookie exchanges", "result=\"invalid\"");
        m.psk_lookups_hit = h.counter("dtls_psk_lookups_total", "PSK identities resolved", "result=\"cached\"");
        m.psk_lookups_found = h.counter("dtls_psk_lookups_total", "PSK identities resolved", "result=\"found\"");
        m.psk_lookups_not_found =
            h.counter("dtls_psk_lookups_total", "PSK identities resolved", "result=\"not_found\"");
        m.psk_lookups_error = h.counter("dtls_psk_lookups_total", "PSK identities resolved", "result=\"error\"");
        m.cid_forwarded = h.counter("dtls_cid_forwarded_total",
                                    "Records whose Connection ID belongs to another shard (posted there)");
        m.cid_address_changes = h.counter("dtls_cid_address_changes_total",
                                          "Sessions that moved to a new address, keeping their Connection ID");
        m.sessions = h.gauge("dtls_sessions", "Established DTLS sessions");
        m.handshakes_in_flight = h.gauge("dtls_handshakes_in_flight", "Handshakes in progress");
        m.compact_sessions = h.gauge("dtls_compact_sessions", "Idle sessions held as exported state");
        m.anonymous_sessions = h.gauge("dtls_anonymous_sessions",
                                       "Established sessions without a peer identity not yet vouched for");
        m.sources = h.gauge("dtls_sources", "Sources tracked for per-source limits");
        core_v1* core = h.find<core_v1>(TERN_IID_CORE_V1);
        transport_->start(m, core);
    }

    void on_stop() noexcept override { transport_->stop(); }

private:
    std::unique_ptr<transport> transport_;
};

}  // namespace
}  // namespace tern::dtls

TERN_PLUGIN(tern::dtls::dtls_instance,
            {.name = "dtls",
             .version = "1.0.0",
             .vendor = "Tern",
             .description = "CoAP over DTLS 1.2 (and 1.3 with Connection ID) with wolfSSL: X.509 and PSK",
             .provides = tern::dtls::provides,
             .requirements = tern::dtls::requirements,
             .config = tern::dtls::config_schema})

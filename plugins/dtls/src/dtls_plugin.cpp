// The dtls plugin's descriptor and its glue to the host: the config schema (settings.hpp),
// metrics, and the transport_v1 it provides. The sessions live in the shard's files
// (README, "Files"), wolfSSL's set-up in context.cpp.
#include <memory>
#include <string>
#include <string_view>

#include "chain.hpp"
#include "metrics.hpp"
#include "settings.hpp"
#include "tern/sdk/core.hpp"
#include "tern/abi/transport.h"
#include "tern/sdk/plugin.hpp"
#include "transport.hpp"

namespace tern::dtls {
namespace {

constexpr const char* provides[] = {TERN_IID_TRANSPORT_V1};
constexpr tern_requirement requirements[] = {sdk::may_use(TERN_IID_CORE_AUTH_V1)};

class dtls_instance final : public sdk::instance {
public:
    explicit dtls_instance(const tern_create_args& args) : instance(args) {
        // Read the configuration at create time so the transport exists when the kernel
        // asks for the interface (before any start).
        transport_ = std::make_unique<transport>(log(), host().reactor(), load_settings(config()));
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
        m.cid_address_changes_refused =
            h.counter("dtls_cid_address_changes_refused_total",
                      "Authenticated DTLS 1.2 records from a new address that did not move their session: "
                      "not newer than a record already accepted (delivered, the address kept)");
        m.sessions = h.gauge("dtls_sessions", "Established DTLS sessions");
        m.handshakes_in_flight = h.gauge("dtls_handshakes_in_flight", "Handshakes in progress");
        m.compact_sessions = h.gauge("dtls_compact_sessions", "Idle sessions held as exported state");
        m.anonymous_sessions = h.gauge("dtls_anonymous_sessions",
                                       "Established sessions without a peer identity not yet vouched for");
        m.sources = h.gauge("dtls_sources", "Sources tracked for per-source limits");
        m.cid_sessions = h.gauge("dtls_cid_sessions", "Established sessions that negotiated a Connection ID");
        for (size_t i = 0; i < count_of<table>(); ++i)
            m.memory[i] = h.gauge("dtls_memory_bytes",
                                  "Bytes a table holds now, from the plugin's accounting (README, Memory); "
                                  "refreshed every second",
                                  table_label(static_cast<table>(i)));
        m.wolfssl_objects = h.gauge("dtls_wolfssl_objects",
                                    "Sessions holding a wolfSSL object (handshaking, or established and not compacted)");
        m.resumption_identities =
            h.gauge("dtls_resumption_identities", "Identities kept for resumed handshakes (resumption_identities)");
        m.psk_cache_entries = h.gauge("dtls_psk_cache_entries", "PSK identities cached by the shards");
        m.identity_found = h.counter("dtls_resumption_identity_lookups_total",
                                     "Resumed handshakes whose identity was looked up (ticket or session ID)",
                                     "result=\"found\"");
        m.identity_forgotten = h.counter("dtls_resumption_identity_lookups_total",
                                         "Resumed handshakes whose identity was looked up (ticket or session ID)",
                                         "result=\"forgotten\"");
        core_auth_v1* core = h.find<core_auth_v1>();
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
             .description = "CoAP over DTLS 1.2 and 1.3 with wolfSSL: X.509, PSK, Connection ID",
             .provides = tern::dtls::provides,
             .requirements = tern::dtls::requirements,
             .config = tern::dtls::settings_schema.keys()})

// The dtls plugin's metrics: handles registered at start (dtls_plugin.cpp) and the label
// sets they are registered under. Every enum below is one label dimension.
#pragma once

#include <cstddef>
#include <cstdint>

#include "memory.hpp"
#include "tern/sdk/host.hpp"

namespace tern::dtls {

// dtls_handshakes_total{result, reason}
enum class handshake_result : uint32_t {
    full,                  // success: a full handshake
    resumed,               // success: an abbreviated one (session cache or ticket)
    timeout,               // the client stopped answering (retransmissions exhausted)
    bad_certificate,       // a client certificate that cannot be read
    certificate_expired,   // outside its validity dates
    untrusted_certificate, // trust_store set and the chain does not verify
    unknown_psk_identity,  // no device has this PSK identity
    decrypt_error,         // keys disagree: a wrong PSK, a corrupt Finished
    peer_alert,            // the client gave up with a fatal alert
    no_shared_cipher,      // nothing the client offers is enabled
    protocol_error,        // anything else wolfSSL refused
    evicted,               // pushed out by newer handshakes (max_handshakes)
    identity_lost,         // resumed, but the identity it resumed is no longer known
    source_limit,          // pushed out by a newer handshake from the same source
    count_
};
constexpr const char* handshake_result_label(handshake_result r) noexcept {
    switch (r) {
        case handshake_result::full: return "result=\"success\",reason=\"full\"";
        case handshake_result::resumed: return "result=\"success\",reason=\"resumed\"";
        case handshake_result::timeout: return "result=\"failure\",reason=\"timeout\"";
        case handshake_result::bad_certificate: return "result=\"failure\",reason=\"bad_certificate\"";
        case handshake_result::certificate_expired: return "result=\"failure\",reason=\"certificate_expired\"";
        case handshake_result::untrusted_certificate: return "result=\"failure\",reason=\"untrusted_certificate\"";
        case handshake_result::unknown_psk_identity: return "result=\"failure\",reason=\"unknown_psk_identity\"";
        case handshake_result::decrypt_error: return "result=\"failure\",reason=\"decrypt_error\"";
        case handshake_result::peer_alert: return "result=\"failure\",reason=\"peer_alert\"";
        case handshake_result::no_shared_cipher: return "result=\"failure\",reason=\"no_shared_cipher\"";
        case handshake_result::protocol_error: return "result=\"failure\",reason=\"protocol_error\"";
        case handshake_result::evicted: return "result=\"failure\",reason=\"evicted\"";
        case handshake_result::identity_lost: return "result=\"failure\",reason=\"identity_lost\"";
        case handshake_result::source_limit: return "result=\"failure\",reason=\"source_limit\"";
        case handshake_result::count_: break;
    }
    return "";
}

// dtls_drops_total{reason}
enum class drop : uint32_t {
    truncated,     // larger than the receive buffers
    no_sink,       // application data while nothing was attached
    would_block,   // socket send buffer full
    send_error,    // any other send failure
    unreachable,   // an IPv6 peer for an IPv4 socket
    recv_error,    // receive errors
    not_dtls,      // not a DTLS record (plain CoAP, garbage)
    no_session,    // a record for no session (and not a ClientHello)
    unknown_cid,   // a record whose Connection ID names no session (DTLS 1.2 or 1.3)
    send_no_session, // the engine sent to a session that is gone or not established
    too_large,     // the engine sent more than max_datagram_size
    shed,          // a handshake refused: the session table is full of active sessions
    rate_limited,  // a ClientHello over its source's handshake rate
    count_
};
constexpr const char* drop_label(drop d) noexcept {
    switch (d) {
        case drop::truncated: return "reason=\"truncated\"";
        case drop::no_sink: return "reason=\"no_sink\"";
        case drop::would_block: return "reason=\"would_block\"";
        case drop::send_error: return "reason=\"send_error\"";
        case drop::unreachable: return "reason=\"unreachable\"";
        case drop::recv_error: return "reason=\"recv_error\"";
        case drop::not_dtls: return "reason=\"not_dtls\"";
        case drop::no_session: return "reason=\"no_session\"";
        case drop::unknown_cid: return "reason=\"unknown_cid\"";
        case drop::send_no_session: return "reason=\"send_no_session\"";
        case drop::too_large: return "reason=\"too_large\"";
        case drop::shed: return "reason=\"shed\"";
        case drop::rate_limited: return "reason=\"rate_limited\"";
        case drop::count_: break;
    }
    return "";
}

// dtls_sessions_ended_total{reason}. (An established session keeps the identity its
// handshake proved until it ends; a resumption whose identity was forgotten never becomes
// a session: handshake_result::identity_lost.)
enum class end_reason : uint32_t {
    close_notify,  // the client closed
    inactivity,    // nothing received for dtls_session_inactivity_timeout
    evicted,       // the oldest idle session made room (max_sessions)
    replaced,      // the same address completed a new handshake
    error,         // a fatal error on an established session
    source_limit,  // made room for a newer session from the same source (max_sessions_per_source)
    anonymous_idle,    // an anonymous session idle for anonymous_session_timeout
    evicted_anonymous, // an anonymous session made room in a full table (max_sessions)
    count_
};
constexpr const char* end_reason_label(end_reason r) noexcept {
    switch (r) {
        case end_reason::close_notify: return "reason=\"close_notify\"";
        case end_reason::inactivity: return "reason=\"inactivity\"";
        case end_reason::evicted: return "reason=\"evicted\"";
        case end_reason::replaced: return "reason=\"replaced\"";
        case end_reason::error: return "reason=\"error\"";
        case end_reason::source_limit: return "reason=\"source_limit\"";
        case end_reason::anonymous_idle: return "reason=\"anonymous_idle\"";
        case end_reason::evicted_anonymous: return "reason=\"evicted_anonymous\"";
        case end_reason::count_: break;
    }
    return "";
}

template <class E>
constexpr size_t count_of() noexcept {
    return static_cast<size_t>(E::count_);
}

struct counters {
    sdk::metric datagrams_received, datagrams_sent, bytes_received, bytes_sent;
    sdk::metric drops[count_of<drop>()];
    sdk::metric handshakes[count_of<handshake_result>()];
    sdk::metric ended[count_of<end_reason>()];
    sdk::metric resumptions_ticket, resumptions_cache;
    sdk::metric cookies_sent, cookies_verified, cookies_failed;
    sdk::metric psk_lookups_hit, psk_lookups_found, psk_lookups_not_found, psk_lookups_error;
    sdk::metric cid_forwarded, cid_address_changes, cid_address_changes_refused;
    sdk::metric sessions, handshakes_in_flight, compact_sessions;
    sdk::metric anonymous_sessions, sources, cid_sessions;
    // dtls_memory_bytes{table}, refreshed by the shards' timers (memory.cpp), and the entry
    // counts not counted above
    sdk::metric memory[count_of<table>()];
    sdk::metric wolfssl_objects, resumption_identities, psk_cache_entries;
    // dtls_resumption_identity_lookups_total{result}: the identity store as a cache
    sdk::metric identity_found, identity_forgotten;
    // dtls_client_chains_total{result, reason}: client chains of more than one certificate,
    // indexed by link_fault (chain.hpp): none = every link proven, else where the walk stopped
    sdk::metric chains[8];
};

}  // namespace tern::dtls

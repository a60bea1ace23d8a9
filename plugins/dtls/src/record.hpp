// What the transport reads of DTLS datagrams before (or instead of) handing them to
// wolfSSL: the record header, the plaintext ClientHello (stateless cookies, resumption,
// offered versions), the PSK identity of a plaintext ClientKeyExchange, the Connection ID
// of a DTLS 1.2 (RFC 9146) or DTLS 1.3 record; and the HelloVerifyRequest it answers with.
// Pure functions over byte spans (RFC 6347 §4.1-4.3, RFC 9146 §4, RFC 9147 §4), no wolfSSL:
// unit-tested on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tern::dtls {

using bytes_view = std::span<const uint8_t>;

enum content_type : uint8_t {
    ct_change_cipher_spec = 20,
    ct_alert = 21,
    ct_handshake = 22,
    ct_application_data = 23,
    ct_heartbeat = 24,
    ct_tls12_cid = 25,  // RFC 9146: a DTLS 1.2 record carrying a Connection ID
};

enum handshake_type : uint8_t {
    hs_client_hello = 1,
    hs_hello_verify_request = 3,
    hs_client_key_exchange = 16,
};

constexpr size_t record_header_size = 13;
constexpr size_t handshake_header_size = 12;
constexpr uint16_t dtls_1_0 = 0xfeff;
constexpr uint16_t dtls_1_2 = 0xfefd;
constexpr uint16_t dtls_1_3 = 0xfefc;

// How the first byte classifies a datagram.
enum class datagram_kind {
    plaintext_record,  // a DTLS 1.0/1.2 record header (content types 20..25)
    unified_header,    // a DTLS 1.3 ciphertext record (0b001CSLEE)
    other,             // not DTLS (plain CoAP, garbage): dropped
};
datagram_kind classify(bytes_view datagram) noexcept;

// A DTLS 1.0/1.2 record header (RFC 6347 §4.1).
struct record_header {
    uint8_t type = 0;
    uint16_t version = 0;
    uint16_t epoch = 0;
    uint64_t sequence = 0;  // 48 bits
    uint16_t length = 0;
    bytes_view fragment;    // the record's body (length bytes)
};
// The first record of datagram; nullopt when it is shorter than its header says.
std::optional<record_header> first_record(bytes_view datagram) noexcept;

// The plaintext ClientHello in a record (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2): the parts
// the stateless cookie covers, and what decides the path taken.
struct client_hello {
    uint64_t record_sequence = 0;
    uint16_t message_seq = 0;
    uint16_t version = 0;     // legacy_version
    bytes_view version_bytes; // the 2 bytes as sent (the cookie covers them)
    bytes_view random;        // 32 bytes
    bytes_view session_id;    // 0..32 bytes
    bytes_view cookie;        // legacy cookie: 0..255 bytes
    bytes_view cipher_suites;
    bytes_view compression;
    bytes_view extensions;    // may be empty
    bool offers_dtls13 = false;   // supported_versions lists DTLS 1.3
    bool has_ticket = false;      // session_ticket extension with a ticket
    bool has_psk_extension = false;  // pre_shared_key (TLS 1.3 PSK or resumption)
    bool has_cookie_extension = false;  // cookie (TLS 1.3: the answer to a HelloRetryRequest)
};
// The ClientHello of a record, when the record is an epoch-0 handshake record holding
// one complete (unfragmented) ClientHello; nullopt otherwise (a fragmented ClientHello
// is not answered statelessly).
std::optional<client_hello> parse_client_hello(const record_header& record) noexcept;

// Writes a HelloVerifyRequest answering hello with cookie into out (RFC 6347 §4.2.1: the
// record and message sequence numbers of the ClientHello, version DTLS 1.0). Returns its
// size, or 0 when out is too small or the cookie is longer than 255 bytes.
size_t write_hello_verify_request(const client_hello& hello, bytes_view cookie,
                                  std::span<uint8_t> out) noexcept;

// The PSK identity of a plaintext ClientKeyExchange of a PSK suite (RFC 4279 §2, 5489 §2:
// every PSK key exchange starts with psk_identity<0..2^16-1>), looked for in every
// epoch-0 handshake record of the datagram. nullopt when there is none, or when the
// message is fragmented.
std::optional<std::string_view> psk_identity(bytes_view datagram) noexcept;

// The session_id of a plaintext ServerHello in the datagram's first record (what the
// server's session cache knows the session by), else nullopt.
std::optional<bytes_view> server_hello_session_id(bytes_view datagram) noexcept;

// What the transport needs of a datagram whose first record is an RFC 9146 one (content
// type tls12_cid): its header is type(1) version(2) epoch(2) sequence(6) cid(cid_len, the
// length the server chose: not on the wire) length(2), then the ciphertext. A datagram may
// carry several records, each with its own header (tls12_cid or plain DTLS 1.2).
struct tls12_cid_datagram {
    bytes_view cid;           // of the first record
    uint64_t oldest = 0;      // the smallest epoch << 48 | sequence of its tls12_cid records
};
// nullopt when the first record is not tls12_cid, when cid_len is 0, or when any record is
// truncated or not a DTLS 1.2 record (garbage): such a datagram is not looked at further.
std::optional<tls12_cid_datagram> tls12_cid_records(bytes_view datagram, size_t cid_len) noexcept;

// The Connection ID of a DTLS 1.3 unified-header record when it carries one (C bit), cid_len
// being the length the server asked for (RFC 9147 §4: the length is not on the wire).
std::optional<bytes_view> unified_header_cid(bytes_view datagram, size_t cid_len) noexcept;

// The ClientHello of the first record when it is one, else nullopt: shorthand for the
// dispatch path.
inline std::optional<client_hello> client_hello_of(bytes_view datagram) noexcept {
    auto r = first_record(datagram);
    if (!r) return std::nullopt;
    return parse_client_hello(*r);
}

// Does this CoAP response (plaintext the engine sends on a session) show that the session
// carries a device's requests? 2.01 Created and 2.04 Changed answer only accepted uploads
// (telemetry, attributes, RPC replies, a granted provisioning), 2.03/2.05 with an Observe
// option only an accepted observation; a 2.05 without Observe (/.well-known/core), 2.31
// Continue and every error do not count, nor does anything malformed (README, per-source
// limits: anonymous sessions).
bool coap_response_vouches(bytes_view message) noexcept;

}  // namespace tern::dtls

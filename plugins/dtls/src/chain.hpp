// How far up a client's certificate chain the links are proven.
//
// A DTLS handshake proves only that the client holds the LEAF's private key. The other
// certificates a client sends are public (DTLS 1.2 sends them in clear), so anyone can
// append a registered CA or intermediate certificate to a leaf of their own. A certificate
// above the leaf may therefore identify a device only when every link from the leaf up to
// it is checked: certificate i+1 is a CA (basicConstraints CA:TRUE, keyCertSign when key
// usage is present, path length honoured), its subject is certificate i's issuer, and its
// public key verifies certificate i's signature. verified_links() walks the chain leaf
// first and stops at the first link that fails; whatever lies above it is never looked up.
//
// This holds with and without a trust store: a trust store proves the chain reaches a
// trusted root, but wolfSSL accepts certificates a client appends when they are trusted
// themselves, so the walk is the same strict one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tern::dtls {

// Why a link failed (for logs and tests): the first failure met walking up.
enum class link_fault {
    none,              // every link verified
    unreadable,        // a certificate wolfSSL cannot parse
    not_a_ca,          // the upper certificate has no basicConstraints CA:TRUE
    no_cert_sign,      // its key usage does not allow signing certificates
    path_too_long,     // its pathLenConstraint is exceeded by the CAs below it
    name_mismatch,     // its subject is not the lower certificate's issuer
    unsupported_algo,  // a signature or key algorithm the plugin does not verify (e.g. SHA-1)
    bad_signature,     // its key does not verify the lower certificate's signature
};
std::string_view link_fault_name(link_fault f) noexcept;

struct chain_walk {
    size_t verified = 1;  // certificates usable as identity: the leaf plus the proven links
    link_fault fault = link_fault::none;
};

// certs: DER certificates, leaf first (at most 16 are looked at). With an empty chain the
// result is {0, none}. Never throws; no allocation beyond wolfSSL's own parsing.
chain_walk verified_links(std::span<const std::span<const uint8_t>> certs) noexcept;

}  // namespace tern::dtls

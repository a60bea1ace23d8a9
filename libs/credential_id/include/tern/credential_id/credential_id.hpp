// The X.509 credential of a device. A certificate is stored as its text -- the standard
// Base64 (padded, no line breaks) of its DER -- and known by its id, the lowercase hex
// SHA3-256 of that text (the definition tern/abi/core.h gives TERN_CREDENTIAL_X509, and
// ThingsBoard's). The DTLS side sees DER and calls x509_text; an operator gives PEM or
// Base64 and the core calls certificate_text; both hash with x509_id, so a certificate
// registered in one form is found from the other.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tern::credential_id {

// Lowercase hex SHA3-256 (FIPS 202) of the bytes; 64 characters. Also ThingsBoard's id of
// MQTT basic credentials. Throws std::length_error for input over 4 GiB and
// std::runtime_error if wolfcrypt fails.
std::string sha3_256_hex(std::string_view data);

// The stored text of a certificate given as DER.
std::string x509_text(std::span<const uint8_t> der);

// The stored text of a certificate given as text: the body of its first PEM block (between
// "-----BEGIN CERTIFICATE-----" and "-----END CERTIFICATE-----") or, without one, the whole
// input; spaces, tabs, CR and LF removed. Nothing else is checked: the caller decides what
// to do with characters outside Base64.
std::string certificate_text(std::string_view pem_or_base64);

// The id of a certificate's stored text.
inline std::string x509_id(std::string_view text) { return sha3_256_hex(text); }

}  // namespace tern::credential_id

// The X.509 credential of spec §7: a client certificate is known by the SHA3-256 hex of the
// standard Base64 text (padded, no line breaks) of its DER, and the stored credential
// value is that text. SHA3 comes from wolfcrypt, kept in its own translation unit
// (sha3.cpp) so no wolfSSL header meets anything else.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tern::device_api {

// The most certificates of a client's chain that are looked up, leaf first: what the dtls
// transport hands over; a longer chain from another transport is cut there, so one
// session's identity costs at most this many core lookups.
constexpr uint32_t max_client_chain = 16;

// RFC 4648 §4 Base64 with '=' padding and no line breaks.
std::string base64(std::span<const uint8_t> data);

// Lowercase hex of SHA3-256 (FIPS 202) over data.
std::string sha3_256_hex(std::string_view data);

}  // namespace tern::device_api

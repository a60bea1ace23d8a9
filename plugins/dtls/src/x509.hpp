// The validity dates of an X.509 certificate (RFC 5280 §4.1.2.5), read from its DER with a
// small bounds-checked walker: the plugin checks client certificate dates itself (docs/device-api.md §7:
// unless skip_validity_check_for_client_cert) whether or not a trust store verifies the
// chain. No wolfSSL here: unit-tested on generated certificates.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace tern::dtls {

struct validity {
    int64_t not_before = 0;  // seconds since the epoch, UTC
    int64_t not_after = 0;
};

// nullopt when der is not a certificate this walker understands.
std::optional<validity> certificate_validity(std::span<const uint8_t> der) noexcept;

enum class date_check { valid, not_yet_valid, expired, unreadable };
date_check check_dates(std::span<const uint8_t> der, int64_t now) noexcept;

}  // namespace tern::dtls

// A small, bounded reader of X.509 certificates in DER (RFC 5280): just enough to tell
// whether a certificate is a CA (basicConstraints cA) and to compare issuer and subject
// names. It checks structure, never signatures or validity. Every read is bounds-checked
// against the input; nesting is fixed by the certificate's grammar (no recursion), and
// inputs over max_certificate_size are refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern::x509_der {

inline constexpr std::size_t max_certificate_size = 64 * 1024;

struct certificate_info {
    int version = 1;                     // 1, 2 or 3
    std::span<const uint8_t> issuer;     // the issuer Name, whole DER element (tag and length)
    std::span<const uint8_t> subject;    // the subject Name, whole DER element
    bool has_basic_constraints = false;  // the extension is present
    bool ca = false;                     // basicConstraints cA is TRUE
    bool self_issued() const noexcept;   // issuer and subject are the same bytes
};

// Reads a DER certificate. The spans in `out` point into `der`. On failure returns false
// and, when `why` is given, a short reason.
bool parse(std::span<const uint8_t> der, certificate_info& out, std::string* why = nullptr);

// Two DER Names compared byte for byte (RFC 5280 §7.1 allows more lenient matching; CAs
// copy the issuer's subject into the certificates they sign, so this is what matters in
// practice).
bool same_name(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept;

// Standard Base64 (RFC 4648 §4) with padding; whitespace is skipped. false on any other
// character, bad padding, or output over max_certificate_size (tern::base64::decode with
// that bound).
bool decode_base64(std::string_view text, std::vector<uint8_t>& out);

}  // namespace tern::x509_der

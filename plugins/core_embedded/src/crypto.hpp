// Hashes, checksums and randomness. wolfCrypt stays inside crypto.cpp: its OpenSSL
// compatibility headers must never share a translation unit with anything else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tern::core_embedded {

// An incremental checksum for OTA packages. Algorithms: MD5, SHA256, SHA384, SHA512,
// CRC32 (IEEE 802.3, printed as 8 lowercase hex digits, big-endian).
class checksum {
public:
    virtual ~checksum() = default;
    virtual void update(const void* data, size_t size) = 0;
    virtual std::string hex() = 0;  // once, at the end
    // nullptr when the algorithm is not supported; name is matched case-insensitively.
    static std::unique_ptr<checksum> make(std::string_view algorithm);
};

// The canonical upper-case name of a supported algorithm, or empty.
std::string checksum_algorithm_name(std::string_view algorithm);

// Cryptographically random bytes (getrandom); throws on failure.
void random_bytes(void* out, size_t size);
// Random [A-Za-z0-9] text (tokens, generated device names).
std::string random_alphanumeric(size_t n);
std::string random_hex(size_t bytes);

std::string to_hex(std::string_view bytes);
// Decodes hex (either case); false on odd length or bad digits.
bool from_hex(std::string_view hex, std::string& out);

// Constant-time comparison (admin key checks).
bool equal_secret(std::string_view a, std::string_view b) noexcept;

}  // namespace tern::core_embedded

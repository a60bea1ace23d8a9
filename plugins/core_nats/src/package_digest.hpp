// package_digest: the checksum of an OTA package's bytes as the core computed it when the
// package was uploaded (MD5, SHA256, SHA384, SHA512 through wolfCrypt, CRC32 here), so that
// the OTA cache can tell a complete copy from a damaged one. wolfSSL's headers stay inside
// package_digest.cpp (its option macros must not leak into other translation units).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tern::core_nats {

class package_digest {
public:
    // nullptr for an algorithm it cannot compute (MURMUR3_32, MURMUR3_128, unknown names):
    // the cache then checks the size only. Names are matched case-insensitively; SHA-256 is
    // SHA256.
    static std::unique_ptr<package_digest> make(std::string_view algorithm);
    virtual ~package_digest() = default;

    // false when wolfCrypt failed (the copy is then treated as damaged).
    virtual bool update(const void* data, std::size_t size) noexcept = 0;
    // Lower-case hex of the digest; empty when wolfCrypt failed. Once, at the end.
    virtual std::string hex() = 0;

    // a and b equal ignoring the case of hex letters.
    static bool same_hex(std::string_view a, std::string_view b) noexcept;
};

}  // namespace tern::core_nats

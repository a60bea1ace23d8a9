// The only translation unit of core_nats that includes wolfSSL headers (package_digest.hpp).
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include "package_digest.hpp"

#include <array>
#include <cstdint>

namespace tern::core_nats {

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool named(std::string_view a, std::string_view name) noexcept {
    if (a.size() != name.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(name[i])) return false;
    return true;
}

std::string to_hex(const uint8_t* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 0x0F]);
    }
    return out;
}

// One wolfCrypt hash: its state type and its init/update/final/free functions.
template <class State, int Size, int (*Init)(State*), int (*Update)(State*, const byte*, word32),
          int (*Final)(State*, byte*), void (*Free)(State*)>
class wolf_digest final : public package_digest {
public:
    wolf_digest() noexcept : ok_(Init(&state_) == 0) {}
    ~wolf_digest() override { Free(&state_); }
    bool update(const void* data, std::size_t size) noexcept override {
        const auto* p = static_cast<const byte*>(data);
        while (ok_ && size > 0) {  // word32 lengths: feed huge buffers in pieces
            const auto n = static_cast<word32>(size > 0x40000000u ? 0x40000000u : size);
            ok_ = Update(&state_, p, n) == 0;
            p += n;
            size -= n;
        }
        return ok_;
    }
    std::string hex() override {
        std::array<uint8_t, Size> out{};
        if (!ok_ || Final(&state_, out.data()) != 0) return {};
        return to_hex(out.data(), out.size());
    }

private:
    State state_{};
    bool ok_;
};

// wc_*Free return void in some wolfSSL versions and int in others; these adapt both.
void md5_free(wc_Md5* s) { wc_Md5Free(s); }
void sha256_free(wc_Sha256* s) { wc_Sha256Free(s); }
void sha384_free(wc_Sha384* s) { wc_Sha384Free(s); }
void sha512_free(wc_Sha512* s) { wc_Sha512Free(s); }

using md5_digest = wolf_digest<wc_Md5, WC_MD5_DIGEST_SIZE, wc_InitMd5, wc_Md5Update, wc_Md5Final, md5_free>;
using sha256_digest =
    wolf_digest<wc_Sha256, WC_SHA256_DIGEST_SIZE, wc_InitSha256, wc_Sha256Update, wc_Sha256Final, sha256_free>;
using sha384_digest =
    wolf_digest<wc_Sha384, WC_SHA384_DIGEST_SIZE, wc_InitSha384, wc_Sha384Update, wc_Sha384Final, sha384_free>;
using sha512_digest =
    wolf_digest<wc_Sha512, WC_SHA512_DIGEST_SIZE, wc_InitSha512, wc_Sha512Update, wc_Sha512Final, sha512_free>;

// CRC-32 of IEEE 802.3 (reflected 0xEDB88320, all-ones start and final xor), written as the
// core writes it: 8 hex digits of the value, most significant first.
class crc32_digest final : public package_digest {
public:
    bool update(const void* data, std::size_t size) noexcept override {
        const auto* p = static_cast<const uint8_t*>(data);
        for (std::size_t i = 0; i < size; ++i) crc_ = table()[(crc_ ^ p[i]) & 0xFFu] ^ (crc_ >> 8);
        return true;
    }
    std::string hex() override {
        const uint32_t v = ~crc_;
        const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                              static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
        return to_hex(b, 4);
    }

private:
    static const std::array<uint32_t, 256>& table() noexcept {
        static const std::array<uint32_t, 256> t = [] {
            std::array<uint32_t, 256> out{};
            for (uint32_t n = 0; n < 256; ++n) {
                uint32_t c = n;
                for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) != 0 ? 0xEDB88320u : 0u);
                out[n] = c;
            }
            return out;
        }();
        return t;
    }
    uint32_t crc_ = 0xFFFFFFFFu;
};

}  // namespace

std::unique_ptr<package_digest> package_digest::make(std::string_view a) {
    if (named(a, "MD5")) return std::make_unique<md5_digest>();
    if (named(a, "SHA256") || named(a, "SHA-256")) return std::make_unique<sha256_digest>();
    if (named(a, "SHA384")) return std::make_unique<sha384_digest>();
    if (named(a, "SHA512")) return std::make_unique<sha512_digest>();
    if (named(a, "CRC32")) return std::make_unique<crc32_digest>();
    return nullptr;
}

bool package_digest::same_hex(std::string_view a, std::string_view b) noexcept { return named(a, b); }

}  // namespace tern::core_nats

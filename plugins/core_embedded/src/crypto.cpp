// The only translation unit that includes wolfSSL headers (see crypto.hpp).
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include "crypto.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <strings.h>
#include <sys/random.h>

namespace tern::core_embedded {

namespace {

const char hex_digits[] = "0123456789abcdef";

std::string hex_of(const uint8_t* p, size_t n) {
    std::string s(n * 2, '0');
    for (size_t i = 0; i < n; ++i) {
        s[2 * i] = hex_digits[p[i] >> 4];
        s[2 * i + 1] = hex_digits[p[i] & 15];
    }
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

void check(int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(std::string("wolfcrypt ") + what + " failed");
}

class md5_sum final : public checksum {
public:
    md5_sum() { check(wc_InitMd5(&h_), "md5 init"); }
    ~md5_sum() override { wc_Md5Free(&h_); }
    void update(const void* d, size_t n) override {
        check(wc_Md5Update(&h_, static_cast<const byte*>(d), static_cast<word32>(n)), "md5");
    }
    std::string hex() override {
        uint8_t out[WC_MD5_DIGEST_SIZE];
        check(wc_Md5Final(&h_, out), "md5 final");
        return hex_of(out, sizeof out);
    }

private:
    wc_Md5 h_;
};

class sha256_sum final : public checksum {
public:
    sha256_sum() { check(wc_InitSha256(&h_), "sha256 init"); }
    ~sha256_sum() override { wc_Sha256Free(&h_); }
    void update(const void* d, size_t n) override {
        check(wc_Sha256Update(&h_, static_cast<const byte*>(d), static_cast<word32>(n)), "sha256");
    }
    std::string hex() override {
        uint8_t out[WC_SHA256_DIGEST_SIZE];
        check(wc_Sha256Final(&h_, out), "sha256 final");
        return hex_of(out, sizeof out);
    }

private:
    wc_Sha256 h_;
};

class sha384_sum final : public checksum {
public:
    sha384_sum() { check(wc_InitSha384(&h_), "sha384 init"); }
    ~sha384_sum() override { wc_Sha384Free(&h_); }
    void update(const void* d, size_t n) override {
        check(wc_Sha384Update(&h_, static_cast<const byte*>(d), static_cast<word32>(n)), "sha384");
    }
    std::string hex() override {
        uint8_t out[WC_SHA384_DIGEST_SIZE];
        check(wc_Sha384Final(&h_, out), "sha384 final");
        return hex_of(out, sizeof out);
    }

private:
    wc_Sha384 h_;
};

class sha512_sum final : public checksum {
public:
    sha512_sum() { check(wc_InitSha512(&h_), "sha512 init"); }
    ~sha512_sum() override { wc_Sha512Free(&h_); }
    void update(const void* d, size_t n) override {
        check(wc_Sha512Update(&h_, static_cast<const byte*>(d), static_cast<word32>(n)), "sha512");
    }
    std::string hex() override {
        uint8_t out[WC_SHA512_DIGEST_SIZE];
        check(wc_Sha512Final(&h_, out), "sha512 final");
        return hex_of(out, sizeof out);
    }

private:
    wc_Sha512 h_;
};

// CRC-32 (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF), table-driven.
class crc32_sum final : public checksum {
public:
    void update(const void* d, size_t n) override {
        static const std::array<uint32_t, 256> table = [] {
            std::array<uint32_t, 256> t{};
            for (uint32_t i = 0; i < 256; ++i) {
                uint32_t c = i;
                for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[i] = c;
            }
            return t;
        }();
        const auto* p = static_cast<const uint8_t*>(d);
        for (size_t i = 0; i < n; ++i) crc_ = table[(crc_ ^ p[i]) & 0xFF] ^ (crc_ >> 8);
    }
    std::string hex() override {
        const uint32_t v = crc_ ^ 0xFFFFFFFFu;
        const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
        return hex_of(b, 4);
    }

private:
    uint32_t crc_ = 0xFFFFFFFFu;
};

}  // namespace

std::string checksum_algorithm_name(std::string_view a) {
    for (const char* n : {"MD5", "SHA256", "SHA384", "SHA512", "CRC32"})
        if (iequals(a, n)) return n;
    if (iequals(a, "SHA-256")) return "SHA256";
    return {};
}

std::unique_ptr<checksum> checksum::make(std::string_view algorithm) {
    const std::string a = checksum_algorithm_name(algorithm);
    if (a == "MD5") return std::make_unique<md5_sum>();
    if (a == "SHA256") return std::make_unique<sha256_sum>();
    if (a == "SHA384") return std::make_unique<sha384_sum>();
    if (a == "SHA512") return std::make_unique<sha512_sum>();
    if (a == "CRC32") return std::make_unique<crc32_sum>();
    return nullptr;
}

void random_bytes(void* out, size_t size) {
    auto* p = static_cast<uint8_t*>(out);
    while (size > 0) {
        const ssize_t n = getrandom(p, size, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
}

std::string random_alphanumeric(size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    s.reserve(n);
    uint8_t buf[64];
    while (s.size() < n) {
        random_bytes(buf, sizeof buf);
        for (uint8_t b : buf) {
            if (b >= 248) continue;  // 248 = 62 * 4: keeps the choice uniform
            s.push_back(alphabet[b % 62]);
            if (s.size() == n) break;
        }
    }
    return s;
}

std::string random_hex(size_t bytes) {
    std::string raw(bytes, '\0');
    random_bytes(raw.data(), raw.size());
    return to_hex(raw);
}

std::string to_hex(std::string_view bytes) {
    return hex_of(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

bool from_hex(std::string_view hex, std::string& out) {
    if (hex.size() % 2 != 0) return false;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    out.clear();
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return true;
}

bool equal_secret(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace tern::core_embedded

// The only translation unit of the library that includes wolfSSL headers: they define
// macros of their own and clash with OpenSSL's.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha3.h>

#include <stdexcept>

#include "tern/credential_id/credential_id.hpp"

namespace tern::credential_id {

std::string sha3_256_hex(std::string_view data) {
    if (data.size() > 0xFFFFFFFFu) throw std::length_error("SHA3-256 input over 4 GiB");
    wc_Sha3 h;
    if (wc_InitSha3_256(&h, nullptr, INVALID_DEVID) != 0)
        throw std::runtime_error("wolfcrypt: SHA3-256 init failed");
    byte out[WC_SHA3_256_DIGEST_SIZE];
    int rc = wc_Sha3_256_Update(&h, reinterpret_cast<const byte*>(data.data()), static_cast<word32>(data.size()));
    if (rc == 0) rc = wc_Sha3_256_Final(&h, out);
    wc_Sha3_256_Free(&h);
    if (rc != 0) throw std::runtime_error("wolfcrypt: SHA3-256 failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(sizeof out * 2, '0');
    for (std::size_t i = 0; i < sizeof out; ++i) {
        s[2 * i] = hex[out[i] >> 4];
        s[2 * i + 1] = hex[out[i] & 15];
    }
    return s;
}

}  // namespace tern::credential_id

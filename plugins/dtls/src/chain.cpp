#include "chain.hpp"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace tern::dtls {

std::string_view link_fault_name(link_fault f) noexcept {
    switch (f) {
        case link_fault::none: return "none";
        case link_fault::unreadable: return "unreadable";
        case link_fault::not_a_ca: return "not_a_ca";
        case link_fault::no_cert_sign: return "no_cert_sign";
        case link_fault::path_too_long: return "path_too_long";
        case link_fault::name_mismatch: return "name_mismatch";
        case link_fault::unsupported_algo: return "unsupported_algo";
        case link_fault::bad_signature: return "bad_signature";
    }
    return "unknown";
}

namespace {

// One certificate parsed by wolfSSL without any verification (the checks are ours).
class parsed {
public:
    parsed() noexcept = default;
    parsed(const parsed&) = delete;
    parsed& operator=(const parsed&) = delete;
    ~parsed() { clear(); }

    bool parse(std::span<const uint8_t> der) noexcept {
        clear();
        if (der.empty() || der.size() > 0xFFFFFFu) return false;
        wc_InitDecodedCert(&cert_, der.data(), static_cast<word32>(der.size()), nullptr);
        live_ = true;
        return wc_ParseCert(&cert_, CERT_TYPE, NO_VERIFY, nullptr) == 0;
    }
    const DecodedCert& operator*() const noexcept { return cert_; }
    const DecodedCert* operator->() const noexcept { return &cert_; }

private:
    void clear() noexcept {
        if (live_) wc_FreeDecodedCert(&cert_);
        live_ = false;
    }
    DecodedCert cert_{};
    bool live_ = false;
};

struct algo {
    wc_HashType hash = WC_HASH_TYPE_NONE;
    wc_SignatureType sig = WC_SIGNATURE_TYPE_NONE;
};

// The signature algorithms a link may use: ECDSA and RSA PKCS#1 v1.5 over SHA-2. SHA-1
// (collisions are practical) and anything else leave the link unproven.
algo algo_of(word32 signature_oid) noexcept {
    switch (signature_oid) {
        case CTC_SHA256wECDSA: return {WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC};
        case CTC_SHA384wECDSA: return {WC_HASH_TYPE_SHA384, WC_SIGNATURE_TYPE_ECC};
        case CTC_SHA512wECDSA: return {WC_HASH_TYPE_SHA512, WC_SIGNATURE_TYPE_ECC};
        case CTC_SHA256wRSA: return {WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_RSA_W_ENC};
        case CTC_SHA384wRSA: return {WC_HASH_TYPE_SHA384, WC_SIGNATURE_TYPE_RSA_W_ENC};
        case CTC_SHA512wRSA: return {WC_HASH_TYPE_SHA512, WC_SIGNATURE_TYPE_RSA_W_ENC};
        default: return {};
    }
}

// Does upper's public key verify lower's signature over lower's TBSCertificate?
link_fault check_signature(const DecodedCert& lower, const DecodedCert& upper) noexcept {
    const algo a = algo_of(lower.signatureOID);
    if (a.sig == WC_SIGNATURE_TYPE_NONE) return link_fault::unsupported_algo;
    if (lower.source == nullptr || lower.signature == nullptr || lower.sigIndex <= lower.certBegin ||
        upper.publicKey == nullptr || upper.pubKeySize == 0)
        return link_fault::unreadable;
    const byte* tbs = lower.source + lower.certBegin;
    const word32 tbs_len = lower.sigIndex - lower.certBegin;

    if (a.sig == WC_SIGNATURE_TYPE_ECC) {
        if (upper.keyOID != ECDSAk) return link_fault::bad_signature;
        ecc_key key;
        if (wc_ecc_init(&key) != 0) return link_fault::unreadable;
        word32 at = 0;
        // wolfSSL keeps an EC key as its SubjectPublicKeyInfo; fall back to the bare point
        int rc = wc_EccPublicKeyDecode(upper.publicKey, &at, &key, upper.pubKeySize);
        if (rc != 0) {
            wc_ecc_free(&key);
            if (wc_ecc_init(&key) != 0) return link_fault::unreadable;
            rc = wc_ecc_import_x963_ex(upper.publicKey, upper.pubKeySize, &key,
                                       wc_ecc_get_oid(upper.pkCurveOID, nullptr, nullptr));
        }
        if (rc == 0)
            rc = wc_SignatureVerify(a.hash, a.sig, tbs, tbs_len, lower.signature, lower.sigLength, &key,
                                    sizeof key);
        wc_ecc_free(&key);
        return rc == 0 ? link_fault::none : link_fault::bad_signature;
    }

    if (upper.keyOID != RSAk) return link_fault::bad_signature;
    RsaKey key;
    if (wc_InitRsaKey(&key, nullptr) != 0) return link_fault::unreadable;
    word32 at = 0;
    int rc = wc_RsaPublicKeyDecode(upper.publicKey, &at, &key, upper.pubKeySize);
    if (rc == 0)
        rc = wc_SignatureVerify(a.hash, a.sig, tbs, tbs_len, lower.signature, lower.sigLength, &key,
                                sizeof key);
    wc_FreeRsaKey(&key);
    return rc == 0 ? link_fault::none : link_fault::bad_signature;
}

// Is `upper` (at position `at` >= 1 of the chain, so at - 1 CA certificates lie between it
// and the leaf) a CA allowed to have issued `lower`, and did it?
link_fault check_link(const DecodedCert& lower, const DecodedCert& upper, size_t at) noexcept {
    if (!upper.extBasicConstSet || !upper.isCA) return link_fault::not_a_ca;
    if (upper.extKeyUsageSet && (upper.extKeyUsage & KEYUSE_KEY_CERT_SIGN) == 0) return link_fault::no_cert_sign;
    if (upper.pathLengthSet && at - 1 > upper.pathLength) return link_fault::path_too_long;
    if (std::memcmp(upper.subjectHash, lower.issuerHash, sizeof upper.subjectHash) != 0)
        return link_fault::name_mismatch;
    return check_signature(lower, upper);
}

}  // namespace

chain_walk verified_links(std::span<const std::span<const uint8_t>> certs) noexcept {
    const size_t n = std::min<size_t>(certs.size(), 16);
    if (n == 0) return {0, link_fault::none};
    if (n == 1) return {1, link_fault::none};
    parsed a, b;
    parsed* lower = &a;
    parsed* upper = &b;
    if (!lower->parse(certs[0])) return {1, link_fault::unreadable};
    for (size_t i = 1; i < n; ++i) {
        if (!upper->parse(certs[i])) return {i, link_fault::unreadable};
        const link_fault f = check_link(**lower, **upper, i);
        if (f != link_fault::none) return {i, f};
        std::swap(lower, upper);
    }
    return {n, link_fault::none};
}

}  // namespace tern::dtls

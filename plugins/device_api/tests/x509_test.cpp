// Spec §7: the X.509 credential id is SHA3-256 hex of the certificate's Base64 DER text, as
// the device API computes it from a DTLS client's chain (libs/credential_id).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tern/credential_id/credential_id.hpp"

using tern::credential_id::sha3_256_hex;

std::string base64(std::span<const uint8_t> der) { return tern::credential_id::x509_text(der); }

namespace {

std::vector<uint8_t> from_base64(const std::string& s) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        const int v = val(c);
        if (v < 0) continue;
        acc = acc << 6 | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>(acc >> bits));
        }
    }
    return out;
}

std::string b64(std::string_view s) {
    return base64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

// A self-signed P-256 certificate (openssl req -x509 ... -subj /CN=device-1): its PEM body
// without newlines, and `printf %s BODY | openssl dgst -sha3-256`.
const std::string cert_b64 =
    "MIIBfDCCASGgAwIBAgIUB5fJ8Wf+zUgd98h8nP0KAmoefsMwCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIZGV2aWNlLTEwHhcN"
    "MjYxMTI1MTUyNjU0WhcNMzYxMTIyMTUyNjU0WjATMREwDwYDVQQDDAhkZXZpY2UtMTBZMBMGByqGSM49AgEGCCqGSM49AwEH"
    "A0IABHq73Swa9N1bFwl7ydfn2f/9UcE/DnSwz8+P6mA70xBs+Uefu8QCnQjFFK57lOkMaVhvSFgG6v4WV3PpgsaIdEGjUzBR"
    "MB0GA1UdDgQWBBTlQT7jGdJO0aENiKfivrjtnwCZnDAfBgNVHSMEGDAWgBTlQT7jGdJO0aENiKfivrjtnwCZnDAPBgNVHRMB"
    "Af8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDmXUdiQd4s1KOST+9y0NDqBWxAS0vVR+joWyS2VISfsgIhAMzCq+p5LV8c"
    "gjwwwP+HO3fJuDLihQzyAVc5ymdhjfdU";
const char* cert_sha3 = "0f0bca17788771bd61e7132afd76335c7a201cb555177a2f9369d96d7bde0009";

}  // namespace

TEST_CASE("base64: RFC 4648 test vectors", "[x509]") {
    CHECK(b64("") == "");
    CHECK(b64("f") == "Zg==");
    CHECK(b64("fo") == "Zm8=");
    CHECK(b64("foo") == "Zm9v");
    CHECK(b64("foob") == "Zm9vYg==");
    CHECK(b64("fooba") == "Zm9vYmE=");
    CHECK(b64("foobar") == "Zm9vYmFy");
    const uint8_t bin[] = {0x30, 0x82, 0x01, 0x0a, 0xff, 0x00};
    CHECK(base64(bin) == "MIIBCv8A");
}

TEST_CASE("sha3-256: FIPS 202 known answers", "[x509]") {
    CHECK(sha3_256_hex("") == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    CHECK(sha3_256_hex("abc") == "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
}

TEST_CASE("x509 credential id of a real certificate", "[x509]") {
    const std::vector<uint8_t> der = from_base64(cert_b64);
    REQUIRE(der.size() == 384);
    // What the DTLS leaf (DER) becomes: the PEM body on one line, hashed.
    const std::string text = base64(der);
    CHECK(text == cert_b64);
    CHECK(sha3_256_hex(text) == cert_sha3);
}

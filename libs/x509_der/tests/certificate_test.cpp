// The DER reader on real certificates (openssl-made, test_certs.hpp) and on broken,
// truncated and hostile inputs: it must answer, never read out of bounds.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "tern/x509_der/certificate.hpp"
#include "test_certs.hpp"

using namespace tern::x509_der;

namespace {

std::vector<uint8_t> der_of(const char* b64) {
    std::vector<uint8_t> out;
    REQUIRE(decode_base64(b64, out));
    return out;
}

std::string text(std::span<const uint8_t> s) { return std::string(s.begin(), s.end()); }

}  // namespace

TEST_CASE("a CA certificate has basicConstraints cA TRUE", "[x509_der]") {
    const auto der = der_of(test::fleet_ca);
    certificate_info c;
    std::string why;
    REQUIRE(parse(der, c, &why));
    CHECK(c.version == 3);
    CHECK(c.has_basic_constraints);
    CHECK(c.ca);
    CHECK(c.self_issued());
    CHECK(text(c.subject).find("Fleet CA") != std::string::npos);
}

TEST_CASE("a leaf names its issuer, which is the CA's subject", "[x509_der]") {
    const auto ca_der = der_of(test::fleet_ca);
    const auto leaf_der = der_of(test::fleet_leaf);
    certificate_info ca, leaf;
    REQUIRE(parse(ca_der, ca));
    REQUIRE(parse(leaf_der, leaf));
    CHECK(leaf.has_basic_constraints);
    CHECK_FALSE(leaf.ca);
    CHECK_FALSE(leaf.self_issued());
    CHECK(same_name(leaf.issuer, ca.subject));
    CHECK_FALSE(same_name(leaf.subject, ca.subject));
}

TEST_CASE("a self-signed device certificate with CA:FALSE is no CA", "[x509_der]") {
    const auto der = der_of(test::self_signed_device);
    certificate_info c;
    REQUIRE(parse(der, c));
    CHECK(c.has_basic_constraints);
    CHECK_FALSE(c.ca);
    CHECK(c.self_issued());
}

TEST_CASE("version 1 certificates have no extensions", "[x509_der]") {
    const auto ca_der = der_of(test::legacy_v1_ca);
    const auto leaf_der = der_of(test::legacy_v1_leaf);
    certificate_info ca, leaf;
    REQUIRE(parse(ca_der, ca));
    REQUIRE(parse(leaf_der, leaf));
    CHECK(ca.version == 1);
    CHECK_FALSE(ca.has_basic_constraints);
    CHECK_FALSE(ca.ca);
    CHECK(same_name(leaf.issuer, ca.subject));
}

TEST_CASE("every truncation and trailing byte is refused", "[x509_der]") {
    const auto der = der_of(test::fleet_leaf);
    for (std::size_t n = 0; n < der.size(); ++n) {
        certificate_info c;
        std::string why;
        CHECK_FALSE(parse(std::span<const uint8_t>(der.data(), n), c, &why));
        CHECK_FALSE(why.empty());
    }
    auto longer = der;
    longer.push_back(0);
    certificate_info c;
    CHECK_FALSE(parse(longer, c));
}

TEST_CASE("random corruption never crashes and a cA TRUE is never lost to leniency", "[x509_der]") {
    const auto der = der_of(test::fleet_ca);
    std::mt19937 rng(7);
    int parsed = 0;
    for (int i = 0; i < 20000; ++i) {
        auto x = der;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) x[rng() % x.size()] = static_cast<uint8_t>(rng());
        certificate_info c;
        if (parse(x, c)) ++parsed;
    }
    CHECK(parsed < 20000);
}

TEST_CASE("lengths in non-minimal or oversized forms are refused", "[x509_der]") {
    certificate_info c;
    const uint8_t long_zero[] = {0x30, 0x81, 0x05, 1, 2, 3, 4, 5};  // 0x81 for a length < 128
    CHECK_FALSE(parse(long_zero, c));
    const uint8_t huge[] = {0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF};
    CHECK_FALSE(parse(huge, c));
    const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
    CHECK_FALSE(parse(indefinite, c));
    std::vector<uint8_t> big(max_certificate_size + 1, 0x30);
    CHECK_FALSE(parse(big, c));
}

TEST_CASE("Base64", "[x509_der]") {
    std::vector<uint8_t> out;
    REQUIRE(decode_base64("TWFu", out));
    CHECK(std::string(out.begin(), out.end()) == "Man");
    REQUIRE(decode_base64("TWE=\r\n", out));
    CHECK(std::string(out.begin(), out.end()) == "Ma");
    REQUIRE(decode_base64("TQ==", out));
    CHECK(std::string(out.begin(), out.end()) == "M");
    CHECK_FALSE(decode_base64("TQ=a", out));
    CHECK_FALSE(decode_base64("TWF", out));
    CHECK_FALSE(decode_base64("TW-u", out));
    CHECK_FALSE(decode_base64("T===", out));
}

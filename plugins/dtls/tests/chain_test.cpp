// Which links of a client's certificate chain are proven (chain.hpp), on chains the openssl
// CLI makes at test time (make_certs.sh): real ones, an attacker's (a self-made leaf sent with
// a real CA certificate), and careless CAs' (path length, key usage, no CA flag, SHA-1).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "chain.hpp"
#include "test_certs.hpp"

using namespace tern::dtls;

namespace {

// The walk over the named certificates, leaf first.
chain_walk walk(std::initializer_list<const char*> names) {
    std::vector<std::vector<uint8_t>> held;
    for (const char* n : names) held.push_back(test::der_of(n));
    std::vector<std::span<const uint8_t>> views(held.begin(), held.end());
    return verified_links(views);
}

}  // namespace

TEST_CASE("a real chain is proven link by link up to the root", "[dtls][chain]") {
    auto w = walk({"chain-leaf", "intermediate"});
    CHECK(w.verified == 2);
    CHECK(w.fault == link_fault::none);
    w = walk({"chain-leaf", "intermediate", "ca"});
    CHECK(w.verified == 3);
    CHECK(w.fault == link_fault::none);
    w = walk({"client", "ca"});
    CHECK(w.verified == 2);
}

TEST_CASE("a self-made leaf sent with a real CA certificate proves only itself", "[dtls][chain]") {
    // the look-alike CA has the intermediate's name, so names match: the signature does not
    auto w = walk({"forged", "intermediate"});
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::bad_signature);
    w = walk({"forged-ca", "ca"});
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::bad_signature);
}

TEST_CASE("a trusted certificate that did not issue the one below it is not part of the chain", "[dtls][chain]") {
    auto w = walk({"client2", "intermediate2"});
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::name_mismatch);
    // appended after a complete real chain: the walk stops below it
    w = walk({"chain-leaf", "intermediate", "intermediate2"});
    CHECK(w.verified == 2);
    CHECK(w.fault == link_fault::name_mismatch);
}

TEST_CASE("basic constraints, key usage and path length are honoured", "[dtls][chain]") {
    auto w = walk({"notca-leaf", "notca"});
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::not_a_ca);
    w = walk({"nosign-leaf", "nosign"});
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::no_cert_sign);
    // p0 allows no CA below it: p0-sub is one, so p0 itself is not reached
    w = walk({"p0-leaf", "p0-sub", "p0"});
    CHECK(w.verified == 2);
    CHECK(w.fault == link_fault::path_too_long);
    // p0 directly above a leaf is fine
    w = walk({"p0-sub", "p0"});
    CHECK(w.verified == 2);
    CHECK(w.fault == link_fault::none);
}

TEST_CASE("RSA links verify, SHA-1 links are not proven", "[dtls][chain]") {
    auto w = walk({"rsa-leaf", "rsa-int", "ca"});
    CHECK(w.verified == 3);
    CHECK(w.fault == link_fault::none);
    w = walk({"sha1-leaf", "sha1-int"});
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::unsupported_algo);
}

TEST_CASE("garbage and empty chains never prove anything above the leaf", "[dtls][chain]") {
    CHECK(verified_links({}).verified == 0);
    const auto leaf = test::der_of("chain-leaf");
    const std::vector<uint8_t> junk{0x30, 0x82, 0x01, 0x00, 0x01, 0x02};
    const std::vector<uint8_t> empty;
    std::vector<std::span<const uint8_t>> v{leaf, junk};
    auto w = verified_links(v);
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::unreadable);
    v = {leaf, empty};
    CHECK(verified_links(v).verified == 1);
    v = {leaf};
    CHECK(verified_links(v).verified == 1);
    // an unreadable leaf: still the only certificate usable (its hash is its credential)
    v = {junk, leaf};
    w = verified_links(v);
    CHECK(w.verified == 1);
    CHECK(w.fault == link_fault::unreadable);
}

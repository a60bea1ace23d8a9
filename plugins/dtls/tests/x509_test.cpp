// Validity dates read from certificates the openssl CLI makes at test time
// (make_certs.sh), and the identity store of resumable sessions.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "identity.hpp"
#include "test_certs.hpp"
#include "x509.hpp"

using namespace tern::dtls;
using test::cert_dir;
using test::der_of;

namespace {

int64_t epoch(int y, int mo, int d) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    return static_cast<int64_t>(::timegm(&tm));
}

}  // namespace

TEST_CASE("validity dates are read from UTCTime and GeneralizedTime", "[dtls][x509]") {
    auto old = certificate_validity(der_of("expired"));
    REQUIRE(old);
    CHECK(old->not_before == epoch(2020, 1, 1));
    CHECK(old->not_after == epoch(2021, 1, 1));
    // after 2049 RFC 5280 requires GeneralizedTime
    auto later = certificate_validity(der_of("future"));
    REQUIRE(later);
    CHECK(later->not_before == epoch(2099, 1, 1));
    CHECK(later->not_after == epoch(2099, 12, 31));
}

TEST_CASE("dates are checked against the clock", "[dtls][x509]") {
    (void)cert_dir();  // made first: a certificate made "now" is valid from that second on
    const int64_t now = static_cast<int64_t>(::time(nullptr));
    CHECK(check_dates(der_of("client"), now) == date_check::valid);
    CHECK(check_dates(der_of("server-rsa"), now) == date_check::valid);
    CHECK(check_dates(der_of("selfsigned"), now) == date_check::valid);
    CHECK(check_dates(der_of("expired"), now) == date_check::expired);
    CHECK(check_dates(der_of("future"), now) == date_check::not_yet_valid);
    CHECK(check_dates(der_of("expired"), epoch(2020, 6, 1)) == date_check::valid);
}

TEST_CASE("what is not a certificate is unreadable, never a crash", "[dtls][x509]") {
    auto der = der_of("client");
    CHECK(check_dates({}, 0) == date_check::unreadable);
    for (size_t cut : {size_t{1}, size_t{10}, size_t{40}, der.size() / 2})
        CHECK(check_dates(std::span<const uint8_t>(der.data(), cut), 0) == date_check::unreadable);
    std::vector<uint8_t> garbage(200, 0x30);
    CHECK(check_dates(garbage, 0) == date_check::unreadable);
    // every single-byte corruption either still reads or is refused
    for (size_t i = 0; i < der.size(); ++i) {
        auto bad = der;
        bad[i] ^= 0xff;
        (void)check_dates(bad, 0);
    }
}

TEST_CASE("the identity store finds identities by ticket and by session id", "[dtls][identity]") {
    identity_store store(2, 1000);
    auto a = std::make_shared<identity>();
    a->kind = TERN_AUTH_PSK;
    a->psk = "a";
    auto b = std::make_shared<identity>();
    b->kind = TERN_AUTH_PSK;
    b->psk = "b";
    const uint64_t ra = store.add_ticket(a, 0);
    CHECK(ra != 0);
    const std::vector<uint8_t> sid(32, 7);
    store.add_session_id(sid, b, 0);
    CHECK(store.ticket(ra, 10) == a);
    CHECK(store.session_id(sid, 10) == b);
    CHECK(store.ticket(ra + 1, 10) == nullptr);
    // the lifetime
    CHECK(store.ticket(ra, 1000) == nullptr);
    // the bound: the least recently used goes
    identity_store small(2, 1000000);
    const uint64_t r1 = small.add_ticket(a, 0);
    const uint64_t r2 = small.add_ticket(b, 0);
    CHECK(small.ticket(r1, 1) == a);  // r1 used: r2 is now the oldest
    const uint64_t r3 = small.add_ticket(a, 2);
    CHECK(small.size() == 2);
    CHECK(small.ticket(r2, 3) == nullptr);
    CHECK(small.ticket(r1, 3) == a);
    CHECK(small.ticket(r3, 3) == a);
    identity_store off(0, 1000);
    CHECK(off.add_ticket(a, 0) == 0);
}

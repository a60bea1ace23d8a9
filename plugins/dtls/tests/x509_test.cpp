// Validity dates read from certificates the openssl CLI makes at test time
// (make_certs.sh), and the identity store of resumable sessions.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <list>
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

TEST_CASE("the identity store stays exact under churn (slab slots, open-addressing index)", "[dtls][identity]") {
    // A reference model (an LRU list by key) beside the store: every look-up agrees, also
    // after thousands of evictions, expiries and replacements have shifted the index.
    const size_t cap = 500;
    identity_store store(cap, 1000);
    std::vector<identity_ptr> who;
    for (int i = 0; i < 8; ++i) {
        auto p = std::make_shared<identity>();
        p->kind = TERN_AUTH_PSK;
        p->psk = "device-" + std::to_string(i);
        who.push_back(p);
    }
    std::list<std::pair<std::vector<uint8_t>, std::pair<size_t, uint64_t>>> model;  // key, (who, expires); newest last
    auto model_find = [&](const std::vector<uint8_t>& k) {
        return std::find_if(model.begin(), model.end(), [&](const auto& e) { return e.first == k; });
    };
    uint64_t rng = 12345;
    auto next = [&] {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return rng >> 33;
    };
    uint64_t now = 0;
    for (int step = 0; step < 20000; ++step) {
        now += next() % 3;
        std::vector<uint8_t> sid(1 + next() % 32, 0);
        const uint64_t pick = next() % 1500;  // a key space three times the capacity
        std::memcpy(sid.data(), &pick, std::min<size_t>(sid.size(), 8));
        sid.resize(8);  // a fixed length per key keeps the model simple
        if (next() % 2 == 0) {
            const size_t w = next() % who.size();
            store.add_session_id(sid, who[w], now);
            if (auto it = model_find(sid); it != model.end()) model.erase(it);
            if (model.size() >= cap) model.pop_front();
            model.emplace_back(sid, std::make_pair(w, now + 1000));
        } else {
            const identity_ptr got = store.session_id(sid, now);
            auto it = model_find(sid);
            if (it == model.end()) {
                REQUIRE(got == nullptr);
            } else if (it->second.second <= now) {
                REQUIRE(got == nullptr);
                model.erase(it);
            } else {
                REQUIRE(got == who[it->second.first]);
                model.splice(model.end(), model, it);
            }
        }
        REQUIRE(store.size() == model.size());
    }
    CHECK(store.size() <= cap);
    // bytes: the slots and index it made (a few hundred entries), and the identities it holds
    CHECK(store.bytes() > cap * 72);
    CHECK(store.bytes() < cap * 72 * 4);
}

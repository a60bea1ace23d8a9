// dtls-bench hold's addressing (src/sources.hpp): a reply's destination address and socket
// must name exactly the session that sent from them, or sessions would be fed each other's
// records and fail (or worse, count as made when they were not).
#include "../src/sources.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

using namespace tern::dtls::bench;

namespace {
constexpr uint32_t ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }
}  // namespace

TEST_CASE("hold sources skip addresses ending in .0 and .255") {
    const source_plan p(ip(127, 32, 0, 1), 256);
    REQUIRE(p.valid());
    CHECK(p.address(0) == ip(127, 32, 0, 1));
    CHECK(p.address(253) == ip(127, 32, 0, 254));
    CHECK(p.address(254) == ip(127, 32, 1, 1));
    CHECK(p.address(254 * 256) == ip(127, 33, 0, 1));
    CHECK(p.address_of(255) == ip(127, 32, 0, 1));
    CHECK(p.address_of(256) == ip(127, 32, 0, 2));
    CHECK(p.socket_of(257) == 1);
    // a base in the middle of a /24
    const source_plan q(ip(127, 32, 0, 250), 4);
    CHECK(q.address(4) == ip(127, 32, 0, 254));
    CHECK(q.address(5) == ip(127, 32, 1, 1));
    CHECK_FALSE(source_plan(ip(127, 32, 0, 0), 4).valid());
    CHECK_FALSE(source_plan(ip(127, 32, 0, 255), 4).valid());
}

TEST_CASE("hold sources: a reply's address and socket name the session that sent") {
    for (uint32_t sockets : {1u, 3u, 256u}) {
        for (uint32_t base : {ip(127, 32, 0, 1), ip(127, 32, 0, 200), ip(127, 47, 255, 254)}) {
            const source_plan p(base, sockets);
            for (uint64_t i = 0; i < 200000; i += 7) {
                const auto back = p.index_of(p.address_of(i), p.socket_of(i));
                REQUIRE(back);
                REQUIRE(*back == i);
            }
        }
    }
    const source_plan p(ip(127, 32, 0, 10), 16);
    CHECK_FALSE(p.index_of(ip(127, 32, 0, 9), 0));    // below the base
    CHECK_FALSE(p.index_of(ip(127, 31, 0, 50), 0));
    CHECK_FALSE(p.index_of(ip(127, 32, 1, 0), 0));    // never used
    CHECK_FALSE(p.index_of(ip(127, 32, 1, 255), 0));
    CHECK_FALSE(p.index_of(ip(127, 32, 0, 10), 16));  // no such socket
}

TEST_CASE("hold sources: the plan says when the addresses would leave 127/8") {
    const source_plan p(ip(127, 255, 255, 1), 2);
    CHECK(p.fits(2 * 254));
    CHECK_FALSE(p.fits(2 * 254 + 1));
    CHECK(source_plan(ip(127, 32, 0, 1), 256).fits(1000000));
}

TEST_CASE("hold start order visits every session once, spreading consecutive starts over addresses") {
    for (uint64_t n : {1ull, 255ull, 256ull, 257ull, 1000ull, 4099ull}) {
        start_order o(n, 256);
        std::set<uint64_t> seen;
        std::vector<uint64_t> order;
        while (auto i = o.next()) {
            REQUIRE(*i < n);
            REQUIRE(seen.insert(*i).second);
            order.push_back(*i);
        }
        REQUIRE(seen.size() == n);
        if (n > 256) {
            // the first starts use one address each
            const source_plan p(ip(127, 32, 0, 1), 256);
            const uint64_t addresses = p.addresses_for(n);
            std::set<uint32_t> first;
            for (uint64_t k = 0; k < addresses; ++k) first.insert(p.address_of(order[k]));
            CHECK(first.size() == addresses);
        }
    }
}

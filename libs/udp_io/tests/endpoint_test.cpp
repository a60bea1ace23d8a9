// Address conversions between the socket API and tern_endpoint.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tern/udp_io/endpoint.hpp"

using namespace tern::udp_io;

namespace {
sockaddr_in v4(const char* a, uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    inet_pton(AF_INET, a, &s.sin_addr);
    return s;
}
sockaddr_in6 v6(const char* a, uint16_t port, uint32_t scope = 0) {
    sockaddr_in6 s{};
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    s.sin6_scope_id = scope;
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return s;
}
}  // namespace

TEST_CASE("an IPv4 source address becomes a family-4 endpoint", "[udp_io][endpoint]") {
    auto s = v4("192.0.2.7", 40001);
    tern_endpoint ep{};
    REQUIRE(to_endpoint(reinterpret_cast<sockaddr*>(&s), sizeof s, ep));
    CHECK(ep.family == 4);
    CHECK(ep.port == 40001);
    CHECK(ep.addr[0] == 192);
    CHECK(ep.addr[3] == 7);
    CHECK(to_string(ep) == "192.0.2.7:40001");
}

TEST_CASE("a v4-mapped IPv6 source is reported as IPv4", "[udp_io][endpoint]") {
    auto s = v6("::ffff:10.1.2.3", 5683);
    tern_endpoint ep{};
    REQUIRE(to_endpoint(reinterpret_cast<sockaddr*>(&s), sizeof s, ep));
    CHECK(ep.family == 4);
    CHECK(ep.scope_id == 0);
    CHECK(to_string(ep) == "10.1.2.3:5683");
    // and it is the same endpoint as the plain IPv4 one
    auto s4 = v4("10.1.2.3", 5683);
    tern_endpoint ep4{};
    REQUIRE(to_endpoint(reinterpret_cast<sockaddr*>(&s4), sizeof s4, ep4));
    CHECK(std::memcmp(&ep, &ep4, sizeof ep) == 0);
}

TEST_CASE("an IPv6 source keeps its scope", "[udp_io][endpoint]") {
    auto s = v6("fe80::1", 1234, 3);
    tern_endpoint ep{};
    REQUIRE(to_endpoint(reinterpret_cast<sockaddr*>(&s), sizeof s, ep));
    CHECK(ep.family == 6);
    CHECK(ep.scope_id == 3);
    CHECK(to_string(ep) == "[fe80::1%3]:1234");
}

TEST_CASE("short or foreign addresses are refused", "[udp_io][endpoint]") {
    auto s = v4("127.0.0.1", 1);
    tern_endpoint ep{};
    CHECK_FALSE(to_endpoint(reinterpret_cast<sockaddr*>(&s), sizeof s - 1, ep));
    sockaddr_storage st{};
    st.ss_family = AF_UNIX;
    CHECK_FALSE(to_endpoint(reinterpret_cast<sockaddr*>(&st), sizeof st, ep));
    CHECK_FALSE(to_endpoint(nullptr, 0, ep));
}

TEST_CASE("endpoints convert back for either socket family", "[udp_io][endpoint]") {
    tern_endpoint ep{};
    ep.family = 4;
    ep.port = 9;
    const uint8_t a[4] = {127, 0, 0, 1};
    std::memcpy(ep.addr, a, 4);
    sockaddr_storage out{};

    SECTION("IPv4 peer, IPv4 socket") {
        REQUIRE(to_sockaddr(ep, AF_INET, out) == sizeof(sockaddr_in));
        auto* in = reinterpret_cast<sockaddr_in*>(&out);
        CHECK(in->sin_family == AF_INET);
        CHECK(ntohs(in->sin_port) == 9);
        CHECK(in->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    }
    SECTION("IPv4 peer, dual-stack socket: v4-mapped") {
        REQUIRE(to_sockaddr(ep, AF_INET6, out) == sizeof(sockaddr_in6));
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
        CHECK(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr));
        CHECK(ntohs(in6->sin6_port) == 9);
        tern_endpoint back{};
        REQUIRE(to_endpoint(reinterpret_cast<sockaddr*>(&out), sizeof(sockaddr_in6), back));
        CHECK(std::memcmp(&back, &ep, sizeof ep) == 0);
    }
    SECTION("IPv6 peer cannot be reached from an IPv4 socket") {
        ep.family = 6;
        CHECK(to_sockaddr(ep, AF_INET, out) == 0);
        REQUIRE(to_sockaddr(ep, AF_INET6, out) == sizeof(sockaddr_in6));
    }
    SECTION("unknown family") {
        ep.family = 5;
        CHECK(to_sockaddr(ep, AF_INET, out) == 0);
        CHECK(to_sockaddr(ep, AF_INET6, out) == 0);
    }
}

TEST_CASE("bind_address accepts literals only", "[udp_io][endpoint]") {
    std::string err;
    auto a = parse_bind_address("0.0.0.0", 5683, err);
    REQUIRE(a);
    CHECK(a->family == AF_INET);
    CHECK(ntohs(reinterpret_cast<sockaddr_in*>(&a->addr)->sin_port) == 5683);

    auto b = parse_bind_address("::", 1, err);
    REQUIRE(b);
    CHECK(b->family == AF_INET6);
    CHECK(to_string(reinterpret_cast<sockaddr*>(&b->addr), b->len) == "[::]:1");

    auto c = parse_bind_address("[::1]", 2, err);
    REQUIRE(c);
    CHECK(to_string(reinterpret_cast<sockaddr*>(&c->addr), c->len) == "[::1]:2");

    auto d = parse_bind_address("fe80::1%lo", 3, err);
    REQUIRE(d);
    CHECK(reinterpret_cast<sockaddr_in6*>(&d->addr)->sin6_scope_id != 0);

    CHECK_FALSE(parse_bind_address("localhost", 1, err));
    CHECK(err.find("not an IPv4 or IPv6 address literal") != std::string::npos);
    CHECK_FALSE(parse_bind_address("fe80::1%nosuchif0", 1, err));
    CHECK(err.find("no network interface") != std::string::npos);
    CHECK_FALSE(parse_bind_address("", 1, err));
    CHECK_FALSE(parse_bind_address("1.2.3.4.5", 1, err));
}

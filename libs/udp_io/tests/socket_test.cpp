// The socket group and the batches on real loopback sockets.
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <string>

#include "tern/sdk/status.hpp"
#include "tern/udp_io/batch.hpp"
#include "tern/udp_io/endpoint.hpp"
#include "tern/udp_io/socket_group.hpp"

using namespace tern;
using namespace tern::udp_io;

namespace {

tern_endpoint loopback(uint16_t port) {
    tern_endpoint ep{};
    ep.family = 4;
    ep.port = port;
    ep.addr[0] = 127;
    ep.addr[3] = 1;
    return ep;
}

struct peer_socket {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    peer_socket() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        timeval tv{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~peer_socket() { ::close(fd); }
    uint16_t port() const {
        sockaddr_in a{};
        socklen_t l = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
        return ntohs(a.sin_port);
    }
    void send_to(uint16_t port, const std::string& s) const {
        sockaddr_storage to;
        const socklen_t len = to_sockaddr(loopback(port), AF_INET, to);
        REQUIRE(::sendto(fd, s.data(), s.size(), 0, reinterpret_cast<sockaddr*>(&to), len) ==
                static_cast<ssize_t>(s.size()));
    }
    std::string receive() const {
        char buf[2048];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
    }
};

// Waits (bounded) until one of the group's sockets is readable and reads a batch there.
int receive_any(const socket_group& g, receive_batch& rx, size_t& which) {
    std::vector<pollfd> p;
    for (int fd : g.fds) p.push_back(pollfd{fd, POLLIN, 0});
    if (::poll(p.data(), p.size(), 2000) <= 0) return 0;
    for (size_t i = 0; i < p.size(); ++i)
        if (p[i].revents & POLLIN) {
            which = i;
            return rx.receive(g.fds[i]);
        }
    return 0;
}

}  // namespace

TEST_CASE("a group binds one port for every socket and reports it", "[udp_io][socket]") {
    socket_group g = open_group(socket_options{"127.0.0.1", 0, false, 0, 0}, 3, sdk::logger{});
    REQUIRE(g.fds.size() == 3);
    CHECK(g.family == AF_INET);
    CHECK(g.port != 0);
    CHECK(g.local == "127.0.0.1:" + std::to_string(g.port));
    for (int fd : g.fds) {
        sockaddr_in a{};
        socklen_t l = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l) == 0);
        CHECK(ntohs(a.sin_port) == g.port);
    }
}

TEST_CASE("a taken port is refused, naming the address", "[udp_io][socket]") {
    peer_socket holder;
    try {
        open_group(socket_options{"127.0.0.1", holder.port(), false, 0, 0}, 2, sdk::logger{});
        FAIL("the group bound a taken port");
    } catch (const sdk::error& e) {
        CHECK(e.status() == TERN_IO);
        CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(holder.port())) !=
              std::string::npos);
    }
}

TEST_CASE("a host name is not a bind address", "[udp_io][socket]") {
    CHECK_THROWS_AS(open_group(socket_options{"localhost", 0, false, 0, 0}, 1, sdk::logger{}),
                    sdk::error);
}

TEST_CASE("batches receive with the sender's endpoint and send back", "[udp_io][batch]") {
    socket_group g = open_group(socket_options{"127.0.0.1", 0, false, 0, 0}, 1, sdk::logger{});
    peer_socket a, b;
    a.send_to(g.port, "from a");
    b.send_to(g.port, std::string(100, 'x'));  // longer than the receive buffers below

    receive_batch rx;
    rx.init(8, 64);
    send_batch tx;
    tx.init(2);
    std::set<std::string> got;
    int seen = 0, truncated = 0;
    while (seen < 2) {
        size_t which = 0;
        const int n = receive_any(g, rx, which);
        REQUIRE(n > 0);
        for (int i = 0; i < n; ++i, ++seen) {
            tern_endpoint ep{};
            REQUIRE(rx.endpoint(i, ep));
            CHECK(ep.family == 4);
            if (rx.truncated(i)) {
                ++truncated;
                CHECK(ep.port == b.port());
                continue;
            }
            CHECK(ep.port == a.port());
            got.insert(std::string(reinterpret_cast<char*>(rx.data(i)), rx.size(i)));
            REQUIRE(tx.add(ep, g.family, rx.data(i), rx.size(i)));
        }
    }
    CHECK(truncated == 1);
    CHECK(got == std::set<std::string>{"from a"});
    send_stats st;
    CHECK(tx.flush(g.fds[0], st));
    CHECK(st.sent == 1);
    CHECK(st.bytes == 6);
    CHECK(tx.empty());
    CHECK(a.receive() == "from a");
}

TEST_CASE("a send batch refuses peers its socket cannot reach and stops when full",
          "[udp_io][batch]") {
    send_batch tx;
    tx.init(1);
    tern_endpoint v6{};
    v6.family = 6;
    v6.addr[15] = 1;
    const uint8_t byte = 1;
    CHECK_FALSE(tx.add(v6, AF_INET, &byte, 1));
    CHECK(tx.empty());
    CHECK(tx.add(loopback(9), AF_INET, &byte, 1));
    CHECK(tx.full());
    CHECK_FALSE(tx.add(loopback(9), AF_INET, &byte, 1));
    CHECK(send_one(-1, AF_INET, v6, &byte, 1) == EAFNOSUPPORT);
}

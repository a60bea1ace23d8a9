// The UDP transport on real loopback sockets, driven by the SDK's threaded test reactor
// so it runs without the kernel. udp_kernel_test.sh runs it inside the real kernel.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "tern/sdk/status.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_threads.hpp"
#include "udp_transport.hpp"

using namespace tern;
using namespace tern::udp;
using namespace std::chrono_literals;

namespace {

// A UDP client socket on loopback with a bounded receive wait.
struct client {
    int fd = -1;
    int family;
    explicit client(int fam = AF_INET) : family(fam) {
        fd = ::socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        timeval tv{0, 300 * 1000};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (fam == AF_INET) {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        } else {
            sockaddr_in6 a{};
            a.sin6_family = AF_INET6;
            a.sin6_addr = in6addr_loopback;
            REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        }
    }
    ~client() { ::close(fd); }
    uint16_t port() const {
        sockaddr_storage s{};
        socklen_t l = sizeof s;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&s), &l);
        return family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&s)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&s)->sin6_port);
    }
    void send_to(uint16_t port, const std::string& payload) const {
        ssize_t r;
        if (family == AF_INET) {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            r = ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        } else {
            sockaddr_in6 a{};
            a.sin6_family = AF_INET6;
            a.sin6_port = htons(port);
            a.sin6_addr = in6addr_loopback;
            r = ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        }
        REQUIRE(r == static_cast<ssize_t>(payload.size()));
    }
    // "" after the bounded wait
    std::string receive() const {
        char buf[70000];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
    }
};

// Echoes every datagram back, prefixed with "<shard>|", and remembers who came.
struct echo_sink final : datagram_sink_v1 {
    transport_v1* t = nullptr;
    std::atomic<int> inside{0};
    std::atomic<uint64_t> calls{0}, datagrams{0};
    std::atomic<bool> slow{false};
    std::mutex mu;
    std::vector<tern_endpoint> peers;

    void on_datagrams(uint32_t shard, const tern_datagram* batch, uint32_t count) noexcept override {
        inside.fetch_add(1);
        calls.fetch_add(1);
        datagrams.fetch_add(count);
        std::vector<std::string> bodies;
        std::vector<tern_datagram> out(count);
        for (uint32_t i = 0; i < count; ++i) {
            bodies.push_back(std::to_string(shard) + "|" +
                             std::string(reinterpret_cast<const char*>(batch[i].data.data), batch[i].data.size));
        }
        for (uint32_t i = 0; i < count; ++i) {
            out[i].peer = batch[i].peer;
            out[i].data = tern_bytes{reinterpret_cast<const uint8_t*>(bodies[i].data()), bodies[i].size()};
        }
        {
            std::lock_guard lk(mu);
            for (uint32_t i = 0; i < count; ++i) peers.push_back(batch[i].peer.endpoint);
        }
        t->send(shard, out.data(), count);
        if (slow) std::this_thread::sleep_for(2ms);
        inside.fetch_sub(1);
    }
    void on_session_end(uint32_t, const tern_peer*) noexcept override {}
};

struct rig {
    sdk::testing::threaded_reactor reactor;
    sdk::testing::recording_metrics metrics;
    sdk::testing::recording_log log;
    std::unique_ptr<transport> t;

    explicit rig(settings s, uint32_t shards = 2) : reactor(shards) {
        counters c;
        c.datagrams_received = reg("udp_datagrams_received_total");
        c.datagrams_sent = reg("udp_datagrams_sent_total");
        c.bytes_received = reg("udp_bytes_received_total");
        c.bytes_sent = reg("udp_bytes_sent_total");
        for (size_t i = 0; i < static_cast<size_t>(drop::count_); ++i)
            c.drops[i] = reg("udp_drops_total", std::string("reason=\"") + drop_name(static_cast<drop>(i)) + "\"");
        t = std::make_unique<transport>(sdk::logger{&log}, reactor, c, std::move(s));
    }
    ~rig() { t->stop(); }
    sdk::metric reg(const char* name, const std::string& labels = {}) {
        tern_metric_desc d{};
        d.struct_size = sizeof d;
        d.kind = TERN_METRIC_COUNTER;
        d.name = name;
        d.labels = labels.empty() ? nullptr : labels.c_str();
        uint64_t id = 0;
        metrics.add_metric(&d, &id);
        return sdk::metric{&metrics, id};
    }
    // key: "name" or "name{labels}"
    int64_t value(const std::string& key) {
        const size_t brace = key.find('{');
        if (brace == std::string::npos) return metrics.value(key);
        return metrics.value(key.substr(0, brace), key.substr(brace + 1, key.size() - brace - 2));
    }
    // waits (bounded) until the metric reaches want
    bool wait_value(const std::string& key, int64_t want) {
        for (int i = 0; i < 300; ++i) {
            if (value(key) >= want) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
};

settings loopback(const char* addr = "127.0.0.1") {
    settings s = settings_schema.defaults();
    s.recv_buffer = 0;  // the OS default unless a test asks for more
    s.bind_address = addr;
    s.bind_port = 0;
    return s;
}

}  // namespace

TEST_CASE("an ephemeral port is shared by one socket per shard", "[udp][transport]") {
    rig r(loopback(), 3);
    r.t->start();
    REQUIRE(r.t->port() != 0);
    auto lines = r.log.lines();
    const std::string want = "listening on 127.0.0.1:" + std::to_string(r.t->port()) + " (3 sockets)";
    CHECK(std::find(lines.begin(), lines.end(), want) != lines.end());
    CHECK(r.t->max_datagram_size() == 2048);
    CHECK(sdk::to_sv(r.t->scheme()) == "coap");
}

TEST_CASE("datagrams are echoed and each peer sticks to one shard", "[udp][transport]") {
    rig r(loopback(), 2);
    echo_sink sink;
    sink.t = r.t.get();
    REQUIRE(r.t->attach(&sink) == TERN_OK);
    r.t->start();

    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 24; ++i) clients.push_back(std::make_unique<client>());
    std::map<uint16_t, std::set<std::string>> shard_of;
    uint64_t bytes = 0;
    for (int round = 0; round < 3; ++round) {
        for (auto& c : clients) {
            // a burst per client
            for (int k = 0; k < 4; ++k) {
                const std::string msg = "m" + std::to_string(round) + "-" + std::to_string(k);
                c->send_to(r.t->port(), msg);
                bytes += msg.size();
            }
        }
        for (auto& c : clients) {
            std::set<std::string> got;
            for (int k = 0; k < 4; ++k) {
                const std::string reply = c->receive();
                REQUIRE_FALSE(reply.empty());
                const auto bar = reply.find('|');
                REQUIRE(bar != std::string::npos);
                shard_of[c->port()].insert(reply.substr(0, bar));
                got.insert(reply.substr(bar + 1));
            }
            for (int k = 0; k < 4; ++k)
                CHECK(got.count("m" + std::to_string(round) + "-" + std::to_string(k)) == 1);
        }
    }
    std::set<std::string> shards_used;
    for (auto& [port, shards] : shard_of) {
        INFO("client port " << port);
        CHECK(shards.size() == 1);
        shards_used.insert(*shards.begin());
    }
    // 24 source ports over 2 sockets: all on one is a 2^-23 chance
    CHECK(shards_used.size() == 2);

    const int64_t n = 24 * 4 * 3;
    CHECK(r.wait_value("udp_datagrams_sent_total", n));
    CHECK(r.value("udp_datagrams_received_total") == n);
    CHECK(r.value("udp_bytes_received_total") == static_cast<int64_t>(bytes));
    CHECK(r.value("udp_bytes_sent_total") == static_cast<int64_t>(bytes + 2 * n));
    CHECK(r.value("udp_drops_total{reason=\"no_sink\"}") == 0);

    // the sink saw the real source addresses
    std::lock_guard lk(sink.mu);
    for (auto& ep : sink.peers) {
        CHECK(ep.family == 4);
        CHECK(ep.addr[0] == 127);
    }
    REQUIRE(r.t->attach(nullptr) == TERN_OK);
}

TEST_CASE("a datagram larger than max_datagram_size is dropped and counted", "[udp][transport]") {
    settings s = loopback();
    s.max_datagram_size = 100;
    rig r(s, 1);
    echo_sink sink;
    sink.t = r.t.get();
    r.t->attach(&sink);
    r.t->start();
    client c;
    c.send_to(r.t->port(), std::string(101, 'x'));
    c.send_to(r.t->port(), std::string(100, 'y'));
    CHECK(c.receive() == "0|" + std::string(100, 'y'));
    CHECK(r.wait_value("udp_drops_total{reason=\"truncated\"}", 1));
    CHECK(r.value("udp_datagrams_received_total") == 2);
    CHECK(sink.datagrams == 1);
}

TEST_CASE("datagrams without a sink are dropped and counted", "[udp][transport]") {
    rig r(loopback(), 1);
    r.t->start();
    client c;
    c.send_to(r.t->port(), "hello");
    c.send_to(r.t->port(), "again");
    CHECK(r.wait_value("udp_drops_total{reason=\"no_sink\"}", 2));
    CHECK(c.receive().empty());
}

TEST_CASE("a second sink is refused, the same one is accepted again", "[udp][transport]") {
    rig r(loopback(), 1);
    echo_sink a, b;
    CHECK(r.t->attach(&a) == TERN_OK);
    CHECK(r.t->attach(&a) == TERN_OK);
    CHECK(r.t->attach(&b) == TERN_EXISTS);
    CHECK(r.t->attach(nullptr) == TERN_OK);
    CHECK(r.t->attach(&b) == TERN_OK);
}

TEST_CASE("detaching waits until no shard is inside the sink", "[udp][transport]") {
    rig r(loopback(), 2);
    echo_sink sink;
    sink.t = r.t.get();
    sink.slow = true;
    r.t->attach(&sink);
    r.t->start();

    std::atomic<bool> flood{true};
    std::thread sender([&] {
        std::vector<std::unique_ptr<client>> cs;
        for (int i = 0; i < 8; ++i) cs.push_back(std::make_unique<client>());
        while (flood) {
            for (auto& c : cs) c->send_to(r.t->port(), "x");
            std::this_thread::sleep_for(200us);
        }
    });
    // let the shards get busy inside the sink
    for (int i = 0; i < 200 && sink.calls < 20; ++i) std::this_thread::sleep_for(5ms);
    REQUIRE(sink.calls >= 20);
    REQUIRE(r.t->attach(nullptr) == TERN_OK);
    CHECK(sink.inside == 0);
    const uint64_t calls_after = sink.calls;
    std::this_thread::sleep_for(50ms);
    CHECK(sink.calls == calls_after);  // nothing reaches a detached sink
    CHECK(sink.inside == 0);
    flood = false;
    sender.join();
    CHECK(r.wait_value("udp_drops_total{reason=\"no_sink\"}", 1));
}

TEST_CASE("the fairness bound hands the shard back and reading resumes", "[udp][transport]") {
    settings s = loopback();
    s.batch_size = 2;
    s.drain_batches = 1;
    rig r(s, 1);
    echo_sink sink;
    sink.t = r.t.get();
    r.t->attach(&sink);
    // queue datagrams before the watch exists, so the first wake-up finds them all
    r.t->start();
    client c;
    // hold the shard so the datagrams pile up in the socket
    std::atomic<bool> release{false};
    std::thread blocker([&] { r.reactor.run_on(0, [&] { while (!release) std::this_thread::sleep_for(1ms); }); });
    std::this_thread::sleep_for(20ms);
    for (int i = 0; i < 40; ++i) c.send_to(r.t->port(), "d" + std::to_string(i));
    release = true;
    blocker.join();
    std::set<std::string> got;
    for (int i = 0; i < 40; ++i) {
        const std::string reply = c.receive();
        REQUIRE_FALSE(reply.empty());
        got.insert(reply);
    }
    CHECK(got.size() == 40);
    CHECK(r.reactor.posts > 1);  // continuations were posted
}

TEST_CASE("a dual-stack socket serves IPv4 and IPv6 peers", "[udp][transport]") {
    rig r(loopback("::"), 2);
    echo_sink sink;
    sink.t = r.t.get();
    r.t->attach(&sink);
    r.t->start();
    auto lines = r.log.lines();
    const std::string want = "listening on [::]:" + std::to_string(r.t->port()) + " (2 sockets)";
    CHECK(std::find(lines.begin(), lines.end(), want) != lines.end());

    client c4(AF_INET), c6(AF_INET6);
    c4.send_to(r.t->port(), "four");
    c6.send_to(r.t->port(), "six");
    CHECK(c4.receive().substr(1) == "|four");
    CHECK(c6.receive().substr(1) == "|six");
    std::lock_guard lk(sink.mu);
    REQUIRE(sink.peers.size() == 2);
    std::set<int> families;
    for (auto& ep : sink.peers) families.insert(ep.family);
    CHECK(families == std::set<int>{4, 6});
}

TEST_CASE("ipv6_only refuses IPv4 peers", "[udp][transport]") {
    settings s = loopback("::");
    s.ipv6_only = true;
    rig r(s, 1);
    echo_sink sink;
    sink.t = r.t.get();
    r.t->attach(&sink);
    r.t->start();
    client c4(AF_INET), c6(AF_INET6);
    c4.send_to(r.t->port(), "four");
    c6.send_to(r.t->port(), "six");
    CHECK(c6.receive() == "0|six");
    CHECK(c4.receive().empty());
}

TEST_CASE("a port held by another socket is refused with a clear error", "[udp][transport]") {
    client holder;  // bound to 127.0.0.1:<ephemeral>, without SO_REUSEPORT
    settings s = loopback();
    s.bind_port = holder.port();
    rig r(s, 2);
    try {
        r.t->start();
        FAIL("start() should have failed");
    } catch (const sdk::error& e) {
        CHECK(e.status() == TERN_IO);
        CHECK(std::string(e.what()).find("Address already in use") != std::string::npos);
        CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(holder.port())) != std::string::npos);
    }
}

TEST_CASE("a bind_address that is not a literal is a config error", "[udp][transport]") {
    rig r(loopback("localhost"), 1);
    try {
        r.t->start();
        FAIL("start() should have failed");
    } catch (const sdk::error& e) {
        CHECK(e.status() == TERN_CONFIG);
        CHECK(std::string(e.what()).find("localhost") != std::string::npos);
    }
}

TEST_CASE("sends that cannot go are dropped and counted", "[udp][transport]") {
    rig r(loopback(), 1);
    r.t->start();
    client c;
    tern_datagram d[2]{};
    const std::string body = "direct";
    d[0].peer.endpoint.family = 6;  // an IPv4 socket cannot reach an IPv6 peer
    d[0].peer.endpoint.port = c.port();
    d[0].data = tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
    d[1].peer.endpoint.family = 4;
    d[1].peer.endpoint.port = c.port();
    const uint8_t lo[4] = {127, 0, 0, 1};
    std::memcpy(d[1].peer.endpoint.addr, lo, 4);
    d[1].data = d[0].data;

    tern_status st = TERN_OK;
    r.reactor.run_on(0, [&] { st = r.t->send(0, d, 2); });
    CHECK(st == TERN_INVALID_ARGUMENT);
    CHECK(c.receive() == "direct");
    CHECK(r.value("udp_drops_total{reason=\"unreachable\"}") == 1);
    CHECK(r.value("udp_datagrams_sent_total") == 1);

    // from a thread that is not the shard: still delivered (plain sendto path)
    CHECK(r.t->send(0, &d[1], 1) == TERN_OK);
    CHECK(c.receive() == "direct");
    // a shard that does not exist
    CHECK(r.t->send(7, &d[1], 1) == TERN_INVALID_ARGUMENT);
    CHECK(r.value("udp_drops_total{reason=\"send_error\"}") == 1);
}

TEST_CASE("a send batch larger than batch_size goes out in several system calls", "[udp][transport]") {
    settings s = loopback();
    s.batch_size = 3;
    rig r(s, 1);
    r.t->start();
    client c;
    std::vector<std::string> bodies;
    for (int i = 0; i < 10; ++i) bodies.push_back("b" + std::to_string(i));
    std::vector<tern_datagram> d(10);
    const uint8_t lo[4] = {127, 0, 0, 1};
    for (int i = 0; i < 10; ++i) {
        d[i].peer.endpoint.family = 4;
        d[i].peer.endpoint.port = c.port();
        std::memcpy(d[i].peer.endpoint.addr, lo, 4);
        d[i].data = tern_bytes{reinterpret_cast<const uint8_t*>(bodies[i].data()), bodies[i].size()};
    }
    tern_status st = TERN_INTERNAL;
    r.reactor.run_on(0, [&] { st = r.t->send(0, d.data(), 10); });
    CHECK(st == TERN_OK);
    for (int i = 0; i < 10; ++i) CHECK(c.receive() == bodies[i]);
    CHECK(r.value("udp_datagrams_sent_total") == 10);
}

TEST_CASE("peer_auth reports no transport identity", "[udp][transport]") {
    rig r(loopback(), 1);
    tern_peer p{};
    int32_t kind = -1;
    CHECK(r.t->peer_auth(&p, [](void* ctx, const tern_peer_auth* a) { *static_cast<int32_t*>(ctx) = a->kind; },
                         &kind) == TERN_OK);
    CHECK(kind == TERN_AUTH_NONE);
    CHECK(r.t->peer_auth(nullptr, nullptr, nullptr) == TERN_INVALID_ARGUMENT);
}

TEST_CASE("stop closes the sockets and can run twice", "[udp][transport]") {
    rig r(loopback(), 2);
    r.t->start();
    const uint16_t port = r.t->port();
    r.t->stop();
    r.t->stop();
    // the port is free again: a plain socket can bind it
    client probe;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    ::close(fd);
}

TEST_CASE("a buffer size the OS clamps is reported once", "[udp][transport]") {
    long rmem_max = 0;
    if (FILE* f = std::fopen("/proc/sys/net/core/rmem_max", "r")) {
        if (std::fscanf(f, "%ld", &rmem_max) != 1) rmem_max = 0;
        std::fclose(f);
    }
    if (rmem_max >= (1L << 29)) {
        WARN("net.core.rmem_max is 512 MiB or more here: nothing to clamp");
        return;
    }
    // With CAP_NET_ADMIN (root) the transport forces the size past rmem_max: no clamp.
    bool can_force = false;
    {
        const int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
        const int want = static_cast<int>(rmem_max) + 4096;
        can_force = ::setsockopt(probe, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) == 0;
        ::close(probe);
    }
    settings s = loopback();
    s.recv_buffer = 1 << 29;  // above net.core.rmem_max (checked above)
    s.send_buffer = 65536;
    rig r(s, 3);
    r.t->start();
    int clamped = 0;
    for (const auto& line : r.log.lines())
        if (line.find("recv_buffer: asked for 536870912 bytes") != std::string::npos) ++clamped;
    CHECK(clamped == (can_force ? 0 : 1));
    for (const auto& line : r.log.lines()) CHECK(line.find("send_buffer: asked") == std::string::npos);
}

TEST_CASE("a receive buffer above rmem_max is granted when the process may force it", "[udp][transport]") {
    const int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
    const int want = 8 << 20;
    const bool can_force = ::setsockopt(probe, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) == 0;
    ::close(probe);
    if (!can_force) {
        WARN("no CAP_NET_ADMIN here: the OS clamps to net.core.rmem_max (tested above)");
        return;
    }
    settings s = loopback();
    s.recv_buffer = want;
    rig r(s, 1);
    r.t->start();
    for (const auto& line : r.log.lines()) CHECK(line.find("recv_buffer: asked") == std::string::npos);
}

// The DTLS transport in a test process (stand-in reactor, wolfSSL clients on loopback):
// what the engine sees (plaintext with a session id, the peer's chain from peer_auth,
// session ends), and the memory an idle session costs, with and without compaction.
#include <malloc.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tern/dtls_client/coap_mini.hpp"
#include "tern/dtls_client/dtls_peer.hpp"
#include "tern/sdk/testing_threads.hpp"
#include "test_certs.hpp"
#include "transport.hpp"

using namespace tern;
using namespace tern::dtls;
using namespace std::chrono_literals;

namespace {

// Echoes every datagram, remembers sessions seen and ended.
struct echo_sink final : datagram_sink_v1 {
    transport_v1* t = nullptr;
    std::mutex mu;
    std::vector<uint64_t> sessions, ended;
    std::vector<std::vector<uint8_t>> chain;  // of the last session asked
    int auth_kind = -1;

    void on_datagrams(uint32_t shard, const tern_datagram* batch, uint32_t count) noexcept override {
        for (uint32_t i = 0; i < count; ++i) {
            std::lock_guard lk(mu);
            sessions.push_back(batch[i].peer.session);
            t->peer_auth(&batch[i].peer, [](void* ctx, const tern_peer_auth* a) {
                auto* self = static_cast<echo_sink*>(ctx);
                self->auth_kind = a->kind;
                self->chain.clear();
                for (uint32_t k = 0; k < a->chain_count; ++k)
                    self->chain.emplace_back(a->chain[k].data, a->chain[k].data + a->chain[k].size);
            }, this);
        }
        t->send(shard, batch, count);
    }
    void on_session_end(uint32_t, const tern_peer* peer) noexcept override {
        std::lock_guard lk(mu);
        ended.push_back(peer->session);
    }
};

struct rig {
    sdk::testing::threaded_reactor reactor{1};
    std::unique_ptr<dtls::transport> t;
    echo_sink sink;

    explicit rig(settings s) {
        s.bind_address = "127.0.0.1";
        s.bind_port = 0;
        s.recv_buffer = 0;  // the OS default, as these tests always had
        s.cert_file = test::cert_dir() + "/server.pem";
        s.key_file = test::cert_dir() + "/server.key";
        t = std::make_unique<dtls::transport>(sdk::logger{}, reactor, std::move(s));
        t->start(counters{}, nullptr);
        sink.t = t.get();
        REQUIRE(t->attach(&sink) == TERN_OK);
    }
    ~rig() {
        t->attach(nullptr);
        t->stop();
    }
    size_t sessions() {
        size_t n = 0;
        reactor.run_on(0, [&] { n = t->shard_at(0)->session_count(); });
        return n;
    }
};

size_t heap_in_use() {
    ::malloc_trim(0);
    return ::mallinfo2().uordblks;
}

}  // namespace

TEST_CASE("plaintext reaches the sink with the session id, and peer_auth gives the chain", "[dtls][transport]") {
    rig r{default_settings()};
    test::peer_options o;
    o.cert_file = test::cert_dir() + "/chain.pem";  // leaf + intermediate
    o.key_file = test::cert_dir() + "/chain.key";
    test::client_context ctx(o);
    test::dtls_peer p(ctx, "127.0.0.1", r.t->port());
    REQUIRE(p.connect(5000));
    const std::vector<uint8_t> hello{'h', 'i'};
    REQUIRE(p.send(hello));
    std::vector<uint8_t> back;
    REQUIRE(p.receive(back, 5000));
    CHECK(back == hello);
    {
        std::lock_guard lk(r.sink.mu);
        REQUIRE(r.sink.sessions.size() == 1);
        CHECK(r.sink.sessions[0] != 0);
        CHECK(r.sink.auth_kind == TERN_AUTH_X509);
        REQUIRE(r.sink.chain.size() == 2);
        CHECK(r.sink.chain[0] == test::der_of("chain-leaf"));
        CHECK(r.sink.chain[1] == test::der_of("intermediate"));
    }
    // the session's end reaches the sink, and the id is gone
    const uint64_t id = r.sink.sessions[0];
    p.close();
    for (int i = 0; i < 200 && r.sessions() != 0; ++i) std::this_thread::sleep_for(10ms);
    std::lock_guard lk(r.sink.mu);
    CHECK(r.sink.ended == std::vector<uint64_t>{id});
    tern_peer gone{};
    gone.session = id;
    CHECK(r.t->peer_auth(&gone, [](void*, const tern_peer_auth*) {}, nullptr) != TERN_OK);
}

TEST_CASE("sessions without a certificate report no identity, and ids are never reused", "[dtls][transport]") {
    rig r{default_settings()};
    test::client_context ctx(test::peer_options{});
    for (int i = 0; i < 3; ++i) {
        test::dtls_peer p(ctx, "127.0.0.1", r.t->port());
        REQUIRE(p.connect(5000));
        REQUIRE(p.send({'x'}));
        std::vector<uint8_t> back;
        REQUIRE(p.receive(back, 5000));
        p.close();
    }
    std::lock_guard lk(r.sink.mu);
    REQUIRE(r.sink.sessions.size() == 3);
    CHECK(r.sink.auth_kind == TERN_AUTH_NONE);
    CHECK(r.sink.chain.empty());
    CHECK(r.sink.sessions[0] != r.sink.sessions[1]);
    CHECK(r.sink.sessions[1] != r.sink.sessions[2]);
}

TEST_CASE("a compacted idle session comes back for traffic either way", "[dtls][transport]") {
    settings s = default_settings();
    s.idle_compact_after_ms = 100;
    rig r{s};
    test::client_context ctx(test::peer_options{});
    test::dtls_peer p(ctx, "127.0.0.1", r.t->port());
    REQUIRE(p.connect(5000));
    std::vector<uint8_t> back;
    REQUIRE(p.send({'a'}));
    REQUIRE(p.receive(back, 5000));
    auto compacted = [&] {
        size_t n = 0;
        r.reactor.run_on(0, [&] { n = r.t->shard_at(0)->compact_count(); });
        return n;
    };
    for (int i = 0; i < 300 && compacted() == 0; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(compacted() == 1);
    // the server speaks first (a notification): the session is restored for it
    tern_peer peer{};
    {
        std::lock_guard lk(r.sink.mu);
        peer.session = r.sink.sessions.back();
    }
    tern_status st = TERN_INTERNAL;
    const std::vector<uint8_t> note{'n', 'o', 't', 'e'};
    r.reactor.run_on(0, [&] {
        tern_datagram d{peer, tern_bytes{note.data(), note.size()}};
        st = r.t->send(0, &d, 1);
    });
    CHECK(st == TERN_OK);
    REQUIRE(p.receive(back, 5000));
    CHECK(back == note);
    // compacted again, then the client speaks
    for (int i = 0; i < 300 && compacted() == 0; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(compacted() == 1);
    REQUIRE(p.send({'b'}));
    REQUIRE(p.receive(back, 5000));
    CHECK(back == std::vector<uint8_t>{'b'});
    CHECK(r.sessions() == 1);
}

// The memory an established, idle session holds on the server: the session record, its
// index entries, its identity, and wolfSSL's object (or, compacted, its exported state).
// Measured as live heap (mallinfo2) around sessions the clients then abandon (no
// close_notify), with the session cache off (its fixed table is not per session).
TEST_CASE("memory per idle session", "[dtls][transport][memory]") {
    const int n = 300;
    double restore_us = 0;
    auto measure = [&](uint64_t compact_after_ms, bool with_cert) {
        settings s = default_settings();
        s.session_cache = false;
        s.session_tickets = false;
        s.idle_compact_after_ms = compact_after_ms;
        s.handshake_rate_per_source = 0;  // all clients are 127.0.0.1: no per-source rate
        rig r{s};
        test::peer_options o;
        if (with_cert) {
            o.cert_file = test::cert_dir() + "/client.pem";
            o.key_file = test::cert_dir() + "/client.key";
        }
        o.tickets = false;
        test::client_context ctx(o);
        // The clients' sockets stay open (their ports taken): a new client on a port just
        // freed would replace the session of the old one, same address.
        std::vector<int> fds;
        fds.reserve(n + 1);
        auto one = [&] {
            test::dtls_peer p(ctx, "127.0.0.1", r.t->port());
            REQUIRE(p.connect(5000));
            REQUIRE(p.send({'x'}));
            std::vector<uint8_t> back;
            REQUIRE(p.receive(back, 5000));
            fds.push_back(p.release_socket());
        };
        one();  // warm-up: lazily made tables
        std::this_thread::sleep_for(50ms);
        const size_t before = heap_in_use();
        for (int i = 0; i < n; ++i) one();
        if (compact_after_ms != 0) std::this_thread::sleep_for(std::chrono::milliseconds(compact_after_ms + 1200));
        std::this_thread::sleep_for(100ms);
        const size_t after = heap_in_use();
        REQUIRE(r.sessions() == static_cast<size_t>(n + 1));
        const double per_session = (static_cast<double>(after) - static_cast<double>(before)) / n;
        if (compact_after_ms != 0) {
            // what bringing a compacted session back costs (wolfSSL_new + import), timed
            // on the shard for a datagram to each
            std::vector<uint64_t> ids;
            {
                std::lock_guard lk(r.sink.mu);
                ids = r.sink.sessions;
            }
            const uint8_t byte = 'z';
            r.reactor.run_on(0, [&] {
                const auto t0 = std::chrono::steady_clock::now();
                for (uint64_t id : ids) {
                    tern_datagram d{};
                    d.peer.session = id;
                    d.data = tern_bytes{&byte, 1};
                    r.t->send(0, &d, 1);
                }
                restore_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
                             static_cast<double>(ids.size());
            });
        }
        for (int fd : fds) ::close(fd);
        return per_session;
    };
    const double plain = measure(0, false);
    const double plain_cert = measure(0, true);
    const double compact = measure(200, false);
    const double compact_cert = measure(200, true);
    std::printf("memory per idle DTLS session (live heap): wolfSSL object kept: %.0f B (%.0f B with a "
                "client certificate); compacted: %.0f B (%.0f B with a client certificate); restoring a "
                "compacted session and sending one record: %.1f us\n",
                plain, plain_cert, compact, compact_cert, restore_us);
    // compaction is what brings an idle session near the 2 KB target
    CHECK(compact < plain / 3);
    CHECK(compact < 2048);
}

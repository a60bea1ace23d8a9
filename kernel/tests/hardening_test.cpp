// Security hardening of the kernel's shared services: text log lines cannot be forged by the
// data they carry, repeated warnings are throttled, and the metrics endpoint serves a scrape
// while other clients hold connections open.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kernel/host/log.hpp"
#include "kernel/log.hpp"
#include "kernel/metrics/http_server.hpp"
#include "support.hpp"

using namespace tern::kernel;
using namespace std::chrono_literals;

namespace {

std::string escaped(std::string_view s) {
    std::string out;
    escape_text(s, out);
    return out;
}

tern_str str(std::string_view s) { return tern_str{s.data(), s.size()}; }

std::atomic<int64_t> fake_now{0};
int64_t fake_clock() { return fake_now.load(); }

size_t count(const std::string& hay, std::string_view needle) {
    size_t n = 0;
    for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

// A TCP connection to 127.0.0.1:port that sends nothing (or only part of a request).
int open_idle(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

}  // namespace

TEST_CASE("text log lines escape control characters, so data cannot forge a line", "[log][security]") {
    CHECK(escaped("plain text: 1.2.3.4:5683 {\"a\":1}") == "plain text: 1.2.3.4:5683 {\"a\":1}");
    CHECK(escaped("evil\n[2026-01-01 00:00:00.000] [info] [kernel] forged") ==
          "evil\\n[2026-01-01 00:00:00.000] [info] [kernel] forged");
    CHECK(escaped("a\rb\tc") == "a\\rb\\tc");
    CHECK(escaped(std::string("nul\0bell\x07" "esc\x1b[31m del\x7f", 22)) == "nul\\x00bell\\x07esc\\x1b[31m del\\x7f");
    CHECK(escaped("grüße ☃ 😀") == "grüße ☃ 😀");  // UTF-8 text passes
    CHECK(escaped("\xc2\x9b" "31m") == "\\u{009b}31m");          // C1 CSI
    CHECK(escaped("x\xe2\x80\xa8y") == "x\\u{2028}y");            // line separator
    CHECK(escaped("\xe2\x80\xae" "evil") == "\\u{202e}evil");        // right-to-left override
    CHECK(escaped("bad \xff\xc3 end") == "bad \\xff\\xc3 end");   // not UTF-8
    CHECK(escaped("\xed\xa0\x80") == "\\xed\\xa0\\x80");          // a surrogate

    kt::log_capture cap;
    auto lg = cap.logs().make_logger("core\nfake", TERN_LOG_INFO);
    host::log_service svc(lg);
    const std::string name = "dev\n[2026-01-01 00:00:00.000] [error] [kernel] forged";
    svc.write(TERN_LOG_INFO, str("provisioned device '" + name + "'"));
    const std::string out = cap.text();
    CHECK(count(out, "\n") == 1);
    CHECK(out.find("[core\\nfake] provisioned device 'dev\\n[2026-01-01 00:00:00.000] [error] [kernel] forged'\n") !=
          std::string::npos);

    // JSON lines were already safe: the message is a JSON string.
    kt::log_capture jcap(log_format::json);
    host::log_service jsvc(jcap.logs().make_logger("core", TERN_LOG_INFO));
    jsvc.write(TERN_LOG_INFO, str("a\nb"));
    CHECK(count(jcap.text(), "\n") == 1);
    CHECK(jcap.text().find(R"("msg":"a\nb")") != std::string::npos);
}

TEST_CASE("repeated warnings are throttled and the suppressed lines counted", "[log][security]") {
    kt::log_capture cap;
    fake_now = 1'000'000'000;
    {
        host::log_service svc(cap.logs().make_logger("core_embedded", TERN_LOG_INFO), {3, 10'000'000'000});
        svc.set_clock(fake_clock);
        // Same kind: only the numbers differ.
        for (int i = 0; i < 50; ++i)
            svc.write(TERN_LOG_ERROR, str("commit of " + std::to_string(i + 1) + " ops failed: database or disk is full"));
        // Another kind and other levels are not held back by it.
        svc.write(TERN_LOG_WARN, str("WAL checkpoint failed: disk I/O error"));
        for (int i = 0; i < 20; ++i) svc.write(TERN_LOG_INFO, str("info " + std::to_string(i)));
        CHECK(svc.suppressed() == 47);
        std::string out = cap.text();
        CHECK(count(out, "ops failed") == 3);
        CHECK(count(out, "WAL checkpoint failed") == 1);
        CHECK(count(out, "[info] [core_embedded] info ") == 20);
        CHECK(out.find("suppressed") == std::string::npos);

        // After the window the next line of the kind reports what was held back, then passes.
        fake_now += 10'000'000'000;
        svc.write(TERN_LOG_ERROR, str("commit of 7 ops failed: database or disk is full"));
        out = cap.text();
        CHECK(out.find("[error] [core_embedded] 47 similar lines suppressed (repeated more than 3 times in 10000 ms): "
                       "commit of 1 ops failed: database or disk is full\n") != std::string::npos);
        CHECK(count(out, "ops failed") == 5);  // the summary's sample and the new line

        // Suppressed again, then reported when the instance's log ends.
        for (int i = 0; i < 5; ++i) svc.write(TERN_LOG_ERROR, str("commit of 1 ops failed: database or disk is full"));
        CHECK(svc.suppressed() == 50);
    }
    CHECK(cap.text().find("3 similar lines suppressed") != std::string::npos);
}

TEST_CASE("the metrics endpoint serves scrapes while other clients hold connections open", "[metrics][http][security]") {
    std::atomic<int> scrapes{0};
    metrics::http_server server([&] {
        ++scrapes;
        return std::string("kt_metric 1\n");
    });
    std::string err;
    REQUIRE(server.listen("127.0.0.1", 0, err));
    server.start();

    // An idle connection and one that sent half a request: neither blocks a scrape.
    const int idle = open_idle(server.port());
    const int partial = open_idle(server.port());
    const std::string half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(::send(partial, half.data(), half.size(), 0) == static_cast<ssize_t>(half.size()));
    const auto t0 = std::chrono::steady_clock::now();
    const std::string ok = kt::http_get(server.port(), "/metrics", 3s);
    CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);

    // More idle connections than the cap: the oldest are closed to make room, scrapes go on.
    std::vector<int> many;
    for (size_t i = 0; i < metrics::http_server::max_connections + 8; ++i) many.push_back(open_idle(server.port()));
    CHECK(kt::http_get(server.port(), "/metrics", 3s).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    char byte = 0;
    timeval tv{2, 0};
    ::setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(::recv(idle, &byte, 1, 0) == 0);  // evicted: the server closed it
    CHECK(scrapes.load() == 2);
    for (int fd : many) ::close(fd);
    ::close(idle);
    ::close(partial);
    server.stop();
}

// A deliberately small HTTP server for GET /metrics, on its own thread (never a shard).
// Connections are served concurrently (one idle or slow client does not hold up another
// scrape), at most max_connections at once: a new connection beyond that closes the oldest
// one. Idle connections are closed after 5 s, requests over 8 KB refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace tern::kernel::metrics {

class http_server {
public:
    static constexpr std::size_t max_connections = 64;

    // body: the Prometheus text of one scrape.
    explicit http_server(std::function<std::string()> body);
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;
    ~http_server();

    // Binds and listens on host (numeric) and port (0: any free port).
    bool listen(const std::string& host, uint16_t port, std::string& err);
    uint16_t port() const;
    // "http://127.0.0.1:9683/metrics"
    std::string url() const;
    void start();
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace tern::kernel::metrics

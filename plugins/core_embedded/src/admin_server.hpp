// The admin API's HTTP server: Boost.Beast, asynchronous, on one thread of its own.
// Handlers may answer later from any thread (an RPC waits for the device) without
// holding a thread per request. Beast stays inside admin_server.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "admin_api.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

struct admin_server_settings {
    std::string bind = "127.0.0.1:8080";  // host:port, [v6]:port; port 0 picks one
    uint64_t max_body = 1 << 20;          // JSON requests
    uint64_t max_upload = 268435456;      // POST /api/ota
    std::string upload_dir;               // where uploads are streamed (same filesystem as the OTA folder)
    size_t max_connections = 256;
    int64_t idle_timeout_ms = 60000;
    // A connection that has not yet sent a request with the right key must send its header
    // within this; and when max_connections are open, a new connection closes the oldest
    // of those (never an authenticated one), so strangers cannot lock the API out.
    int64_t header_timeout_ms = 10000;
    sdk::metric evicted;  // counter: unauthenticated connections closed to make room
    sdk::metric refused;  // counter: connections refused, every slot authenticated
};

class admin_server {
public:
    admin_server(admin_api& api, sdk::logger log);
    ~admin_server();
    admin_server(const admin_server&) = delete;
    admin_server& operator=(const admin_server&) = delete;

    // Binds and starts serving; throws sdk::error (address in use, bad address).
    void start(const admin_server_settings& s);
    // Closes the listener and every connection and joins the thread. Answers that come
    // later are dropped. The object must outlive every pending answer (destroy it after
    // the core is stopped).
    void stop();
    // "127.0.0.1:8080" as bound (the real port when 0 was asked for).
    std::string address() const;
    uint16_t port() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

// Whether the address the API listens on is reachable from this machine only (127/8,
// ::1); the API is plain HTTP, so elsewhere the key crosses the network in clear.
bool loopback_only(const std::string& bound_address);

// Splits "host:port" / "[v6]:port"; false when malformed.
bool split_host_port(const std::string& s, std::string& host, uint16_t& port);

}  // namespace tern::core_embedded

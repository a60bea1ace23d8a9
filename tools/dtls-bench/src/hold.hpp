// dtls-bench hold: N DTLS sessions, each from its own (address, port) in 127.0.0.0/8, made
// at a paced rate from a few wildcard sockets, one CON request each, then forgotten by the
// client (no close_notify): the server keeps them until its inactivity timeout. What one
// idle session costs the server is its resident size after, minus before, over N.
#pragma once

#include <cstdint>
#include <string>

namespace tern::dtls::bench {

struct hold_options {
    uint16_t port = 0;
    uint64_t sessions = 0;
    double rate = 500;            // handshakes started per second
    uint32_t window = 256;        // sessions in progress at most
    uint32_t sockets = 256;
    std::string source_base = "127.32.0.1";
    bool cid = false;
    int server_pid = 0;
    std::string ready_file;
    double duration = 0;          // seconds held after ready; 0: until SIGINT/SIGTERM
    bool json = false;
    std::string path = ".well-known/core";  // {i}: the session's index
    uint8_t method = 1;           // CoAP method code: 1 GET, 2 POST, 3 PUT
    std::string payload;
    std::string cert, key;        // a client certificate for every session
};

// Runs the hold; the process's exit status (0: every session made).
int hold(const hold_options& o);

}  // namespace tern::dtls::bench

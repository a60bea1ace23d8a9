// dtls_flood: many DTLS handshakes from one source address, for the per-source limit tests
// (limits_test.sh, psk_decoy_test.sh). Each handshake has a socket (a source port) of its
// own; sockets stay open until the end, so no port is reused and no session replaced.
//
//   dtls_flood --port P [--bind 127.X.Y.Z] [--count N] [--abandon] [--request PATH]
//              [--cert F --key F] [--psk-identity I --psk-key HEX] [--ciphers LIST]
//              [--timeout MS]
//
// Without --abandon each handshake completes (anonymously unless a certificate or PSK is
// given) and the session is left to the server without close_notify; --request sends one
// CON GET of PATH on it first and waits for the response. With --abandon each client stops
// after the server's first flight: a handshake left in flight on the server. A handshake
// that fails or times out (--timeout, default 1000 ms) is counted, not fatal.
//
// Prints "attempt I ok|failed ERROR in=N out=M" for --count 1, and always a last line
// "completed C failed F"; exit status 0, 64 for bad usage.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tern/dtls_client/coap_mini.hpp"
#include "tern/dtls_client/dtls_peer.hpp"

using namespace tern::dtls::test;

namespace {

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "dtls_flood: " << why << "\n(see the comment at the top of flood.cpp)\n";
    std::exit(64);
}

std::vector<uint8_t> unhex(const std::string& h) {
    if (h.size() % 2 != 0) usage("--psk-key takes an even number of hex digits");
    std::vector<uint8_t> out;
    for (size_t i = 0; i < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    uint16_t port = 0;
    peer_options o;
    int count = 1, timeout_ms = 1000;
    bool abandon = false;
    std::string request;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage(k + " needs a value");
            return argv[++i];
        };
        if (k == "--port") port = static_cast<uint16_t>(std::stoi(val()));
        else if (k == "--bind") o.bind_address = val();
        else if (k == "--count") count = std::stoi(val());
        else if (k == "--abandon") abandon = true;
        else if (k == "--request") request = val();
        else if (k == "--cert") o.cert_file = val();
        else if (k == "--key") o.key_file = val();
        else if (k == "--psk-identity") o.psk_identity = val();
        else if (k == "--psk-key") o.psk_key = unhex(val());
        else if (k == "--ciphers") o.ciphers = val();
        else if (k == "--timeout") timeout_ms = std::stoi(val());
        else usage("unknown option " + k);
    }
    if (port == 0) usage("--port is required");
    o.tickets = false;  // full handshakes only
    int completed = 0, failed = 0;
    std::vector<int> held;  // the sockets of finished attempts: their ports stay taken
    try {
        client_context ctx(o);
        uint16_t mid = static_cast<uint16_t>(::getpid());
        for (int i = 0; i < count; ++i) {
            dtls_peer p(ctx, "127.0.0.1", port);
            // abandon: the HelloVerifyRequest, then the server's flight
            bool ok = p.connect(timeout_ms, abandon ? 2 : 0);
            if (ok && !request.empty()) {
                ok = p.send(coap_request(con, 1, mid++, static_cast<uint32_t>(i), request));
                std::vector<uint8_t> in;
                const int64_t deadline = now_ms() + timeout_ms;
                bool answered = false;
                while (ok && !answered && now_ms() < deadline) {
                    if (!p.receive(in, static_cast<int>(deadline - now_ms()))) break;
                    auto m = coap_parse(in);
                    answered = m && m->code != 0;
                }
                ok = answered;
            }
            (ok ? completed : failed) += 1;
            if (count == 1)
                std::cout << "attempt 1 " << (ok ? "ok" : "failed " + p.error()) << " in=" << p.datagrams_in
                          << " out=" << p.datagrams_out << std::endl;
            held.push_back(p.release_socket());
        }
    } catch (const std::exception& e) {
        std::cout << "error: " << e.what() << std::endl;
    }
    for (int fd : held)
        if (fd >= 0) ::close(fd);
    std::cout << "completed " << completed << " failed " << failed << std::endl;
    return 0;
}

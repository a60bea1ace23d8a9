// dtls_client: a wolfSSL DTLS client for the plugin's tests, covering what the OpenSSL
// based coap-client cannot: DTLS 1.3, Connection ID with a change of source port
// mid-session (RFC 9146 on DTLS 1.2, RFC 9147 on 1.3), chosen suites (PSK-AES128-CCM-8),
// resumption by ticket or session ID.
//
//   dtls_client --port P [--bind 127.X.Y.Z] [--dtls13] [--cid] [--ca F] [--cert F --key F]
//               [--psk-identity I --psk-key HEX] [--ciphers LIST] [--no-tickets] [--mtu N]
//               [--path P] [--method GET|POST|PUT|DELETE] [--payload TEXT] [--requests N]
//               [--rebind] [--observe N] [--resume] [--timeout MS] [--abandon]
//               [--steps FILE [--observe-path P] [--steps-wait MS]]
//
// --abandon: stop in the middle of the handshake (after the server's first flight) and exit:
// what a client that vanishes looks like to the server. --hello-only: stop after the
// HelloVerifyRequest (a ClientHello that never returns the cookie, as from a spoofed
// address). --idle MS: after the requests, wait MS for the server; prints "closed" when it
// ends the session (close_notify), "silent" otherwise.
//
// --steps FILE: after the handshake (and the registration of an observation of
// --observe-path, printed "observing CODE"), the client does what the lines of FILE say, one
// line at a time: a test drives it in step with what it does around it (a relay that changes
// the client's address, say). It waits up to --steps-wait MS (default 30000) for each next
// line to be written, and up to --timeout for what a step waits for.
// "request [PAYLOAD]": a CON request (--method, --path, PAYLOAD or --payload) and its
// response; "non [PAYLOAD]": the same as NON, its response not waited for; "notification": the
// next notification of the observation (one that came earlier counts); "end": close. Prints
// "step K done" after each step. What arrives while it waits is printed at once (CON messages
// acknowledged): "notification SEQ PAYLOAD", "late response CODE PAYLOAD".
//
// Prints one line per event on stdout (handshake ..., response CODE PAYLOAD, rebound
// port=N, notification SEQ PAYLOAD, resume ...) and "error: ..." on failure; exit status 0
// when every step worked, 1 otherwise, 64 for bad usage.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "tern/dtls_client/coap_mini.hpp"
#include "tern/dtls_client/dtls_peer.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

using namespace tern::dtls::test;

namespace {

struct args {
    uint16_t port = 0;
    std::string host = "127.0.0.1";
    peer_options peer;
    std::string path = "test";
    uint8_t method = 1;
    std::string payload;
    int requests = 1;
    bool rebind = false;
    int observe = 0;
    bool resume = false;
    int timeout_ms = 10000;
    bool abandon = false;
    bool hello_only = false;
    int idle_ms = 0;
    std::string steps_file{};
    std::string observe_path{};
    int steps_wait_ms = 30000;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "dtls_client: " << why << "\n(see the comment at the top of dtls_client.cpp)\n";
    std::exit(64);
}

std::vector<uint8_t> unhex(const std::string& h) {
    if (h.size() % 2 != 0) usage("--psk-key takes an even number of hex digits");
    std::vector<uint8_t> out;
    for (size_t i = 0; i < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
    return out;
}

args parse(int argc, char** argv) {
    args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage(k + " needs a value");
            return argv[++i];
        };
        if (k == "--port") a.port = static_cast<uint16_t>(std::stoi(val()));
        else if (k == "--host") a.host = val();
        else if (k == "--bind") a.peer.bind_address = val();
        else if (k == "--dtls13") a.peer.dtls13 = true;
        else if (k == "--cid") a.peer.cid = true;
        else if (k == "--ca") a.peer.ca_file = val();
        else if (k == "--cert") a.peer.cert_file = val();
        else if (k == "--key") a.peer.key_file = val();
        else if (k == "--psk-identity") a.peer.psk_identity = val();
        else if (k == "--psk-key") a.peer.psk_key = unhex(val());
        else if (k == "--ciphers") a.peer.ciphers = val();
        else if (k == "--no-tickets") a.peer.tickets = false;
        else if (k == "--mtu") a.peer.mtu = std::stoi(val());
        else if (k == "--path") a.path = val();
        else if (k == "--method") {
            const std::string m = val();
            a.method = m == "GET" ? 1 : m == "POST" ? 2 : m == "PUT" ? 3 : m == "DELETE" ? 4 : 0;
            if (a.method == 0) usage("unknown method " + m);
        } else if (k == "--payload") a.payload = val();
        else if (k == "--requests") a.requests = std::stoi(val());
        else if (k == "--rebind") a.rebind = true;
        else if (k == "--observe") a.observe = std::stoi(val());
        else if (k == "--resume") a.resume = true;
        else if (k == "--timeout") a.timeout_ms = std::stoi(val());
        else if (k == "--abandon") a.abandon = true;
        else if (k == "--hello-only") a.hello_only = true;
        else if (k == "--idle") a.idle_ms = std::stoi(val());
        else if (k == "--steps") a.steps_file = val();
        else if (k == "--observe-path") a.observe_path = val();
        else if (k == "--steps-wait") a.steps_wait_ms = std::stoi(val());
        else usage("unknown option " + k);
    }
    if (a.port == 0) usage("--port is required");
    if (!a.observe_path.empty() && a.steps_file.empty()) usage("--observe-path goes with --steps");
    return a;
}

int fail(const std::string& what) {
    std::cout << "error: " << what << std::endl;
    return 1;
}

std::string handshake_line(const char* word, const dtls_peer& p) {
    std::string cid = p.cid_hex();
    return std::string(word) + " version=" + p.version() + " cipher=" + p.cipher() +
           " resumed=" + (p.resumed() ? "1" : "0") + " cid=" + (cid.empty() ? "none" : cid) +
           " port=" + std::to_string(p.local_port());
}

// One request and its response (acknowledging a separate CON response).
bool exchange(dtls_peer& p, const args& a, uint16_t& mid, uint32_t token) {
    if (!p.send(coap_request(con, a.method, mid++, token, a.path, a.payload))) return false;
    const int64_t deadline = now_ms() + a.timeout_ms;
    std::vector<uint8_t> in;
    while (now_ms() < deadline) {
        if (!p.receive(in, static_cast<int>(deadline - now_ms()))) return false;
        auto m = coap_parse(in);
        if (!m) continue;
        if (m->type == con) p.send(coap_empty_ack(m->mid));
        if (m->code == 0) continue;  // an empty ACK: the response follows
        std::cout << "response " << m->code_text() << " " << m->payload << std::endl;
        return true;
    }
    return false;
}

// The --steps mode: one session driven by the lines of a file (see the top of this file).
class step_runner {
public:
    step_runner(dtls_peer& p, const args& a, uint16_t mid) : p_(p), a_(a), mid_(mid) {}

    // GET with Observe 0 of --observe-path and its answer; false when refused or unanswered.
    bool observe() {
        if (!p_.send(coap_request(con, 1, mid_++, observe_token, a_.observe_path, {}, 0u))) return false;
        return wait_for([&] { return observing_; }) && registered_;
    }

    // Runs the steps; 0 when every one worked.
    int run() {
        for (int k = 1;; ++k) {
            std::string line;
            const int64_t deadline = now_ms() + a_.steps_wait_ms;
            while (!nth_line(k, line)) {
                if (now_ms() >= deadline) return fail("step " + std::to_string(k) + ": no such line in " + a_.steps_file + " in time");
                if (!poll(20)) return fail("waiting for step " + std::to_string(k) + ": " + p_.error());
            }
            const size_t space = line.find(' ');
            const std::string word = line.substr(0, space);
            const std::string payload = space == std::string::npos ? a_.payload : line.substr(space + 1);
            const std::string what = "step " + std::to_string(k) + " " + word + ": ";
            if (word == "end") {
                std::cout << "step " << k << " done" << std::endl;
                return 0;
            }
            if (word == "request" || word == "non") {
                const uint32_t t = token_++;
                if (!p_.send(coap_request(word == "request" ? con : non, a_.method, mid_++, t, a_.path, payload)))
                    return fail(what + p_.error());
                if (word == "request") {
                    awaited_ = t;
                    if (!wait_for([&] { return awaited_ == 0; })) return fail(what + p_.error());
                }
            } else if (word == "notification") {
                if (!wait_for([&] { return notifications_ > 0; })) return fail(what + p_.error());
                --notifications_;
            } else {
                return fail(what + "unknown step");
            }
            std::cout << "step " << k << " done" << std::endl;
        }
    }

private:
    static constexpr uint32_t observe_token = 0x0b5e0000;

    // Line k (from 1) of the steps file when it is complete (ends with a newline).
    bool nth_line(int k, std::string& line) const {
        std::ifstream f(a_.steps_file);
        std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        size_t start = 0;
        for (int i = 1; i <= k; ++i) {
            const size_t end = text.find('\n', start);
            if (end == std::string::npos) return false;
            if (i == k) line = text.substr(start, end - start);
            start = end + 1;
        }
        return true;
    }

    // Waits up to --timeout for done(), handling what arrives; false on timeout or failure.
    template <typename F>
    bool wait_for(F done) {
        const int64_t deadline = now_ms() + a_.timeout_ms;
        while (!done()) {
            if (now_ms() >= deadline) return false;
            if (!poll(static_cast<int>(std::min<int64_t>(deadline - now_ms(), 20)))) return false;
        }
        return true;
    }

    // Reads for up to ms and handles a message; false when the session failed.
    bool poll(int ms) {
        if (!p_.receive(in_, ms)) return p_.error() == "no answer in time";
        auto m = coap_parse(in_);
        if (!m) return true;
        if (m->type == con) p_.send(coap_empty_ack(m->mid));
        if (m->code == 0) return true;  // an empty ACK: a separate response follows
        uint32_t t = 0;
        for (uint8_t b : m->token) t = t << 8 | b;
        if (t == observe_token && !observing_) {
            observing_ = true;
            registered_ = m->observe.has_value();
            std::cout << "observing " << m->code_text() << std::endl;
        } else if (t == observe_token && m->observe) {
            std::cout << "notification " << *m->observe << " " << m->payload << std::endl;
            ++notifications_;
        } else if (t != 0 && t == awaited_) {
            std::cout << "response " << m->code_text() << " " << m->payload << std::endl;
            awaited_ = 0;
        } else {
            std::cout << "late response " << m->code_text() << " " << m->payload << std::endl;
        }
        return true;
    }

    dtls_peer& p_;
    const args& a_;
    uint16_t mid_;
    uint32_t token_ = 1;
    uint32_t awaited_ = 0;  // the token of the CON request waiting for its response
    bool observing_ = false, registered_ = false;
    int notifications_ = 0;  // arrived, not yet taken by a "notification" step
    std::vector<uint8_t> in_;
};

}  // namespace

int main(int argc, char** argv) {
    const args a = parse(argc, argv);
    try {
        client_context ctx(a.peer);
        auto p = std::make_unique<dtls_peer>(ctx, a.host, a.port);
        if (a.abandon || a.hello_only) {
            // the HelloVerifyRequest, then (abandon) the server's flight: the server now
            // holds a handshake
            if (!p->connect(a.timeout_ms, a.abandon ? 2 : 1)) return fail(p->error());
            std::cout << (a.abandon ? "abandoned" : "hello-only") << " port=" << p->local_port() << std::endl;
            return 0;
        }
        if (!p->connect(a.timeout_ms)) return fail(p->error());
        std::cout << handshake_line("handshake", *p) << std::endl;

        uint16_t mid = static_cast<uint16_t>(now_ms());
        uint32_t token = 1;
        if (!a.steps_file.empty()) {
            step_runner steps(*p, a, mid);
            if (!a.observe_path.empty() && !steps.observe()) return fail("the observation of " + a.observe_path + ": " + p->error());
            const int rc = steps.run();
            if (rc == 0) p->close();
            return rc;
        }
        if (a.observe > 0) {
            if (!p->send(coap_request(con, 1, mid++, 0x0b5e0000, a.path, {}, 0u))) return fail(p->error());
            int seen = 0;
            bool rebound = false;
            const int64_t deadline = now_ms() + a.timeout_ms;
            std::vector<uint8_t> in;
            while (seen < a.observe) {
                if (now_ms() >= deadline || !p->receive(in, static_cast<int>(deadline - now_ms())))
                    return fail("after " + std::to_string(seen) + " notifications: " + p->error());
                auto m = coap_parse(in);
                if (!m) continue;
                if (m->type == con) p->send(coap_empty_ack(m->mid));
                if (m->code == 0 || !m->observe) continue;
                std::cout << "notification " << *m->observe << " " << m->payload << std::endl;
                ++seen;
                if (a.rebind && !rebound) {
                    if (!p->rebind()) return fail("cannot open a new socket");
                    rebound = true;
                    std::cout << "rebound port=" << p->local_port() << std::endl;
                    // tell the server where we are now: a request from the new port
                    if (!exchange(*p, args{a.port, a.host, a.peer, "test", 1, {}, 1, false, 0, false, a.timeout_ms},
                                  mid, token++))
                        return fail("request after rebinding: " + p->error());
                }
            }
        } else {
            for (int i = 0; i < a.requests; ++i) {
                if (a.rebind && i == 1) {
                    if (!p->rebind()) return fail("cannot open a new socket");
                    std::cout << "rebound port=" << p->local_port() << std::endl;
                }
                if (!exchange(*p, a, mid, token++)) return fail("request " + std::to_string(i + 1) + ": " + p->error());
            }
        }

        if (a.idle_ms > 0) {
            std::vector<uint8_t> in;
            const bool got = p->receive(in, a.idle_ms);
            std::cout << (!got && p->error() == "the server closed the session" ? "closed" : "silent") << std::endl;
            return 0;
        }

        if (a.resume) {
            WOLFSSL_SESSION* saved = p->saved_session();
            p->close();
            p.reset();
            auto q = std::make_unique<dtls_peer>(ctx, a.host, a.port);
            if (saved != nullptr) q->resume(saved);
            const bool ok = q->connect(a.timeout_ms);
            if (saved != nullptr) wolfSSL_SESSION_free(saved);
            if (!ok) return fail("resumption: " + q->error());
            std::cout << handshake_line("resume", *q) << std::endl;
            if (!exchange(*q, a, mid, token++)) return fail("request after resumption: " + q->error());
            q->close();
            return 0;
        }
        p->close();
        return 0;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

// dtls-bench: what DTLS costs a Tern server, measured with wolfSSL clients.
//
//   dtls-bench handshakes --port P [--threads T] [--duration S] [--resume none|ticket|session]
//                         [--cert F --key F] [--cid] [--server-pid PID]
//   dtls-bench requests   --port P [--sessions N] [--duration S] [--warmup S] [--path P]
//                         [--plain | --cid] [--server-pid PID]
//   dtls-bench idle       --port P --server-pid PID [--sessions N] [--settle S] [--cid]
//   dtls-bench hold       --port P --sessions N [--rate R] [--window W] [--sockets M]
//                         [--source-base A] [--cid] [--server-pid PID] [--ready-file F]
//                         [--duration S] [--json] [--path P] [--method M] [--payload T]
//
// handshakes: each thread connects, closes (close_notify) and connects again for the
//   duration; full ECDHE handshakes with P-256 (the server's certificate decides ECDSA or
//   RSA), or resumed ones (ticket: RFC 5077; session: by session ID). Prints handshakes/s
//   and, with --server-pid, the server's CPU time per handshake (all its threads, from
//   /proc/PID/task/*/schedstat), which is what one handshake costs a server core.
// requests: N sessions, each with one CON GET in flight, in a closed loop over poll();
//   --plain sends the same requests over plain UDP (to the udp transport's port) so the two
//   can be compared with one generator. Prints responses/s and server CPU per response.
// --cid (all modes): each session asks for a DTLS 1.2 Connection ID (RFC 9146)
//   and offers an empty one of its own, so its records to the server carry the server's
//   CID (content type tls12_cid) and the server's records to it carry none. A session
//   whose server did not grant one is a failure (the run is not what was asked for).
// idle: N sessions each make one request and are then left idle (the client drops them
//   without close_notify); prints the server's resident memory before and, S seconds
//   (--settle, default 1) after the last one, after (/proc/PID/status VmRSS), and the
//   difference per session.
// hold: N sessions, each from its own (address, port) in 127.0.0.0/8 through a few wildcard
//   sockets (IP_PKTINFO), made at a paced rate, one request each, then forgotten by the
//   client without close_notify (hold.cpp). Its output is its own (README).
//
// Output: "key value" lines, then a JSON line.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hold.hpp"
#include "tern/dtls_client/coap_mini.hpp"
#include "tern/dtls_client/dtls_peer.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

using namespace tern::dtls::test;

namespace {

struct args {
    std::string mode;
    uint16_t port = 0;
    int threads = 1;
    double duration = 10;
    double warmup = 1;
    std::string resume = "none";
    std::string cert, key;
    int server_pid = 0;
    int sessions = 32;
    std::string path = ".well-known/core";
    bool plain = false;
    bool cid = false;   // ask each session for a Connection ID (DTLS 1.2: RFC 9146)
    double settle = 1;  // idle: seconds between the last session and the memory reading
    bool duration_set = false;
    tern::dtls::bench::hold_options hold;  // hold: its own options (hold.hpp)
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "dtls-bench: " << why << " (see tools/dtls-bench/README.md)\n";
    std::exit(64);
}

args parse(int argc, char** argv) {
    if (argc < 2) usage("a mode is required: handshakes, requests, idle or hold");
    args a;
    a.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string k = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage(k + " needs a value");
            return argv[++i];
        };
        if (k == "--port") a.port = static_cast<uint16_t>(std::stoi(val()));
        else if (k == "--threads") a.threads = std::stoi(val());
        else if (k == "--duration") a.duration = std::stod(val()), a.duration_set = true;
        else if (k == "--warmup") a.warmup = std::stod(val());
        else if (k == "--resume") a.resume = val();
        else if (k == "--cert") a.cert = val();
        else if (k == "--key") a.key = val();
        else if (k == "--server-pid") a.server_pid = std::stoi(val());
        else if (k == "--sessions") a.sessions = std::stoi(val());
        else if (k == "--path") a.path = val();
        else if (k == "--plain") a.plain = true;
        else if (k == "--cid") a.cid = true;
        else if (k == "--settle") a.settle = std::stod(val());
        else if (k == "--rate") a.hold.rate = std::stod(val());
        else if (k == "--window") a.hold.window = static_cast<uint32_t>(std::stoul(val()));
        else if (k == "--sockets") a.hold.sockets = static_cast<uint32_t>(std::stoul(val()));
        else if (k == "--source-base") a.hold.source_base = val();
        else if (k == "--ready-file") a.hold.ready_file = val();
        else if (k == "--json") a.hold.json = true;
        else if (k == "--payload") a.hold.payload = val();
        else if (k == "--method") {
            const std::string m = val();
            if (m == "GET") a.hold.method = 1;
            else if (m == "POST") a.hold.method = 2;
            else if (m == "PUT") a.hold.method = 3;
            else usage("--method GET|POST|PUT");
        } else usage("unknown option " + k);
    }
    if (a.port == 0) usage("--port is required");
    if (a.mode != "handshakes" && a.mode != "requests" && a.mode != "idle" && a.mode != "hold")
        usage("unknown mode " + a.mode);
    if (a.mode == "hold") {
        a.hold.port = a.port;
        a.hold.sessions = static_cast<uint64_t>(a.sessions);
        a.hold.cid = a.cid;
        a.hold.server_pid = a.server_pid;
        a.hold.duration = a.duration_set ? a.duration : 0;
        a.hold.path = a.path;
        a.hold.cert = a.cert;
        a.hold.key = a.key;
        if (!(a.hold.rate > 0) || a.hold.window < 1 || a.hold.sockets < 1 || a.hold.duration < 0)
            usage("--rate, --window and --sockets take a positive number, --duration 0 or more");
    }
    if (a.resume != "none" && a.resume != "ticket" && a.resume != "session") usage("--resume none|ticket|session");
    if (a.mode == "idle" && a.server_pid == 0) usage("idle needs --server-pid");
    if (a.sessions < 1 || a.threads < 1) usage("--sessions and --threads take at least 1");
    if (a.cid && a.plain) usage("--cid is for DTLS sessions, not --plain");
#ifndef WOLFSSL_DTLS_CID
    if (a.cid) usage("--cid: this wolfSSL was built without Connection ID (--enable-dtlscid)");
#endif
    return a;
}

// The server's CPU time in ns, all threads (0 when unknown).
uint64_t server_cpu_ns(int pid) {
    if (pid <= 0) return 0;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return 0;
    uint64_t total = 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream in(dir + "/" + e->d_name + "/schedstat");
        uint64_t ns = 0;
        if (in >> ns) total += ns;
    }
    ::closedir(d);
    return total;
}

long server_rss_kb(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

peer_options options_of(const args& a) {
    peer_options o;
    o.cert_file = a.cert;
    o.key_file = a.key;
    o.p256_only = true;
    o.tickets = a.resume != "session";
    o.cid = a.cid;
    return o;
}

void print(const std::vector<std::pair<std::string, std::string>>& kv) {
    std::ostringstream json;
    json << "{";
    bool first = true;
    for (const auto& [k, v] : kv) {
        std::cout << k << " " << v << "\n";
        json << (first ? "" : ",") << "\"" << k << "\":";
        const bool number = !v.empty() && v.find_first_not_of("0123456789.-") == std::string::npos;
        json << (number ? v : "\"" + v + "\"");
        first = false;
    }
    json << "}";
    std::cout << json.str() << std::endl;
}

std::string fixed(double v, int digits = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

int handshakes(const args& a) {
    client_context ctx(options_of(a));
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> ok{0}, failed{0}, not_resumed{0}, no_cid{0};
    std::atomic<size_t> cid_bytes{0};
    std::atomic<bool> measuring{false};
    std::atomic<uint64_t> ok_measured{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < a.threads; ++t) {
        threads.emplace_back([&] {
            WOLFSSL_SESSION* saved = nullptr;
            while (!stop.load()) {
                dtls_peer p(ctx, "127.0.0.1", a.port);
                if (saved != nullptr) p.resume(saved);
                if (!p.connect(5000)) {
                    ++failed;
                    continue;
                }
                if (a.cid) {
                    const std::string cid = p.cid_hex();
                    if (cid.empty()) ++no_cid;
                    else cid_bytes.store(cid.size() / 2);
                }
                if (a.resume != "none") {
                    if (saved == nullptr) {
                        saved = p.saved_session();
                    } else if (!p.resumed()) {
                        ++not_resumed;
                    }
                }
                p.close();
                ++ok;
                if (measuring.load()) ++ok_measured;
            }
            if (saved != nullptr) wolfSSL_SESSION_free(saved);
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(a.warmup * 1000)));
    const uint64_t cpu0 = server_cpu_ns(a.server_pid);
    const int64_t t0 = now_ms();
    measuring.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(a.duration * 1000)));
    measuring.store(false);
    const int64_t t1 = now_ms();
    const uint64_t cpu1 = server_cpu_ns(a.server_pid);
    stop.store(true);
    for (auto& t : threads) t.join();
    const double secs = static_cast<double>(t1 - t0) / 1000.0;
    const uint64_t n = ok_measured.load();
    std::vector<std::pair<std::string, std::string>> out = {
        {"mode", a.resume == "none" ? "full" : "resumed-" + a.resume},
        {"threads", std::to_string(a.threads)},
        {"seconds", fixed(secs, 2)},
        {"handshakes", std::to_string(n)},
        {"handshakes_per_s", fixed(static_cast<double>(n) / secs)},
        {"failed", std::to_string(failed.load())},
        {"not_resumed", std::to_string(not_resumed.load())},
    };
    if (a.cid) {
        out.emplace_back("cid_bytes", std::to_string(cid_bytes.load()));
        out.emplace_back("cid_not_negotiated", std::to_string(no_cid.load()));
    }
    if (a.server_pid > 0 && n > 0) {
        const double cpu_us = static_cast<double>(cpu1 - cpu0) / 1000.0 / static_cast<double>(n);
        out.emplace_back("server_cpu_us_per_handshake", fixed(cpu_us));
        out.emplace_back("server_core_busy", fixed(static_cast<double>(cpu1 - cpu0) / 1e9 / secs, 2));
        out.emplace_back("handshakes_per_server_core_s", fixed(1e6 / cpu_us));
    }
    print(out);
    if (no_cid.load() > 0)
        std::cerr << "dtls-bench: --cid asked for, but " << no_cid.load()
                  << " handshakes ended without a Connection ID from the server\n";
    return failed.load() == 0 && no_cid.load() == 0 ? 0 : 1;
}

// One plain-UDP CoAP client socket (the --plain side of requests).
struct plain_peer {
    int fd = -1;
    sockaddr_in to{};
    explicit plain_peer(uint16_t port) {
        fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    ~plain_peer() { ::close(fd); }
    bool send(const std::vector<uint8_t>& d) {
        return ::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) > 0;
    }
    bool read(std::vector<uint8_t>& out) {
        out.resize(4096);
        const ssize_t n = ::recv(fd, out.data(), out.size(), MSG_DONTWAIT);
        if (n <= 0) return false;
        out.resize(static_cast<size_t>(n));
        return true;
    }
};

int requests(const args& a) {
    client_context ctx(options_of(a));
    std::vector<std::unique_ptr<dtls_peer>> dtls;
    std::vector<std::unique_ptr<plain_peer>> plain;
    std::string cid_first;  // the first session's CID (hex), for the report
    for (int i = 0; i < a.sessions; ++i) {
        if (a.plain) {
            plain.push_back(std::make_unique<plain_peer>(a.port));
        } else {
            dtls.push_back(std::make_unique<dtls_peer>(ctx, "127.0.0.1", a.port));
            if (!dtls.back()->connect(10000)) {
                std::cerr << "session " << i << ": " << dtls.back()->error() << "\n";
                return 1;
            }
            if (a.cid) {
                const std::string cid = dtls.back()->cid_hex();
                if (cid.empty()) {
                    std::cerr << "dtls-bench: --cid asked for, but session " << i << " ("
                              << dtls.back()->version() << ") got no Connection ID from the server\n";
                    return 1;
                }
                if (i == 0) cid_first = cid;
            }
        }
    }
    const size_t n = static_cast<size_t>(a.sessions);
    std::vector<uint16_t> mid(n);
    std::vector<uint32_t> token(n);
    std::vector<int64_t> sent_at(n, 0);
    std::vector<pollfd> pfd(n);
    auto send_one = [&](size_t i) {
        ++mid[i];
        ++token[i];
        auto req = coap_request(con, 1, mid[i], token[i], a.path);
        sent_at[i] = now_ms();
        return a.plain ? plain[i]->send(req) : dtls[i]->send(req);
    };
    for (size_t i = 0; i < n; ++i) {
        mid[i] = static_cast<uint16_t>(i * 977);
        token[i] = static_cast<uint32_t>(i << 20);
        pfd[i] = pollfd{a.plain ? plain[i]->fd : dtls[i]->fd(), POLLIN, 0};
        send_one(i);
    }
    uint64_t responses = 0, errors = 0, retries = 0;
    uint64_t counted = 0;
    const int64_t start = now_ms();
    const int64_t measure_from = start + static_cast<int64_t>(a.warmup * 1000);
    const int64_t end = measure_from + static_cast<int64_t>(a.duration * 1000);
    uint64_t cpu0 = 0;
    bool measuring = false;
    std::vector<uint8_t> in;
    while (now_ms() < end) {
        if (!measuring && now_ms() >= measure_from) {
            measuring = true;
            cpu0 = server_cpu_ns(a.server_pid);
            counted = 0;
        }
        if (::poll(pfd.data(), pfd.size(), 50) < 0) break;
        const int64_t now = now_ms();
        for (size_t i = 0; i < n; ++i) {
            if (pfd[i].revents & POLLIN) {
                for (;;) {
                    const bool got = a.plain ? plain[i]->read(in) : dtls[i]->poll_read(in);
                    if (!got) break;
                    auto m = coap_parse(in);
                    if (!m || m->token.size() != 4) continue;
                    const uint32_t tok = static_cast<uint32_t>(m->token[0] << 24 | m->token[1] << 16 |
                                                               m->token[2] << 8 | m->token[3]);
                    if (tok != token[i] || m->code == 0) continue;
                    if ((m->code >> 5) == 2) {
                        ++responses;
                        ++counted;
                    } else {
                        ++errors;
                    }
                    send_one(i);
                }
            } else if (now - sent_at[i] > 2000) {
                ++retries;  // lost: ask again (a new MID and token)
                send_one(i);
            }
        }
    }
    const uint64_t cpu1 = server_cpu_ns(a.server_pid);
    const double secs = a.duration;
    std::vector<std::pair<std::string, std::string>> out = {
        {"transport", a.plain ? "udp" : "dtls"},
        {"version", a.plain ? "none" : dtls.front()->version()},
        {"cid_bytes", std::to_string(cid_first.size() / 2)},
        {"sessions", std::to_string(n)},
        {"seconds", fixed(secs, 2)},
        {"responses", std::to_string(counted)},
        {"responses_per_s", fixed(static_cast<double>(counted) / secs)},
        {"errors", std::to_string(errors)},
        {"lost", std::to_string(retries)},
    };
    if (a.server_pid > 0 && counted > 0) {
        out.emplace_back("server_cpu_us_per_response",
                         fixed(static_cast<double>(cpu1 - cpu0) / 1000.0 / static_cast<double>(counted), 2));
        out.emplace_back("server_core_busy", fixed(static_cast<double>(cpu1 - cpu0) / 1e9 / secs, 2));
    }
    print(out);
    (void)responses;
    for (auto& p : dtls) p->close();
    return errors == 0 ? 0 : 1;
}

int idle(const args& a) {
    client_context ctx(options_of(a));
    const long before = server_rss_kb(a.server_pid);
    int made = 0, no_cid = 0;
    for (int i = 0; i < a.sessions; ++i) {
        dtls_peer p(ctx, "127.0.0.1", a.port);
        if (!p.connect(10000)) {
            std::cerr << "session " << i << ": " << p.error() << "\n";
            continue;
        }
        if (a.cid && p.cid_hex().empty()) {
            ++no_cid;
            continue;
        }
        // one request, so the engine keeps its peer state too, as for a real device
        uint16_t mid = static_cast<uint16_t>(i);
        if (!p.send(coap_request(con, 1, mid, static_cast<uint32_t>(i), a.path))) continue;
        std::vector<uint8_t> in;
        if (!p.receive(in, 5000)) continue;
        ++made;
        // dropped without close_notify: the server keeps the session until it is idle
        // for dtls_session_inactivity_timeout
    }
    // Long enough for the server to compact the idle sessions (idle_compact_after).
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(a.settle * 1000)));
    const long after = server_rss_kb(a.server_pid);
    if (no_cid > 0)
        std::cerr << "dtls-bench: --cid asked for, but " << no_cid << " sessions got no Connection ID\n";
    print({{"sessions", std::to_string(made)},
           {"cid", a.cid ? "yes" : "no"},
           {"server_rss_before_kb", std::to_string(before)},
           {"server_rss_after_kb", std::to_string(after)},
           {"bytes_per_idle_session",
            made > 0 ? fixed(static_cast<double>(after - before) * 1024.0 / made, 0) : "0"}});
    return made == a.sessions ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const args a = parse(argc, argv);
    try {
        if (a.mode == "handshakes") return handshakes(a);
        if (a.mode == "requests") return requests(a);
        if (a.mode == "hold") return tern::dtls::bench::hold(a.hold);
        return idle(a);
    } catch (const std::exception& e) {
        std::cerr << "dtls-bench: " << e.what() << "\n";
        return 1;
    }
}

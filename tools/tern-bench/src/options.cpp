#include "options.hpp"

#include "coap_wire.hpp"
#include "source_map.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

namespace tern::bench {

namespace {

// The largest UDP payload over IPv4; block-wise transfer is out of scope for a load tool.
constexpr size_t max_datagram = 65507;

const char* const usage = R"(tern-bench: CoAP-over-UDP load generator and UDP echo server

Usage:
  tern-bench [options] coap://HOST[:PORT]/path[?query]
  tern-bench echo-server --bind ADDR:PORT [--threads T] [--busy-poll]
  tern-bench flood [flood options] coap://127.x.y.z[:PORT]
  tern-bench hold [hold options] coap://127.x.y.z[:PORT]
  tern-bench --help

Load options:
  --clients N          client UDP sockets (distinct source ports), default 100
  --method M           GET | POST | PUT | DELETE, default GET
  --payload STRING     request payload (a template, see below)
  --payload-file F     request payload read from F, sent verbatim
  --payload-protobuf SPEC
                       request payload encoded as a protobuf message: comma-separated
                       NUMBER:TYPE=VALUE, TYPE double|float|int|sint|bool|string,
                       VALUE a template, e.g. '1:double={rand}.5,2:double={seq}'
  --content-format N   add a Content-Format option with value N
  --type con|non       message type of requests, default con
  --rate R             total requests/s, paced evenly; default 0 = as fast as
                       responses come back (closed loop)
  --duration S         measured seconds (fractions allowed), default 10
  --requests N         measure exactly N requests instead of a duration
  --concurrency K      in-flight requests per client socket; default 1 for CON;
                       for NON 64 when --rate is set (the pacing governs), else 1
  --timeout MS         a request with no response after MS ms counts as timeout,
                       default 2000
  --retransmit         retransmit unacknowledged CON requests as RFC 7252 says
                       (ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4);
                       without it a lost CON is a timeout, never resent
  --threads T          sender threads, client sockets split across them; default 1
  --warmup S           seconds of load before the measured window, default 0
  --busy-poll          never sleep while waiting; for a generator pinned to its own
                       core (on VMs a sleeping vCPU may take 100 us+ to wake)
  --pace-slack US      with --rate: send what fell due at most US microseconds late,
                       in bursts, instead of spinning for each due time; frees the
                       generator's core when it shares the machine with the server.
                       Latency still counts from each request's due time. Default 0
  --json               print one JSON object on stdout instead of the text report
  --target-ports P,Q.. send to the URL's host at these ports instead of the URL's:
                       client socket j uses the (j mod n)-th, so the devices are split
                       over n servers (e.g. transport nodes of one cluster)

Device mode (ThingsBoard-style API):
  --devices N          N devices, spread over the client sockets (device i sticks
                       to socket i mod clients)
  --token-pattern P    device access token, default 'dev-{i}'
  --observe PATH       before the load, every device registers GET+Observe on PATH
                       (a path template, e.g. /api/v1/{token}/attributes) and keeps
                       it; CON notifications are ACKed and counted
  Templates (URL path/query, --payload, --observe): {i} device number (0-based),
  {token} the rendered --token-pattern, {seq} the device's request number (from 1),
  {rand} a random integer 0..999. Without --devices every client socket is one
  device. Braces that are not {letters} are literal, so JSON needs no escaping.

Echo server:
  --bind ADDR:PORT     address to serve (PORT 0 picks one; the bound address is
                       printed on stdout)
  --threads T          threads, one SO_REUSEPORT socket each; default 1
  --busy-poll          spin on the sockets instead of blocking
  Answers every CoAP request with a minimal 2.05 (ACK for CON, NON for NON) that
  keeps MID and token: the UDP ceiling no CoAP server can beat.

Flood (unauthenticated datagrams from many loopback source addresses; the target
must be an IPv4 loopback address, and the flood stops by itself):
  --rate R             datagrams/s in total, default 3000 (at most 100000)
  --duration S         seconds, default 30
  --count N            stop after N datagrams, default rate x duration
  --sources N          source addresses, default 1000, from --source-base on
  --source-base A      first source address, default 127.100.0.1 (within 127/8)
  --source-step S      distance between source addresses, default 1 (256: each
                       in a /24 network of its own)
  --ports M            source ports (one socket each, bound to the wildcard
                       address), default 100: sources x ports distinct pairs
  --per-pair K         datagrams from one (address, port) pair before the next
                       pair, default 1; pairs repeat only after all are used
  --mix LIST           weights of the kinds, default
                       non=70,con=15,provision=10,block1=5:
                       non: NON GET to an unknown path; con: CON POST telemetry
                       with a made-up access token, a fresh MID and token;
                       provision: POST /api/v1/provision with a wrong secret;
                       block1: first Block1 block (1024 bytes, M=1) with Size1
  --provision-key K    provisionDeviceKey of the provision kind, default
                       flood-provision-key (its secret is always wrong)
  --size1 N            Size1 of the block1 kind, default 268435456
  --linger MS          after the last datagram, wait MS for answers, default 300
  --json               one JSON object on stdout instead of the text report

Hold (many idle devices, each from its own loopback (address, port), each holding
CON GET Observe:0 relations; the target must be an IPv4 loopback address):
  --devices N          devices, default 1 (at most 16777216)
  --first I            device numbers I .. I+N-1, default 0
  --token-pattern P    device i's access token, default 'dev-{i}'
  --observe PATH       a path every device observes ({i}, {token}); repeatable, 1..8
  --sockets M          UDP sockets (ephemeral ports), default 256: device i sends
                       from socket i mod M and the (i / M)-th address from
                       --source-base, skipping addresses ending in .0 and .255
  --source-base A      first source address, default 127.16.0.1
  --rate R             registrations/s in total, default 5000
  --window W           registrations in flight at most, default 2000
  --refresh S          re-register every relation every S s, spread evenly;
                       default 0 (never)
  --notify-log FILE    one line per notification: <unix_ns> <device> <path index>
                       <code> <payload bytes>
  --ready-file FILE    written (JSON) once every registration has ended
  --duration S         seconds to hold after ready, default 0 (until SIGINT/SIGTERM)
  --json               one JSON object on stdout at the end instead of text

Output: sent, ok (2.xx), errors by code (4.xx/5.xx), timeouts, rst, throughput
(responses/s in the measured window), latency p50/p90/p99/p99.9/max in us (from
the intended send time when --rate is set), notifications (observe).
Exit status: 0 run completed (even with timeouts), 1 socket error, 2 usage error.
)";

bool to_u64(std::string_view s, uint64_t& v) {
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool to_double(std::string_view s, double& v) {
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size() && std::isfinite(v);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool percent_decode(std::string_view in, std::string& out, std::string& error) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size() || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0) {
            error = "bad percent-encoding in '" + std::string(in) + "'";
            return false;
        }
        out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
        i += 2;
    }
    return true;
}

constexpr unsigned request_placeholders =
    text_template::bit(placeholder::index) | text_template::bit(placeholder::token) |
    text_template::bit(placeholder::seq) | text_template::bit(placeholder::rand);

// "/a/b?x=1&y=2" into Uri-Path and Uri-Query templates (RFC 7252 §6.4 steps 8-9).
bool split_path(std::string_view path_and_query, std::vector<text_template>& path,
                std::vector<text_template>& query, std::string& error) {
    std::string_view path_part = path_and_query;
    std::string_view query_part;
    if (const auto q = path_and_query.find('?'); q != std::string_view::npos) {
        path_part = path_and_query.substr(0, q);
        query_part = path_and_query.substr(q + 1);
    }
    if (!path_part.empty() && path_part.front() == '/') path_part.remove_prefix(1);
    std::string decoded;
    auto add = [&](std::vector<text_template>& list, std::string_view raw) {
        if (!percent_decode(raw, decoded, error)) return false;
        if (decoded.size() > 255 + 20) {
            error = "URI segment too long: '" + decoded + "'";
            return false;
        }
        text_template t;
        if (!t.parse(decoded, request_placeholders, error)) return false;
        list.push_back(std::move(t));
        return true;
    };
    // "/" alone is the root resource: no Uri-Path option at all.
    if (!path_part.empty()) {
        size_t start = 0;
        while (true) {
            const size_t slash = path_part.find('/', start);
            const auto seg = path_part.substr(start, slash == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : slash - start);
            if (!add(path, seg)) return false;
            if (slash == std::string_view::npos) break;
            start = slash + 1;
        }
    }
    if (!query_part.empty()) {
        size_t start = 0;
        while (true) {
            const size_t amp = query_part.find('&', start);
            const auto seg = query_part.substr(
                start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
            if (!add(query, seg)) return false;
            if (amp == std::string_view::npos) break;
            start = amp + 1;
        }
    }
    return true;
}

parse_result resolve(const std::string& host, const std::string& port, sockaddr_storage& addr,
                     socklen_t& len, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        error = "cannot resolve '" + host + "': " + gai_strerror(rc);
        return parse_result::resolve_error;
    }
    std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    freeaddrinfo(res);
    return parse_result::run;
}

// HOST[:PORT] or [V6][:PORT].
bool split_host_port(std::string_view hp, std::string& host, std::string& port,
                     std::string_view default_port, std::string& error) {
    port = std::string(default_port);
    if (!hp.empty() && hp.front() == '[') {
        const auto close = hp.find(']');
        if (close == std::string_view::npos) {
            error = "unbalanced '[' in '" + std::string(hp) + "'";
            return false;
        }
        host = std::string(hp.substr(1, close - 1));
        const auto rest = hp.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                error = "expected ':' after ']' in '" + std::string(hp) + "'";
                return false;
            }
            port = std::string(rest.substr(1));
        }
    } else if (const auto colon = hp.rfind(':'); colon != std::string_view::npos) {
        host = std::string(hp.substr(0, colon));
        port = std::string(hp.substr(colon + 1));
    } else {
        host = std::string(hp);
    }
    uint64_t p = 0;
    if (host.empty() || !to_u64(port, p) || p > 65535) {
        error = "bad host or port in '" + std::string(hp) + "'";
        return false;
    }
    return true;
}

// Flag reader shared by both modes: "--name value" and "--name=value".
class args {
public:
    args(int argc, char** argv, int first) : argc_(argc), argv_(argv), i_(first) {}
    bool done() const { return i_ >= argc_; }
    std::string_view current() const { return argv_[i_]; }

    // If the current argument is `name`, consume it (and its value when `value` is set).
    bool take(std::string_view name, std::string* value, std::string& error) {
        std::string_view a = argv_[i_];
        if (a.substr(0, name.size()) != name) return false;
        if (a.size() == name.size()) {
            ++i_;
            if (!value) return true;
            if (i_ >= argc_) {
                error = std::string(name) + " needs a value";
                missing_ = true;
                return true;
            }
            *value = argv_[i_++];
            return true;
        }
        if (value && a[name.size()] == '=') {
            *value = std::string(a.substr(name.size() + 1));
            ++i_;
            return true;
        }
        return false;
    }
    bool missing() const { return missing_; }
    void skip() { ++i_; }

private:
    int argc_;
    char** argv_;
    int i_;
    bool missing_ = false;
};

bool read_file(const std::string& path, std::string& out, std::string& error) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        error = "cannot read payload file '" + path + "'";
        return false;
    }
    out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (out.size() > max_datagram) {
        error = "payload file '" + path + "' is larger than one UDP datagram";
        return false;
    }
    return true;
}

size_t options_bound(const std::vector<text_template>& list, size_t token_max) {
    size_t n = 0;
    for (const auto& t : list) n += 5 + t.max_size(token_max);
    return n;
}

// coap://127.x.y.z[:PORT] with no path, for the modes that send from IP_PKTINFO sources of
// 127.0.0.0/8 and so must stay on loopback (`mode` names the mode in messages).
parse_result loopback_target(const char* mode, const std::string& url, sockaddr_storage& addr, socklen_t& len,
                             std::string& error) {
    std::string_view u = url;
    constexpr std::string_view scheme = "coap://";
    if (u.substr(0, scheme.size()) != scheme) {
        error = std::string(mode) + " target must start with coap://, got '" + url + "'";
        return parse_result::usage_error;
    }
    u.remove_prefix(scheme.size());
    const std::string_view host_port = u.substr(0, u.find_first_of("/?"));
    if (host_port.size() != u.size() && u.substr(host_port.size()) != "/") {
        error = std::string(mode) + " target takes no path: the " + mode + " mode chooses its own ('" + url + "')";
        return parse_result::usage_error;
    }
    std::string host;
    std::string port;
    if (!split_host_port(host_port, host, port, "5683", error)) return parse_result::usage_error;
    in_addr t{};
    if (inet_pton(AF_INET, host.c_str(), &t) != 1 || (ntohl(t.s_addr) >> 24) != 127) {
        error = std::string(mode) + " sends to loopback only: the target must be an IPv4 address in 127.0.0.0/8, got '" +
                host + "'";
        return parse_result::usage_error;
    }
    return resolve(host, port, addr, len, error);
}

// v as a whole number in lo..hi, the value of flag; false with the reason in error.
bool whole_number(const char* flag, const std::string& v, uint64_t lo, uint64_t hi, uint64_t& out,
                  std::string& error) {
    if (!to_u64(v, out) || out < lo || out > hi) {
        error = std::string(flag) + " wants a whole number in " + std::to_string(lo) + ".." + std::to_string(hi) +
                ", got '" + v + "'";
        return false;
    }
    return true;
}

}  // namespace

const char* usage_text() { return usage; }

std::string format_address(const sockaddr_storage& addr) {
    char text[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
        port = ntohs(a->sin6_port);
        return "[" + std::string(text) + "]:" + std::to_string(port);
    }
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
    return std::string(text) + ":" + std::to_string(port);
}

parse_result parse_load_options(int argc, char** argv, load_options& o, std::string& error) {
    args a(argc, argv, 1);
    std::string v;
    std::string payload_text;
    std::string payload_file;
    std::string payload_protobuf;
    bool payload_protobuf_set = false;
    std::string observe_text;
    std::string token_pattern = "dev-{i}";
    std::vector<std::string> target_ports;
    bool payload_set = false;
    bool concurrency_set = false;
    bool duration_set = false;
    bool requests_set = false;
    uint64_t n = 0;
    double d = 0;

    auto bad = [&](std::string msg) {
        error = std::move(msg);
        return parse_result::usage_error;
    };
    auto count = [&](const char* flag, uint64_t lo, uint64_t hi, uint64_t& out) {
        return whole_number(flag, v, lo, hi, out, error);
    };
    auto seconds = [&](const char* flag, double lo, double& out) {
        if (!to_double(v, out) || out < lo || out > 1e7) {
            error = std::string(flag) + " wants a number of seconds, got '" + v + "'";
            return false;
        }
        return true;
    };

    while (!a.done()) {
        const std::string_view arg = a.current();
        if (arg == "--help" || arg == "-h") return parse_result::help;
        if (a.take("--clients", &v, error)) {
            if (a.missing() || !count("--clients", 1, 1'000'000, n)) return parse_result::usage_error;
            o.clients = static_cast<uint32_t>(n);
        } else if (a.take("--method", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (v == "GET" || v == "get") o.method = coap::code_get;
            else if (v == "POST" || v == "post") o.method = coap::code_post;
            else if (v == "PUT" || v == "put") o.method = coap::code_put;
            else if (v == "DELETE" || v == "delete") o.method = coap::code_delete;
            else return bad("--method wants GET, POST, PUT or DELETE, got '" + v + "'");
        } else if (a.take("--payload-protobuf", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            payload_protobuf = v;
            payload_protobuf_set = true;
        } else if (a.take("--payload-file", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            payload_file = v;
        } else if (a.take("--payload", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            payload_text = v;
            payload_set = true;
        } else if (a.take("--content-format", &v, error)) {
            if (a.missing() || !count("--content-format", 0, 65535, n)) return parse_result::usage_error;
            o.content_format = static_cast<int>(n);
        } else if (a.take("--type", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (v == "con" || v == "CON") o.confirmable = true;
            else if (v == "non" || v == "NON") o.confirmable = false;
            else return bad("--type wants con or non, got '" + v + "'");
        } else if (a.take("--rate", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (!to_double(v, d) || d < 0 || d > 1e9) return bad("--rate wants requests/s >= 0, got '" + v + "'");
            o.rate = d;
        } else if (a.take("--duration", &v, error)) {
            if (a.missing() || !seconds("--duration", 0.001, o.duration)) return parse_result::usage_error;
            duration_set = true;
        } else if (a.take("--requests", &v, error)) {
            if (a.missing() || !count("--requests", 1, UINT64_MAX / 4, o.requests)) return parse_result::usage_error;
            requests_set = true;
        } else if (a.take("--concurrency", &v, error)) {
            if (a.missing() || !count("--concurrency", 1, 4096, n)) return parse_result::usage_error;
            o.concurrency = static_cast<uint32_t>(n);
            concurrency_set = true;
        } else if (a.take("--timeout", &v, error)) {
            if (a.missing() || !count("--timeout", 1, 3'600'000, n)) return parse_result::usage_error;
            o.timeout_ms = static_cast<uint32_t>(n);
        } else if (a.take("--retransmit", nullptr, error)) {
            o.retransmit = true;
        } else if (a.take("--threads", &v, error)) {
            if (a.missing() || !count("--threads", 1, 256, n)) return parse_result::usage_error;
            o.threads = static_cast<uint32_t>(n);
        } else if (a.take("--warmup", &v, error)) {
            if (a.missing() || !seconds("--warmup", 0, o.warmup)) return parse_result::usage_error;
        } else if (a.take("--json", nullptr, error)) {
            o.json = true;
        } else if (a.take("--busy-poll", nullptr, error)) {
            o.busy_poll = true;
        } else if (a.take("--pace-slack", &v, error)) {
            if (a.missing() || !count("--pace-slack", 0, 1'000'000, n)) return parse_result::usage_error;
            o.pace_slack_ns = n * 1000u;
        } else if (a.take("--devices", &v, error)) {
            if (a.missing() || !count("--devices", 1, 100'000'000, o.devices)) return parse_result::usage_error;
            o.device_mode = true;
        } else if (a.take("--target-ports", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            target_ports.clear();
            for (std::string_view rest = v;;) {
                const size_t comma = rest.find(',');
                const std::string_view one = rest.substr(0, comma);
                if (!to_u64(one, n) || n < 1 || n > 65535)
                    return bad("--target-ports wants ports 1..65535 separated by commas, got '" + v + "'");
                target_ports.emplace_back(one);
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
            if (target_ports.size() > 1024) return bad("--target-ports takes at most 1024 ports");
        } else if (a.take("--token-pattern", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            token_pattern = v;
        } else if (a.take("--observe", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            observe_text = v;
            o.observe = true;
        } else if (arg.substr(0, 2) == "--") {
            return bad("unknown option '" + std::string(arg) + "'");
        } else {
            if (!o.url.empty()) return bad("more than one URL: '" + o.url + "' and '" + std::string(arg) + "'");
            o.url = std::string(arg);
            a.skip();
        }
    }

    if (o.url.empty()) return bad("no target URL (coap://HOST:PORT/path)");
    if (int(payload_set) + int(!payload_file.empty()) + int(payload_protobuf_set) > 1)
        return bad("--payload, --payload-file and --payload-protobuf exclude each other");
    if (duration_set && requests_set) return bad("--duration and --requests exclude each other");
    if (o.threads > o.clients) return bad("--threads must not exceed --clients");

    if (!concurrency_set) o.concurrency = (!o.confirmable && o.rate > 0) ? 64 : 1;

    if (!o.token_pattern.parse(token_pattern, text_template::bit(placeholder::index), error))
        return parse_result::usage_error;

    if (o.device_mode) {
        if (o.devices < o.clients) o.clients = static_cast<uint32_t>(o.devices);
        if (o.threads > o.clients) o.threads = o.clients;
    } else {
        o.devices = o.clients;
    }
    const uint64_t devices_per_client = (o.devices + o.clients - 1) / o.clients;
    // Tokens carry a 16-bit slot number (request slots, then one per observing device).
    if (o.concurrency + (o.observe ? devices_per_client : 0) > 65535)
        return bad("too many devices per client socket for --observe; add --clients");

    // URL: coap://HOST[:PORT][/path][?query]
    std::string_view url = o.url;
    constexpr std::string_view scheme = "coap://";
    if (url.substr(0, scheme.size()) != scheme) {
        if (url.substr(0, 8) == "coaps://") return bad("coaps:// is not supported (plain UDP only)");
        return bad("target must start with coap://, got '" + o.url + "'");
    }
    url.remove_prefix(scheme.size());
    const size_t path_start = url.find_first_of("/?");
    const std::string_view host_port = url.substr(0, path_start);
    const std::string_view rest = path_start == std::string_view::npos ? std::string_view{} : url.substr(path_start);
    std::string host;
    std::string port;
    if (!split_host_port(host_port, host, port, "5683", error)) return parse_result::usage_error;
    if (!split_path(rest, o.path, o.query, error)) return parse_result::usage_error;
    if (o.observe) {
        if (observe_text.empty() || (observe_text.front() != '/' && observe_text.front() != '?'))
            return bad("--observe wants a path starting with '/', got '" + observe_text + "'");
        if (!split_path(observe_text, o.observe_path, o.observe_query, error)) return parse_result::usage_error;
    }

    if (payload_set) {
        if (!o.payload.parse(payload_text, request_placeholders, error)) return parse_result::usage_error;
        o.has_payload = !payload_text.empty();
    } else if (!payload_file.empty()) {
        std::string content;
        if (!read_file(payload_file, content, error)) return parse_result::usage_error;
        o.payload.assign_literal(content);
        o.has_payload = !content.empty();
    } else if (payload_protobuf_set) {
        if (!o.payload_protobuf.parse(payload_protobuf, request_placeholders, error)) return parse_result::usage_error;
        o.has_payload = true;
    }

    const size_t token_max = o.token_pattern.max_size(0);
    size_t bound = 4 + 8 + 4 /* Observe */ + 4 /* Content-Format */ + 1 /* marker */;
    bound += std::max(options_bound(o.path, token_max) + options_bound(o.query, token_max),
                      options_bound(o.observe_path, token_max) + options_bound(o.observe_query, token_max));
    if (o.has_payload)
        bound += o.payload_protobuf.empty() ? o.payload.max_size(token_max) : o.payload_protobuf.max_size(token_max);
    if (bound > max_datagram) return bad("a request could exceed one UDP datagram (block-wise is not supported)");
    o.max_message = bound;

    if (!target_ports.empty() && target_ports.size() > o.clients)
        return bad("--target-ports lists more ports than there are client sockets");
    for (const std::string& tp : target_ports) {
        sockaddr_storage t{};
        socklen_t len = 0;
        if (const parse_result r = resolve(host, tp, t, len, error); r != parse_result::run) return r;
        o.targets.push_back(t);
    }
    return resolve(host, target_ports.empty() ? port : target_ports.front(), o.addr, o.addr_len, error);
}

parse_result parse_echo_options(int argc, char** argv, echo_options& o, std::string& error) {
    args a(argc, argv, 2);
    std::string v;
    std::string bind;
    uint64_t n = 0;
    while (!a.done()) {
        const std::string_view arg = a.current();
        if (arg == "--help" || arg == "-h") return parse_result::help;
        if (a.take("--bind", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            bind = v;
        } else if (a.take("--threads", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (!to_u64(v, n) || n < 1 || n > 256) {
                error = "--threads wants 1..256, got '" + v + "'";
                return parse_result::usage_error;
            }
            o.threads = static_cast<uint32_t>(n);
        } else if (a.take("--busy-poll", nullptr, error)) {
            o.busy_poll = true;
        } else {
            error = "unknown echo-server argument '" + std::string(arg) + "'";
            return parse_result::usage_error;
        }
    }
    if (bind.empty()) {
        error = "echo-server needs --bind ADDR:PORT";
        return parse_result::usage_error;
    }
    std::string host;
    std::string port;
    if (!split_host_port(bind, host, port, "5683", error)) return parse_result::usage_error;
    return resolve(host, port, o.addr, o.addr_len, error);
}

parse_result parse_flood_options(int argc, char** argv, flood_options& o, std::string& error) {
    args a(argc, argv, 2);
    std::string v;
    std::string url;
    std::string base_text;
    uint64_t n = 0;
    bool count_set = false;
    auto bad = [&](std::string msg) {
        error = std::move(msg);
        return parse_result::usage_error;
    };
    auto count = [&](const char* flag, uint64_t lo, uint64_t hi, uint64_t& out) {
        return whole_number(flag, v, lo, hi, out, error);
    };
    while (!a.done()) {
        const std::string_view arg = a.current();
        if (arg == "--help" || arg == "-h") return parse_result::help;
        if (a.take("--rate", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (!to_double(v, o.rate) || o.rate < 1 || o.rate > 100000)
                return bad("--rate wants datagrams/s in 1..100000, got '" + v + "'");
        } else if (a.take("--duration", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (!to_double(v, o.duration) || o.duration < 0.001 || o.duration > 86400)
                return bad("--duration wants seconds in 0.001..86400, got '" + v + "'");
        } else if (a.take("--count", &v, error)) {
            if (a.missing() || !count("--count", 1, 100'000'000, o.count)) return parse_result::usage_error;
            count_set = true;
        } else if (a.take("--sources", &v, error)) {
            if (a.missing() || !count("--sources", 1, 1u << 23, n)) return parse_result::usage_error;
            o.sources = static_cast<uint32_t>(n);
        } else if (a.take("--source-base", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            base_text = v;
        } else if (a.take("--source-step", &v, error)) {
            if (a.missing() || !count("--source-step", 1, 1u << 24, n)) return parse_result::usage_error;
            o.source_step = static_cast<uint32_t>(n);
        } else if (a.take("--per-pair", &v, error)) {
            if (a.missing() || !count("--per-pair", 1, 1'000'000, n)) return parse_result::usage_error;
            o.per_pair = static_cast<uint32_t>(n);
        } else if (a.take("--ports", &v, error)) {
            if (a.missing() || !count("--ports", 1, 4096, n)) return parse_result::usage_error;
            o.ports = static_cast<uint32_t>(n);
        } else if (a.take("--mix", &v, error)) {
            if (a.missing() || !parse_flood_mix(v, o.mix, error)) return parse_result::usage_error;
        } else if (a.take("--provision-key", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (v.empty() || v.size() > 200 || v.find_first_of("\"\\") != std::string::npos ||
                std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
                return bad("--provision-key wants 1..200 characters without quotes, backslashes or control characters");
            o.params.provision_key = v;
        } else if (a.take("--size1", &v, error)) {
            if (a.missing() || !count("--size1", 0, UINT32_MAX, n)) return parse_result::usage_error;
            o.params.size1 = static_cast<uint32_t>(n);
        } else if (a.take("--linger", &v, error)) {
            if (a.missing() || !count("--linger", 0, 60'000, n)) return parse_result::usage_error;
            o.linger_ms = static_cast<uint32_t>(n);
        } else if (a.take("--json", nullptr, error)) {
            o.json = true;
        } else if (arg.substr(0, 2) == "--") {
            return bad("unknown flood option '" + std::string(arg) + "'");
        } else {
            if (!url.empty()) return bad("more than one target: '" + url + "' and '" + std::string(arg) + "'");
            url = std::string(arg);
            a.skip();
        }
    }
    if (url.empty()) return bad("flood needs a target coap://127.x.y.z[:PORT]");

    if (!base_text.empty()) {
        in_addr b{};
        if (inet_pton(AF_INET, base_text.c_str(), &b) != 1)
            return bad("--source-base wants an IPv4 address, got '" + base_text + "'");
        o.source_base = ntohl(b.s_addr);
    }
    // Loopback only: every source must be a usable address of 127.0.0.0/8 (not .0 or
    // the broadcast address 127.255.255.255).
    const uint64_t last = uint64_t{o.source_base} + uint64_t{o.sources - 1} * o.source_step;
    if ((o.source_base >> 24) != 127 || (last >> 24) != 127 || o.source_base == 0x7F000000u ||
        last >= 0x7FFFFFFFu)
        return bad("the source addresses (--source-base, --sources, --source-step) must lie within "
                   "127.0.0.1..127.255.255.254");
    if (!count_set) o.count = static_cast<uint64_t>(std::ceil(o.rate * o.duration));

    return loopback_target("flood", url, o.addr, o.addr_len, error);
}

parse_result parse_hold_options(int argc, char** argv, hold_options& o, std::string& error) {
    args a(argc, argv, 2);
    std::string v;
    std::string url;
    std::string base_text;
    std::string token_pattern = "dev-{i}";
    std::vector<std::string> observe;
    uint64_t n = 0;
    auto bad = [&](std::string msg) {
        error = std::move(msg);
        return parse_result::usage_error;
    };
    auto count = [&](const char* flag, uint64_t lo, uint64_t hi, uint64_t& out) {
        return whole_number(flag, v, lo, hi, out, error);
    };
    auto seconds = [&](const char* flag, double& out) {
        if (!to_double(v, out) || out < 0 || out > 1e7) {
            error = std::string(flag) + " wants a number of seconds >= 0, got '" + v + "'";
            return false;
        }
        return true;
    };
    while (!a.done()) {
        const std::string_view arg = a.current();
        if (arg == "--help" || arg == "-h") return parse_result::help;
        if (a.take("--devices", &v, error)) {
            if (a.missing() || !count("--devices", 1, 1u << 24, o.devices)) return parse_result::usage_error;
        } else if (a.take("--first", &v, error)) {
            if (a.missing() || !count("--first", 0, UINT32_MAX, o.first)) return parse_result::usage_error;
        } else if (a.take("--token-pattern", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            token_pattern = v;
        } else if (a.take("--observe", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            observe.push_back(v);
        } else if (a.take("--sockets", &v, error)) {
            if (a.missing() || !count("--sockets", 1, 16384, n)) return parse_result::usage_error;
            o.sockets = static_cast<uint32_t>(n);
        } else if (a.take("--source-base", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            base_text = v;
        } else if (a.take("--rate", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            if (!to_double(v, o.rate) || o.rate < 1 || o.rate > 1e6)
                return bad("--rate wants registrations/s in 1..1000000, got '" + v + "'");
        } else if (a.take("--window", &v, error)) {
            if (a.missing() || !count("--window", 1, 65535, n)) return parse_result::usage_error;
            o.window = static_cast<uint32_t>(n);
        } else if (a.take("--refresh", &v, error)) {
            if (a.missing() || !seconds("--refresh", o.refresh)) return parse_result::usage_error;
        } else if (a.take("--duration", &v, error)) {
            if (a.missing() || !seconds("--duration", o.duration)) return parse_result::usage_error;
        } else if (a.take("--notify-log", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            o.notify_log = v;
        } else if (a.take("--ready-file", &v, error)) {
            if (a.missing()) return parse_result::usage_error;
            o.ready_file = v;
        } else if (a.take("--json", nullptr, error)) {
            o.json = true;
        } else if (arg.substr(0, 2) == "--") {
            return bad("unknown hold option '" + std::string(arg) + "'");
        } else {
            if (!url.empty()) return bad("more than one target: '" + url + "' and '" + std::string(arg) + "'");
            url = std::string(arg);
            a.skip();
        }
    }
    if (url.empty()) return bad("hold needs a target coap://127.x.y.z[:PORT]");
    if (observe.empty()) return bad("hold needs at least one --observe PATH");
    if (observe.size() > hold_max_paths) return bad("hold takes at most " + std::to_string(hold_max_paths) + " --observe paths");
    if (o.refresh > 0 && o.refresh < 1) return bad("--refresh wants 0 (off) or at least 1 s");

    if (!o.token_pattern.parse(token_pattern, text_template::bit(placeholder::index), error))
        return parse_result::usage_error;
    const size_t token_max = o.token_pattern.max_size(0);
    size_t bound = 0;
    for (const std::string& text : observe) {
        if (text.empty() || (text.front() != '/' && text.front() != '?'))
            return bad("--observe wants a path starting with '/', got '" + text + "'");
        hold_path hp;
        hp.text = text;
        if (!split_path(text, hp.path, hp.query, error)) return parse_result::usage_error;
        // split_path allows {seq} and {rand}; a registration has neither.
        for (const auto* list : {&hp.path, &hp.query})
            for (const text_template& t : *list)
                if (t.has(placeholder::seq) || t.has(placeholder::rand))
                    return bad("--observe takes {i} and {token} only, got '" + text + "'");
        bound = std::max(bound, options_bound(hp.path, token_max) + options_bound(hp.query, token_max));
        o.observe.push_back(std::move(hp));
    }
    o.max_message = 4 + 8 + 2 /* Observe: 0 */ + bound;
    if (o.max_message > 1400) return bad("a registration could exceed 1400 bytes: shorten the --observe paths or the token");

    if (!base_text.empty()) {
        in_addr b{};
        if (inet_pton(AF_INET, base_text.c_str(), &b) != 1)
            return bad("--source-base wants an IPv4 address, got '" + base_text + "'");
        o.source_base = ntohl(b.s_addr);
    }
    // Every device's address must be a usable address of 127.0.0.0/8 (source_map.hpp).
    const uint32_t last_byte = o.source_base & 0xFFu;
    if ((o.source_base >> 24) != 127 || last_byte == 0 || last_byte == 255)
        return bad("--source-base must be an address of 127.0.0.0/8 whose last byte is 1..254");
    const uint64_t last_device = o.first + o.devices - 1;
    if (source_map::rank(0x7FFFFFFEu) - source_map::rank(o.source_base) < last_device / o.sockets)
        return bad("the devices' source addresses (--source-base, --first, --devices, --sockets) must stay within "
                   "127.255.255.254: use more --sockets or a lower --source-base");
    return loopback_target("hold", url, o.addr, o.addr_len, error);
}

}  // namespace tern::bench

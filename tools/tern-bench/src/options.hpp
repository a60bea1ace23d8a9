// Command line of both modes. Parsing never exits: it returns a status so main() owns the
// exit codes (2 for usage errors).
#pragma once

#include "flood_messages.hpp"
#include "proto_template.hpp"
#include "text_template.hpp"

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tern::bench {

struct load_options {
    std::string url;
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    // --target-ports: the URL's host at each of these ports; client socket j talks to
    // targets[j mod n] (so device i to targets[(i mod clients) mod n]). Empty: addr only.
    std::vector<sockaddr_storage> targets;

    std::vector<text_template> path;   // one template per Uri-Path segment
    std::vector<text_template> query;  // one per Uri-Query option
    std::vector<text_template> observe_path;
    std::vector<text_template> observe_query;
    bool observe = false;

    uint8_t method = 1;  // GET
    bool confirmable = true;
    bool has_payload = false;
    text_template payload;
    proto_template payload_protobuf;  // set: the payload is this protobuf message, not `payload`
    int content_format = -1;  // -1: no Content-Format option

    uint32_t clients = 100;
    uint32_t concurrency = 1;  // max in-flight requests per client socket
    uint32_t threads = 1;
    uint64_t devices = 0;  // after parsing: >= clients' share, never 0
    bool device_mode = false;
    text_template token_pattern;

    double rate = 0;       // requests/s in total, 0 = as fast as responses come back
    double duration = 10;  // seconds, used unless `requests` is set
    uint64_t requests = 0;
    double warmup = 0;
    uint32_t timeout_ms = 2000;
    bool retransmit = false;
    bool json = false;
    bool busy_poll = false;
    // With --rate: how late a due request may be sent, so the generator can sleep and send
    // what fell due in small bursts instead of spinning for each one. 0 = exact (spin).
    uint64_t pace_slack_ns = 0;

    size_t max_message = 0;  // upper bound of one encoded request
};

struct echo_options {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    uint32_t threads = 1;
    bool busy_poll = false;
};

// `tern-bench flood`: unauthenticated datagrams from many loopback source addresses.
struct flood_options {
    sockaddr_storage addr{};  // the target: an IPv4 loopback address
    socklen_t addr_len = 0;
    double rate = 3000;       // datagrams/s in total
    double duration = 30;     // seconds; the flood stops by itself after it
    uint64_t count = 0;       // and after this many datagrams (0: rate x duration)
    uint32_t sources = 1000;  // distinct source addresses
    uint32_t source_base = 0x7F640001;  // 127.100.0.1, host byte order
    uint32_t source_step = 1;  // source i is source_base + i * source_step
    uint32_t ports = 100;     // source ports (sockets); pairs = sources x ports
    uint32_t per_pair = 1;    // datagrams from one (address, port) before the next pair
    uint32_t linger_ms = 300; // after the last datagram, wait this long for answers
    flood_mix mix;
    flood_params params;
    bool json = false;
};

// `tern-bench hold`: many idle devices, each from its own (address, port), each holding
// Observe relations on a few paths.
struct hold_path {
    std::string text;                  // as given, for the report
    std::vector<text_template> path;   // Uri-Path segments
    std::vector<text_template> query;  // Uri-Query options
};

struct hold_options {
    sockaddr_storage addr{};  // the server: an IPv4 loopback address
    socklen_t addr_len = 0;
    uint64_t devices = 1;
    uint64_t first = 0;       // devices first .. first + devices - 1
    text_template token_pattern;
    std::vector<hold_path> observe;  // 1..hold_max_paths
    uint32_t sockets = 256;
    uint32_t source_base = 0x7F100001;  // 127.16.0.1, host byte order
    double rate = 5000;       // registrations/s in total
    uint32_t window = 2000;   // registrations in flight
    double refresh = 0;       // s between re-registrations of one relation; 0: never
    double duration = 0;      // s to hold after ready; 0: until SIGINT/SIGTERM
    std::string notify_log;
    std::string ready_file;
    bool json = false;
    size_t max_message = 0;   // upper bound of one encoded registration
};
inline constexpr size_t hold_max_paths = 8;

enum class parse_result { run, help, usage_error, resolve_error };

parse_result parse_load_options(int argc, char** argv, load_options& out, std::string& error);
parse_result parse_echo_options(int argc, char** argv, echo_options& out, std::string& error);
parse_result parse_flood_options(int argc, char** argv, flood_options& out, std::string& error);
parse_result parse_hold_options(int argc, char** argv, hold_options& out, std::string& error);

const char* usage_text();

// "127.0.0.1:5683" / "[::1]:5683" of a socket address.
std::string format_address(const sockaddr_storage& addr);

}  // namespace tern::bench

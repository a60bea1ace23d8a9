// tern-bench: CoAP load generator (default mode), UDP echo server (`echo-server`),
// unauthenticated flood from many loopback sources (`flood`) and many idle observing
// devices from few sockets (`hold`).
#include "echo_server.hpp"
#include "flood.hpp"
#include "hold.hpp"
#include "load.hpp"
#include "options.hpp"
#include "report.hpp"

#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

std::atomic<bool> echo_stop{false};

extern "C" void on_signal(int) {
    tern::bench::stop_requested.store(true);
    echo_stop.store(true);
    // A second Ctrl-C kills at once, for a drain stuck behind long retransmissions.
    std::signal(SIGINT, SIG_DFL);
}

void install_signals() {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

// One descriptor per client socket: lift the soft limit to the hard one.
void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tern-bench: %s\n(see tern-bench --help)\n", message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tern::bench;
    std::string error;
    install_signals();

    if (argc >= 2 && std::strcmp(argv[1], "echo-server") == 0) {
        echo_options eo;
        switch (parse_echo_options(argc, argv, eo, error)) {
        case parse_result::help: std::fputs(usage_text(), stdout); return 0;
        case parse_result::usage_error: return usage_error(error);
        case parse_result::resolve_error: std::fprintf(stderr, "tern-bench: %s\n", error.c_str()); return 1;
        case parse_result::run: break;
        }
        const int rc = run_echo_server(eo, echo_stop, error);
        if (rc) std::fprintf(stderr, "tern-bench echo-server: %s\n", error.c_str());
        return rc;
    }

    if (argc >= 2 && std::strcmp(argv[1], "flood") == 0) {
        flood_options fo;
        switch (parse_flood_options(argc, argv, fo, error)) {
        case parse_result::help: std::fputs(usage_text(), stdout); return 0;
        case parse_result::usage_error: return usage_error(error);
        case parse_result::resolve_error: std::fprintf(stderr, "tern-bench: %s\n", error.c_str()); return 1;
        case parse_result::run: break;
        }
        raise_fd_limit();
        flood_result fr;
        if (run_flood(fo, fr, error) != 0) {
            std::fprintf(stderr, "tern-bench flood: %s\n", error.c_str());
            return 1;
        }
        print_flood_report(fo, fr, stdout);
        return 0;
    }

    if (argc >= 2 && std::strcmp(argv[1], "hold") == 0) {
        hold_options ho;
        switch (parse_hold_options(argc, argv, ho, error)) {
        case parse_result::help: std::fputs(usage_text(), stdout); return 0;
        case parse_result::usage_error: return usage_error(error);
        case parse_result::resolve_error: std::fprintf(stderr, "tern-bench: %s\n", error.c_str()); return 1;
        case parse_result::run: break;
        }
        // A hold ends on SIGINT/SIGTERM: no second-signal kill, it is already on its way out.
        hold_result hr;
        if (run_hold(ho, hr, error) != 0) {
            std::fprintf(stderr, "tern-bench hold: %s\n", error.c_str());
            return 1;
        }
        print_hold_report(ho, hr, stdout);
        return 0;
    }

    load_options lo;
    switch (parse_load_options(argc, argv, lo, error)) {
    case parse_result::help: std::fputs(usage_text(), stdout); return 0;
    case parse_result::usage_error: return usage_error(error);
    case parse_result::resolve_error: std::fprintf(stderr, "tern-bench: %s\n", error.c_str()); return 1;
    case parse_result::run: break;
    }
    raise_fd_limit();
    load_result result;
    if (run_load(lo, result, error) != 0) {
        std::fprintf(stderr, "tern-bench: %s\n", error.c_str());
        return 1;
    }
    print_report(lo, result, stdout);
    print_warnings(lo, result, stderr);
    return 0;
}

// tern run: start every instance of a manifest, wait for SIGINT/SIGTERM or a plugin's
// request_stop, stop everything within kernel.stop_timeout.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "kernel/commands/commands.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/log.hpp"
#include "kernel/manifest.hpp"
#include "kernel/metrics/http_server.hpp"
#include "kernel/metrics/prometheus.hpp"

namespace tern::kernel::commands {

namespace {

// Signals are caught by Asio's handler on a small thread of their own, so no thread's
// signal mask changes (children a plugin spawns inherit a normal mask).
class signal_watch {
public:
    explicit signal_watch(stop_request& stops) : signals_(io_, SIGINT, SIGTERM) {
        signals_.async_wait([&stops](const boost::system::error_code& ec, int sig) {
            if (!ec) stops.trigger(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"), false);
        });
        thread_ = std::thread([this] { io_.run(); });
    }
    ~signal_watch() {
        io_.stop();
        thread_.join();
    }

private:
    boost::asio::io_context io_{1};
    boost::asio::signal_set signals_;
    std::thread thread_;
};

uint32_t shard_count(uint32_t configured) {
    if (configured != 0) return configured;
    const unsigned cores = std::thread::hardware_concurrency();
    return cores == 0 ? 1 : std::min(cores, 256u);
}

}  // namespace

int run(const cli::invocation& inv) {
    std::optional<log_format> cli_format;
    if (auto f = inv.get("--log-format")) cli_format = parse_log_format(*f);  // checked by the parser
    // Writing to a peer that went away must be an error, not the death of the process.
    std::signal(SIGPIPE, SIG_IGN);

    diagnostics diag;
    const std::string path = *inv.get("--config");
    auto m = load_manifest(path, inv.all("--set"), diag);
    log_format format = cli_format.value_or(
        m ? parse_log_format(m->kernel.log_format).value_or(log_format::text) : log_format::text);
    logging logs(format);
    if (m) logs.set_kernel_level(m->kernel.log_level);

    auto fail = [&](const std::string& reason) {
        logs.kernel().error("{}", reason);
        logs.flush();
        inv.err << "tern: " << reason << std::endl;
        return cli::exit_failure;
    };

    plan p;
    if (m) make_plan(std::move(m), p, diag);
    for (const auto& [level, note] : diag.notes) logs.kernel().log(to_spdlog(level), "{}", note);
    if (!diag.ok()) {
        for (const auto& e : diag.errors) {
            logs.kernel().error("{}", e);
            inv.err << e << "\n";
        }
        return fail(std::to_string(diag.errors.size()) + (diag.errors.size() == 1 ? " error" : " errors") +
                    " in " + path + "; nothing was started");
    }

    const kernel_settings& k = p.m->kernel;
    runtime rt(p, logs, shard_count(k.shards));
    signal_watch signals(rt.stop_requests());

    std::optional<metrics::http_server> http;
    if (!k.metrics_bind.empty()) {
        std::string err;
        const auto bind = parse_bind_address(k.metrics_bind, err);
        http.emplace([&rt] { return metrics::render(rt.metrics().snapshot()); });
        if (!bind || !http->listen(bind->host, bind->port, err))
            return fail("cannot serve metrics on " + k.metrics_bind + " (kernel.metrics_bind): " + err);
        http->start();
        logs.kernel().info("metrics on {}", http->url());
    }

    logs.kernel().info("starting {} plugin instances with {} reactor shards", p.instances.size(),
                       rt.reactor().shard_count());
    std::string reason;
    if (!rt.start(reason)) return fail(reason);
    if (!rt.stop_requests().triggered()) logs.kernel().info("tern ready");

    rt.stop_requests().wait();
    stop_request& req = rt.stop_requests();
    if (!req.failure()) logs.kernel().info("{}: stopping", req.reason());

    const auto limit = std::chrono::milliseconds(k.stop_timeout_ms);
    rt.stop(limit, [&](const std::string& step) {
        const std::string msg = "stopping took longer than " + std::to_string(k.stop_timeout_ms) +
                                " ms (kernel.stop_timeout): " + (step.empty() ? "the kernel is stuck" : step) +
                                "; exiting";
        logs.kernel().error("{}", msg);
        logs.flush();
        inv.err << "tern: " << msg << std::endl;
        std::fflush(nullptr);
        std::_Exit(cli::exit_stop_timeout);
    });
    if (http) http->stop();
    if (req.failure()) return fail(req.reason());
    logs.kernel().info("stopped");
    return cli::exit_ok;
}

}  // namespace tern::kernel::commands

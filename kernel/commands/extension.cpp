// Commands that plugins add (tern.cli/1, tern/abi/cli.h): for `tern WORD ...` that is no
// built-in command, read the manifest (--config, default config/tern.toml, with --set),
// create -- but do not start -- the instances whose plugin provides tern.cli/1, and run
// the one claiming WORD. The kernel itself knows nothing of what the words mean.
#include <algorithm>
#include <filesystem>
#include <iterator>
#include <ostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>

#include "kernel/commands/commands.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/text.hpp"
#include "tern/abi/cli.h"
#include "tern/sdk/views.hpp"

namespace tern::kernel::commands {

namespace {

constexpr const char* default_manifest = "config/tern.toml";

void write_to(void* ctx, tern_str text) {
    if (text.data != nullptr && text.size != 0) static_cast<std::ostream*>(ctx)->write(text.data, static_cast<std::streamsize>(text.size));
}

struct sinks {
    std::ostream* out;
    std::ostream* err;
};

void to_out(void* ctx, tern_str text) { write_to(static_cast<sinks*>(ctx)->out, text); }
void to_err(void* ctx, tern_str text) { write_to(static_cast<sinks*>(ctx)->err, text); }

// The kernel's own options among a plugin command's arguments: --config and --set, parsed
// by CLI11 wherever they stand (as `tern run` takes them). Everything else -- the word, the
// plugin's own options and arguments, and all after "--" -- goes to the plugin untouched
// and in order, --help included (the plugin explains its words).
struct kernel_options {
    std::vector<std::string> config, sets, rest;
};

std::optional<kernel_options> split_kernel_options(const std::vector<std::string>& args, std::ostream& err) {
    kernel_options k;
    CLI::App app{"", "tern " + args.at(0)};
    app.set_help_flag();
    app.allow_extras();
    app.add_option("--config", k.config)->expected(1)->allow_extra_args(false)->multi_option_policy(
        CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--set", k.sets)->expected(1)->allow_extra_args(false)->multi_option_policy(
        CLI::MultiOptionPolicy::TakeAll);
    const auto marker = std::find(args.begin() + 1, args.end(), "--");
    std::vector<std::string> reversed(std::make_reverse_iterator(marker), args.rend() - 1);
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        err << "tern " << args[0] << ": " << e.what() << "\n";
        return std::nullopt;
    }
    k.rest.push_back(args[0]);
    for (auto& a : app.remaining()) k.rest.push_back(std::move(a));
    k.rest.insert(k.rest.end(), marker, args.end());
    return k;
}

}  // namespace

std::optional<int> plugin_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    auto kernel = split_kernel_options(args, err);
    if (!kernel) return cli::exit_usage;
    const std::optional<std::string> config =
        kernel->config.empty() ? std::nullopt : std::optional<std::string>(kernel->config.back());
    const std::vector<std::string>& sets = kernel->sets;
    const std::vector<std::string>& rest = kernel->rest;
    const std::string path = config.value_or(default_manifest);
    std::error_code ec;
    if (!config && !std::filesystem::exists(path, ec)) return std::nullopt;  // no manifest, no plugin commands

    diagnostics diag;
    auto m = load_manifest(path, sets, diag);
    plan p;
    if (m) make_plan(std::move(m), p, diag);
    if (!diag.ok()) {
        for (const auto& e : diag.errors) err << e << "\n";
        err << "tern " << args[0] << ": plugin commands come from the plugins of " << path << ", which has "
            << diag.errors.size() << (diag.errors.size() == 1 ? " error" : " errors") << "\n";
        return cli::exit_failure;
    }
    const bool any = std::any_of(p.instances.begin(), p.instances.end(), [](const planned_instance& pi) {
        return pi.library->provides_iid(TERN_IID_CLI_V1);
    });
    if (!any) return std::nullopt;

    // stdout is the command's output: plugin and kernel logs go to stderr, warnings and up.
    logging logs(log_format::text, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logs.set_kernel_level(std::max<tern_log_level>(p.m->kernel.log_level, TERN_LOG_WARN));
    for (auto& pi : p.instances) pi.log_level = std::max<tern_log_level>(pi.log_level, TERN_LOG_WARN);
    uint32_t shards = p.m->kernel.shards;
    if (shards == 0) shards = std::clamp(std::thread::hardware_concurrency(), 1u, 256u);

    runtime rt(p, logs, shards);
    std::string reason;
    if (!rt.create_only([](const planned_instance& pi) { return pi.library->provides_iid(TERN_IID_CLI_V1); },
                        reason)) {
        err << "tern: " << reason << "\n";
        return cli::exit_failure;
    }
    std::optional<int> result;
    for (const auto& [instance, iface] : rt.interfaces(TERN_IID_CLI_V1)) {
        auto* c = static_cast<tern::cli_v1*>(iface);
        const auto words = text::split(sdk::to_sv(c->commands()), '|');
        if (std::find(words.begin(), words.end(), args[0]) == words.end()) continue;
        std::vector<tern_str> argv;
        for (const auto& a : rest) argv.push_back(tern_str{a.data(), a.size()});
        sinks s{&out, &err};
        result = c->run(static_cast<uint32_t>(argv.size()), argv.data(), &to_out, &to_err, &s);
        break;
    }
    out.flush();
    rt.stop();
    return result;
}

}  // namespace tern::kernel::commands

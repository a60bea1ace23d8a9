#include "kernel/cli.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>

#include "kernel/commands/commands.hpp"
#include "kernel/text.hpp"

namespace tern::kernel::cli {

namespace {

int help(const invocation& inv);

const option config_required{"--config", "FILE", "the manifest (TOML)", true, false};
const option config_optional{"--config", "FILE", "take kernel.plugin_path from this manifest", false, false};
const option set_option{"--set", "KEY=VALUE",
                        "override a manifest key, e.g. plugins.udp.bind_port=15683; VALUE is TOML, "
                        "else a string; missing tables are created",
                        false, true};

}  // namespace

const std::vector<command>& commands() {
    static const std::vector<command> table = {
        {"run", "", 0, 0, "Run the plugin instances of a manifest in the foreground",
         {config_required, set_option,
          {"--log-format", "text|json", "override kernel.log_format", false, false}},
         &commands::run,
         "Logs go to stdout. 'tern ready' is logged once every instance has started. SIGINT or\n"
         "SIGTERM stops the instances in reverse start order within kernel.stop_timeout.\n"
         "Exit status: 0 after a clean stop, 1 when start-up fails or an instance requests a\n"
         "stop, 2 when stopping takes longer than kernel.stop_timeout."},
        {"check", "", 0, 0, "Check a manifest and every enabled plugin's table without starting anything",
         {config_required, set_option},
         &commands::check,
         "Loads the plugin libraries to read their descriptors; creates nothing.\n"
         "Exit status: 0 when the manifest is fine, 1 with every error listed otherwise."},
        {"plugins list", "", 0, 0, "List the plugin libraries (libtern-*.so) found on the plugin path",
         {config_optional},
         &commands::plugins_list,
         "Searches kernel.plugin_path, then <tern>/../plugins and <prefix>/lib/tern/plugins."},
        {"plugins inspect", "FILE", 1, 1, "Print one plugin library's descriptor and config schema",
         {},
         &commands::plugins_inspect,
         "Creates nothing. A library that is not a Tern plugin is refused (exit status 1)."},
        {"config sample", "PLUGIN", 1, 1,
         "Print a plugin's manifest table with defaults and docs (PLUGIN may be 'kernel' or a file)",
         {config_optional},
         &commands::config_sample,
         ""},
        {"config docs", "PLUGIN", 1, 1, "Print a plugin's config schema as a Markdown table",
         {config_optional},
         &commands::config_docs,
         ""},
        {"version", "", 0, 0, "Print the version, the ABI version and the compiler it was built with", {},
         &commands::version, ""},
        {"help", "[COMMAND]", 0, 2, "Show help for all commands or one", {}, &help, ""},
    };
    return table;
}

std::optional<std::string> invocation::get(std::string_view name) const {
    const auto it = options.find(name);
    if (it == options.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> invocation::all(std::string_view name) const {
    const auto it = options.find(name);
    return it == options.end() ? std::vector<std::string>{} : it->second;
}

namespace {

std::string usage_line(const command& c) {
    std::string s = "tern " + std::string(c.words);
    if (!c.args.empty()) s += " " + std::string(c.args);
    for (const auto& o : c.options) {
        std::string part = std::string(o.name);
        if (!o.value.empty()) part += " " + std::string(o.value);
        if (o.repeatable) part += " ...";
        s += o.required ? " " + part : " [" + part + "]";
    }
    return s;
}

std::vector<std::string> words_of(std::string_view w) { return text::split(w, ' '); }

const command* find_command(const std::vector<std::string>& args, std::size_t& consumed) {
    const command* best = nullptr;
    consumed = 0;
    for (const auto& c : commands()) {
        const auto w = words_of(c.words);
        if (w.size() > args.size() || w.size() <= consumed) continue;
        if (std::equal(w.begin(), w.end(), args.begin())) {
            best = &c;
            consumed = w.size();
        }
    }
    return best;
}

// Commands whose first word is group ("plugins" -> plugins list, plugins inspect).
std::vector<const command*> group_of(std::string_view group) {
    std::vector<const command*> out;
    for (const auto& c : commands())
        if (words_of(c.words).size() > 1 && words_of(c.words)[0] == group) out.push_back(&c);
    return out;
}

int help(const invocation& inv) {
    if (inv.positional.empty()) {
        print_usage(inv.out);
        return exit_ok;
    }
    std::size_t consumed = 0;
    if (const command* c = find_command(inv.positional, consumed); c != nullptr && consumed == inv.positional.size()) {
        print_command_help(inv.out, *c);
        return exit_ok;
    }
    const auto group = group_of(inv.positional[0]);
    if (inv.positional.size() == 1 && !group.empty()) {
        for (const command* c : group) inv.out << "usage: " << usage_line(*c) << "\n";
        return exit_ok;
    }
    inv.err << "tern: no such command '" << text::join(inv.positional, " ") << "'\n";
    print_usage(inv.err);
    return exit_usage;
}

int usage_error(std::ostream& err, const command& c, const std::string& msg) {
    err << "tern " << c.words << ": " << msg << "\n";
    err << "usage: " << usage_line(c) << "\n";
    err << "Run 'tern " << c.words << " --help' for details.\n";
    return exit_usage;
}

}  // namespace

void print_usage(std::ostream& os) {
    os << "usage: tern <command> [options]\n\ncommands:\n";
    for (const auto& c : commands()) {
        os << "  " << usage_line(c) << "\n";
        os << "      " << c.summary << "\n";
    }
    os << "\nPlugins add commands of their own (tern.cli/1), e.g. the embedded core's 'tern device ...':\n"
          "  tern WORD [ARGS...] [--config FILE (default config/tern.toml)] [--set KEY=VALUE ...]\n";
    os << "\nRun 'tern help COMMAND' or 'tern COMMAND --help' for details.\n";
}

void print_command_help(std::ostream& os, const command& c) {
    os << "usage: " << usage_line(c) << "\n\n" << c.summary << ".\n";
    if (!c.options.empty()) {
        os << "\noptions:\n";
        for (const auto& o : c.options) {
            std::string left = std::string(o.name) + (o.value.empty() ? "" : " " + std::string(o.value));
            os << "  " << left;
            os << std::string(left.size() < 24 ? 24 - left.size() : 1, ' ') << o.help;
            if (o.repeatable) os << " (repeatable)";
            if (o.required) os << " (required)";
            os << "\n";
        }
    }
    os << "  --help                  " << "show this help\n";
    if (!c.details.empty()) os << "\n" << c.details << "\n";
}

int dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    if (args.empty()) {
        err << "tern: missing command\n";
        print_usage(err);
        return exit_usage;
    }
    if (args[0] == "--help" || args[0] == "-h") {
        print_usage(out);
        return exit_ok;
    }
    if (args[0] == "--version") return dispatch({"version"}, out, err);

    std::size_t consumed = 0;
    const command* c = find_command(args, consumed);
    if (c == nullptr) {
        const auto group = group_of(args[0]);
        if (!group.empty()) {
            const bool wants_help = args.size() > 1 && (args[1] == "--help" || args[1] == "-h");
            std::ostream& os = wants_help ? out : err;
            if (!wants_help)
                err << "tern " << args[0] << ": "
                    << (args.size() > 1 ? "unknown subcommand '" + args[1] + "'" : std::string("missing subcommand"))
                    << "\n";
            for (const command* g : group) os << "usage: " << usage_line(*g) << "\n";
            return wants_help ? exit_ok : exit_usage;
        }
        if (args[0].rfind('-', 0) != 0)
            if (auto rc = commands::plugin_command(args, out, err)) return *rc;
        err << "tern: unknown command '" << args[0] << "'\n";
        print_usage(err);
        // Plugin commands (device, attr, rpc, ...) exist only where a manifest names their
        // plugins: say so when the default manifest is not here and none was given.
        const bool has_config = std::any_of(args.begin(), args.end(), [](const std::string& a) {
            return a == "--config" || a.rfind("--config=", 0) == 0;
        });
        std::error_code ec;
        if (args[0].rfind('-', 0) != 0 && !has_config && !std::filesystem::exists("config/tern.toml", ec))
            err << "tern: commands of plugins (such as 'device' or 'rpc') come from the manifest, and "
                   "config/tern.toml is not in this folder: run tern from the folder that holds config/, "
                   "or pass --config FILE\n";
        return exit_usage;
    }

    invocation inv{{}, {}, out, err};
    for (std::size_t i = consumed; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            print_command_help(out, *c);
            return exit_ok;
        }
        if (a.size() > 2 && a.rfind("--", 0) == 0) {
            const auto eq = a.find('=');
            const std::string name = a.substr(0, eq);
            const auto o = std::find_if(c->options.begin(), c->options.end(),
                                        [&](const option& x) { return x.name == name; });
            if (o == c->options.end()) return usage_error(err, *c, "unknown option " + name);
            std::string value;
            if (o->value.empty()) {
                if (eq != std::string::npos) return usage_error(err, *c, name + " takes no value");
            } else if (eq != std::string::npos) {
                value = a.substr(eq + 1);
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return usage_error(err, *c, name + " needs a value (" + std::string(o->value) + ")");
            }
            auto& slot = inv.options[name];
            if (!slot.empty() && !o->repeatable) return usage_error(err, *c, name + " given twice");
            slot.push_back(std::move(value));
            continue;
        }
        inv.positional.push_back(a);
    }
    if (inv.positional.size() < c->min_args)
        return usage_error(err, *c, "missing " + std::string(c->args));
    if (inv.positional.size() > c->max_args)
        return usage_error(err, *c, "unexpected argument '" + inv.positional[c->max_args] + "'");
    for (const auto& o : c->options)
        if (o.required && !inv.has(o.name))
            return usage_error(err, *c, std::string(o.name) + " " + std::string(o.value) + " is required");
    return c->handler(inv);
}

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    try {
        return dispatch(args, std::cout, std::cerr);
    } catch (const std::exception& e) {
        std::cerr << "tern: internal error: " << e.what() << "\n";
        return 70;
    }
}

}  // namespace tern::kernel::cli

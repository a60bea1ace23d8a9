#include "kernel/cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

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

void print_group_usage(std::ostream& os, std::string_view group) {
    for (const command* c : group_of(group)) os << "usage: " << usage_line(*c) << "\n";
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
    if (inv.positional.size() == 1 && !group_of(inv.positional[0]).empty()) {
        print_group_usage(inv.out, inv.positional[0]);
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

// `tern WORD` for a WORD that is no built-in command: a plugin's (tern.cli/1), or unknown.
int other_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
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

// An option whose value is a fixed set ("text|json") accepts only those words.
CLI::Validator one_of(std::string_view spec) {
    const auto words = text::split(spec, '|');
    return CLI::Validator(
        [words](std::string& v) -> std::string {
            if (std::find(words.begin(), words.end(), v) != words.end()) return {};
            return "must be " + text::join(words, " or ") + ", not '" + v + "'";
        },
        std::string(spec));
}

// The command table as a CLI11 parser: one subcommand per word ("plugins" holds "list"
// and "inspect"), each command's options and arguments declared from its table entry, and
// --help rendered from the table (help_text), so every command is parsed, checked and
// explained the same way.
class parser {
public:
    parser();
    parser(const parser&) = delete;
    parser& operator=(const parser&) = delete;

    // Parses args (the first is a built-in command, --help or --version) and runs the command.
    int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
    bool is_command(const std::string& word) const { return words_.count(word) != 0; }
    std::string help_text(const CLI::App* app) const;

private:
    struct leaf {
        const command* c = nullptr;
        std::vector<std::string> positional;
        std::map<std::string, std::vector<std::string>, std::less<>> values;
    };
    class formatter;

    CLI::App* subcommand(CLI::App& parent, const std::string& word, const std::string& summary);
    void declare(CLI::App& app, leaf& l);
    const CLI::App* deepest() const;
    int run_leaf(const CLI::App& app, leaf& l, std::ostream& out, std::ostream& err);
    std::string problem(const CLI::App& app, const leaf& l, const CLI::ParseError& e) const;

    std::shared_ptr<formatter> format_;
    CLI::App root_{"", "tern"};
    std::map<std::string, CLI::App*> words_;         // first words: commands and groups
    std::map<const CLI::App*, std::string> groups_;  // "plugins", "config"
    std::map<const CLI::App*, leaf> leaves_;
    bool version_ = false;
};

class parser::formatter final : public CLI::FormatterBase {
public:
    explicit formatter(const parser& p) : p_(p) {}
    std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const override {
        return p_.help_text(app);
    }

private:
    const parser& p_;
};

parser::parser() : format_(std::make_shared<formatter>(*this)) {
    root_.formatter(format_);
    root_.set_help_flag("--help,-h", "show this help");
    // One command per line: a later word is an argument ("tern help run"), never a second command.
    root_.require_subcommand(0, 1);
    root_.add_flag("--version", version_, "print the version");
    for (const command& c : commands()) {
        const auto words = words_of(c.words);
        CLI::App* at = &root_;
        for (std::size_t i = 0; i + 1 < words.size(); ++i) {  // a group word
            CLI::App* g = at == &root_ && words_.count(words[i]) != 0 ? words_[words[i]] : nullptr;
            if (g == nullptr) {
                g = subcommand(*at, words[i], "");
                groups_[g] = words[i];
                if (at == &root_) words_[words[i]] = g;
            }
            at = g;
        }
        CLI::App* app = subcommand(*at, words.back(), std::string(c.summary));
        if (at == &root_) words_[words.back()] = app;
        leaf& l = leaves_[app];
        l.c = &c;
        declare(*app, l);
    }
}

CLI::App* parser::subcommand(CLI::App& parent, const std::string& word, const std::string& summary) {
    CLI::App* app = parent.add_subcommand(word, summary);
    app->formatter(format_);
    app->set_help_flag("--help,-h", "show this help");
    // Unknown options and surplus arguments are kept (remaining()) and reported in the
    // command's own words rather than CLI11's.
    app->allow_extras();
    app->require_subcommand(0, 1);
    return app;
}

void parser::declare(CLI::App& app, leaf& l) {
    for (const option& o : l.c->options) {
        const std::string name(o.name);
        auto& store = l.values[name];
        CLI::Option* opt = nullptr;
        if (o.value.empty()) {
            const std::string help(o.help);
            opt = app.add_flag(name, help)->multi_option_policy(CLI::MultiOptionPolicy::Throw);
        } else {
            opt = app.add_option(name, store, std::string(o.help))
                      ->type_name(std::string(o.value))
                      ->expected(1)
                      ->allow_extra_args(false)
                      ->multi_option_policy(o.repeatable ? CLI::MultiOptionPolicy::TakeAll
                                                         : CLI::MultiOptionPolicy::Throw);
            if (o.value.find('|') != std::string_view::npos) opt->check(one_of(o.value));
        }
        if (o.required) opt->required();
    }
    if (l.c->max_args > 0) {
        CLI::Option* args = app.add_option("args", l.positional)
                                ->type_name(std::string(l.c->args))
                                ->expected(static_cast<int>(l.c->min_args), static_cast<int>(l.c->max_args));
        if (l.c->min_args > 0) args->required();
    }
}

std::string parser::help_text(const CLI::App* app) const {
    std::ostringstream os;
    if (const auto l = leaves_.find(app); l != leaves_.end()) print_command_help(os, *l->second.c);
    else if (const auto g = groups_.find(app); g != groups_.end()) print_group_usage(os, g->second);
    else print_usage(os);
    return os.str();
}

// The command reached: the last subcommand parsed, at each level.
const CLI::App* parser::deepest() const {
    const CLI::App* at = &root_;
    for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) at = subs.back();
    return at;
}

// What was wrong with a command line CLI11 refused, in the table's terms where it can
// tell (a required option or argument missing, too many arguments, an option given twice),
// else CLI11's own words (a value missing, a value outside its set).
std::string parser::problem(const CLI::App& app, const leaf& l, const CLI::ParseError& e) const {
    for (const option& o : l.c->options) {
        const CLI::Option* opt = app.get_option_no_throw(std::string(o.name));
        if (opt == nullptr) continue;
        if (!o.repeatable && opt->count() > 1) return std::string(o.name) + " given twice";
        if (o.required && opt->count() == 0 && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr)
            return std::string(o.name) + (o.value.empty() ? "" : " " + std::string(o.value)) + " is required";
    }
    if (const CLI::Option* args = app.get_option_no_throw("args"); args != nullptr) {
        if (args->count() < l.c->min_args) return "missing " + std::string(l.c->args);
        if (args->count() > l.c->max_args) return "unexpected argument '" + args->results()[l.c->max_args] + "'";
    }
    return e.what();
}

int parser::run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
    try {
        root_.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        out << help_text(deepest());
        return exit_ok;
    } catch (const CLI::ParseError& e) {
        const CLI::App* at = deepest();
        if (const auto l = leaves_.find(at); l != leaves_.end())
            return usage_error(err, *l->second.c, problem(*at, l->second, e));
        err << "tern: " << e.what() << "\n";
        print_usage(err);
        return exit_usage;
    }
    const CLI::App* at = deepest();
    if (at == &root_) {
        if (version_) return dispatch({"version"}, out, err);
        err << "tern: missing command\n";
        print_usage(err);
        return exit_usage;
    }
    if (const auto g = groups_.find(at); g != groups_.end()) {
        const auto rest = at->remaining();
        err << "tern " << g->second << ": "
            << (rest.empty() ? std::string("missing subcommand") : "unknown subcommand '" + rest[0] + "'") << "\n";
        print_group_usage(err, g->second);
        return exit_usage;
    }
    return run_leaf(*at, leaves_.at(at), out, err);
}

int parser::run_leaf(const CLI::App& app, leaf& l, std::ostream& out, std::ostream& err) {
    if (const auto rest = app.remaining(); !rest.empty()) {
        const std::string& a = rest[0];
        if (a.size() > 2 && a.rfind("--", 0) == 0) return usage_error(err, *l.c, "unknown option " + a.substr(0, a.find('=')));
        return usage_error(err, *l.c, "unexpected argument '" + a + "'");
    }
    invocation inv{std::move(l.positional), {}, out, err};
    for (const option& o : l.c->options) {
        const std::string name(o.name);
        const CLI::Option* opt = app.get_option(name);
        if (opt->count() == 0) continue;
        inv.options[name] = o.value.empty() ? std::vector<std::string>(opt->count()) : std::move(l.values[name]);
    }
    return l.c->handler(inv);
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
    parser p;
    if (!p.is_command(args[0]) && args[0] != "--help" && args[0] != "-h" && args[0] != "--version")
        return other_command(args, out, err);
    return p.run(args, out, err);
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

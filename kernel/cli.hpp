// The command line: a table of commands, each with its options and a handler. Adding a
// command is one entry in commands() (cli.cpp) plus its handler in commands/. CLI11 parses
// and checks every command from its entry (cli.cpp builds one subcommand per word), and
// --help is rendered from the same entry, so all commands read and fail alike.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::kernel::cli {

// Exit codes: 0 ok, 1 failure (bad manifest, a plugin failed), 2 stop timed out,
// 64 usage error (EX_USAGE).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_stop_timeout = 2;
inline constexpr int exit_usage = 64;

struct option {
    std::string_view name;   // "--config"
    std::string_view value;  // "FILE"; empty for a flag; "text|json": only these words
    std::string_view help;
    bool required = false;
    bool repeatable = false;
};

// A parsed command line, handed to a command's handler.
struct invocation {
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>, std::less<>> options;
    std::ostream& out;
    std::ostream& err;

    bool has(std::string_view name) const { return options.find(name) != options.end(); }
    // The (last) value of an option.
    std::optional<std::string> get(std::string_view name) const;
    std::vector<std::string> all(std::string_view name) const;
};

struct command {
    std::string_view words;       // "plugins list"
    std::string_view args;        // positional arguments in the usage line: "FILE"
    std::size_t min_args = 0;
    std::size_t max_args = 0;
    std::string_view summary;     // one line
    std::vector<option> options;
    int (*handler)(const invocation&) = nullptr;
    std::string_view details;     // paragraph after the options in --help
};

const std::vector<command>& commands();

// Parses args (without the program name) and runs the command.
int dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int main(int argc, char** argv);

// "usage: tern ..." for everything, or for one command.
void print_usage(std::ostream& os);
void print_command_help(std::ostream& os, const command& c);

}  // namespace tern::kernel::cli

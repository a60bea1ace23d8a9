// Handlers of the command table in cli.cpp, one file per command group.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "kernel/cli.hpp"

namespace tern::kernel::commands {

int run(const cli::invocation& inv);              // run.cpp
int check(const cli::invocation& inv);            // check.cpp
int plugins_list(const cli::invocation& inv);     // plugins.cpp
int plugins_inspect(const cli::invocation& inv);  // plugins.cpp
int config_sample(const cli::invocation& inv);    // config.cpp
int config_docs(const cli::invocation& inv);      // config.cpp
int version(const cli::invocation& inv);          // version.cpp

// The plugin search directories: from --config's kernel.plugin_path when given, else the
// defaults. nullopt (with the reason printed) when the manifest cannot be read.
std::optional<std::vector<std::string>> search_dirs(const cli::invocation& inv);  // plugins.cpp

// `tern WORD ...` for a WORD a plugin provides through tern.cli/1 (extension.cpp): its exit
// code, or nullopt when no plugin of the manifest claims WORD.
std::optional<int> plugin_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tern::kernel::commands

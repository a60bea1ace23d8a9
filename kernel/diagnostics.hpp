// Errors collected while checking a manifest: every error of a file is reported at once,
// so an operator fixes them in one go.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tern/abi/host.h"

namespace tern::kernel {

struct diagnostics {
    std::vector<std::string> errors;
    // Lines for the log that are not errors (a disabled instance skipped, a newer SDK).
    std::vector<std::pair<tern_log_level, std::string>> notes;

    void error(std::string msg) { errors.push_back(std::move(msg)); }
    void note(tern_log_level level, std::string msg) { notes.emplace_back(level, std::move(msg)); }
    bool ok() const noexcept { return errors.empty(); }
};

}  // namespace tern::kernel

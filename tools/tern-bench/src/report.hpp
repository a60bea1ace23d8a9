#pragma once

#include "load.hpp"
#include "options.hpp"

#include <cstdio>

namespace tern::bench {

// Text report, or with --json a single JSON object on one line.
void print_report(const load_options& opts, const load_result& result, std::FILE* out);
// Conditions that make the numbers doubtful (MID reuse, nobody listening, rate missed).
void print_warnings(const load_options& opts, const load_result& result, std::FILE* err);

}  // namespace tern::bench

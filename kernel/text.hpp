// Small text helpers shared by the manifest checks, the CLI and the metrics exporter.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::kernel::text {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), so that
// "bind_prot" is one edit away from "bind_port".
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to word, if it is close enough to be a plausible typo.
std::optional<std::string> suggest(std::string_view word, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::vector<std::string> split(std::string_view s, char sep);

// Shortest text that reads back as the same double; integral values have no ".0".
std::string format_number(double v);
// Like format_number, but always a TOML float (1.0, inf, nan).
std::string toml_float(double v);
// A TOML basic string with quotes.
std::string toml_string(std::string_view s);
// JSON string contents (no quotes); invalid UTF-8 becomes U+FFFD so the output is valid.
void json_escape(std::string_view s, std::string& out);
std::string json_string(std::string_view s);

// "a", "an": for messages like "must be an integer".
std::string_view article(std::string_view noun);

}  // namespace tern::kernel::text

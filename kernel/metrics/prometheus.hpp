// Prometheus text exposition format 0.0.4: names, labels, HELP/TYPE lines, histograms.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/metrics/store.hpp"

namespace tern::kernel::metrics {

inline constexpr std::string_view content_type = "text/plain; version=0.0.4";

bool valid_metric_name(std::string_view name);
// Parses label pairs as a plugin writes them (method="GET",code="2.05", no braces) into
// canonical text; nullopt with a reason in err when malformed or using a reserved name
// (instance, le).
std::optional<std::string> canonical_labels(std::string_view labels, std::string& err);
// A label pair name="value" with the value escaped.
std::string label_pair(std::string_view name, std::string_view value);

std::string render(const std::vector<family_snapshot>& families);

}  // namespace tern::kernel::metrics

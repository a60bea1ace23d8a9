// Bulk import of devices with access tokens (`tern device import`, POST /api/devices/import):
// CSV rows `name,token` read into rows that carry their line in the caller's file, and
// one write op that stores a batch of them in one transaction or none of it, refusing the
// first bad row by its line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core_parts.hpp"

namespace tern::core_embedded {

// The most rows one request (one transaction) may carry.
constexpr size_t max_import_rows = 10000;

struct import_row {
    std::string name, token;
    int64_t line = 0;  // in the caller's file (1-based)
};

struct device_import {
    std::vector<import_row> rows;
    std::string profile = "default";
};

struct import_outcome {
    size_t imported = 0;
    int64_t line = 0;  // the refused row's line (0: none, or the whole batch failed)
};

struct csv_refusal {
    int64_t line = 0;
    std::string why;
};

// Parses CSV text whose first line is line `first_line` of the caller's file: one row
// `name,token` a line (LF or CRLF), fields optionally in double quotes ("" inside is one
// quote). Blank lines are skipped, and so is a header `name,token` on line 1. Rows are
// appended to out; the first malformed line is returned (rows before it stay in out).
std::optional<csv_refusal> parse_import_csv(std::string_view text, int64_t first_line, std::vector<import_row>& out);

// Whether a CSV line is the optional header.
bool is_import_header(std::string_view line);

// Stores the rows in one transaction on the writer: every row or none. A refusal names the
// row's line in the message ("line 17: a device named 'x' exists") and in outcome.line:
// TERN_INVALID_ARGUMENT (bad name or token), TERN_EXISTS (name or token taken, also by an
// earlier row of the batch), TERN_NOT_FOUND (no such profile). After the commit, the
// listener hears one CREDENTIALS_CHANGED (for the batch's first device): a transport then
// forgets the credentials it remembered as unknown, which is all a new device needs.
void import_devices(core_parts& p, device_import batch, callback<import_outcome> cb);

}  // namespace tern::core_embedded

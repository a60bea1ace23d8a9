// spdlog set-up: one logger per plugin instance (its name is the instance's), all writing
// through one thread-safe sink, formatted as text or as one JSON object per line.
//   text: [2026-11-25 13:17:00.123] [info] [udp] listening on 0.0.0.0:5683
//   json: {"ts":"2026-11-25T13:17:00.123Z","level":"info","instance":"udp","msg":"listening on ..."}
// A message is data (device names, paths, peer text): in text lines its control and other
// invisible characters are escaped, so one event is always one line and cannot forge the
// next (escape_text below); JSON lines escape them anyway.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "tern/abi/host.h"

namespace tern::kernel {

enum class log_format { text, json };
std::optional<log_format> parse_log_format(std::string_view s);

spdlog::level::level_enum to_spdlog(tern_log_level level);

// Appends s to out for a text log line: \n \r \t as written here, other C0 controls, DEL and
// bytes that are not UTF-8 as \xNN, and the invisible code points that reorder or break
// lines (C1 controls, U+2028/U+2029, bidirectional overrides) as \u{XXXX}. Printable ASCII
// and other UTF-8 text pass unchanged.
void escape_text(std::string_view s, std::string& out);
tern_log_level from_spdlog(spdlog::level::level_enum level);

class logging {
public:
    // sink: where lines go; null means stdout.
    explicit logging(log_format format = log_format::text, spdlog::sink_ptr sink = nullptr);

    // Changes the format of every line from now on.
    void set_format(log_format format);
    // A logger tagged with name; every line is flushed at once (tests and operators
    // watch the output live).
    std::shared_ptr<spdlog::logger> make_logger(const std::string& name, tern_log_level level);
    // The kernel's own logger, tagged "kernel".
    spdlog::logger& kernel() { return *kernel_; }
    void set_kernel_level(tern_log_level level);
    void flush();

private:
    spdlog::sink_ptr sink_;
    std::shared_ptr<spdlog::logger> kernel_;
};

}  // namespace tern::kernel

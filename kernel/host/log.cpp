#include "kernel/host/log.hpp"

#include "kernel/log.hpp"

namespace tern::kernel::host {

tern_log_level log_service::level() noexcept { return from_spdlog(logger_->level()); }

void log_service::write(tern_log_level level, tern_str msg) noexcept {
    if (level < TERN_LOG_TRACE || level >= TERN_LOG_OFF) return;
    const spdlog::level::level_enum l = to_spdlog(level);
    if (!logger_->should_log(l)) return;
    const std::string_view text = (msg.data == nullptr || msg.size == 0) ? std::string_view{}
                                                                         : std::string_view{msg.data, msg.size};
    try {
        // The text is data, never a format string.
        logger_->log(l, spdlog::string_view_t(text.data(), text.size()));
    } catch (...) {
        // Logging must never take a plugin down (a full disk, a closed stdout).
    }
}

}  // namespace tern::kernel::host

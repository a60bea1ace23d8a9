#include "kernel/host/log.hpp"

#include <chrono>

#include "kernel/log.hpp"

namespace tern::kernel::host {

namespace {

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// FNV-1a over the level and the text with every run of digits folded into one '#'.
uint64_t kind_key(spdlog::level::level_enum l, std::string_view text) {
    uint64_t h = 1469598103934665603ull;
    const auto mix = [&](unsigned char c) {
        h ^= c;
        h *= 1099511628211ull;
    };
    mix(static_cast<unsigned char>(l));
    bool digits = false;
    for (const char ch : text) {
        const bool d = ch >= '0' && ch <= '9';
        if (d && digits) continue;
        digits = d;
        mix(d ? '#' : static_cast<unsigned char>(ch));
    }
    return h == 0 ? 1 : h;
}

void write_line(spdlog::logger& lg, spdlog::level::level_enum l, std::string_view text) {
    // The text is data, never a format string.
    lg.log(l, spdlog::string_view_t(text.data(), text.size()));
}

}  // namespace

log_service::~log_service() {
    std::lock_guard lk(mutex_);
    for (kind& k : kinds_) report(k);
}

tern_log_level log_service::level() noexcept { return from_spdlog(logger_->level()); }

uint64_t log_service::suppressed() const noexcept {
    std::lock_guard lk(mutex_);
    return suppressed_total_;
}

void log_service::report(kind& k) noexcept {
    if (k.suppressed == 0) return;
    try {
        const std::string line = std::to_string(k.suppressed) + " similar line" + (k.suppressed == 1 ? "" : "s") +
                                 " suppressed (repeated more than " + std::to_string(throttle_.burst) + " times in " +
                                 std::to_string(throttle_.window_ns / 1000000) + " ms): " + k.sample;
        write_line(*logger_, k.level, line);
    } catch (...) {
    }
    k.suppressed = 0;
}

bool log_service::admit(spdlog::level::level_enum l, std::string_view text) {
    const int64_t now = now_ns_ != nullptr ? now_ns_() : steady_ns();
    const uint64_t key = kind_key(l, text);
    std::lock_guard lk(mutex_);
    kind* slot = nullptr;
    kind* oldest = &kinds_[0];
    for (kind& k : kinds_) {
        if (k.key != 0 && now - k.window_start >= throttle_.window_ns) {
            // The window of this kind is over: say what it held back, start afresh.
            report(k);
            if (k.key != key) k.key = 0;
        }
        if (k.key == key) slot = &k;
        if (k.key == 0 || (oldest->key != 0 && k.window_start < oldest->window_start)) oldest = &k;
    }
    if (slot == nullptr || now - slot->window_start >= throttle_.window_ns) {
        if (slot == nullptr) {
            slot = oldest;
            report(*slot);
        }
        slot->key = key;
        slot->window_start = now;
        slot->written = 0;
        slot->level = l;
        slot->sample.assign(text.substr(0, 160));
    }
    if (slot->written < throttle_.burst) {
        ++slot->written;
        return true;
    }
    ++slot->suppressed;
    ++suppressed_total_;
    return false;
}

void log_service::write(tern_log_level level, tern_str msg) noexcept {
    if (level < TERN_LOG_TRACE || level >= TERN_LOG_OFF) return;
    const spdlog::level::level_enum l = to_spdlog(level);
    if (!logger_->should_log(l)) return;
    const std::string_view text = (msg.data == nullptr || msg.size == 0) ? std::string_view{}
                                                                         : std::string_view{msg.data, msg.size};
    try {
        if (l >= spdlog::level::warn && throttle_.burst > 0 && !admit(l, text)) return;
        write_line(*logger_, l, text);
    } catch (...) {
        // Logging must never take a plugin down (a full disk, a closed stdout).
    }
}

}  // namespace tern::kernel::host

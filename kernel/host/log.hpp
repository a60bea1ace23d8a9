// log_v1 for one instance: its spdlog logger, tagged with the instance name.
//
// Warnings and errors that repeat are throttled, so a failing disk or a flood of bad input
// cannot turn the log into a storm (often onto the same full disk): lines that are the same
// apart from their numbers ("commit of 37 ops failed: ...") are one kind; the first
// `burst` of a kind pass in each `window`, the rest are counted, and the next line of that
// kind after the window (or any later warning or error of the instance, or the instance's
// end) reports "... N similar lines suppressed". Info and below are never throttled.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/logger.h>

#include "tern/abi/host.h"

namespace tern::kernel::host {

struct log_throttle_settings {
    uint32_t burst = 10;                 // lines of one kind written per window
    int64_t window_ns = 10'000'000'000;  // 10 s
};

class log_service final : public tern::log_v1 {
public:
    explicit log_service(std::shared_ptr<spdlog::logger> logger, log_throttle_settings t = {})
        : logger_(std::move(logger)), throttle_(t) {}
    ~log_service();
    log_service(const log_service&) = delete;
    log_service& operator=(const log_service&) = delete;

    tern_log_level level() noexcept override;
    void write(tern_log_level level, tern_str msg) noexcept override;

    // Lines dropped by the throttle since the start.
    uint64_t suppressed() const noexcept;
    // For tests: the clock the throttle reads (steady nanoseconds).
    void set_clock(int64_t (*now_ns)()) noexcept { now_ns_ = now_ns; }

private:
    struct kind {
        uint64_t key = 0;  // 0: free
        int64_t window_start = 0;
        uint32_t written = 0;
        uint64_t suppressed = 0;
        spdlog::level::level_enum level = spdlog::level::warn;
        std::string sample;  // the start of the first line of the window
    };
    bool admit(spdlog::level::level_enum l, std::string_view text);
    void report(kind& k) noexcept;

    std::shared_ptr<spdlog::logger> logger_;
    log_throttle_settings throttle_;
    int64_t (*now_ns_)() = nullptr;
    mutable std::mutex mutex_;
    std::array<kind, 32> kinds_{};
    uint64_t suppressed_total_ = 0;
};

}  // namespace tern::kernel::host

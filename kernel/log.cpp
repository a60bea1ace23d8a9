#include "kernel/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <spdlog/sinks/stdout_sinks.h>

#include "kernel/text.hpp"

namespace tern::kernel {

namespace {

std::string_view level_name(spdlog::level::level_enum l) {
    switch (l) {
        case spdlog::level::trace: return "trace";
        case spdlog::level::debug: return "debug";
        case spdlog::level::info: return "info";
        case spdlog::level::warn: return "warn";
        case spdlog::level::err: return "error";
        case spdlog::level::critical: return "critical";
        default: return "off";
    }
}

// spdlog's pattern formatter would print "warning" and cannot escape JSON, so lines are
// formatted here.
class line_formatter final : public spdlog::formatter {
public:
    explicit line_formatter(log_format f) : format_(f) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        using namespace std::chrono;
        const auto t = msg.time;
        const auto secs = time_point_cast<seconds>(t);
        const auto ms = duration_cast<milliseconds>(t - secs).count();
        const std::time_t tt = system_clock::to_time_t(secs);
        std::tm tm{};
        char stamp[40];
        std::string line;
        const std::string_view payload(msg.payload.data(), msg.payload.size());
        const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
        if (format_ == log_format::json) {
            ::gmtime_r(&tt, &tm);
            const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
            std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
            line.reserve(payload.size() + 96);
            line += "{\"ts\":\"";
            line += stamp;
            line += "\",\"level\":\"";
            line += level_name(msg.level);
            line += "\",\"instance\":";
            line += text::json_string(name);
            line += ",\"msg\":";
            line += text::json_string(payload);
            line += "}\n";
        } else {
            ::localtime_r(&tt, &tm);
            const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
            std::snprintf(stamp + n, sizeof stamp - n, ".%03d", static_cast<int>(ms));
            line.reserve(payload.size() + 64);
            line += '[';
            line += stamp;
            line += "] [";
            line += level_name(msg.level);
            line += "] [";
            line += name;
            line += "] ";
            line += payload;
            line += '\n';
        }
        dest.append(line.data(), line.data() + line.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<line_formatter>(format_);
    }

private:
    log_format format_;
};

}  // namespace

std::optional<log_format> parse_log_format(std::string_view s) {
    if (s == "text") return log_format::text;
    if (s == "json") return log_format::json;
    return std::nullopt;
}

spdlog::level::level_enum to_spdlog(tern_log_level level) {
    if (level < TERN_LOG_TRACE || level > TERN_LOG_OFF) return spdlog::level::off;
    // Same order and numbering on both sides.
    return static_cast<spdlog::level::level_enum>(level);
}

tern_log_level from_spdlog(spdlog::level::level_enum level) { return static_cast<tern_log_level>(level); }

logging::logging(log_format format, spdlog::sink_ptr sink) : sink_(std::move(sink)) {
    if (!sink_) sink_ = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    sink_->set_level(spdlog::level::trace);
    set_format(format);
    kernel_ = make_logger("kernel", TERN_LOG_INFO);
}

void logging::set_format(log_format format) { sink_->set_formatter(std::make_unique<line_formatter>(format)); }

std::shared_ptr<spdlog::logger> logging::make_logger(const std::string& name, tern_log_level level) {
    auto l = std::make_shared<spdlog::logger>(name, sink_);
    l->set_level(to_spdlog(level));
    l->flush_on(spdlog::level::trace);
    return l;
}

void logging::set_kernel_level(tern_log_level level) { kernel_->set_level(to_spdlog(level)); }

void logging::flush() { kernel_->flush(); }

}  // namespace tern::kernel

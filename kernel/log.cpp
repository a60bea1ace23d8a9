#include "kernel/log.hpp"

#include <chrono>
#include <cstdint>
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

bool invisible(uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

// The length of the well-formed UTF-8 sequence at s[i] and its code point; 0 when the bytes
// there are not UTF-8 (overlong, surrogate, beyond U+10FFFF, truncated).
std::size_t utf8_at(std::string_view s, std::size_t i, uint32_t& cp) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    std::size_t n = 0;
    uint32_t min = 0;
    if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b(k) & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
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
            escape_text(name, line);
            line += "] ";
            escape_text(payload, line);
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

void escape_text(std::string_view s, std::string& out) {
    static const char hex[] = "0123456789abcdef";
    std::size_t plain = 0;  // start of the run of bytes that pass unchanged
    const auto flush = [&](std::size_t end) {
        out.append(s.data() + plain, end - plain);
    };
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp = 0;
            const std::size_t n = utf8_at(s, i, cp);
            if (n > 0 && !invisible(cp)) {
                i += n;
                continue;
            }
            flush(i);
            if (n > 0) {
                char u[16];
                const int k = std::snprintf(u, sizeof u, "\\u{%04x}", static_cast<unsigned>(cp));
                out.append(u, static_cast<std::size_t>(k));
                i += n;
            } else {
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 15];
                ++i;
            }
            plain = i;
            continue;
        }
        flush(i);
        switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 15];
        }
        plain = ++i;
    }
    flush(s.size());
}

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

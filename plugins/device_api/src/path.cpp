#include "path.hpp"

#include <array>

#include "tern/sdk/views.hpp"

namespace tern::device_api {

namespace {

struct named {
    std::string_view name;
    feature f;
};

constexpr std::array<named, 7> features{{
    {"telemetry", feature::telemetry},
    {"attributes", feature::attributes},
    {"rpc", feature::rpc},
    {"claim", feature::claim},
    {"provision", feature::provision},
    {"firmware", feature::firmware},
    {"software", feature::software},
}};

bool iequals_lower(std::string_view s, std::string_view lower) noexcept {
    if (s.size() != lower.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower[i]) return false;
    }
    return true;
}

std::string_view seg(std::span<const tern_str> s, std::size_t i) noexcept { return sdk::to_sv(s[i]); }

}  // namespace

feature feature_of(std::string_view segment) noexcept {
    for (const named& n : features)
        if (iequals_lower(segment, n.name)) return n.f;
    return feature::none;
}

bool all_digits(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

std::optional<int32_t> parse_java_int(std::string_view s) noexcept {
    bool negative = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (!all_digits(s)) return std::nullopt;
    // Accumulate negatively so INT32_MIN fits, as Java does.
    int64_t v = 0;
    for (char c : s) {
        v = v * 10 - (c - '0');
        if (v < INT32_MIN) return std::nullopt;
    }
    if (!negative) {
        if (v < -int64_t{INT32_MAX}) return std::nullopt;
        v = -v;
    }
    return static_cast<int32_t>(v);
}

api_path parse_api_path(std::span<const tern_str> s) noexcept {
    api_path p;
    const std::size_t n = s.size();
    if (n >= 4) {
        // Token-less X.509 "rpc/{id}": four segments, the last all digits.
        if (n == 4 && all_digits(seg(s, 3))) p.what = feature_of(seg(s, 2));
        else p.what = feature_of(seg(s, 3));
    } else if (n == 3) {
        // ThingsBoard looks for "provision" anywhere; with "api", "v1" in front that is
        // segment 2, which the case-insensitive lookup below covers as well.
        p.what = feature_of(seg(s, 2));
    }
    if (n > 3) p.token = seg(s, 2);
    if (n >= 5) p.rpc_id = parse_java_int(seg(s, 4));
    else if (n == 4) p.rpc_id = parse_java_int(seg(s, 3));
    return p;
}

}  // namespace tern::device_api

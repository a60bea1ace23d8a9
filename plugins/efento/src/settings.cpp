#include "settings.hpp"

#include <string_view>

#include "tern/sdk/status.hpp"

namespace tern::efento {

namespace {

[[noreturn]] void refuse(std::string_view key, std::string_view value, std::string_view why) {
    throw sdk::error(TERN_CONFIG, sdk::cat("config key '", key, "' is \"", value, "\": ", why));
}

// A path segment the engine matches literally: no '/', not a pattern ({name}, **).
bool plain_segment(std::string_view s) noexcept {
    if (s.empty() || s == "**" || s == "." || s == "..") return false;
    for (char c : s)
        if (c == '/' || c == '{' || c == '}' || static_cast<unsigned char>(c) < 0x21) return false;
    return true;
}

void check_segment(std::string_view key, const std::string& value) {
    if (!plain_segment(value))
        refuse(key, value, "one path segment is expected (no '/', no space, not ** or {name})");
}

void check_alias(std::string_view key, std::string& path) {
    if (!path.empty() && path.front() == '/') path.erase(0, 1);
    std::string_view rest = path;
    if (rest.empty()) refuse(key, path, "an alias needs at least one path segment");
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        if (!plain_segment(seg))
            refuse(key, path, "every segment of an alias must be plain text (no empty segment, no space, not ** or {name})");
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
        if (rest.empty()) refuse(key, path, "an alias must not end in '/'");
    }
}

}  // namespace

void check(settings& s) {
    check_segment("prefix", s.prefix);
    const std::pair<const char*, const std::string*> names[] = {{"measurements_path", &s.measurements_path},
                                                               {"device_info_path", &s.device_info_path},
                                                               {"configuration_path", &s.configuration_path},
                                                               {"time_path", &s.time_path}};
    for (std::size_t i = 0; i < 4; ++i) {
        check_segment(names[i].first, *names[i].second);
        for (std::size_t j = 0; j < i; ++j)
            if (*names[j].second == *names[i].second)
                refuse(names[i].first, *names[i].second, sdk::cat("the same name as ", names[j].first));
    }
    std::vector<std::string> seen;
    const std::pair<const char*, std::vector<std::string>*> lists[] = {
        {"measurements_aliases", &s.measurements_aliases},
        {"device_info_aliases", &s.device_info_aliases},
        {"configuration_aliases", &s.configuration_aliases}};
    for (const auto& [key, list] : lists) {
        for (std::string& a : *list) {
            check_alias(key, a);
            for (const std::string& b : seen)
                if (a == b) refuse(key, a, "this path is given twice among the aliases");
            seen.push_back(a);
        }
    }
}

}  // namespace tern::efento

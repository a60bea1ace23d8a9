#include "query.hpp"

namespace tern::device_api {

std::optional<std::string_view> query_param(std::span<const tern_str> query,
                                            std::string_view name) noexcept {
    std::optional<std::string_view> found;
    for (const tern_str& q : query) {
        std::string_view e = q.size == 0 ? std::string_view{} : std::string_view{q.data, q.size};
        // Java's split drops trailing empty strings: "a=b=" is [a, b], "a=" is [a].
        while (!e.empty() && e.back() == '=') e.remove_suffix(1);
        const std::size_t eq = e.find('=');
        if (eq == std::string_view::npos) continue;                         // one part
        if (e.find('=', eq + 1) != std::string_view::npos) continue;         // three or more
        if (e.substr(0, eq) != name) continue;
        found = e.substr(eq + 1);  // non-empty: trailing '=' were stripped
    }
    return found;
}

void split_keys(std::string_view list, std::vector<tern_str>& out) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        const std::string_view k = list.substr(0, comma);
        if (!k.empty()) out.push_back(tern_str{k.data(), k.size()});
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace tern::device_api

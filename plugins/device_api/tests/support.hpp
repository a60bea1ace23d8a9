// Helpers shared by the device_api unit tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/types.h"

namespace tern::device_api::test {

// A path or query as the engine hands it over: views into strings that outlive it.
struct segments {
    std::vector<std::string> text;
    std::vector<tern_str> views;

    segments(std::initializer_list<std::string_view> s) {
        for (std::string_view x : s) text.emplace_back(x);
        for (const std::string& x : text) views.push_back(tern_str{x.data(), x.size()});
    }
    // "/api/v1/TOKEN/telemetry" split on '/', the leading one dropped.
    static segments of_path(std::string_view p) {
        segments s{};
        if (!p.empty() && p.front() == '/') p.remove_prefix(1);
        while (true) {
            const auto slash = p.find('/');
            s.text.emplace_back(p.substr(0, slash));
            if (slash == std::string_view::npos) break;
            p.remove_prefix(slash + 1);
        }
        for (const std::string& x : s.text) s.views.push_back(tern_str{x.data(), x.size()});
        return s;
    }
};

}  // namespace tern::device_api::test

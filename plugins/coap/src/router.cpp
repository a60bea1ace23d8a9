#include "router.hpp"

#include <algorithm>

#include "tern/sdk/views.hpp"

namespace tern::coap {

namespace {

bool is_capture(std::string_view s) noexcept {
    return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

}  // namespace

std::string parse_pattern(std::string_view pattern, std::vector<std::string>& segments) {
    segments.clear();
    if (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
    if (pattern.empty()) return {};  // the root resource
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = pattern.find('/', start);
        const std::string_view seg = pattern.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (seg.empty()) return "empty segment in resource pattern";
        if (segments.size() >= max_path_segments) return "resource pattern has too many segments";
        if (seg == "**") {
            if (slash != std::string_view::npos) return "'**' must be the last segment";
        } else if (seg.front() == '{' || seg.back() == '}') {
            if (!is_capture(seg) || seg.size() == 2 ||
                seg.substr(1, seg.size() - 2).find_first_of("{}/") != std::string_view::npos)
                return "malformed capture segment '" + std::string(seg) + "' (use {name})";
        } else if (seg.find('*') != std::string_view::npos) {
            return "'*' is only allowed as the whole segment '**'";
        }
        segments.emplace_back(seg);
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return {};
}

std::string pattern_shape(const std::vector<std::string>& segments) {
    std::string s;
    for (const auto& seg : segments) {
        s += is_capture(seg) ? std::string("{}") : seg;
        s += '/';
    }
    return s;
}

route_table::route_table(const std::vector<const resource_entry*>& resources) {
    nodes_.emplace_back();
    for (const resource_entry* r : resources) {
        uint32_t n = 0;
        for (const std::string& seg : r->segments) {
            if (seg == "**") {
                if (nodes_[n].wildcard == nullptr) nodes_[n].wildcard = r;
                n = UINT32_MAX;
                break;
            }
            if (is_capture(seg)) {
                if (nodes_[n].capture == UINT32_MAX) {
                    nodes_[n].capture = static_cast<uint32_t>(nodes_.size());
                    nodes_.emplace_back();
                }
                n = nodes_[n].capture;
                continue;
            }
            auto& lits = nodes_[n].literals;
            auto it = std::lower_bound(lits.begin(), lits.end(), seg,
                                       [](const auto& a, const std::string& b) { return a.first < b; });
            if (it == lits.end() || it->first != seg) {
                const auto child = static_cast<uint32_t>(nodes_.size());
                it = lits.insert(it, {seg, child});
                nodes_.emplace_back();
            }
            n = it->second;
        }
        if (n != UINT32_MAX && nodes_[n].terminal == nullptr) nodes_[n].terminal = r;
    }

    // RFC 6690 links: a pattern is listed by its literal prefix; several patterns sharing
    // one prefix make one link, observable if any of them is.
    for (const resource_entry* r : resources) {
        if ((r->flags & TERN_COAP_RESOURCE_HIDDEN) != 0) continue;
        std::string href;
        for (const std::string& seg : r->segments) {
            if (seg == "**" || is_capture(seg)) break;
            href += '/';
            href += seg;
        }
        if (href.empty()) href = "/";
        auto it = std::find_if(links_.begin(), links_.end(),
                               [&](const link& l) { return l.href == href; });
        if (it == links_.end()) {
            link l;
            l.href = href;
            // Split link_attrs on ';' into name[=value] pairs (quotes stripped) for filters.
            std::string_view a = r->link_attrs;
            while (!a.empty() && a.front() == ';') a.remove_prefix(1);
            l.text = "<" + href + ">";
            if (!a.empty()) {
                l.text += ';';
                l.text += a;
            }
            while (!a.empty()) {
                const std::size_t semi = a.find(';');
                std::string_view item = a.substr(0, semi);
                const std::size_t eq = item.find('=');
                std::string_view name = item.substr(0, eq);
                std::string_view value =
                    eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
                if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
                    value = value.substr(1, value.size() - 2);
                if (!name.empty()) l.attrs.emplace_back(std::string(name), std::string(value));
                if (semi == std::string_view::npos) break;
                a.remove_prefix(semi + 1);
            }
            links_.push_back(std::move(l));
            it = links_.end() - 1;
        }
        if (r->observable() &&
            std::none_of(it->attrs.begin(), it->attrs.end(),
                         [](const auto& p) { return p.first == "obs"; })) {
            it->text += ";obs";
            it->attrs.emplace_back("obs", "");
        }
    }
    for (const link& l : links_) {
        if (!doc_.empty()) doc_ += ',';
        doc_ += l.text;
    }
}

bool route_table::search(uint32_t n, const tern_str* path, uint32_t count, uint32_t i,
                         tern_str* captures, uint32_t depth, uint32_t* ncap,
                         const resource_entry** out) const noexcept {
    const node& nd = nodes_[n];
    if (i == count) {
        if (nd.terminal != nullptr) {
            *out = nd.terminal;
            *ncap = depth;
            return true;
        }
        if (nd.wildcard != nullptr) {
            *out = nd.wildcard;
            *ncap = depth;
            return true;
        }
        return false;
    }
    const std::string_view seg = sdk::to_sv(path[i]);
    auto it = std::lower_bound(nd.literals.begin(), nd.literals.end(), seg,
                               [](const auto& a, std::string_view b) { return a.first < b; });
    if (it != nd.literals.end() && it->first == seg &&
        search(it->second, path, count, i + 1, captures, depth, ncap, out))
        return true;
    if (nd.capture != UINT32_MAX) {
        captures[depth] = path[i];
        if (search(nd.capture, path, count, i + 1, captures, depth + 1, ncap, out)) return true;
    }
    if (nd.wildcard != nullptr) {
        *out = nd.wildcard;
        *ncap = depth;
        return true;
    }
    return false;
}

const resource_entry* route_table::match(const tern_str* path, uint32_t path_count,
                                         tern_str* captures,
                                         uint32_t* capture_count) const noexcept {
    const resource_entry* found = nullptr;
    *capture_count = 0;
    if (path_count > max_path_segments) return nullptr;
    if (!search(0, path, path_count, 0, captures, 0, capture_count, &found)) {
        *capture_count = 0;
        return nullptr;
    }
    return found;
}

bool route_table::link_matches(const link& l, std::string_view q) noexcept {
    const std::size_t eq = q.find('=');
    const std::string_view name = q.substr(0, eq);
    if (name.empty()) return true;
    if (eq == std::string_view::npos) {
        return std::any_of(l.attrs.begin(), l.attrs.end(),
                           [&](const auto& a) { return a.first == name; });
    }
    std::string_view want = q.substr(eq + 1);
    const bool prefix = !want.empty() && want.back() == '*';
    if (prefix) want.remove_suffix(1);
    auto value_matches = [&](std::string_view v) {
        return prefix ? v.substr(0, want.size()) == want : v == want;
    };
    if (name == "href") return value_matches(l.href);
    for (const auto& [n, v] : l.attrs) {
        if (n != name) continue;
        // rt, if and similar hold space-separated values: any one of them may match.
        std::string_view rest = v;
        if (value_matches(rest)) return true;
        while (!rest.empty()) {
            const std::size_t sp = rest.find(' ');
            if (value_matches(rest.substr(0, sp))) return true;
            if (sp == std::string_view::npos) break;
            rest.remove_prefix(sp + 1);
        }
    }
    return false;
}

std::size_t route_table::well_known_filtered(const tern_str* query, uint32_t query_count,
                                             char* out) const noexcept {
    std::size_t n = 0;
    for (const link& l : links_) {
        bool ok = true;
        for (uint32_t i = 0; i < query_count && ok; ++i) ok = link_matches(l, sdk::to_sv(query[i]));
        if (!ok) continue;
        if (n != 0) out[n++] = ',';
        std::copy(l.text.begin(), l.text.end(), out + n);
        n += l.text.size();
    }
    return n;
}

}  // namespace tern::coap

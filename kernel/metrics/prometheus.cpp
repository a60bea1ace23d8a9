#include "kernel/metrics/prometheus.hpp"

#include "kernel/text.hpp"

namespace tern::kernel::metrics {

namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

std::string escape_help(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string_view type_name(tern_metric_kind k) {
    switch (k) {
        case TERN_METRIC_COUNTER: return "counter";
        case TERN_METRIC_GAUGE: return "gauge";
        case TERN_METRIC_HISTOGRAM: return "histogram";
        default: return "untyped";
    }
}

std::string braces(const std::string& labels) { return labels.empty() ? std::string{} : "{" + labels + "}"; }

}  // namespace

bool valid_metric_name(std::string_view name) {
    if (name.empty() || !(name_start(name[0]) || name[0] == ':')) return false;
    for (const char c : name)
        if (!name_char(c) && c != ':') return false;
    return true;
}

std::string label_pair(std::string_view name, std::string_view value) {
    std::string out(name);
    out += "=\"";
    for (const char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    out += '"';
    return out;
}

std::optional<std::string> canonical_labels(std::string_view s, std::string& err) {
    std::string out;
    std::size_t i = 0;
    auto ws = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    };
    ws();
    while (i < s.size()) {
        const std::size_t start = i;
        if (!name_start(s[i])) {
            err = "labels must look like name=\"value\",other=\"value\"";
            return std::nullopt;
        }
        while (i < s.size() && name_char(s[i])) ++i;
        const std::string_view name = s.substr(start, i - start);
        if (name == "instance" || name == "le" || name.substr(0, 2) == "__") {
            err = "label name '" + std::string(name) + "' is reserved";
            return std::nullopt;
        }
        ws();
        if (i >= s.size() || s[i] != '=') {
            err = "label '" + std::string(name) + "' has no =\"value\"";
            return std::nullopt;
        }
        ++i;
        ws();
        if (i >= s.size() || s[i] != '"') {
            err = "label '" + std::string(name) + "' value must be quoted";
            return std::nullopt;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < s.size()) {
            const char c = s[i++];
            if (c == '"') {
                closed = true;
                break;
            }
            if (c == '\n') break;
            if (c == '\\' && i < s.size()) {
                const char e = s[i++];
                value += e == 'n' ? '\n' : e;
                continue;
            }
            value += c;
        }
        if (!closed) {
            err = "label '" + std::string(name) + "' value is not terminated";
            return std::nullopt;
        }
        if (!out.empty()) out += ',';
        out += label_pair(name, value);
        ws();
        if (i < s.size()) {
            if (s[i] != ',') {
                err = "expected ',' between labels";
                return std::nullopt;
            }
            ++i;
            ws();
        }
    }
    return out;
}

std::string render(const std::vector<family_snapshot>& families) {
    std::string out;
    for (const auto& f : families) {
        out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
        out += "# TYPE " + f.name + " " + std::string(type_name(f.kind)) + "\n";
        for (const auto& s : f.series) {
            switch (f.kind) {
                case TERN_METRIC_COUNTER:
                    out += f.name + braces(s.labels) + " " + std::to_string(s.counter) + "\n";
                    break;
                case TERN_METRIC_GAUGE:
                    out += f.name + braces(s.labels) + " " + std::to_string(s.gauge) + "\n";
                    break;
                case TERN_METRIC_HISTOGRAM: {
                    const std::string sep = s.labels.empty() ? "" : ",";
                    uint64_t cumulative = 0;
                    for (std::size_t b = 0; b <= s.bounds.size(); ++b) {
                        cumulative += s.buckets[b];
                        const std::string le = b < s.bounds.size() ? text::format_number(s.bounds[b]) : "+Inf";
                        out += f.name + "_bucket{" + s.labels + sep + label_pair("le", le) + "} " +
                               std::to_string(cumulative) + "\n";
                    }
                    out += f.name + "_sum" + braces(s.labels) + " " + text::format_number(s.sum) + "\n";
                    // _count is the +Inf bucket by definition; computing it from the same
                    // reads keeps a scrape consistent while observations race with it.
                    out += f.name + "_count" + braces(s.labels) + " " + std::to_string(cumulative) + "\n";
                    break;
                }
                default: break;
            }
        }
    }
    return out;
}

}  // namespace tern::kernel::metrics

#include "kernel/schema.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <rapidjson/document.h>

#include "kernel/text.hpp"
#include "tern/sdk/views.hpp"

namespace tern::kernel {

namespace {

std::string_view cstr(const char* s) { return s == nullptr ? std::string_view{} : std::string_view{s}; }

bool bare_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool valid_key_name(std::string_view name) {
    if (name.empty()) return false;
    for (const auto& seg : text::split(name, '.')) {
        if (seg.empty()) return false;
        if (!std::all_of(seg.begin(), seg.end(), bare_key_char)) return false;
    }
    return true;
}

bool is_reserved(std::string_view name) {
    const std::string_view first = name.substr(0, name.find('.'));
    return std::find(std::begin(kernel_owned_keys), std::end(kernel_owned_keys), first) !=
           std::end(kernel_owned_keys);
}

bool known_type(tern_config_type t) {
    return t >= TERN_CONFIG_BOOL && t <= TERN_CONFIG_STRING_ARRAY;
}

bool default_matches(const tern_config_key& k) {
    const tern_value& v = k.default_value;
    switch (k.type) {
        case TERN_CONFIG_BOOL: return v.type == TERN_VALUE_BOOL;
        case TERN_CONFIG_INT: return v.type == TERN_VALUE_INT;
        case TERN_CONFIG_DOUBLE: return v.type == TERN_VALUE_DOUBLE || v.type == TERN_VALUE_INT;
        case TERN_CONFIG_STRING:
            return v.type == TERN_VALUE_STR && (v.u.s.data != nullptr || v.u.s.size == 0);
        case TERN_CONFIG_STRING_ARRAY: {
            if (v.type != TERN_VALUE_JSON || (v.u.s.data == nullptr && v.u.s.size != 0)) return false;
            std::vector<std::string> ignored;
            return parse_string_array_json(sdk::to_sv(v.u.s), ignored);
        }
        default: return false;
    }
}

std::string value_type_name(tern_value_type t) {
    switch (t) {
        case TERN_VALUE_NULL: return "null";
        case TERN_VALUE_BOOL: return "bool";
        case TERN_VALUE_INT: return "int";
        case TERN_VALUE_DOUBLE: return "double";
        case TERN_VALUE_STR: return "string";
        case TERN_VALUE_BYTES: return "bytes";
        case TERN_VALUE_JSON: return "JSON";
        default: return "unknown value type " + std::to_string(t);
    }
}

bool required(const tern_config_key& k) { return (k.flags & TERN_CONFIG_REQUIRED) != 0; }
bool has_min(const tern_config_key& k) { return (k.flags & TERN_CONFIG_HAS_MIN) != 0; }
bool has_max(const tern_config_key& k) { return (k.flags & TERN_CONFIG_HAS_MAX) != 0; }

std::vector<std::string> choices_of(const tern_config_key& k) {
    if (k.choices == nullptr) return {};
    return text::split(k.choices, '|');
}

// "0..65535", ">= 1", "<= 10" or "" (no bounds)
std::string range_text(const tern_config_key& k) {
    if (has_min(k) && has_max(k)) return text::format_number(k.min) + ".." + text::format_number(k.max);
    if (has_min(k)) return ">= " + text::format_number(k.min);
    if (has_max(k)) return "<= " + text::format_number(k.max);
    return {};
}

bool ranged(tern_config_type t) {
    return t == TERN_CONFIG_INT || t == TERN_CONFIG_DOUBLE || t == TERN_CONFIG_STRING ||
           t == TERN_CONFIG_STRING_ARRAY;
}

// "an integer in 0..65535", "a string of length 1..64", "an array of strings"
std::string expected_text(const tern_config_key& k) {
    std::string s;
    switch (k.type) {
        case TERN_CONFIG_BOOL: return "a boolean (true or false)";
        case TERN_CONFIG_INT: s = "an integer"; break;
        case TERN_CONFIG_DOUBLE: s = "a number"; break;
        case TERN_CONFIG_STRING: s = "a string"; break;
        case TERN_CONFIG_STRING_ARRAY: s = "an array of strings"; break;
        default: return "a value";
    }
    const std::string r = range_text(k);
    if (!r.empty()) {
        const bool both = has_min(k) && has_max(k);  // "in 0..9", but ">= 1" alone
        if (k.type == TERN_CONFIG_STRING) s += " of length " + r;
        else if (k.type == TERN_CONFIG_STRING_ARRAY) s += ", each of length " + r;
        else s += (both ? " in " : " ") + r;
    }
    const auto ch = choices_of(k);
    if (!ch.empty()) s += ", one of: " + text::join(ch, ", ");
    return s;
}

std::string clip(std::string_view s) {
    constexpr std::size_t max = 60;
    if (s.size() <= max) return std::string(s);
    return std::string(s.substr(0, max)) + "...";
}

std::string describe(const toml::node& n) {
    if (auto v = n.as_string()) return "a string (" + text::toml_string(clip(v->get())) + ")";
    if (auto v = n.as_integer()) return "an integer (" + std::to_string(v->get()) + ")";
    if (auto v = n.as_floating_point()) return "a float (" + text::format_number(v->get()) + ")";
    if (auto v = n.as_boolean()) return std::string("a boolean (") + (v->get() ? "true" : "false") + ")";
    if (n.is_array_of_tables()) return "an array of tables";
    if (n.is_array()) return "an array";
    if (n.is_table()) return "a table";
    if (n.is_date()) return "a date";
    if (n.is_time()) return "a time";
    if (n.is_date_time()) return "a date-time";
    return "a value";
}

std::string prefix_of(std::string_view name) {
    const auto dot = name.rfind('.');
    return dot == std::string_view::npos ? std::string{} : std::string(name.substr(0, dot));
}

std::string leaf_of(std::string_view name) {
    const auto dot = name.rfind('.');
    return std::string(dot == std::string_view::npos ? name : name.substr(dot + 1));
}

class validator {
public:
    validator(std::span<const tern_config_key> keys, const validation& how, diagnostics& diag)
        : keys_(keys), how_(how), diag_(diag) {
        for (const auto& k : keys_) {
            const std::string name(cstr(k.name));
            by_name_.emplace(name, &k);
            std::string p = prefix_of(name);
            while (!p.empty()) {
                prefixes_.insert(p);
                p = prefix_of(p);
            }
        }
    }

    config_values run(const toml::table* table) {
        if (table != nullptr) walk(*table, "");
        // toml++ iterates keys alphabetically; operators read files top to bottom.
        std::stable_sort(found_.begin(), found_.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& [line, msg] : found_) diag_.error(std::move(msg));
        for (const auto& k : keys_) {
            const std::string_view name = cstr(k.name);
            if (seen_.count(std::string(name)) != 0) continue;
            if (required(k)) {
                std::string doc(cstr(k.doc));
                std::string detail = std::string(config_type_name(k.type));
                if (!doc.empty()) detail += ": " + doc;
                diag_.error(how_.table_origin + ": [" + how_.table + "] missing required key '" +
                            std::string(name) + "' (" + detail + ")");
                continue;
            }
            config_value v;
            v.type = k.type;
            v.origin = "default";
            fill_default(k, v);
            out_.emplace(std::string(name), std::move(v));
        }
        return std::move(out_);
    }

private:
    static void fill_default(const tern_config_key& k, config_value& v) {
        const tern_value& d = k.default_value;
        switch (k.type) {
            case TERN_CONFIG_BOOL: v.b = d.u.b != 0; break;
            case TERN_CONFIG_INT: v.i = d.u.i; break;
            case TERN_CONFIG_DOUBLE: v.d = d.type == TERN_VALUE_INT ? static_cast<double>(d.u.i) : d.u.d; break;
            case TERN_CONFIG_STRING: v.s = std::string(sdk::to_sv(d.u.s)); break;
            case TERN_CONFIG_STRING_ARRAY: parse_string_array_json(sdk::to_sv(d.u.s), v.a); break;
            default: break;
        }
    }

    // Keys valid directly in the table at prefix (leaves and sub-tables), for suggestions,
    // and every key below it (relative dotted names), for the "valid keys" list.
    void valid_keys(const std::string& prefix, std::vector<std::string>& direct,
                    std::vector<std::string>& all) const {
        std::set<std::string> d, a;
        const std::string lead = prefix.empty() ? std::string{} : prefix + ".";
        for (const auto& [name, key] : by_name_) {
            if (name.compare(0, lead.size(), lead) != 0) continue;
            const std::string rel = name.substr(lead.size());
            a.insert(rel);
            d.insert(rel.substr(0, rel.find('.')));
        }
        if (prefix.empty())
            for (const auto& s : how_.skip) {
                d.insert(s);
                a.insert(s);
            }
        direct.assign(d.begin(), d.end());
        all.assign(a.begin(), a.end());
    }

    std::string table_name(const std::string& prefix) const {
        return prefix.empty() ? how_.table : how_.table + "." + prefix;
    }

    void error(const toml::node& at, const std::string& prefix, const std::string& msg) {
        const auto& src = at.source();
        // values set on the command line (no position) after the file's
        const uint32_t line = src.path ? src.begin.line : UINT32_MAX;
        found_.emplace_back(line, how_.origin(at) + ": [" + table_name(prefix) + "] " + msg);
    }

    void walk(const toml::table& table, const std::string& prefix) {
        for (auto&& [key, node] : table) {
            const std::string k(key.str());
            const std::string full = prefix.empty() ? k : prefix + "." + k;
            if (prefix.empty() &&
                std::find(how_.skip.begin(), how_.skip.end(), k) != how_.skip.end())
                continue;
            if (auto it = by_name_.find(full); it != by_name_.end()) {
                seen_.insert(full);
                check(node, *it->second, k, prefix);
            } else if (prefixes_.count(full) != 0) {
                if (auto sub = node.as_table()) {
                    walk(*sub, full);
                } else {
                    error(node, prefix, "key '" + k + "' must be a table ([" + table_name(full) +
                                            "]), got " + describe(node));
                    mark_seen_below(full);
                }
            } else if (how_.report_unknown) {
                std::vector<std::string> direct, all;
                valid_keys(prefix, direct, all);
                std::string msg = "unknown key '" + k + "'";
                if (auto s = text::suggest(k, direct)) msg += " (did you mean '" + *s + "'?)";
                if (all.empty()) msg += "; this table takes no keys";
                else msg += "; valid keys: " + text::join(all, ", ");
                error(node, prefix, msg);
            }
        }
    }

    void mark_seen_below(const std::string& prefix) {
        for (const auto& [name, key] : by_name_)
            if (name.compare(0, prefix.size() + 1, prefix + ".") == 0) seen_.insert(name);
    }

    bool in_range(const tern_config_key& k, double v) const {
        if ((has_min(k) || has_max(k)) && !std::isfinite(v)) return false;
        if (has_min(k) && v < k.min) return false;
        if (has_max(k) && v > k.max) return false;
        return true;
    }

    void bad_type(const toml::node& n, const tern_config_key& k, const std::string& key,
                  const std::string& prefix) {
        error(n, prefix, "key '" + key + "' must be " + expected_text(k) + ", got " + describe(n));
    }

    bool check_string(const toml::node& n, const tern_config_key& k, const std::string& key,
                      const std::string& prefix, std::string_view s, const std::string& what) {
        if (!in_range(k, static_cast<double>(s.size()))) {
            error(n, prefix, what + " is out of range: length " + std::to_string(s.size()) +
                                 " (expected " + expected_text(k) + ")");
            return false;
        }
        const auto ch = choices_of(k);
        if (!ch.empty() && std::find(ch.begin(), ch.end(), s) == ch.end()) {
            std::string msg = what + " is " + text::toml_string(clip(s)) +
                              ", which is not one of the choices: " + text::join(ch, ", ");
            if (auto sug = text::suggest(s, ch)) msg += " (did you mean '" + *sug + "'?)";
            error(n, prefix, msg);
            return false;
        }
        (void)key;
        return true;
    }

    void check(const toml::node& n, const tern_config_key& k, const std::string& key,
               const std::string& prefix) {
        config_value v;
        v.type = k.type;
        v.origin = how_.origin(n);
        const std::string what = "key '" + key + "'";
        switch (k.type) {
            case TERN_CONFIG_BOOL: {
                auto b = n.as_boolean();
                if (!b) return bad_type(n, k, key, prefix);
                v.b = b->get();
                break;
            }
            case TERN_CONFIG_INT: {
                auto i = n.as_integer();
                if (!i) return bad_type(n, k, key, prefix);
                if (!in_range(k, static_cast<double>(i->get())))
                    return error(n, prefix, what + " is out of range: " + std::to_string(i->get()) +
                                                " (expected " + expected_text(k) + ")");
                v.i = i->get();
                break;
            }
            case TERN_CONFIG_DOUBLE: {
                double d;
                if (auto f = n.as_floating_point()) d = f->get();
                else if (auto i = n.as_integer()) d = static_cast<double>(i->get());
                else return bad_type(n, k, key, prefix);
                if (!in_range(k, d))
                    return error(n, prefix, what + " is out of range: " + text::format_number(d) +
                                                " (expected " + expected_text(k) + ")");
                v.d = d;
                break;
            }
            case TERN_CONFIG_STRING: {
                auto s = n.as_string();
                if (!s) return bad_type(n, k, key, prefix);
                if (!check_string(n, k, key, prefix, s->get(), what)) return;
                v.s = s->get();
                break;
            }
            case TERN_CONFIG_STRING_ARRAY: {
                auto arr = n.as_array();
                if (!arr || n.is_array_of_tables()) return bad_type(n, k, key, prefix);
                bool ok = true;
                for (std::size_t idx = 0; idx < arr->size(); ++idx) {
                    const toml::node& e = *arr->get(idx);
                    const std::string ewhat = what + " element " + std::to_string(idx + 1);
                    auto s = e.as_string();
                    if (!s) {
                        error(n, prefix, ewhat + " must be a string, got " + describe(e) +
                                             " (expected " + expected_text(k) + ")");
                        ok = false;
                        continue;
                    }
                    if (!check_string(n, k, key, prefix, s->get(), ewhat)) ok = false;
                    else v.a.push_back(s->get());
                }
                if (!ok) return;
                break;
            }
            default: return;
        }
        out_.emplace(std::string(cstr(k.name)), std::move(v));
    }

    std::span<const tern_config_key> keys_;
    const validation& how_;
    diagnostics& diag_;
    std::map<std::string, const tern_config_key*> by_name_;
    std::set<std::string> prefixes_;
    std::set<std::string> seen_;
    config_values out_;
    std::vector<std::pair<uint32_t, std::string>> found_;
};

}  // namespace

std::string_view config_type_name(tern_config_type t) {
    switch (t) {
        case TERN_CONFIG_BOOL: return "boolean";
        case TERN_CONFIG_INT: return "integer";
        case TERN_CONFIG_DOUBLE: return "float";
        case TERN_CONFIG_STRING: return "string";
        case TERN_CONFIG_STRING_ARRAY: return "string array";
        default: return "unknown type";
    }
}

std::vector<std::string> check_schema(std::span<const tern_config_key> keys) {
    std::vector<std::string> problems;
    std::set<std::string> names;
    std::set<std::string> leaves;
    std::size_t index = 0;
    for (const auto& k : keys) {
        ++index;
        const std::string_view name = cstr(k.name);
        const std::string label = name.empty() ? "key #" + std::to_string(index)
                                               : "key '" + std::string(name) + "'";
        if (name.empty()) {
            problems.push_back(label + " has no name");
            continue;
        }
        if (!valid_key_name(name)) {
            problems.push_back(label + " has an invalid name (use [A-Za-z0-9_-] segments joined by dots)");
            continue;
        }
        if (is_reserved(name)) {
            problems.push_back(label + " uses a name the kernel owns in every plugin table "
                                       "(enabled, plugin, file, log_level)");
            continue;
        }
        if (!names.insert(std::string(name)).second) {
            problems.push_back(label + " is declared twice");
            continue;
        }
        if (!known_type(k.type)) {
            problems.push_back(label + " has an unknown type (" + std::to_string(k.type) + ")");
            continue;
        }
        if (!required(k) && !default_matches(k)) {
            std::string msg = label + " is " + std::string(text::article(config_type_name(k.type))) +
                              " " + std::string(config_type_name(k.type)) +
                              " but its default is of type " + value_type_name(k.default_value.type);
            if (k.type == TERN_CONFIG_STRING_ARRAY && k.default_value.type == TERN_VALUE_JSON)
                msg = label + " is a string array but its default is not a JSON array of strings";
            problems.push_back(msg);
            continue;
        }
        if (ranged(k.type) && has_min(k) && has_max(k) && k.min > k.max)
            problems.push_back(label + " has min " + text::format_number(k.min) + " above max " +
                               text::format_number(k.max));
        leaves.insert(std::string(name));
    }
    // A key cannot be both a value and a table: "tls" and "tls.cert" cannot coexist.
    for (const auto& name : leaves) {
        std::string p = prefix_of(name);
        while (!p.empty()) {
            if (leaves.count(p) != 0)
                problems.push_back("key '" + p + "' is declared as a value and as the table of '" +
                                   name + "'");
            p = prefix_of(p);
        }
    }
    return problems;
}

config_values validate_table(const toml::table* table, std::span<const tern_config_key> keys,
                             const validation& how, diagnostics& diag) {
    validator v(keys, how, diag);
    return v.run(table);
}

bool parse_string_array_json(std::string_view json, std::vector<std::string>& out) {
    out.clear();
    // A NUL is never part of JSON text (and RapidJSON would take it for the end).
    if (json.empty() || json.find('\0') != std::string_view::npos) return false;
    rapidjson::Document doc;  // strict RFC 8259: no comments, no trailing commas, one value
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsArray()) return false;
    for (const auto& item : doc.GetArray()) {
        if (!item.IsString()) return false;
        std::string s(item.GetString(), item.GetStringLength());
        // RapidJSON passes a lone low surrogate escape ("\udc00") through as CESU-8 bytes;
        // a default must be a sequence of Unicode scalar values, so refuse it.
        for (std::size_t k = 0; k + 1 < s.size(); ++k)
            if (static_cast<unsigned char>(s[k]) == 0xed && (static_cast<unsigned char>(s[k + 1]) & 0xe0) == 0xa0)
                return false;
        out.push_back(std::move(s));
    }
    return true;
}

std::string default_as_toml(const tern_config_key& k) {
    if (required(k)) return {};
    const tern_value& d = k.default_value;
    switch (k.type) {
        case TERN_CONFIG_BOOL: return d.u.b != 0 ? "true" : "false";
        case TERN_CONFIG_INT: return std::to_string(d.u.i);
        case TERN_CONFIG_DOUBLE:
            return text::toml_float(d.type == TERN_VALUE_INT ? static_cast<double>(d.u.i) : d.u.d);
        case TERN_CONFIG_STRING: return text::toml_string(sdk::to_sv(d.u.s));
        case TERN_CONFIG_STRING_ARRAY: {
            std::vector<std::string> items;
            if (!parse_string_array_json(sdk::to_sv(d.u.s), items)) return "[]";
            std::vector<std::string> quoted;
            for (const auto& s : items) quoted.push_back(text::toml_string(s));
            return "[" + text::join(quoted, ", ") + "]";
        }
        default: return {};
    }
}

std::string key_hints(const tern_config_key& k) {
    std::vector<std::string> parts;
    if (required(k)) parts.emplace_back("required");
    if (k.unit != nullptr && *k.unit != '\0') parts.emplace_back(k.unit);
    if (ranged(k.type)) {
        const std::string r = range_text(k);
        if (!r.empty())
            parts.push_back(k.type == TERN_CONFIG_STRING || k.type == TERN_CONFIG_STRING_ARRAY
                                ? "length " + r
                                : r);
    }
    if (k.choices != nullptr && *k.choices != '\0') parts.push_back(std::string("one of: ") + k.choices);
    if ((k.flags & TERN_CONFIG_PATH) != 0) parts.emplace_back("path");
    return text::join(parts, "; ");
}

namespace {

std::string placeholder(const tern_config_key& k) {
    switch (k.type) {
        case TERN_CONFIG_BOOL: return "false";
        case TERN_CONFIG_INT: return "0";
        case TERN_CONFIG_DOUBLE: return "0.0";
        case TERN_CONFIG_STRING: return "\"\"";
        case TERN_CONFIG_STRING_ARRAY: return "[]";
        default: return "\"\"";
    }
}

std::string doc_line(const tern_config_key& k) {
    const std::string doc(cstr(k.doc));
    const std::string hints = key_hints(k);
    if (doc.empty() && hints.empty()) return {};
    if (hints.empty()) return doc;
    if (doc.empty()) return "(" + hints + ")";
    return doc + " (" + hints + ")";
}

std::string md_cell(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '|') out += "\\|";
        else if (c == '\n') out += ' ';
        else out += c;
    }
    return out;
}

}  // namespace

std::string sample_toml(std::string_view table, std::span<const tern_config_key> keys) {
    // Top-level keys first, then one sub-table per prefix in order of first appearance:
    // TOML puts every key after a [header] into that header's table.
    std::vector<std::string> prefixes{""};
    for (const auto& k : keys) {
        const std::string p = prefix_of(cstr(k.name));
        if (std::find(prefixes.begin(), prefixes.end(), p) == prefixes.end()) prefixes.push_back(p);
    }
    std::string out;
    for (const auto& p : prefixes) {
        if (!out.empty()) out += "\n";
        out += "[" + std::string(table) + (p.empty() ? "" : "." + p) + "]\n";
        for (const auto& k : keys) {
            if (prefix_of(cstr(k.name)) != p) continue;
            const std::string doc = doc_line(k);
            if (!doc.empty()) out += "# " + doc + "\n";
            if (required(k)) out += "# " + leaf_of(cstr(k.name)) + " = " + placeholder(k) + "\n";
            else out += leaf_of(cstr(k.name)) + " = " + default_as_toml(k) + "\n";
        }
    }
    return out;
}

std::string docs_markdown(std::span<const tern_config_key> keys) {
    std::string out = "| key | type | default | description |\n|---|---|---|---|\n";
    for (const auto& k : keys) {
        const std::string def = required(k) ? "*required*" : "`" + md_cell(default_as_toml(k)) + "`";
        out += "| `" + md_cell(cstr(k.name)) + "` | " + std::string(config_type_name(k.type)) + " | " +
               def + " | " + md_cell(doc_line(k)) + " |\n";
    }
    return out;
}

}  // namespace tern::kernel

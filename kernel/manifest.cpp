#include "kernel/manifest.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernel/text.hpp"
#include "tern/sdk/plugin.hpp"

namespace tern::kernel {

namespace cfg = tern::sdk::cfg;

namespace {

constexpr tern_config_key kernel_keys[] = {
    cfg::strings("plugin_path", R"(["build/plugins"])",
                 "Directories searched for plugin libraries, in order; relative ones are relative "
                 "to the working directory. <tern>/../plugins and <prefix>/lib/tern/plugins are "
                 "searched after them")
        .path(),
    cfg::integer("shards", 0, "Reactor shard threads; 0 = one per core").range(0, 256),
    cfg::string("log_level", "info", "Lowest level logged")
        .choices("trace|debug|info|warn|error|critical|off"),
    cfg::string("log_format", "text", "Log line format: text or one JSON object per line")
        .choices("text|json"),
    cfg::string("metrics_bind", "127.0.0.1:9683",
                "Address of the Prometheus endpoint /metrics; \"\" disables it, port 0 picks a free port"),
    cfg::integer("stop_timeout", 10000,
                 "How long stopping every instance may take before tern gives up and exits 2")
        .unit("ms")
        .range(1, 3600000),
};

constexpr tern_config_key owned_keys[] = {
    cfg::boolean("enabled", true, "Run this instance"),
    cfg::string("plugin", "", "Plugin of this instance; default: the table's name").range(1, 64),
    cfg::string("file", "", "Library file of the plugin, instead of searching the plugin path").path(),
    cfg::string("log_level", "", "This instance's lowest log level; default: kernel.log_level")
        .choices("trace|debug|info|warn|error|critical|off"),
};

constexpr std::size_t max_manifest_bytes = 16u << 20;

bool valid_plugin_name(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string describe_kind(const toml::node& n) {
    if (n.is_table()) return "a table";
    if (n.is_array_of_tables()) return "an array of tables";
    if (n.is_array()) return "an array";
    if (n.is_string()) return "a string";
    if (n.is_integer()) return "an integer";
    if (n.is_floating_point()) return "a float";
    if (n.is_boolean()) return "a boolean";
    return "a date or time";
}

// Parses VALUE of --set as TOML; whatever is not a TOML value is a string.
std::unique_ptr<toml::node> parse_set_value(const std::string& value) {
    try {
        toml::table t = toml::parse("v = " + value + "\n", std::string_view{"--set"});
        if (t.size() == 1) {
            if (toml::node* n = t.get("v")) {
                std::unique_ptr<toml::node> out;
                n->visit([&](auto&& v) { out = std::make_unique<std::decay_t<decltype(v)>>(v); });
                return out;
            }
        }
    } catch (const toml::parse_error&) {
    }
    return std::make_unique<toml::value<std::string>>(value);
}

void apply_set(toml::table& doc, const std::string& arg, std::vector<std::string>& created_instances,
               diagnostics& diag) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos) {
        diag.error("--set " + arg + ": expected KEY=VALUE (e.g. --set plugins.udp.bind_port=15683)");
        return;
    }
    const std::string key = arg.substr(0, eq);
    const std::vector<std::string> path = text::split(key, '.');
    if (std::any_of(path.begin(), path.end(), [](const std::string& s) { return s.empty(); })) {
        diag.error("--set " + arg + ": KEY must be a dotted path such as plugins.udp.bind_port");
        return;
    }
    toml::table* t = &doc;
    std::string walked;
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
        walked += (walked.empty() ? "" : ".") + path[i];
        toml::node* child = t->get(path[i]);
        if (child == nullptr) {
            t = t->insert_or_assign(path[i], toml::table{}).first->second.as_table();
            if (i == 1 && path[0] == "plugins") created_instances.push_back(path[1]);
        } else if (toml::table* sub = child->as_table()) {
            t = sub;
        } else {
            diag.error("--set " + arg + ": '" + walked + "' is " + describe_kind(*child) +
                       ", not a table");
            return;
        }
    }
    std::unique_ptr<toml::node> value = parse_set_value(arg.substr(eq + 1));
    value->visit([&](auto&& v) { t->insert_or_assign(path.back(), std::move(v)); });
    if (path.size() == 2 && path[0] == "plugins") created_instances.push_back(path[1]);
}

validation owned_validation(const manifest& m, const std::string& table, const std::string& where,
                            bool report_unknown) {
    validation how;
    how.table = table;
    how.table_origin = where;
    how.origin = [&m](const toml::node& n) { return m.origin(n); };
    how.report_unknown = report_unknown;
    return how;
}

void read_kernel_table(manifest& m, diagnostics& diag) {
    const toml::node* node = m.doc.get("kernel");
    const toml::table* table = nullptr;
    std::string where = m.path;
    if (node != nullptr) {
        where = m.origin(*node);
        table = node->as_table();
        if (table == nullptr) {
            diag.error(where + ": 'kernel' must be a table ([kernel]), got " + describe_kind(*node));
            return;
        }
    }
    const config_values v = validate_table(table, kernel_schema(), owned_validation(m, "kernel", where, true), diag);
    kernel_settings& k = m.kernel;
    if (auto it = v.find("plugin_path"); it != v.end()) k.plugin_path = it->second.a;
    if (auto it = v.find("shards"); it != v.end()) k.shards = static_cast<uint32_t>(it->second.i);
    if (auto it = v.find("log_level"); it != v.end())
        k.log_level = parse_log_level(it->second.s).value_or(TERN_LOG_INFO);
    if (auto it = v.find("log_format"); it != v.end()) k.log_format = it->second.s;
    if (auto it = v.find("stop_timeout"); it != v.end()) k.stop_timeout_ms = static_cast<uint32_t>(it->second.i);
    if (auto it = v.find("metrics_bind"); it != v.end()) {
        k.metrics_bind = it->second.s;
        std::string err;
        if (!k.metrics_bind.empty() && !parse_bind_address(k.metrics_bind, err)) {
            diag.error(it->second.origin + ": [kernel] key 'metrics_bind' is " +
                       text::toml_string(k.metrics_bind) + ": " + err);
        }
    }
}

void read_instances(manifest& m, const std::vector<std::string>& created, diagnostics& diag) {
    const toml::node* node = m.doc.get("plugins");
    if (node == nullptr) return;
    const toml::table* plugins = node->as_table();
    if (plugins == nullptr) {
        diag.error(m.origin(*node) + ": 'plugins' must be a table of instance tables ([plugins.NAME]), got " +
                   describe_kind(*node));
        return;
    }
    struct entry {
        std::string name;
        const toml::node* node;
        uint32_t line, column;
        std::size_t set_order;
    };
    std::vector<entry> entries;
    for (auto&& [key, child] : *plugins) {
        const std::string name(key.str());
        const auto& src = child.source();
        entry e{name, &child, 0, 0, 0};
        if (src.path) {
            e.line = src.begin.line;
            e.column = src.begin.column;
        } else {
            // created by --set: after the file's tables, in command-line order
            e.line = UINT32_MAX;
            const auto pos = std::find(created.begin(), created.end(), name);
            e.set_order = static_cast<std::size_t>(pos - created.begin());
        }
        entries.push_back(std::move(e));
    }
    // toml++ keeps tables sorted by key; the manifest's order is the order of appearance.
    std::stable_sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) {
        if (a.line != b.line) return a.line < b.line;
        if (a.column != b.column) return a.column < b.column;
        return a.set_order < b.set_order;
    });
    for (const auto& e : entries) {
        const std::string where = m.origin(*e.node);
        const toml::table* table = e.node->as_table();
        if (table == nullptr) {
            diag.error(where + ": [plugins] '" + e.name + "' must be a table ([plugins." + e.name +
                       "]), got " + describe_kind(*e.node));
            continue;
        }
        const std::string table_name = "plugins." + e.name;
        const config_values v =
            validate_table(table, instance_owned_schema(), owned_validation(m, table_name, where, false), diag);
        instance_decl d;
        d.name = e.name;
        d.table = table;
        d.where = where;
        d.index = m.instances.size();
        if (auto it = v.find("enabled"); it != v.end()) d.enabled = it->second.b;
        if (auto it = v.find("plugin"); it != v.end()) {
            if (it->second.origin != "default") {
                d.plugin = it->second.s;
                if (!valid_plugin_name(d.plugin))
                    diag.error(it->second.origin + ": [" + table_name + "] key 'plugin' is " +
                               text::toml_string(d.plugin) +
                               ": plugin names are lower-case letters, digits and '_'");
            }
        }
        if (d.plugin.empty()) d.plugin = e.name;
        if (auto it = v.find("file"); it != v.end()) d.file = it->second.s;
        if (auto it = v.find("log_level"); it != v.end() && !it->second.s.empty())
            d.log_level = parse_log_level(it->second.s);
        m.instances.push_back(std::move(d));
    }
}

}  // namespace

std::span<const tern_config_key> kernel_schema() { return kernel_keys; }
std::span<const tern_config_key> instance_owned_schema() { return owned_keys; }

std::optional<tern_log_level> parse_log_level(std::string_view name) {
    static constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    for (std::size_t i = 0; i < std::size(names); ++i)
        if (names[i] == name) return static_cast<tern_log_level>(i);
    if (name == "warning") return TERN_LOG_WARN;
    return std::nullopt;
}

std::string_view log_level_name(tern_log_level level) {
    static constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (level < 0 || level > TERN_LOG_OFF) return "off";
    return names[level];
}

std::optional<bind_address> parse_bind_address(std::string_view text, std::string& err) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        err = "expected HOST:PORT, e.g. 127.0.0.1:9683";
        return std::nullopt;
    }
    std::string host(text.substr(0, colon));
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    unsigned port = 0;
    const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || r.ec != std::errc{} || r.ptr != port_text.data() + port_text.size() ||
        port > 65535) {
        err = "the port must be a number in 0..65535";
        return std::nullopt;
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET, host.c_str(), buf) != 1 && inet_pton(AF_INET6, host.c_str(), buf) != 1) {
        err = "the host must be a numeric IPv4 or IPv6 address (or localhost)";
        return std::nullopt;
    }
    return bind_address{host, static_cast<uint16_t>(port)};
}

std::string manifest::origin(const toml::node& n) const {
    const auto& src = n.source();
    // Nodes copied in by --set carry no source: toml++ does not copy positions.
    if (!src.path || *src.path == "--set") return "--set";
    return *src.path + ":" + std::to_string(src.begin.line);
}

std::unique_ptr<manifest> load_manifest(const std::string& path, std::span<const std::string> sets,
                                        diagnostics& diag) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diag.error("cannot read manifest " + path + ": " + std::strerror(errno));
        return nullptr;
    }
    // Bound what a mistaken --config (a device, a huge log file) can make us read.
    std::string content;
    content.resize(max_manifest_bytes + 1);
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<std::size_t>(in.gcount()));
    if (content.size() > max_manifest_bytes) {
        diag.error("cannot read manifest " + path + ": larger than 16 MiB; is it the right file?");
        return nullptr;
    }
    auto m = std::make_unique<manifest>();
    m->path = path;
    try {
        m->doc = toml::parse(content, std::string_view{path});
    } catch (const toml::parse_error& e) {
        std::string msg = path + ":" + std::to_string(e.source().begin.line) + ": TOML syntax error: " +
                          std::string(e.description());
        if (std::string_view(e.description()).find("redefine existing table") != std::string_view::npos)
            msg += " (a table may appear only once: each plugin instance needs its own [plugins.NAME])";
        diag.error(std::move(msg));
        return nullptr;
    }
    std::vector<std::string> created;
    for (const auto& s : sets) apply_set(m->doc, s, created, diag);

    for (auto&& [key, node] : m->doc) {
        const std::string k(key.str());
        if (k == "kernel" || k == "plugins") continue;
        std::string msg = m->origin(node) + ": unknown top-level key '" + k + "'";
        if (auto s = text::suggest(k, {"kernel", "plugins"})) msg += " (did you mean '" + *s + "'?)";
        msg += "; valid keys: kernel, plugins";
        diag.error(std::move(msg));
    }
    read_kernel_table(*m, diag);
    read_instances(*m, created, diag);
    return m;
}

}  // namespace tern::kernel

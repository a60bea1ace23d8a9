// The manifest: one TOML file (plus --set overrides) that says which plugin instances run
// and how the kernel itself behaves. This file checks the manifest's own structure and
// the [kernel] table; plugin tables are checked against their plugin's schema by the
// lifecycle planner once the libraries are loaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "kernel/diagnostics.hpp"
#include "kernel/schema.hpp"
#include "tern/abi/host.h"

namespace tern::kernel {

struct kernel_settings {
    std::vector<std::string> plugin_path{"build/plugins"};
    uint32_t shards = 0;  // 0: one per core
    tern_log_level log_level = TERN_LOG_INFO;
    std::string log_format = "text";
    std::string metrics_bind = "127.0.0.1:9683";  // "" disables
    uint32_t stop_timeout_ms = 10000;
};

// One [plugins.NAME] table.
struct instance_decl {
    std::string name;    // NAME
    std::string plugin;  // `plugin`, else NAME
    std::string file;    // `file`, or empty: search libtern-<plugin>.so on the plugin path
    bool enabled = true;
    std::optional<tern_log_level> log_level;  // `log_level`, else the kernel's
    const toml::table* table = nullptr;
    std::string where;       // "config/tern.toml:23" (or "--set") of the table
    std::size_t index = 0;   // position in manifest order
};

class manifest {
public:
    manifest() = default;
    manifest(const manifest&) = delete;
    manifest& operator=(const manifest&) = delete;

    std::string path;  // as the operator named it
    toml::table doc;
    kernel_settings kernel;
    std::vector<instance_decl> instances;  // manifest order

    // "config/tern.toml:12" for a node read from the file, "--set" for one set on the
    // command line.
    std::string origin(const toml::node& n) const;
};

// Reads the manifest at path, applies each "KEY=VALUE" of sets, and checks its structure
// and the [kernel] table. Returns null when the file cannot be used at all (unreadable,
// TOML syntax error); otherwise a manifest, with any errors in diag.
std::unique_ptr<manifest> load_manifest(const std::string& path, std::span<const std::string> sets,
                                        diagnostics& diag);

// The [kernel] table's schema (used for validation, `tern config sample kernel`).
std::span<const tern_config_key> kernel_schema();
// Kernel-owned keys of every plugin table (enabled, plugin, file, log_level).
std::span<const tern_config_key> instance_owned_schema();

std::optional<tern_log_level> parse_log_level(std::string_view name);
std::string_view log_level_name(tern_log_level level);

struct bind_address {
    std::string host;  // numeric IPv4 or IPv6 address
    uint16_t port = 0;
};
// "127.0.0.1:9683", "[::1]:9683", "localhost:0"; nullopt with a reason in err otherwise.
std::optional<bind_address> parse_bind_address(std::string_view text, std::string& err);

}  // namespace tern::kernel

// Plugin configuration schemas (tern_config_key[]): checking a schema itself, validating a
// TOML table against it (defaults filled in, every error with file:line), and rendering it
// as a sample TOML table or a Markdown table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "kernel/diagnostics.hpp"
#include "tern/abi/plugin.h"

namespace tern::kernel {

// One validated value, of its key's declared type.
struct config_value {
    tern_config_type type = 0;
    bool b = false;
    int64_t i = 0;
    double d = 0;
    std::string s;
    std::vector<std::string> a;
    std::string origin;  // "config/tern.toml:12", "--set" or "default"
};

using config_values = std::map<std::string, config_value, std::less<>>;

// Keys the kernel owns in every plugin table (not part of a plugin's schema).
inline constexpr std::string_view kernel_owned_keys[] = {"enabled", "plugin", "file", "log_level"};

// Problems with a schema as a plugin declared it: key declared twice, reserved or empty
// names, unknown types, defaults of the wrong type. Empty when the schema is sound.
std::vector<std::string> check_schema(std::span<const tern_config_key> keys);

// How to describe where a node came from ("file:line" or "--set").
using origin_fn = std::function<std::string(const toml::node&)>;

struct validation {
    std::string table;                    // "plugins.udp": printed as [plugins.udp]
    std::string table_origin;             // where the table itself is (for missing keys)
    origin_fn origin;
    std::vector<std::string> skip;        // keys owned by someone else: valid, not checked
    bool report_unknown = true;           // false: ignore keys the schema does not declare
};

// Checks table (null: an absent table) against keys and returns every declared key's
// value, defaults filled in. Errors go to diag; the values of bad keys are left out.
config_values validate_table(const toml::table* table, std::span<const tern_config_key> keys,
                             const validation& how, diagnostics& diag);

// Parses a JSON array of strings (the default of a TERN_CONFIG_STRING_ARRAY key).
bool parse_string_array_json(std::string_view json, std::vector<std::string>& out);

std::string_view config_type_name(tern_config_type t);
// "65535", "\"0.0.0.0\"", "[\"a\", \"b\"]": a key's default as TOML text (empty if required).
std::string default_as_toml(const tern_config_key& k);
// "ms; 0..65535; choices: a|b": the hints shown next to a key's doc.
std::string key_hints(const tern_config_key& k);

// [table] with each key's doc as a comment and its default, sub-tables for dotted keys.
std::string sample_toml(std::string_view table, std::span<const tern_config_key> keys);
// | key | type | default | description | for plugin READMEs.
std::string docs_markdown(std::span<const tern_config_key> keys);

}  // namespace tern::kernel

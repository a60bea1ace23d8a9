// tern plugins list | inspect: what is on the plugin path, and what one library says about
// itself. Libraries are loaded to read their descriptors; no instance is created.
#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>

#include "kernel/commands/commands.hpp"
#include "kernel/loader.hpp"
#include "kernel/manifest.hpp"
#include "kernel/schema.hpp"
#include "kernel/text.hpp"

namespace tern::kernel::commands {

namespace {

std::string requirement_list(const plugin_library& lib) {
    std::vector<std::string> r;
    for (const auto& q : lib.requirements) r.push_back(q.iid + (q.optional ? " (optional)" : ""));
    return r.empty() ? "-" : text::join(r, ", ");
}

std::string provides_list(const plugin_library& lib) {
    return lib.provides.empty() ? "-" : text::join(lib.provides, ", ");
}

std::string abi_of(const plugin_library& lib) {
    return std::to_string(lib.abi_major) + "." + std::to_string(lib.abi_minor);
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

std::optional<std::vector<std::string>> search_dirs(const cli::invocation& inv) {
    kernel_settings defaults;
    std::vector<std::string> path = defaults.plugin_path;
    if (auto cfg = inv.get("--config")) {
        diagnostics diag;
        auto m = load_manifest(*cfg, {}, diag);
        if (!m) {
            for (const auto& e : diag.errors) inv.err << e << "\n";
            return std::nullopt;
        }
        path = m->kernel.plugin_path;
    }
    return plugin_search_dirs(path);
}

int plugins_list(const cli::invocation& inv) {
    const auto dirs = search_dirs(inv);
    if (!dirs) return cli::exit_failure;
    std::map<std::string, std::string> first_seen;  // file name -> path that wins
    std::size_t found = 0;
    for (const auto& dir : *dirs) {
        std::error_code ec;
        std::vector<std::string> files;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.rfind("libtern-", 0) == 0 && name.size() > 11 && name.compare(name.size() - 3, 3, ".so") == 0)
                files.push_back(name);
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            const std::string path = (std::filesystem::path(dir) / f).string();
            if (found++ != 0) inv.out << "\n";
            const load_result r = open_plugin(path);
            if (r.library) {
                const plugin_library& lib = *r.library;
                inv.out << lib.name << " " << or_dash(lib.version) << " (vendor: " << or_dash(lib.vendor)
                        << "; ABI " << abi_of(lib) << ")\n";
                if (!lib.description.empty()) inv.out << "  " << lib.description << "\n";
                inv.out << "  provides: " << provides_list(lib) << "\n";
                inv.out << "  requires: " << requirement_list(lib) << "\n";
            } else {
                inv.out << f << " (not loadable)\n";
                inv.out << "  reason:   " << r.error << "\n";
            }
            inv.out << "  file:     " << path << "\n";
            if (auto [it, fresh] = first_seen.emplace(f, path); !fresh)
                inv.out << "  note:     shadowed by " << it->second << " (searched earlier)\n";
        }
    }
    if (found == 0) inv.out << "no plugin libraries (libtern-*.so) in " << text::join(*dirs, ", ") << "\n";
    return cli::exit_ok;
}

int plugins_inspect(const cli::invocation& inv) {
    const std::string& file = inv.positional.at(0);
    const load_result r = open_plugin(file);
    if (!r.library) {
        inv.err << r.error << "\n";
        return cli::exit_failure;
    }
    const plugin_library& lib = *r.library;
    inv.out << "file:        " << file << "\n";
    inv.out << "name:        " << lib.name << "\n";
    inv.out << "version:     " << or_dash(lib.version) << "\n";
    inv.out << "vendor:      " << or_dash(lib.vendor) << "\n";
    inv.out << "description: " << or_dash(lib.description) << "\n";
    inv.out << "build:       " << or_dash(lib.build) << "\n";
    inv.out << "abi:         " << abi_of(lib) << " (descriptor " << lib.header_size << " bytes)\n";
    inv.out << "provides:    " << provides_list(lib) << "\n";
    inv.out << "requires:    " << requirement_list(lib) << "\n";
    inv.out << "config:      " << lib.config.size() << (lib.config.size() == 1 ? " key" : " keys") << "\n";
    std::size_t name_w = 0, type_w = 0, def_w = 0;
    for (const auto& k : lib.config) {
        name_w = std::max(name_w, std::string_view(k.name != nullptr ? k.name : "").size());
        type_w = std::max(type_w, config_type_name(k.type).size());
        def_w = std::max(def_w, (k.flags & TERN_CONFIG_REQUIRED) ? 10 : default_as_toml(k).size());
    }
    for (const auto& k : lib.config) {
        const std::string name = k.name != nullptr ? k.name : "";
        const std::string type(config_type_name(k.type));
        const std::string def = (k.flags & TERN_CONFIG_REQUIRED) ? "(required)" : default_as_toml(k);
        std::string line = "  " + name + std::string(name_w - name.size() + 2, ' ') + type +
                           std::string(type_w - type.size() + 2, ' ') + def + std::string(def_w - def.size() + 2, ' ');
        std::string doc = k.doc != nullptr ? k.doc : "";
        const std::string hints = key_hints(k);
        if (!hints.empty()) doc += (doc.empty() ? "(" : " (") + hints + ")";
        line += doc;
        while (!line.empty() && line.back() == ' ') line.pop_back();
        inv.out << line << "\n";
    }
    const auto problems = check_schema(lib.config);
    if (!problems.empty()) {
        inv.err << file << ": plugin '" << lib.name << "' declares a bad config schema: " << text::join(problems, "; ")
                << "; fix its tern_config_key table and rebuild it\n";
        return cli::exit_failure;
    }
    return cli::exit_ok;
}

}  // namespace tern::kernel::commands

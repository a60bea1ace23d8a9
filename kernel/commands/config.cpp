// tern config sample | docs: a plugin's schema as a manifest table or as Markdown, so that
// sample manifests and plugin READMEs come from the one source of truth.
#include <ostream>

#include "kernel/commands/commands.hpp"
#include "kernel/loader.hpp"
#include "kernel/manifest.hpp"
#include "kernel/schema.hpp"
#include "kernel/text.hpp"

namespace tern::kernel::commands {

namespace {

struct schema_source {
    std::string table;  // "plugins.udp" or "kernel"
    std::string title;  // first comment line of a sample
    std::shared_ptr<plugin_library> library;  // keeps the schema's strings loaded
    std::span<const tern_config_key> keys;
};

std::optional<schema_source> find_schema(const cli::invocation& inv) {
    const std::string& what = inv.positional.at(0);
    if (what == "kernel") return schema_source{"kernel", "the kernel's own settings", nullptr, kernel_schema()};
    std::string file;
    if (what.find('/') != std::string::npos || what.ends_with(".so")) {
        file = what;
    } else {
        const auto dirs = search_dirs(inv);
        if (!dirs) return std::nullopt;
        auto f = find_plugin_file(what, *dirs);
        if (!f) {
            inv.err << "plugin '" << what << "' not found: no " << plugin_file_name(what) << " in "
                    << text::join(*dirs, ", ") << "\n";
            return std::nullopt;
        }
        file = *f;
    }
    load_result r = open_plugin(file);
    if (!r.library) {
        inv.err << r.error << "\n";
        return std::nullopt;
    }
    const auto problems = check_schema(r.library->config);
    if (!problems.empty()) {
        inv.err << file << ": plugin '" << r.library->name << "' declares a bad config schema: "
                << text::join(problems, "; ") << "; fix its tern_config_key table and rebuild it\n";
        return std::nullopt;
    }
    std::string title = r.library->name + " " + r.library->version;
    if (!r.library->description.empty()) title += ": " + r.library->description;
    schema_source s{"plugins." + r.library->name, title, r.library, {}};
    s.keys = s.library->config;
    return s;
}

}  // namespace

int config_sample(const cli::invocation& inv) {
    const auto s = find_schema(inv);
    if (!s) return cli::exit_failure;
    inv.out << "# " << s->title << "\n" << sample_toml(s->table, s->keys);
    return cli::exit_ok;
}

int config_docs(const cli::invocation& inv) {
    const auto s = find_schema(inv);
    if (!s) return cli::exit_failure;
    inv.out << docs_markdown(s->keys);
    return cli::exit_ok;
}

}  // namespace tern::kernel::commands

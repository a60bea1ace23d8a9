// tern check: everything `run` checks before creating an instance, and nothing more.
#include "kernel/commands/commands.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/manifest.hpp"

#include <ostream>

namespace tern::kernel::commands {

int check(const cli::invocation& inv) {
    diagnostics diag;
    const std::string path = *inv.get("--config");
    auto m = load_manifest(path, inv.all("--set"), diag);
    plan p;
    if (m) make_plan(std::move(m), p, diag);
    if (!diag.ok()) {
        for (const auto& e : diag.errors) inv.err << e << "\n";
        inv.err << path << ": " << diag.errors.size() << (diag.errors.size() == 1 ? " error" : " errors") << "\n";
        return cli::exit_failure;
    }
    inv.out << "config OK: " << p.instances.size() << " plugin instances";
    if (!p.instances.empty()) inv.out << " (" << instance_names(p) << ")";
    inv.out << "\n";
    return cli::exit_ok;
}

}  // namespace tern::kernel::commands

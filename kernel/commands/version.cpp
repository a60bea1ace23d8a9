#include <ostream>

#include "kernel/build_info.hpp"
#include "kernel/commands/commands.hpp"

namespace tern::kernel::commands {

int version(const cli::invocation& inv) {
    inv.out << "tern " << kernel::version() << "\n";
    inv.out << "ABI " << abi_version() << "\n";
    inv.out << "built with " << build_string() << "\n";
    return cli::exit_ok;
}

}  // namespace tern::kernel::commands

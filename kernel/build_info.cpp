#include "kernel/build_info.hpp"

// TERN_SDK_BUILD: the same compiler/stdlib description a plugin's descriptor carries.
#include "tern/sdk/plugin.hpp"

namespace tern::kernel {

std::string version() { return TERN_VERSION; }

std::string abi_version() { return std::to_string(TERN_ABI_MAJOR) + "." + std::to_string(TERN_ABI_MINOR); }

std::string build_string() { return TERN_SDK_BUILD; }

}  // namespace tern::kernel

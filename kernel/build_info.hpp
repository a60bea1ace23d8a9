// What this kernel is: project version, ABI version, and what it was built with.
#pragma once

#include <string>

namespace tern::kernel {

std::string version();       // "0.1.0"
std::string abi_version();   // "1.0"
std::string build_string();  // "gcc 12.2.0, libstdc++ 20230528"

}  // namespace tern::kernel

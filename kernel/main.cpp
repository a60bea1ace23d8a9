// tern: the kernel executable. Everything lives in tern_kernel; this is the door.
#include "kernel/cli.hpp"

int main(int argc, char** argv) { return tern::kernel::cli::main(argc, argv); }

#pragma once

#include "options.hpp"

#include <atomic>
#include <string>

namespace tern::bench {

// Serves until `stop` turns true (checked at least every 200 ms). 0 on a clean stop,
// 1 if a socket could not be set up (message in `error`).
int run_echo_server(const echo_options& opts, const std::atomic<bool>& stop, std::string& error);

}  // namespace tern::bench

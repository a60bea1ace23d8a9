// What the tests of the scale-out plugins (core_nats, nats_bridge) share on top of
// test_support.hpp: strings to and from the ABI's tern_str and tern_bytes, and the short names
// of the libraries they use. Their CMake puts this directory on the include path; a test
// namespace takes all of it with `using namespace tern::nats_link::test;`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tern/abi/types.h"
#include "tern/core_wire/codec.hpp"
#include "tern/sdk/testing.hpp"
#include "test_support.hpp"

namespace tern::nats_link::test {

using namespace std::chrono_literals;
namespace nl = tern::nats_link;
namespace wire = tern::core_wire;
namespace testing = tern::sdk::testing;

// The views point into the argument: keep it alive.
inline tern_str str(std::string_view s) { return {s.data(), s.size()}; }
inline tern_bytes bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline std::string text(tern_str s) { return s.size == 0 ? std::string{} : std::string(s.data, s.size); }
inline std::string text(tern_bytes b) {
  return b.size == 0 ? std::string{} : std::string(reinterpret_cast<const char*>(b.data), b.size);
}

}  // namespace tern::nats_link::test

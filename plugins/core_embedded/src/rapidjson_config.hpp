// Included before any RapidJSON header (every TU of this plugin does): misusing a JSON
// value -- reading a member that is not there, a string as a number -- throws instead of
// being undefined behaviour in release builds. JSON from the network is never trusted.
#pragma once

#include <stdexcept>

#ifndef RAPIDJSON_ASSERT
#define RAPIDJSON_ASSERT(x) \
    do {                    \
        if (!(x)) throw std::logic_error("unexpected JSON shape (" #x ")"); \
    } while (0)
#endif

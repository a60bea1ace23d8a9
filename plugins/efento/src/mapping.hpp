// The measurement types: which telemetry keys a channel of each type stores and how its
// sample values are scaled or split. One table, the code's and the README's "Mapping" (a test
// prints it as the README's rows and compares).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tern::efento {

enum class sample_kind {
    ignored,  // NO_SENSOR, gases, particulates, noise, ... and unknown numbers: nothing stored
    scaled,   // <key>N = v / divisor, a double
    split,    // <key>N = v div factor and <key>metadata_N = v mod factor, integers
    major,    // an accumulating counter's major part: split with factor 4
    minor,    // an accumulating counter's minor part: <key>total_N (see measurements.cpp)
    binary    // a state per change: <key>N = ok_text when the offset is negative, else other_text
};

struct type_mapping {
    int type;                    // the MeasurementType number
    std::string_view name;       // its enum name without "MEASUREMENT_TYPE_"
    sample_kind kind;
    std::string_view key;        // key prefix; the channel number follows
    int factor;                  // scaled: the divisor; split: the metadata factor; minor: 6
    int resolution;              // minor: how many minor units one major unit is
    std::string_view ok_text;    // binary
    std::string_view other_text; // binary
};

// Offsets in this range are a sensor's error codes, never a value.
inline constexpr int32_t sensor_error_min = 8355840;
inline constexpr int32_t sensor_error_max = 8388607;

inline constexpr bool is_sensor_error(int32_t offset) noexcept {
    return offset >= sensor_error_min && offset <= sensor_error_max;
}

// Every MeasurementType by number; mapping_of() of an unknown number is an ignored entry.
std::span<const type_mapping> mappings() noexcept;
const type_mapping& mapping_of(int type) noexcept;

// The README's table rows, one line each (header included), as markdown.
void append_readme_table(std::string& out);

}  // namespace tern::efento

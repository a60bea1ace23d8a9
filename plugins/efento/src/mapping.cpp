#include "mapping.hpp"

#include <array>

namespace tern::efento {

namespace {

using k = sample_kind;

constexpr type_mapping ignored(int type, std::string_view name) { return {type, name, k::ignored, {}, 0, 0, {}, {}}; }
constexpr type_mapping scaled(int type, std::string_view name, std::string_view key, int divisor) {
    return {type, name, k::scaled, key, divisor, 0, {}, {}};
}
constexpr type_mapping split(int type, std::string_view name, std::string_view key) { return {type, name, k::split, key, 3, 0, {}, {}}; }
constexpr type_mapping major(int type, std::string_view name, std::string_view key) { return {type, name, k::major, key, 4, 0, {}, {}}; }
constexpr type_mapping minor(int type, std::string_view name, std::string_view key, int resolution) {
    return {type, name, k::minor, key, 6, resolution, {}, {}};
}
constexpr type_mapping binary(int type, std::string_view name, std::string_view key, std::string_view ok, std::string_view other) {
    return {type, name, k::binary, key, 0, 0, ok, other};
}

// The accumulating counters' key prefixes (a MINOR channel looks its MAJOR up by it).
constexpr std::string_view water_acc = "water_cnt_acc_";
constexpr std::string_view pulse_acc = "pulse_cnt_acc_";
constexpr std::string_view elec_acc = "elec_meter_acc_";
constexpr std::string_view pulse_wide_acc = "pulse_cnt_acc_wide_";

// Indexed by type number.
constexpr std::array<type_mapping, 44> table{{
    ignored(0, "NO_SENSOR"),
    scaled(1, "TEMPERATURE", "temperature_", 10),
    scaled(2, "HUMIDITY", "humidity_", 1),
    scaled(3, "ATMOSPHERIC_PRESSURE", "pressure_", 10),
    scaled(4, "DIFFERENTIAL_PRESSURE", "pressure_diff_", 1),
    binary(5, "OK_ALARM", "ok_alarm_", "OK", "ALARM"),
    split(6, "IAQ", "iaq_"),
    binary(7, "FLOODING", "flooding_", "OK", "WATER_DETECTED"),
    scaled(8, "PULSE_CNT", "pulse_cnt_", 1),
    scaled(9, "ELECTRICITY_METER", "watt_hour_", 1),
    scaled(10, "WATER_METER", "pulse_counter_water_", 1),
    scaled(11, "SOIL_MOISTURE", "soil_moisture_", 1),
    ignored(12, "CO_GAS"),
    ignored(13, "NO2_GAS"),
    ignored(14, "H2S_GAS"),
    scaled(15, "AMBIENT_LIGHT", "ambient_light_", 10),
    ignored(16, "PM_1_0"),
    ignored(17, "PM_2_5"),
    ignored(18, "PM_10_0"),
    ignored(19, "NOISE_LEVEL"),
    ignored(20, "NH3_GAS"),
    ignored(21, "CH4_GAS"),
    scaled(22, "HIGH_PRESSURE", "high_pressure_", 1),
    scaled(23, "DISTANCE_MM", "distance_mm_", 1),
    minor(24, "WATER_METER_ACC_MINOR", water_acc, 100),
    major(25, "WATER_METER_ACC_MAJOR", water_acc),
    split(26, "CO2_GAS", "co2_gas_"),
    scaled(27, "HUMIDITY_ACCURATE", "humidity_relative_", 10),
    split(28, "STATIC_IAQ", "static_iaq_"),
    split(29, "CO2_EQUIVALENT", "co2_"),
    split(30, "BREATH_VOC", "breath_voc_"),
    ignored(31, "SHARED_MODEM"),
    scaled(32, "PERCENTAGE", "percentage_", 100),
    scaled(33, "VOLTAGE", "voltage_", 10),
    scaled(34, "CURRENT", "current_", 100),
    minor(35, "PULSE_CNT_ACC_MINOR", pulse_acc, 1000),
    major(36, "PULSE_CNT_ACC_MAJOR", pulse_acc),
    minor(37, "ELEC_METER_ACC_MINOR", elec_acc, 1000),
    major(38, "ELEC_METER_ACC_MAJOR", elec_acc),
    minor(39, "PULSE_CNT_ACC_WIDE_MINOR", pulse_wide_acc, 1000000),
    major(40, "PULSE_CNT_ACC_WIDE_MAJOR", pulse_wide_acc),
    scaled(41, "CURRENT_PRECISE", "current_precise_", 1000),
    binary(42, "OUTPUT_CONTROL", "output_control_", "OFF", "ON"),
    ignored(43, "RESISTANCE"),
}};

constexpr bool indexed_by_number() {
    for (size_t i = 0; i < table.size(); ++i)
        if (table[i].type != static_cast<int>(i)) return false;
    return true;
}
static_assert(indexed_by_number());

constexpr type_mapping unknown = ignored(-1, "UNRECOGNIZED");

void append_code(std::string& out, std::string_view text) {
    out += '`';
    out += text;
    out += '`';
}

void append_keys(std::string& out, const type_mapping& m) {
    switch (m.kind) {
        case k::ignored: out += "ignored"; return;
        case k::scaled:
        case k::binary: append_code(out, std::string(m.key) + "N"); return;
        case k::split:
        case k::major:
            append_code(out, std::string(m.key) + "N");
            out += ", ";
            append_code(out, std::string(m.key) + "metadata_N");
            return;
        case k::minor: append_code(out, std::string(m.key) + "total_N"); return;
    }
}

void append_value(std::string& out, const type_mapping& m) {
    const std::string f = std::to_string(m.factor);
    switch (m.kind) {
        case k::ignored: out += "-"; return;
        case k::scaled: out += m.factor == 1 ? "v (double)" : "v / " + f + " (double)"; return;
        case k::split:
        case k::major: out += "v div " + f + ", v mod " + f + " (integers)"; return;
        case k::minor:
            out += "M = v mod 6 + 1; when `" + std::string(m.key) + "M` is in the record: `" + std::string(m.key) +
                   "M` × " + std::to_string(m.resolution) + " + v div 6 (integer), replacing `" + std::string(m.key) + "M`";
            return;
        case k::binary:
            out += "\"" + std::string(m.ok_text) + "\" when the offset is negative, else \"" + std::string(m.other_text) + "\"";
            return;
    }
}

const char* kind_name(sample_kind kind) {
    switch (kind) {
        case k::ignored: return "-";
        case k::scaled: return "continuous";
        case k::split: return "continuous, value and metadata";
        case k::major: return "accumulating, major";
        case k::minor: return "accumulating, minor";
        case k::binary: return "binary";
    }
    return "-";
}

}  // namespace

std::span<const type_mapping> mappings() noexcept { return table; }

const type_mapping& mapping_of(int type) noexcept {
    return type >= 0 && static_cast<size_t>(type) < table.size() ? table[static_cast<size_t>(type)] : unknown;
}

void append_readme_table(std::string& out) {
    out += "| Type | Keys (N: channel) | Value (v = start_point + offset) | Kind | Error codes |\n";
    out += "|---|---|---|---|---|\n";
    const std::string errors = std::to_string(sensor_error_min) + "–" + std::to_string(sensor_error_max) + " skipped";
    for (const type_mapping& m : table) {
        out += "| ";
        append_code(out, std::string(m.name) + " (" + std::to_string(m.type) + ")");
        out += " | ";
        append_keys(out, m);
        out += " | ";
        append_value(out, m);
        out += " | ";
        out += kind_name(m.kind);
        out += " | ";
        out += m.kind == k::ignored ? "-" : errors;
        out += " |\n";
    }
}

}  // namespace tern::efento

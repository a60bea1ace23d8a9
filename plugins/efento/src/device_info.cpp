// Device information -> one telemetry record at the server's time, with ThingsBoard's keys in
// its order: software version, memory statistics, modem, runtime. Every uint32 field is a Java
// int in ThingsBoard's generated code, so a value of 2^31 or more is stored negative, as there
// (java_int below); dates are Unix seconds read the same way, -1 meaning "Undefined".
#include <array>
#include <string_view>

#include "conversions.hpp"
#include "proto_device_info.pb.h"

namespace tern::efento {

namespace {

constexpr size_t memory_statistics_count = 22;

// memory_statistics by index; the dates among them are formatted.
constexpr std::array<std::string_view, memory_statistics_count> memory_keys{
    "nv_storage_status",
    "timestamp_of_the_end_of_collecting_statistics",
    "capacity_of_memory_in_bytes",
    "used_space_in_bytes",
    "size_of_invalid_packets_in_bytes",
    "size_of_corrupted_packets_in_bytes",
    "number_of_valid_packets",
    "number_of_invalid_packets",
    "number_of_corrupted_packets",
    "number_of_all_samples_for_channel_1",
    "number_of_all_samples_for_channel_2",
    "number_of_all_samples_for_channel_3",
    "number_of_all_samples_for_channel_4",
    "number_of_all_samples_for_channel_5",
    "number_of_all_samples_for_channel_6",
    "timestamp_of_the_first_binary_measurement",
    "timestamp_of_the_last_binary_measurement",
    "timestamp_of_the_first_binary_measurement_sent",
    "timestamp_of_the_first_continuous_measurement",
    "timestamp_of_the_last_continuous_measurement",
    "timestamp_of_the_last_continuous_measurement_sent",
    "nvm_write_counter",
};

constexpr bool is_date_statistic(size_t i) { return i == 1 || (i >= 15 && i <= 20); }

constexpr std::array<std::string_view, 4> modem_statistics_keys{
    "modem_transmissions_count", "modem_time_since_last_devinfo", "modem_total_psm_time", "modem_total_active_time"};

// Modem parameters by index, per modem type.
constexpr std::string_view bc660_parameters[] = {
    "sc_EARFCN", "sc_EARNFCN_offset", "sc_PCI",   "sc_Cell_id", "sc_RSRP",        "sc_RSRQ",
    "sc_RSSI",   "sc_SINR",           "sc_Band",  "sc_TAC",     "sc_ECL",         "sc_TX_PWR",
    "op_mode",   "nc_EARFCN",         "nc_PCI",   "nc_RSRP",    "nc_RSRQ",        "sleep_duration",
    "rx_time",   "tx_time",           "PLMN_state", "select_PLMN"};
constexpr std::string_view shared_modem_parameters[] = {"RSRP", "RSRQ", "RSSI", "SINR"};
constexpr std::string_view bc66_parameters[] = {
    "sc_EARNFCN_offset", "sc_EARFCN",          "sc_PCI",           "sc_Cell_id",       "sc_RSRP",
    "sc_RSRQ",           "sc_RSSI",            "sc_SINR",          "sc_Band",          "sc_TAC",
    "sc_ECL",            "sc_TX_PWR",          "op_mode",          "nc_EARFCN",        "nc_EARNFCN_offset",
    "nc_PCI",            "nc_RSRP",            "RLC_UL_BLER",      "RLC_DL_BLER",      "MAC_UL_BLER",
    "MAC_DL_BLER",       "MAC_UL_TOTAL_BYTES", "MAC_DL_TOTAL_BYTES", "MAC_UL_total_HARQ_Tx",
    "MAC_DL_total_HARQ_Tx", "MAC_UL_HARQ_re_Tx", "MAC_DL_HARQ_re_Tx", "RLC_UL_tput",    "RLC_DL_tput",
    "MAC_UL_tput",       "MAC_DL_tput",        "sleep_duration",   "rx_time",          "tx_time"};

std::span<const std::string_view> parameter_keys(int modem_type) {
    switch (modem_type) {
        case MODEM_TYPE_BC660: return bc660_parameters;
        case MODEM_TYPE_SHARED_MODEM: return shared_modem_parameters;
        default: return bc66_parameters;  // BC66, BC66NA, unspecified and unknown types
    }
}

struct info_writer {
    int64_t ts;
    const decode_limits& lim;
    conversion& out;

    void integer(std::string_view key, int64_t v) { set_int(out.builder.put(ts, key), v); }
    // A constant or a view into the parsed message: it outlives the conversion.
    void text(std::string_view key, std::string_view v) { out.typer.string(out.builder.put(ts, key), v, lim.type_cast_enabled, true); }
    void date(std::string_view key, uint32_t seconds) {
        const int32_t s = java_int(seconds);
        if (s == -1) return text(key, "Undefined");  // -1, and 4294967295 which is -1 as a Java int
        out.scratch.clear();
        append_local_date(out.scratch, s);
        out.typer.string(out.builder.put(ts, key), out.scratch, lim.type_cast_enabled, false);
    }
};

// Java's Enum.toString of an open enum: the value's name, "UNRECOGNIZED" for another number.
template <class IsValid, class Name>
std::string_view enum_text(int v, IsValid is_valid, Name name) {
    if (!is_valid(v)) return "UNRECOGNIZED";
    return name(v);
}

void modem_values(const ProtoModem& modem, info_writer& w) {
    w.text("modem_types", enum_text(modem.type(), ModemType_IsValid,
                                    [](int v) -> const std::string& { return ModemType_Name(static_cast<ModemType>(v)); }));
    w.text("sim_card_identification", modem.sim_card_identification());
    w.text("firmware_version",
           enum_text(modem.firmware_version(), ModemFirmwareVersion_IsValid,
                     [](int v) -> const std::string& { return ModemFirmwareVersion_Name(static_cast<ModemFirmwareVersion>(v)); }));
    w.text("modem_identification", modem.modem_identification());
    if (static_cast<size_t>(modem.modem_statistics_size()) >= modem_statistics_keys.size())
        for (size_t i = 0; i < modem_statistics_keys.size(); ++i)
            w.integer(modem_statistics_keys[i], java_int(modem.modem_statistics(static_cast<int>(i))));
    const std::span<const std::string_view> keys = parameter_keys(modem.type());
    const size_t present = std::min(keys.size(), static_cast<size_t>(modem.parameters_size()));
    for (size_t i = 0; i < present; ++i) w.integer(keys[i], modem.parameters(static_cast<int>(i)));
}

void runtime_values(const ProtoRuntime& r, info_writer& w) {
    w.date("battery_reset_timestamp", r.battery_reset_timestamp());
    w.integer("max_mcu_temp", r.max_mcu_temperature());
    w.integer("mcu_temp", r.mcu_temperature());
    constexpr std::string_view counters[] = {"counter_of_confirmable_messages_attempts",
                                             "counter_of_non_confirmable_messages_attempts",
                                             "counter_of_succeeded_messages"};
    for (int i = 0; i < 3 && i < r.message_counters_size(); ++i) w.integer(counters[i], java_int(r.message_counters(i)));
    w.integer("min_battery_mcu_temp", r.min_battery_mcu_temperature());
    w.integer("min_battery_voltage", java_int(r.battery_voltage()));
    w.integer("min_mcu_temp", r.min_mcu_temperature());
    w.integer("runtime_errors", r.runtime_errors_size());
    w.integer("up_time", java_int(r.up_time()));
}

}  // namespace

decode_status convert_device_info(const ProtoDeviceInfo& m, int64_t now_ms, const decode_limits& lim,
                                  conversion& out, std::string& err) {
    out.builder.clear();
    if (static_cast<size_t>(m.memory_statistics_size()) < memory_statistics_count) {
        err = "the device information has " + std::to_string(m.memory_statistics_size()) + " memory statistics, " +
              std::to_string(memory_statistics_count) + " expected";
        return decode_status::incomplete;
    }
    info_writer w{now_ms, lim, out};
    w.integer("sw_version", java_int(m.sw_version()));
    for (size_t i = 0; i < memory_statistics_count; ++i) {
        const uint32_t v = m.memory_statistics(static_cast<int>(i));
        if (is_date_statistic(i)) w.date(memory_keys[i], v);
        else w.integer(memory_keys[i], java_int(v));
    }
    modem_values(m.modem(), w);
    runtime_values(m.runtime_info(), w);
    if (out.builder.size() > lim.max_values) {
        err = "the device information would store " + std::to_string(out.builder.size()) + " values, more than max_values (" +
              std::to_string(lim.max_values) + ")";
        return decode_status::too_many_values;
    }
    out.builder.finish(out.records, out.values);
    return decode_status::ok;
}

}  // namespace tern::efento

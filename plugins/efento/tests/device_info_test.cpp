// Device information and configuration conversions, expected values written by hand.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "decoder.hpp"
#include "tern/abi/coap.h"
#include "proto_config.pb.h"
#include "proto_device_info.pb.h"

using namespace tern::efento;

namespace {

constexpr int64_t now_ms = 1765000000123;

tern_bytes view(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Sets TZ for a test and restores the one before.
struct zone {
    std::string old;
    bool had = false;
    explicit zone(const char* tz) {
        if (const char* o = std::getenv("TZ")) {
            old = o;
            had = true;
        }
        setenv("TZ", tz, 1);
        tzset();
    }
    ~zone() {
        if (had) setenv("TZ", old.c_str(), 1);
        else unsetenv("TZ");
        tzset();
    }
};

struct kv_list {
    std::vector<std::string> keys;
    std::vector<tern_value> values;
    const tern_value* get(std::string_view key) const {
        for (size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &values[i];
        return nullptr;
    }
};

kv_list list_of(std::span<const tern_kv> kvs) {
    kv_list l;
    for (const tern_kv& kv : kvs) {
        l.keys.emplace_back(kv.key.data, kv.key.size);
        l.values.push_back(kv.value);
    }
    return l;
}

decode_status device_info(decoder& d, const ProtoDeviceInfo& m, kv_list& out, const decode_limits& lim = {}) {
    std::string err;
    REQUIRE(d.parse(message_kind::device_info, view(m.SerializeAsString()), err) == decode_status::ok);
    const decode_status st = d.convert(now_ms, lim, err);
    if (st == decode_status::ok) {
        REQUIRE(d.records().size() == 1);
        CHECK(d.records()[0].ts == now_ms);
        out = list_of({d.records()[0].values, d.records()[0].count});
    }
    return st;
}

void check_int(const kv_list& l, std::string_view key, int64_t expected) {
    INFO(key);
    const tern_value* v = l.get(key);
    REQUIRE(v != nullptr);
    CHECK(v->type == TERN_VALUE_INT);
    CHECK(v->u.i == expected);
}

void check_text(const kv_list& l, std::string_view key, std::string_view expected, tern_value_type type = TERN_VALUE_STR) {
    INFO(key);
    const tern_value* v = l.get(key);
    REQUIRE(v != nullptr);
    CHECK(v->type == type);
    CHECK(std::string_view(v->u.s.data, v->u.s.size) == expected);
}

ProtoDeviceInfo info() {
    ProtoDeviceInfo m;
    m.set_serial_number("\x28\x2C", 2);
    m.set_cloud_token("info-token");
    m.set_sw_version(1546);
    const uint32_t stats[22] = {0, 1700000000, 1048576, 512000, 1024, 256, 100, 10, 2, 500, 400,
                                300, 200, 100, 50, 4294967295u, 4294967295u, 0, 1700000000, 1700000060, 1700000120, 42};
    for (const uint32_t s : stats) m.add_memory_statistics(s);
    ProtoModem& modem = *m.mutable_modem();
    modem.set_type(MODEM_TYPE_BC660);
    modem.set_sim_card_identification("89001012012341234120");
    modem.set_firmware_version(MODEM_FIRMWARE_VERSION_BC660_V2);
    modem.set_modem_identification("352519100417272");
    for (const uint32_t s : {10u, 3600u, 7200u, 600u}) modem.add_modem_statistics(s);
    for (int i = 0; i < 22; ++i) modem.add_parameters(i * 10 - 100);
    ProtoRuntime& r = *m.mutable_runtime_info();
    r.set_up_time(3600);
    for (const uint32_t c : {10u, 5u, 9u}) r.add_message_counters(c);
    r.set_mcu_temperature(25);
    r.set_battery_voltage(3200);
    r.set_min_battery_mcu_temperature(-20);
    r.set_battery_reset_timestamp(1700000000);
    r.set_max_mcu_temperature(40);
    r.set_min_mcu_temperature(-10);
    r.add_runtime_errors(0);
    r.add_runtime_errors(7);
    return m;
}

}  // namespace

TEST_CASE("device information, one record at the server's time in ThingsBoard's key order", "[device_info]") {
    zone utc("UTC");
    decoder d;
    kv_list l;
    REQUIRE(device_info(d, info(), l) == decode_status::ok);
    CHECK(d.cloud_token() == "info-token");
    const std::vector<std::string> expected = {
        "sw_version", "nv_storage_status", "timestamp_of_the_end_of_collecting_statistics",
        "capacity_of_memory_in_bytes", "used_space_in_bytes", "size_of_invalid_packets_in_bytes",
        "size_of_corrupted_packets_in_bytes", "number_of_valid_packets", "number_of_invalid_packets",
        "number_of_corrupted_packets", "number_of_all_samples_for_channel_1", "number_of_all_samples_for_channel_2",
        "number_of_all_samples_for_channel_3", "number_of_all_samples_for_channel_4",
        "number_of_all_samples_for_channel_5", "number_of_all_samples_for_channel_6",
        "timestamp_of_the_first_binary_measurement", "timestamp_of_the_last_binary_measurement",
        "timestamp_of_the_first_binary_measurement_sent", "timestamp_of_the_first_continuous_measurement",
        "timestamp_of_the_last_continuous_measurement", "timestamp_of_the_last_continuous_measurement_sent",
        "nvm_write_counter", "modem_types", "sim_card_identification", "firmware_version", "modem_identification",
        "modem_transmissions_count", "modem_time_since_last_devinfo", "modem_total_psm_time",
        "modem_total_active_time", "sc_EARFCN", "sc_EARNFCN_offset", "sc_PCI", "sc_Cell_id", "sc_RSRP", "sc_RSRQ",
        "sc_RSSI", "sc_SINR", "sc_Band", "sc_TAC", "sc_ECL", "sc_TX_PWR", "op_mode", "nc_EARFCN", "nc_PCI", "nc_RSRP",
        "nc_RSRQ", "sleep_duration", "rx_time", "tx_time", "PLMN_state", "select_PLMN", "battery_reset_timestamp",
        "max_mcu_temp", "mcu_temp", "counter_of_confirmable_messages_attempts",
        "counter_of_non_confirmable_messages_attempts", "counter_of_succeeded_messages", "min_battery_mcu_temp",
        "min_battery_voltage", "min_mcu_temp", "runtime_errors", "up_time"};
    CHECK(l.keys == expected);
    CHECK(d.value_count() == expected.size());
    check_int(l, "sw_version", 1546);
    check_int(l, "nv_storage_status", 0);
    check_text(l, "timestamp_of_the_end_of_collecting_statistics", "14 Nov 2023 22:13:20 +0000");
    check_int(l, "capacity_of_memory_in_bytes", 1048576);
    check_int(l, "number_of_all_samples_for_channel_6", 50);
    check_text(l, "timestamp_of_the_first_binary_measurement", "Undefined");
    check_text(l, "timestamp_of_the_last_binary_measurement", "Undefined");
    check_text(l, "timestamp_of_the_first_binary_measurement_sent", "01 Jan 1970 00:00:00 +0000");
    check_text(l, "timestamp_of_the_last_continuous_measurement", "14 Nov 2023 22:14:20 +0000");
    check_text(l, "timestamp_of_the_last_continuous_measurement_sent", "14 Nov 2023 22:15:20 +0000");
    check_int(l, "nvm_write_counter", 42);
    check_text(l, "modem_types", "MODEM_TYPE_BC660");
    // 20 digits: past a long, kept as text; 15 digits: a number (type casting, as in ThingsBoard)
    check_text(l, "sim_card_identification", "89001012012341234120");
    check_text(l, "firmware_version", "MODEM_FIRMWARE_VERSION_BC660_V2");
    check_int(l, "modem_identification", 352519100417272);
    check_int(l, "modem_transmissions_count", 10);
    check_int(l, "modem_total_active_time", 600);
    check_int(l, "sc_EARFCN", -100);
    check_int(l, "sc_RSRP", -60);
    check_int(l, "select_PLMN", 110);
    check_text(l, "battery_reset_timestamp", "14 Nov 2023 22:13:20 +0000");
    check_int(l, "max_mcu_temp", 40);
    check_int(l, "mcu_temp", 25);
    check_int(l, "counter_of_confirmable_messages_attempts", 10);
    check_int(l, "counter_of_non_confirmable_messages_attempts", 5);
    check_int(l, "counter_of_succeeded_messages", 9);
    check_int(l, "min_battery_mcu_temp", -20);
    check_int(l, "min_battery_voltage", 3200);
    check_int(l, "min_mcu_temp", -10);
    check_int(l, "runtime_errors", 2);
    check_int(l, "up_time", 3600);
}

TEST_CASE("device information dates are in the process's time zone", "[device_info]") {
    zone cet("CET-1CEST,M3.5.0,M10.5.0/3");
    decoder d;
    kv_list l;
    ProtoDeviceInfo m = info();
    m.set_memory_statistics(18, 1719835200);  // 2024-07-01 12:00:00 UTC, summer time
    REQUIRE(device_info(d, m, l) == decode_status::ok);
    check_text(l, "timestamp_of_the_end_of_collecting_statistics", "14 Nov 2023 23:13:20 +0100");
    check_text(l, "timestamp_of_the_first_continuous_measurement", "01 Jul 2024 14:00:00 +0200");
}

TEST_CASE("device information's uint32 values are Java ints", "[device_info]") {
    zone utc("UTC");
    decoder d;
    kv_list l;
    ProtoDeviceInfo m = info();
    m.set_sw_version(4294967295u);
    m.set_memory_statistics(2, 3000000000u);
    m.set_memory_statistics(1, 2147483648u);  // -2^31 s: 13 Dec 1901
    m.mutable_runtime_info()->set_up_time(2147483648u);
    REQUIRE(device_info(d, m, l) == decode_status::ok);
    check_int(l, "sw_version", -1);
    check_int(l, "capacity_of_memory_in_bytes", -1294967296);
    check_text(l, "timestamp_of_the_end_of_collecting_statistics", "13 Dec 1901 20:45:52 +0000");
    check_int(l, "up_time", -2147483648);
}

TEST_CASE("device information with 21 memory statistics is incomplete (5.00)", "[device_info]") {
    decoder d;
    kv_list l;
    ProtoDeviceInfo m = info();
    m.mutable_memory_statistics()->RemoveLast();
    std::string err;
    REQUIRE(d.parse(message_kind::device_info, view(m.SerializeAsString()), err) == decode_status::ok);
    CHECK(d.convert(now_ms, {}, err) == decode_status::incomplete);
    CHECK(err.find("21 memory statistics") != std::string::npos);
    CHECK(d.records().empty());
    CHECK(status_code(decode_status::incomplete) == TERN_COAP_CODE(5, 0));
}

TEST_CASE("modem parameters are named by the modem type's list", "[device_info]") {
    zone utc("UTC");
    decoder d;
    kv_list l;
    ProtoDeviceInfo m = info();
    ProtoModem& modem = *m.mutable_modem();

    SECTION("SHARED_MODEM: four signal values, no statistics below four") {
        modem.set_type(MODEM_TYPE_SHARED_MODEM);
        modem.clear_parameters();
        for (const int p : {-90, -10, -80, 15}) modem.add_parameters(p);
        modem.mutable_modem_statistics()->RemoveLast();
        REQUIRE(device_info(d, m, l) == decode_status::ok);
        check_text(l, "modem_types", "MODEM_TYPE_SHARED_MODEM");
        check_int(l, "RSRP", -90);
        check_int(l, "RSRQ", -10);
        check_int(l, "RSSI", -80);
        check_int(l, "SINR", 15);
        CHECK(l.get("sc_EARFCN") == nullptr);
        CHECK(l.get("modem_transmissions_count") == nullptr);
    }
    SECTION("BC66: the long list, only the parameters present") {
        modem.set_type(MODEM_TYPE_BC66);
        modem.clear_parameters();
        for (int i = 0; i < 19; ++i) modem.add_parameters(i);
        REQUIRE(device_info(d, m, l) == decode_status::ok);
        check_int(l, "sc_EARNFCN_offset", 0);
        check_int(l, "sc_EARFCN", 1);
        check_int(l, "nc_EARNFCN_offset", 14);
        check_int(l, "RLC_UL_BLER", 17);
        check_int(l, "RLC_DL_BLER", 18);
        CHECK(l.get("MAC_UL_BLER") == nullptr);
        CHECK(l.get("nc_RSRQ") == nullptr);
    }
    SECTION("BC66 with all 34, and an unknown modem type named as Java names it") {
        modem.set_type(static_cast<ModemType>(9));
        modem.set_firmware_version(static_cast<ModemFirmwareVersion>(77));
        modem.clear_parameters();
        for (int i = 0; i < 40; ++i) modem.add_parameters(i);
        REQUIRE(device_info(d, m, l) == decode_status::ok);
        check_text(l, "modem_types", "UNRECOGNIZED");
        check_text(l, "firmware_version", "UNRECOGNIZED");
        check_int(l, "MAC_DL_tput", 30);
        check_int(l, "tx_time", 33);
        CHECK(l.keys.size() == 1 + 22 + 4 + 4 + 34 + 11);
    }
}

TEST_CASE("device information past max_values is refused with 4.13", "[device_info]") {
    decoder d;
    kv_list l;
    decode_limits lim;
    lim.max_values = 20;
    CHECK(device_info(d, info(), l, lim) == decode_status::too_many_values);
    CHECK(d.records().empty());
}

namespace {

decode_status configuration(decoder& d, const ProtoConfig& m, kv_list& out, const decode_limits& lim = {}) {
    std::string err;
    REQUIRE(d.parse(message_kind::configuration, view(m.SerializeAsString()), err) == decode_status::ok);
    const decode_status st = d.convert(now_ms, lim, err);
    if (st == decode_status::ok) out = list_of(d.attributes());
    else UNSCOPED_INFO("convert: " << err);
    return st;
}

}  // namespace

TEST_CASE("the configuration as client attributes, lowerCamelCase, defaults included", "[configuration]") {
    ProtoConfig m;
    m.set_data_server_ip("18.184.24.239");
    m.set_data_server_port(5683);
    m.set_data_endpoint("/m");
    m.set_cloud_token("config-token");
    m.set_measurement_period_base(60);
    m.add_channel_types(MEASUREMENT_TYPE_TEMPERATURE);
    m.add_channel_types(MEASUREMENT_TYPE_HUMIDITY);
    ProtoBleAdvertisingPeriod& ble = *m.mutable_ble_advertising_period();
    ble.set_mode(BLE_ADVERTISING_PERIOD_MODE_NORMAL);
    ble.set_normal(1600);
    ble.set_fast(320);
    ProtoRule& rule = *m.add_rules();
    rule.set_channel_mask(1);
    rule.set_condition(CONDITION_HIGH_THRESHOLD);
    rule.add_parameters(500);
    rule.set_action(ACTION_TRIGGER_TRANSMISSION);
    decoder d;
    kv_list l;
    REQUIRE(configuration(d, m, l) == decode_status::ok);
    CHECK(d.cloud_token() == "config-token");
    CHECK(d.records().empty());
    CHECK(d.value_count() == l.keys.size());
    check_text(l, "dataServerIp", "18.184.24.239");
    check_int(l, "dataServerPort", 5683);
    check_text(l, "dataEndpoint", "/m");
    check_text(l, "cloudToken", "config-token");
    check_int(l, "measurementPeriodBase", 60);
    check_text(l, "channelTypes", R"(["MEASUREMENT_TYPE_TEMPERATURE","MEASUREMENT_TYPE_HUMIDITY"])", TERN_VALUE_JSON);
    check_text(l, "bleAdvertisingPeriod", R"({"mode":"BLE_ADVERTISING_PERIOD_MODE_NORMAL","normal":1600,"fast":320})",
               TERN_VALUE_JSON);
    check_text(l, "rules",
               R"([{"channelMask":1,"condition":"CONDITION_HIGH_THRESHOLD","parameters":[500],"action":"ACTION_TRIGGER_TRANSMISSION"}])",
               TERN_VALUE_JSON);
    // defaults: printed with their default value; an unset message field is left out
    check_int(l, "measurementPeriodFactor", 0);
    check_text(l, "apn", "");
    const tern_value* request = l.get("deviceInfoRequest");
    REQUIRE(request != nullptr);
    CHECK(request->type == TERN_VALUE_BOOL);
    CHECK(request->u.b == 0);
    CHECK(l.get("calibrationParametersRequest") == nullptr);
    CHECK(l.get("networkSearch") == nullptr);
}

TEST_CASE("a configuration past max_decoded_size is a conversion error (4.00)", "[configuration]") {
    ProtoConfig m;
    m.set_apn(std::string(2000, 'a'));
    decoder d;
    kv_list l;
    decode_limits lim;
    lim.max_decoded_size = 1024;
    CHECK(configuration(d, m, l, lim) == decode_status::conversion_error);
    CHECK(d.attributes().empty());
    CHECK(status_code(decode_status::conversion_error) == TERN_COAP_CODE(4, 0));
    // an empty body is a configuration of defaults, token ""
    std::string err;
    REQUIRE(d.parse(message_kind::configuration, tern_bytes{nullptr, 0}, err) == decode_status::ok);
    CHECK(d.cloud_token().empty());
    REQUIRE(d.convert(now_ms, {}, err) == decode_status::ok);
    CHECK(list_of(d.attributes()).get("cloudToken") != nullptr);
}

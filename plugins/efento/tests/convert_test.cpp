// The conversions on messages built field by field with the generated classes. Every expected
// key, value, type and timestamp is written by hand from ThingsBoard's behaviour (docs/
// device-api.md §11), never computed with the conversion's own code.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "decoder.hpp"
#include "tern/abi/coap.h"
#include "proto_config.pb.h"
#include "proto_device_info.pb.h"
#include "proto_measurements.pb.h"

using namespace tern::efento;

namespace {

constexpr int64_t T = 1700000000;  // 2023-11-14 22:13:20 UTC
constexpr int64_t T_ms = T * 1000;

tern_bytes view(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

decode_status run(decoder& d, message_kind kind, const std::string& body, const decode_limits& lim = {},
                  int64_t now_ms = 42000) {
    std::string err;
    const decode_status p = d.parse(kind, view(body), err);
    if (p != decode_status::ok) return p;
    const decode_status c = d.convert(now_ms, lim, err);
    if (c != decode_status::ok) INFO("convert: " << err);
    return c;
}

decode_status run(decoder& d, const ProtoMeasurements& m, const decode_limits& lim = {}) {
    return run(d, message_kind::measurements, m.SerializeAsString(), lim);
}

const tern_value* find(const decoder& d, int64_t ts, std::string_view key) {
    for (const tern_ts_record& r : d.records()) {
        if (r.ts != ts) continue;
        for (uint32_t i = 0; i < r.count; ++i)
            if (std::string_view(r.values[i].key.data, r.values[i].key.size) == key) return &r.values[i].value;
    }
    return nullptr;
}

std::vector<std::string> keys_at(const decoder& d, int64_t ts) {
    std::vector<std::string> keys;
    for (const tern_ts_record& r : d.records())
        if (r.ts == ts)
            for (uint32_t i = 0; i < r.count; ++i) keys.emplace_back(r.values[i].key.data, r.values[i].key.size);
    return keys;
}

std::vector<int64_t> timestamps(const decoder& d) {
    std::vector<int64_t> ts;
    for (const tern_ts_record& r : d.records()) ts.push_back(r.ts);
    return ts;
}

void check_double(const decoder& d, int64_t ts, std::string_view key, double expected) {
    INFO("key " << key << " at " << ts);
    const tern_value* v = find(d, ts, key);
    REQUIRE(v != nullptr);
    CHECK(v->type == TERN_VALUE_DOUBLE);
    CHECK(v->u.d == expected);
}

void check_int(const decoder& d, int64_t ts, std::string_view key, int64_t expected) {
    INFO("key " << key << " at " << ts);
    const tern_value* v = find(d, ts, key);
    REQUIRE(v != nullptr);
    CHECK(v->type == TERN_VALUE_INT);
    CHECK(v->u.i == expected);
}

void check_text(const decoder& d, int64_t ts, std::string_view key, std::string_view expected) {
    INFO("key " << key << " at " << ts);
    const tern_value* v = find(d, ts, key);
    REQUIRE(v != nullptr);
    CHECK(v->type == TERN_VALUE_STR);
    CHECK(std::string_view(v->u.s.data, v->u.s.size) == expected);
}

ProtoMeasurements measurements(uint32_t base = 60, uint32_t factor = 0) {
    ProtoMeasurements m;
    m.set_serial_number(std::string("\x28\x2C\x02\x40\x07\xC9", 6));
    m.set_battery_status(true);
    m.set_measurement_period_base(base);
    m.set_measurement_period_factor(factor);
    m.set_signal(17);
    m.set_next_transmission_at(static_cast<uint32_t>(T + 600));
    m.set_cloud_token("efento-token");
    return m;
}

ProtoChannel& channel(ProtoMeasurements& m, MeasurementType type, int32_t start_point, std::vector<int32_t> offsets,
                      int32_t timestamp = static_cast<int32_t>(T)) {
    ProtoChannel& c = *m.add_channels();
    c.set_type(type);
    c.set_timestamp(timestamp);
    c.set_start_point(start_point);
    for (const int32_t o : offsets) c.add_sample_offsets(o);
    return c;
}

}  // namespace

TEST_CASE("every continuous type is stored under its key with its scaling", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 200, {23});
    channel(m, MEASUREMENT_TYPE_HUMIDITY, 40, {5});
    channel(m, MEASUREMENT_TYPE_ATMOSPHERIC_PRESSURE, 10000, {132});
    channel(m, MEASUREMENT_TYPE_DIFFERENTIAL_PRESSURE, 0, {-120});
    channel(m, MEASUREMENT_TYPE_PULSE_CNT, 0, {300});
    channel(m, MEASUREMENT_TYPE_ELECTRICITY_METER, 1000, {200});
    channel(m, MEASUREMENT_TYPE_WATER_METER, 1000, {50});
    channel(m, MEASUREMENT_TYPE_SOIL_MOISTURE, 30, {5});
    channel(m, MEASUREMENT_TYPE_AMBIENT_LIGHT, 0, {5});
    channel(m, MEASUREMENT_TYPE_HIGH_PRESSURE, 0, {200000});
    channel(m, MEASUREMENT_TYPE_DISTANCE_MM, 1000, {500});
    channel(m, MEASUREMENT_TYPE_HUMIDITY_ACCURATE, 500, {25});
    channel(m, MEASUREMENT_TYPE_PERCENTAGE, 0, {80});
    channel(m, MEASUREMENT_TYPE_VOLTAGE, 2000, {400});
    channel(m, MEASUREMENT_TYPE_CURRENT, 500, {50});
    channel(m, MEASUREMENT_TYPE_CURRENT_PRECISE, 0, {275});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    REQUIRE(timestamps(d) == std::vector<int64_t>{T_ms});
    check_double(d, T_ms, "temperature_1", 22.3);
    check_double(d, T_ms, "humidity_2", 45.0);
    check_double(d, T_ms, "pressure_3", 1013.2);
    check_double(d, T_ms, "pressure_diff_4", -120.0);
    check_double(d, T_ms, "pulse_cnt_5", 300.0);
    check_double(d, T_ms, "watt_hour_6", 1200.0);
    check_double(d, T_ms, "pulse_counter_water_7", 1050.0);
    check_double(d, T_ms, "soil_moisture_8", 35.0);
    check_double(d, T_ms, "ambient_light_9", 0.5);
    check_double(d, T_ms, "high_pressure_10", 200000.0);
    check_double(d, T_ms, "distance_mm_11", 1500.0);
    check_double(d, T_ms, "humidity_relative_12", 52.5);
    check_double(d, T_ms, "percentage_13", 0.8);
    check_double(d, T_ms, "voltage_14", 240.0);
    check_double(d, T_ms, "current_15", 5.5);
    check_double(d, T_ms, "current_precise_16", 0.275);
    // 4 message keys, 16 intervals, 16 values
    CHECK(d.value_count() == 36);
}

TEST_CASE("a scaled value is typed as ThingsBoard types the Java double's text", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 0, {100000000});      // 1.0E7: an integer
    channel(m, MEASUREMENT_TYPE_WATER_METER, 12345678, {0});        // 1.2345678E7: an integer
    channel(m, MEASUREMENT_TYPE_CURRENT_PRECISE, 0, {1});           // 0.001 stays a double
    channel(m, MEASUREMENT_TYPE_PERCENTAGE, 0, {0});                // 0.0 stays a double
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 2147483647, {1});      // wraps to -2147483648
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    check_int(d, T_ms, "temperature_1", 10000000);
    check_int(d, T_ms, "pulse_counter_water_2", 12345678);
    check_double(d, T_ms, "current_precise_3", 0.001);
    check_double(d, T_ms, "percentage_4", 0.0);
    check_double(d, T_ms, "temperature_5", -214748364.8);
}

TEST_CASE("air-quality types store value and metadata as integers", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_IAQ, 100, {50});
    channel(m, MEASUREMENT_TYPE_STATIC_IAQ, 100, {10});
    channel(m, MEASUREMENT_TYPE_CO2_GAS, 1200, {1});
    channel(m, MEASUREMENT_TYPE_CO2_EQUIVALENT, 400, {50});
    channel(m, MEASUREMENT_TYPE_BREATH_VOC, 200, {20});
    channel(m, MEASUREMENT_TYPE_IAQ, 0, {-7});  // Java's / and % truncate toward zero
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    check_int(d, T_ms, "iaq_1", 50);
    check_int(d, T_ms, "iaq_metadata_1", 0);
    check_int(d, T_ms, "static_iaq_2", 36);
    check_int(d, T_ms, "static_iaq_metadata_2", 2);
    check_int(d, T_ms, "co2_gas_3", 400);
    check_int(d, T_ms, "co2_gas_metadata_3", 1);
    check_int(d, T_ms, "co2_4", 150);
    check_int(d, T_ms, "co2_metadata_4", 0);
    check_int(d, T_ms, "breath_voc_5", 73);
    check_int(d, T_ms, "breath_voc_metadata_5", 1);
    check_int(d, T_ms, "iaq_6", -2);
    check_int(d, T_ms, "iaq_metadata_6", -1);
}

TEST_CASE("a MINOR counter channel replaces its MAJOR channel's value with the total", "[convert]") {
    struct counter {
        MeasurementType major, minor;
        const char* prefix;
        int32_t major_value, minor_value;
        int64_t total;
    };
    const counter counters[] = {
        {MEASUREMENT_TYPE_WATER_METER_ACC_MAJOR, MEASUREMENT_TYPE_WATER_METER_ACC_MINOR, "water_cnt_acc_", 625, 15, 62515},
        {MEASUREMENT_TYPE_PULSE_CNT_ACC_MAJOR, MEASUREMENT_TYPE_PULSE_CNT_ACC_MINOR, "pulse_cnt_acc_", 300, 10, 300010},
        {MEASUREMENT_TYPE_ELEC_METER_ACC_MAJOR, MEASUREMENT_TYPE_ELEC_METER_ACC_MINOR, "elec_meter_acc_", 100, 12, 100012},
        {MEASUREMENT_TYPE_PULSE_CNT_ACC_WIDE_MAJOR, MEASUREMENT_TYPE_PULSE_CNT_ACC_WIDE_MINOR, "pulse_cnt_acc_wide_", 440,
         13, 440000013},
        // 5000 x 1 000 000 overflows a Java int: 5 000 000 000 - 2^32 + 7
        {MEASUREMENT_TYPE_PULSE_CNT_ACC_WIDE_MAJOR, MEASUREMENT_TYPE_PULSE_CNT_ACC_WIDE_MINOR, "pulse_cnt_acc_wide_", 5000,
         7, 705032711},
    };
    for (const counter& c : counters) {
        INFO(c.prefix << " major " << c.major_value);
        ProtoMeasurements m = measurements();
        channel(m, c.major, 0, {c.major_value * 4 + 3});       // channel 1: value, metadata 3
        channel(m, c.minor, 0, {c.minor_value * 6 + 0});       // channel 2: its major is channel 1
        decoder d;
        REQUIRE(run(d, m) == decode_status::ok);
        const std::string p = c.prefix;
        CHECK(find(d, T_ms, p + "1") == nullptr);  // replaced by the total
        check_int(d, T_ms, p + "metadata_1", 3);
        check_int(d, T_ms, p + "total_2", c.total);
    }
}

TEST_CASE("a MINOR channel without its MAJOR in the record stores nothing", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_PULSE_CNT_ACC_MINOR, 0, {10 * 6 + 2});   // channel 1 -> major channel 3: absent
    channel(m, MEASUREMENT_TYPE_WATER_METER_ACC_MINOR, 0, {4 * 6 + 3});  // channel 2 -> major channel 4, a MAJOR
    channel(m, MEASUREMENT_TYPE_WATER_METER_ACC_MAJOR, 0, {}); // channel 3: no samples
    channel(m, MEASUREMENT_TYPE_WATER_METER_ACC_MAJOR, 0, {7 * 4}); // channel 4: after the MINOR, stays
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    CHECK(keys_at(d, T_ms) == std::vector<std::string>{"serial", "battery", "next_transmission_at", "signal",
                                                       "measurement_interval_1", "measurement_interval_2",
                                                       "measurement_interval_4", "water_cnt_acc_4",
                                                       "water_cnt_acc_metadata_4"});
    check_int(d, T_ms, "water_cnt_acc_4", 7);
}

TEST_CASE("binary channels store state changes and stop at a repeated state", "[convert]") {
    ProtoMeasurements m = measurements(180, 0);  // binary period 180 x 14
    channel(m, MEASUREMENT_TYPE_OK_ALARM, 0, {1, -10, 25, 30, -40});
    channel(m, MEASUREMENT_TYPE_FLOODING, 0, {-5, 7});
    channel(m, MEASUREMENT_TYPE_OUTPUT_CONTROL, 0, {4, -9});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    check_int(d, T_ms, "measurement_interval_1", 2520);
    check_int(d, T_ms, "measurement_interval_2", 2520);
    check_int(d, T_ms, "measurement_interval_3", 2520);
    check_text(d, T_ms, "ok_alarm_1", "ALARM");               // +1 s - 1 s
    check_text(d, T_ms + 9000, "ok_alarm_1", "OK");
    check_text(d, T_ms + 24000, "ok_alarm_1", "ALARM");
    CHECK(find(d, T_ms + 29000, "ok_alarm_1") == nullptr);   // 30: the same state again, the end
    CHECK(find(d, T_ms + 39000, "ok_alarm_1") == nullptr);
    check_text(d, T_ms + 4000, "flooding_2", "OK");
    check_text(d, T_ms + 6000, "flooding_2", "WATER_DETECTED");
    check_text(d, T_ms + 3000, "output_control_3", "ON");
    check_text(d, T_ms + 8000, "output_control_3", "OFF");
    CHECK(timestamps(d) == std::vector<int64_t>{T_ms, T_ms + 3000, T_ms + 4000, T_ms + 6000, T_ms + 8000,
                                                T_ms + 9000, T_ms + 24000});
}

TEST_CASE("sensor error codes are skipped in continuous and binary channels", "[convert]") {
    ProtoMeasurements m = measurements(60, 0);
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 200, {1, 8355840, 8388607, 3, 8355839, 8388608});
    channel(m, MEASUREMENT_TYPE_OK_ALARM, 0, {1, 8355840, -5});  // the error counts as "not ok" before -5
    channel(m, MEASUREMENT_TYPE_FLOODING, 0, {1, 8388607, 7});   // ... and before 7: the same state, the end
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    check_double(d, T_ms, "temperature_1", 20.1);
    CHECK(find(d, T_ms + 60000, "temperature_1") == nullptr);
    CHECK(find(d, T_ms + 120000, "temperature_1") == nullptr);
    check_double(d, T_ms + 180000, "temperature_1", 20.3);
    check_double(d, T_ms + 240000, "temperature_1", 835603.9);  // just below the range: a value
    check_double(d, T_ms + 300000, "temperature_1", 838880.8);  // just above it
    check_text(d, T_ms, "ok_alarm_2", "ALARM");
    check_text(d, T_ms + 4000, "ok_alarm_2", "OK");
    check_text(d, T_ms, "flooding_3", "WATER_DETECTED");
    CHECK(find(d, T_ms + 6000, "flooding_3") == nullptr);
}

TEST_CASE("several channels, their own timestamps and a period factor", "[convert]") {
    ProtoMeasurements m = measurements(60, 5);  // 300 s for every channel, binary ones too
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 215, {0, 1, 2});
    channel(m, MEASUREMENT_TYPE_HUMIDITY, 50, {0, -1}, static_cast<int32_t>(T + 150));
    channel(m, MEASUREMENT_TYPE_OK_ALARM, 0, {}, static_cast<int32_t>(T + 7));  // no samples: skipped
    channel(m, MEASUREMENT_TYPE_FLOODING, 0, {-2});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    CHECK(timestamps(d) == std::vector<int64_t>{T_ms, T_ms + 1000, T_ms + 150000, T_ms + 300000, T_ms + 450000,
                                                T_ms + 600000});
    CHECK(keys_at(d, T_ms) == std::vector<std::string>{"serial", "battery", "next_transmission_at", "signal",
                                                       "measurement_interval_1", "temperature_1",
                                                       "measurement_interval_4"});
    check_int(d, T_ms, "measurement_interval_1", 300);
    check_int(d, T_ms, "measurement_interval_4", 300);
    check_int(d, T_ms + 150000, "measurement_interval_2", 300);
    CHECK(find(d, T_ms + 7000, "measurement_interval_3") == nullptr);
    check_double(d, T_ms, "temperature_1", 21.5);
    check_double(d, T_ms + 300000, "temperature_1", 21.6);
    check_double(d, T_ms + 600000, "temperature_1", 21.7);
    check_double(d, T_ms + 150000, "humidity_2", 50.0);
    check_double(d, T_ms + 450000, "humidity_2", 49.0);
    check_text(d, T_ms + 1000, "flooding_4", "OK");
}

TEST_CASE("without a factor the period is the base, 14 x the base for binary channels", "[convert]") {
    ProtoMeasurements m = measurements(30, 0);
    channel(m, MEASUREMENT_TYPE_HUMIDITY, 50, {0, 1});
    channel(m, MEASUREMENT_TYPE_OK_ALARM, 0, {1});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    check_int(d, T_ms, "measurement_interval_1", 30);
    check_int(d, T_ms, "measurement_interval_2", 420);
    check_double(d, T_ms + 30000, "humidity_1", 51.0);
}

TEST_CASE("the message's own keys at the first channel's timestamp", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_NO_SENSOR, 0, {}, static_cast<int32_t>(T - 100));
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 200, {0});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    const int64_t first = (T - 100) * 1000;
    CHECK(keys_at(d, first) == std::vector<std::string>{"serial", "battery", "next_transmission_at", "signal"});
    check_text(d, first, "serial", "282C024007C9");
    check_text(d, first, "battery", "ok");
    check_text(d, first, "next_transmission_at", "2023-11-14 22:23:20 UTC");
    check_int(d, first, "signal", 17);

    SECTION("a serial of decimal digits is a number with type casting, as ThingsBoard's JSON rules make it") {
        m.set_serial_number(std::string("\x00\x00\x12\x34", 4));
        REQUIRE(run(d, m) == decode_status::ok);
        check_int(d, first, "serial", 1234);
        decode_limits no_cast;
        no_cast.type_cast_enabled = false;
        REQUIRE(run(d, m, no_cast) == decode_status::ok);
        check_text(d, first, "serial", "00001234");
    }
    SECTION("a low battery, and uint32 fields past 2^31 read as Java ints") {
        m.set_battery_status(false);
        m.set_signal(4294967295u);
        m.set_next_transmission_at(4294967295u);  // -1 s
        REQUIRE(run(d, m) == decode_status::ok);
        check_text(d, first, "battery", "low");
        check_int(d, first, "signal", -1);
        check_text(d, first, "next_transmission_at", "1969-12-31 23:59:59 UTC");
    }
}

TEST_CASE("uint32 period fields wrap as Java ints", "[convert]") {
    ProtoMeasurements m = measurements(4294967295u, 1);  // base -1 as a Java int
    channel(m, MEASUREMENT_TYPE_HUMIDITY, 10, {0, 1});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    check_int(d, T_ms, "measurement_interval_1", -1);
    check_double(d, T_ms, "humidity_1", 10.0);
    check_double(d, T_ms - 1000, "humidity_1", 11.0);
    CHECK(timestamps(d) == std::vector<int64_t>{T_ms - 1000, T_ms});

    ProtoMeasurements big = measurements(65536, 65536);  // 2^32 wraps to 0
    channel(big, MEASUREMENT_TYPE_HUMIDITY, 10, {0, 1});
    REQUIRE(run(d, big) == decode_status::ok);
    check_int(d, T_ms, "measurement_interval_1", 0);
    check_double(d, T_ms, "humidity_1", 11.0);  // both samples at one ts: the later value
}

TEST_CASE("ignored types and unknown numbers store only their interval", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_NO_SENSOR, 0, {1});
    channel(m, MEASUREMENT_TYPE_CO_GAS, 0, {1});
    channel(m, MEASUREMENT_TYPE_PM_2_5, 0, {1});
    channel(m, MEASUREMENT_TYPE_RESISTANCE, 0, {1});
    channel(m, static_cast<MeasurementType>(99), 0, {1});
    decoder d;
    REQUIRE(run(d, m) == decode_status::ok);
    CHECK(keys_at(d, T_ms) == std::vector<std::string>{"serial", "battery", "next_transmission_at", "signal",
                                                       "measurement_interval_1", "measurement_interval_2",
                                                       "measurement_interval_3", "measurement_interval_4",
                                                       "measurement_interval_5"});
    CHECK(timestamps(d) == std::vector<int64_t>{T_ms});
}

TEST_CASE("measurements without channels are refused with 5.00", "[convert]") {
    decoder d;
    std::string err;
    REQUIRE(d.parse(message_kind::measurements, view(measurements().SerializeAsString()), err) == decode_status::ok);
    CHECK(d.cloud_token() == "efento-token");
    CHECK(d.convert(0, {}, err) == decode_status::empty_channels);
    CHECK(status_code(decode_status::empty_channels) == TERN_COAP_CODE(5, 0));
    CHECK(d.records().empty());
    // an empty body parses (every field its default) and has no channels either
    REQUIRE(d.parse(message_kind::measurements, tern_bytes{nullptr, 0}, err) == decode_status::ok);
    CHECK(d.cloud_token().empty());
    CHECK(d.convert(0, {}, err) == decode_status::empty_channels);
}

TEST_CASE("truncated bytes are a parse error and leave no token", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 200, {1, 2, 3});
    const std::string whole = m.SerializeAsString();
    decoder d;
    std::string err;
    for (const message_kind kind : {message_kind::measurements, message_kind::device_info, message_kind::configuration}) {
        REQUIRE(d.parse(message_kind::measurements, view(whole), err) == decode_status::ok);
        CHECK(d.parse(kind, view(whole.substr(0, whole.size() - 1)), err) == decode_status::parse_error);
        CHECK(!err.empty());
        CHECK(d.cloud_token().empty());
        CHECK(d.convert(0, {}, err) == decode_status::parse_error);
        CHECK(d.records().empty());
    }
    CHECK(status_code(decode_status::parse_error) == TERN_COAP_CODE(5, 0));
}

TEST_CASE("a large measurements message, then small ones: the same results", "[convert]") {
    ProtoMeasurements big = measurements();
    for (int c = 0; c < 3000; ++c) channel(big, MEASUREMENT_TYPE_HUMIDITY, c, std::vector<int32_t>(10, 1));
    ProtoMeasurements small = measurements();
    channel(small, MEASUREMENT_TYPE_HUMIDITY, 7, {1});
    decoder d;
    decode_limits lim;
    lim.max_values = 100000;
    REQUIRE(big.ByteSizeLong() > 64 * 1024);
    REQUIRE(run(d, big, lim) == decode_status::ok);
    CHECK(d.value_count() == 4 + 3000 + 30000);
    check_double(d, T_ms + 9 * 60000, "humidity_3000", 3000.0);
    for (int i = 0; i < 2; ++i) {
        REQUIRE(run(d, small) == decode_status::ok);
        CHECK(d.value_count() == 4 + 1 + 1);
        CHECK(d.cloud_token() == "efento-token");
        check_double(d, T_ms, "humidity_1", 8.0);
    }
}

TEST_CASE("a string of bad UTF-8 is a parse error, as protobuf-java refuses it", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 200, {1});
    std::string body = m.SerializeAsString();
    const size_t at = body.find("efento-token");
    REQUIRE(at != std::string::npos);
    body[at] = static_cast<char>(0xC3);  // a lead byte followed by ASCII
    decoder d;
    std::string err;
    CHECK(d.parse(message_kind::measurements, view(body), err) == decode_status::parse_error);
    CHECK(d.cloud_token().empty());
}

TEST_CASE("more values than max_values are refused with 4.13", "[convert]") {
    ProtoMeasurements m = measurements();
    channel(m, MEASUREMENT_TYPE_TEMPERATURE, 200, std::vector<int32_t>(100, 0));
    decoder d;
    decode_limits lim;
    lim.max_values = 50;
    std::string err;
    REQUIRE(d.parse(message_kind::measurements, view(m.SerializeAsString()), err) == decode_status::ok);
    CHECK(d.convert(0, lim, err) == decode_status::too_many_values);
    CHECK(err.find("max_values (50)") != std::string::npos);
    CHECK(d.records().empty());
    lim.max_values = 105;  // 4 message keys, 1 interval, 100 samples
    CHECK(d.convert(0, lim, err) == decode_status::ok);
    CHECK(d.value_count() == 105);
    CHECK(status_code(decode_status::too_many_values) == TERN_COAP_CODE(4, 13));
}

TEST_CASE("status codes and names", "[convert]") {
    CHECK(status_code(decode_status::conversion_error) == TERN_COAP_CODE(4, 0));
    CHECK(status_code(decode_status::incomplete) == TERN_COAP_CODE(5, 0));
    CHECK(std::string(status_name(decode_status::ok)) == "ok");
    CHECK(std::string(status_name(decode_status::parse_error)) == "parse_error");
    CHECK(std::string(status_name(decode_status::conversion_error)) == "conversion_error");
    CHECK(std::string(status_name(decode_status::incomplete)) == "incomplete");
    CHECK(std::string(status_name(decode_status::empty_channels)) == "empty_channels");
    CHECK(std::string(status_name(decode_status::too_many_values)) == "too_many_values");
}

// A warm decoder parses and converts without allocating or locking: measurements (continuous,
// binary and counter channels), device information and a configuration, 2 000 times each.
// This binary replaces the global operator new and interposes pthread_mutex_lock
// (testing_alloc.hpp). Measurements have a 32-character token (their message object is reused);
// device information's and the configuration's strings are 15 bytes at most: protobuf 3.21 keeps
// a longer string's characters on the heap even on an arena, one allocation per such string
// (decoder.cpp), counted exactly below.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

#include "decoder.hpp"
#include "proto_config.pb.h"
#include "proto_device_info.pb.h"
#include "proto_measurements.pb.h"
#include "tern/sdk/testing_alloc.hpp"

using namespace tern::efento;

namespace {

tern_bytes view(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string measurements_body() {
    ProtoMeasurements m;
    m.set_serial_number("\x28\x2C\x02\x40\x07\xC9", 6);
    m.set_battery_status(true);
    m.set_measurement_period_base(60);
    m.set_next_transmission_at(1700000600);
    m.set_signal(20);
    m.set_cloud_token("A1_TEST_TOKEN_0123456789abcdefgh");
    const MeasurementType types[] = {MEASUREMENT_TYPE_TEMPERATURE, MEASUREMENT_TYPE_IAQ, MEASUREMENT_TYPE_OK_ALARM,
                                     MEASUREMENT_TYPE_PULSE_CNT_ACC_MAJOR, MEASUREMENT_TYPE_PULSE_CNT_ACC_MINOR};
    for (const MeasurementType t : types) {
        ProtoChannel& c = *m.add_channels();
        c.set_type(t);
        c.set_timestamp(1700000000);
        c.set_start_point(t == MEASUREMENT_TYPE_PULSE_CNT_ACC_MINOR ? 60 + 3 : 215);
        for (int i = 0; i < 24; ++i) c.add_sample_offsets(t == MEASUREMENT_TYPE_OK_ALARM ? (i % 2 ? -(i + 1) : i + 1) : i);
    }
    return m.SerializeAsString();
}

std::string device_info_body() {
    ProtoDeviceInfo m;
    m.set_cloud_token("token-012345678");
    m.set_sw_version(1546);
    for (int i = 0; i < 22; ++i) m.add_memory_statistics(1700000000 + i);
    m.mutable_modem()->set_type(MODEM_TYPE_BC660);
    m.mutable_modem()->set_sim_card_identification("8900101201234");
    for (int i = 0; i < 22; ++i) m.mutable_modem()->add_parameters(i);
    for (int i = 0; i < 3; ++i) m.mutable_runtime_info()->add_message_counters(i);
    return m.SerializeAsString();
}

std::string configuration_body() {
    ProtoConfig m;
    m.set_cloud_token("token-012345678");
    m.set_data_server_ip("18.184.24.239");
    m.add_channel_types(MEASUREMENT_TYPE_TEMPERATURE);
    m.mutable_ble_advertising_period()->set_normal(1600);
    m.add_rules()->set_channel_mask(1);
    return m.SerializeAsString();
}

}  // namespace

TEST_CASE("a warm parse and conversion allocates nothing and locks nothing", "[alloc]") {
    setenv("TZ", "UTC", 1);
    tzset();
    const std::string bodies[] = {measurements_body(), device_info_body(), configuration_body()};
    const message_kind kinds[] = {message_kind::measurements, message_kind::device_info, message_kind::configuration};
    decoder& d = thread_decoder();
    std::string err;
    err.reserve(256);
    uint64_t values = 0;
    auto once = [&] {
        for (int k = 0; k < 3; ++k) {
            if (d.parse(kinds[k], view(bodies[k]), err) != decode_status::ok) return false;
            if (d.convert(1765000000000, {}, err) != decode_status::ok) return false;
            values += d.value_count();
        }
        return true;
    };
    for (int i = 0; i < 50; ++i) REQUIRE(once());  // grows the decoder's buffers
    tern::sdk::testing::alloc_counter c;
    bool ok = true;
    for (int i = 0; i < 2000 && ok; ++i) ok = once();
    const auto n = c.stop();
    REQUIRE(ok);
    CHECK(values > 0);
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
}

TEST_CASE("a device information with a 20-character token allocates once per message", "[alloc]") {
    ProtoDeviceInfo m;
    m.set_cloud_token("A1_TEST_TOKEN_012345");
    for (int i = 0; i < 22; ++i) m.add_memory_statistics(1700000000 + i);
    const std::string body = m.SerializeAsString();
    decoder& d = thread_decoder();
    std::string err;
    setenv("TZ", "UTC", 1);
    tzset();
    auto once = [&] {
        return d.parse(message_kind::device_info, view(body), err) == decode_status::ok &&
               d.convert(0, {}, err) == decode_status::ok;
    };
    for (int i = 0; i < 20; ++i) REQUIRE(once());
    tern::sdk::testing::alloc_counter c;
    bool ok = true;
    for (int i = 0; i < 1000 && ok; ++i) ok = once();
    const auto n = c.stop();
    REQUIRE(ok);
    CHECK(n.allocations == 1000);
    CHECK(n.locks == 0);
}

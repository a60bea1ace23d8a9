// The three conversions behind decoder::convert(), one file each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decoder.hpp"
#include "output.hpp"

class ProtoMeasurements;
class ProtoDeviceInfo;
class ProtoConfig;

namespace tern::proto_walk {
class walk_output;
}

namespace tern::efento {

// A conversion's storage, kept by the decoder from message to message.
struct conversion {
    record_builder builder;
    value_typer typer{builder.text()};
    std::vector<tern_ts_record> records;
    std::vector<tern_kv> values;
    std::string scratch;  // a value's text while it is built
};

// Measurements -> telemetry records (measurements.cpp).
decode_status convert_measurements(const ProtoMeasurements& m, const decode_limits& lim, conversion& out,
                                   std::string& err);
// Device information -> one record at now_ms (device_info.cpp).
decode_status convert_device_info(const ProtoDeviceInfo& m, int64_t now_ms, const decode_limits& lim,
                                  conversion& out, std::string& err);
// Configuration -> client attributes in out.values() (configuration.cpp).
decode_status convert_configuration(const ProtoConfig& m, const decode_limits& lim, proto_walk::walk_output& out,
                                    std::string& err);

// "yyyy-MM-dd HH:mm:ss UTC" of a time in ms (measurements' next_transmission_at).
void append_utc_time(std::string& out, int64_t ms);
// "dd MMM yyyy HH:mm:ss Z" in the process's local time zone (device information's dates).
void append_local_date(std::string& out, int64_t seconds);

}  // namespace tern::efento

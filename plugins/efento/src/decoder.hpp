// The Efento conversion: a message body (ProtoMeasurements, ProtoDeviceInfo or ProtoConfig) is
// parsed, its cloud_token read (the resource authenticates with it), and then converted into
// what ThingsBoard stores for it: telemetry records (measurements, device info) or client
// attributes (configuration). docs/device-api.md §11 is the contract; README.md "Mapping" the
// table of measurement types.
//
// Thread use: one decoder per thread (thread_decoder()). A decoder keeps the last parsed
// message and its conversion until its next parse(); the views it hands out stay valid until
// then. Once its buffers have grown to the largest message seen, a parse and a conversion
// allocate nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tern/abi/core.h"
#include "tern/abi/types.h"

namespace tern::efento {

// Which message a resource takes.
enum class message_kind {
    measurements,  // POST .../m: ProtoMeasurements -> telemetry
    device_info,   // POST .../i: ProtoDeviceInfo -> one telemetry record at server time
    configuration  // POST .../c: ProtoConfig -> client attributes
};

// The outcome of parse() and convert(), with the answer the device gets.
enum class decode_status {
    ok,
    parse_error,       // not a valid message of the kind: 5.00 (as ThingsBoard answers)
    conversion_error,  // parsed but refused by the conversion (a configuration past
                       // max_decoded_size or nested too deep): 4.00
    incomplete,        // device info with fewer than 22 memory statistics: 5.00 (ThingsBoard
                       // fails while processing it)
    empty_channels,    // measurements without any channel: 5.00
    too_many_values    // the conversion would store more than max_values: 4.13
};

struct decode_limits {
    // Data points (key/value pairs, every record's keys together) one message may produce.
    uint32_t max_values = 4096;
    // Bytes the configuration's attributes may decode to (keys and values).
    int64_t max_decoded_size = 65536;
    // Strings in plain decimal become numbers, as ThingsBoard's JSON rules do by default.
    bool type_cast_enabled = true;
};

// The CoAP response code of a status that is not ok (TERN_COAP_CODE layout: class << 5 | detail).
uint8_t status_code(decode_status s) noexcept;
// A short name for logs and metric labels: "parse_error", "conversion_error", ...
const char* status_name(decode_status s) noexcept;

class decoder {
public:
    decoder();
    ~decoder();
    decoder(const decoder&) = delete;
    decoder& operator=(const decoder&) = delete;

    // Parses body as the kind's message and keeps it. parse_error: err says why.
    decode_status parse(message_kind kind, tern_bytes body, std::string& err);
    // The parsed message's cloud_token (empty when absent or after a failed parse).
    std::string_view cloud_token() const noexcept;
    // Converts the parsed message. now_ms: the server's time (the device-info record's ts;
    // its dates use the process's local time zone). On ok, records() (measurements, device
    // info) or attributes() (configuration) hold the result; err says why otherwise.
    decode_status convert(int64_t now_ms, const decode_limits& lim, std::string& err);

    std::span<const tern_ts_record> records() const noexcept;
    std::span<const tern_kv> attributes() const noexcept;
    // Data points in the last successful conversion (every record's values, or the attributes).
    uint32_t value_count() const noexcept;

private:
    struct state;
    std::unique_ptr<state> s_;
};

// The calling thread's decoder.
decoder& thread_decoder() noexcept;

}  // namespace tern::efento

// Measurements -> telemetry, as ThingsBoard converts them: records by ts, the message's own
// keys at the first channel's timestamp, then every channel's samples. Numbers follow Java's
// int arithmetic where ThingsBoard's code uses ints (a uint32 field is a Java int, sums wrap,
// div and mod truncate toward zero as in C++).
#include <cstdlib>

#include "conversions.hpp"
#include "mapping.hpp"
#include "proto_measurements.pb.h"

namespace tern::efento {

namespace {

struct channel_context {
    const ProtoChannel& channel;
    const type_mapping& map;
    uint32_t number;       // 1-based position in the message
    int64_t start_ms;      // the channel's timestamp
    int64_t period_ms;
    const decode_limits& lim;
    conversion& out;
};

bool within(const channel_context& c, std::string& err) {
    if (c.out.builder.size() <= c.lim.max_values) return true;
    err = "the message would store more than max_values (" + std::to_string(c.lim.max_values) + ") values";
    return false;
}

void put_int(conversion& out, int64_t ts, std::string_view key, int64_t v) { set_int(out.builder.put(ts, key), v); }

// An accumulating counter's minor sample: the total replaces its major channel's value when that
// is in the same record; without it nothing is stored.
void minor_sample(const channel_context& c, int64_t ts, int32_t v) {
    const int32_t minor = v / c.map.factor;
    const int32_t major_channel = v % c.map.factor + 1;  // 1..6; -4..0 for some negative v: no such key
    if (major_channel <= 0) return;
    const key_text major_key(c.map.key, {}, static_cast<uint32_t>(major_channel));
    const tern_value* major = c.out.builder.find(ts, major_key.view());
    if (major == nullptr || major->type != TERN_VALUE_INT) return;
    const int64_t major_value = major->u.i;  // a major channel's value is an int (v div 4)
    const int32_t total = java_int(java_int(major_value * c.map.resolution) + static_cast<int64_t>(minor));
    c.out.builder.remove(ts, major_key.view());
    put_int(c.out, ts, key_text(c.map.key, "total_", c.number).view(), total);
}

void continuous_sample(const channel_context& c, int64_t ts, int32_t v) {
    switch (c.map.kind) {
        case sample_kind::scaled:
            // ThingsBoard: (double) v / 10f, a double divided by an exactly representable factor.
            c.out.typer.java_double(c.out.builder.put(ts, key_text(c.map.key, {}, c.number).view()),
                                    static_cast<double>(v) / static_cast<double>(c.map.factor));
            return;
        case sample_kind::split:
        case sample_kind::major:
            put_int(c.out, ts, key_text(c.map.key, {}, c.number).view(), v / c.map.factor);
            put_int(c.out, ts, key_text(c.map.key, "metadata_", c.number).view(), v % c.map.factor);
            return;
        case sample_kind::minor: minor_sample(c, ts, v); return;
        case sample_kind::ignored:
        case sample_kind::binary: return;
    }
}

bool continuous_channel(const channel_context& c, std::string& err) {
    const auto& offsets = c.channel.sample_offsets();
    for (int i = 0; i < offsets.size(); ++i) {
        if (is_sensor_error(offsets[i])) continue;
        const int32_t v = java_int(static_cast<int64_t>(c.channel.start_point()) + offsets[i]);
        // Java's long arithmetic, wrapping as it does (no overflow for any real message).
        const int64_t ts = static_cast<int64_t>(static_cast<uint64_t>(c.start_ms) +
                                                static_cast<uint64_t>(i) * static_cast<uint64_t>(c.period_ms));
        continuous_sample(c, ts, v);
        if (!within(c, err)) return false;
    }
    return true;
}

// A binary channel's offsets are state changes: the sign is the state (negative: the "ok" one),
// the magnitude the seconds after the channel's timestamp, plus one. The channel ends at the
// first sample whose state is the one before it (an error code before it counts by its sign).
bool binary_channel(const channel_context& c, std::string& err) {
    const auto& offsets = c.channel.sample_offsets();
    const key_text key(c.map.key, {}, c.number);
    for (int i = 0; i < offsets.size(); ++i) {
        const int32_t offset = offsets[i];
        if (is_sensor_error(offset)) continue;
        const bool ok = offset < 0;
        if (i > 0 && (offsets[i - 1] < 0) == ok) break;
        const int64_t ts = c.start_ms + std::llabs(static_cast<int64_t>(offset) * 1000) - 1000;
        tern_value& v = c.out.builder.put(ts, key.view());
        const std::string_view text = ok ? c.map.ok_text : c.map.other_text;
        v = tern_value{};
        v.type = TERN_VALUE_STR;
        v.u.s = tern_str{text.data(), text.size()};
        if (!within(c, err)) return false;
    }
    return true;
}

void message_keys(const ProtoMeasurements& m, const decode_limits& lim, conversion& out) {
    const int64_t ts = static_cast<int64_t>(m.channels(0).timestamp()) * 1000;
    std::string& text = out.scratch;
    text.clear();
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char b : m.serial_number()) {
        const auto u = static_cast<unsigned char>(b);
        text += hex[u >> 4];
        text += hex[u & 15];
    }
    out.typer.string(out.builder.put(ts, "serial"), text, lim.type_cast_enabled, false);
    out.typer.string(out.builder.put(ts, "battery"), m.battery_status() ? "ok" : "low", lim.type_cast_enabled, true);
    text.clear();
    // next_transmission_at is a Java int in ThingsBoard (a value past 2^31 is before 1970).
    append_utc_time(text, static_cast<int64_t>(java_int(m.next_transmission_at())) * 1000);
    out.typer.string(out.builder.put(ts, "next_transmission_at"), text, lim.type_cast_enabled, false);
    put_int(out, ts, "signal", java_int(m.signal()));
}

}  // namespace

decode_status convert_measurements(const ProtoMeasurements& m, const decode_limits& lim, conversion& out,
                                   std::string& err) {
    out.builder.clear();
    if (m.channels_size() == 0) {
        err = "the measurements have no channel";
        return decode_status::empty_channels;
    }
    message_keys(m, lim, out);
    // uint32 fields are Java ints in ThingsBoard, and their product an int too.
    const int32_t base = java_int(m.measurement_period_base());
    const int32_t factor = java_int(m.measurement_period_factor());
    for (int n = 0; n < m.channels_size(); ++n) {
        const ProtoChannel& ch = m.channels(n);
        if (ch.sample_offsets_size() == 0) continue;
        const type_mapping& map = mapping_of(ch.type());
        const bool binary = map.kind == sample_kind::binary;
        const int32_t period = java_int(static_cast<int64_t>(base) * (factor != 0 ? factor : (binary ? 14 : 1)));
        const channel_context c{ch, map, static_cast<uint32_t>(n + 1), static_cast<int64_t>(ch.timestamp()) * 1000,
                                static_cast<int64_t>(period) * 1000, lim, out};
        put_int(out, c.start_ms, key_text("measurement_interval_", {}, c.number).view(), period);
        if (!within(c, err)) return decode_status::too_many_values;
        if (!(binary ? binary_channel(c, err) : continuous_channel(c, err))) return decode_status::too_many_values;
    }
    out.builder.finish(out.records, out.values);
    return decode_status::ok;
}

}  // namespace tern::efento

// The decoder: a body parsed into the kind's generated message, then one of the three
// conversions. Measurements, nearly all of a sensor's traffic, parse into one message object
// the decoder keeps: its strings, channels and offset arrays keep their capacity from message
// to message, so a warm parse allocates nothing whatever the token's length. Device
// information and configurations (rare) parse on an arena whose first block the decoder keeps
// (grown to the largest message seen, up to a bound): their sub-messages would be freed by a
// reused object's Clear(), and protobuf 3.21 keeps the characters of a string longer than 15
// bytes on the heap even on an arena, so such a string (a 20-character token) costs one
// allocation there.
#include "decoder.hpp"

#include <google/protobuf/arena.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <optional>

#include "conversions.hpp"
#include "proto_config.pb.h"
#include "proto_device_info.pb.h"
#include "proto_measurements.pb.h"
#include "tern/abi/coap.h"
#include "tern/proto_walk/message_walk.hpp"

namespace tern::efento {

namespace gp = google::protobuf;

namespace {

constexpr size_t first_block_size = 8192;
// The largest first block a decoder keeps; a message needing more parses into extra blocks
// that the arena frees at the next parse.
constexpr size_t max_block_size = size_t{1} << 20;
// After a measurements body larger than this, the reused message is replaced by a fresh one at
// the next smaller body, so that one large message does not keep its channels for good.
constexpr size_t max_kept_measurements = size_t{64} << 10;

const char* message_name(message_kind kind) {
    switch (kind) {
        case message_kind::measurements: return "ProtoMeasurements";
        case message_kind::device_info: return "ProtoDeviceInfo";
        case message_kind::configuration: return "ProtoConfig";
    }
    return "?";
}

// libprotobuf writes an ERROR line to stderr for every body with bad UTF-8 in a string field
// (a cloud_token of random bytes), outside Tern's rate-limited log. The parse error already
// says it (5.00, and the resource's counter), so below FATAL its lines are dropped; a FATAL one
// (libprotobuf aborts after it) still reaches stderr. The handler is the process's, set once
// (the protobuf plugin sets the same).
void protobuf_log(gp::LogLevel level, const char* file, int line, const std::string& message) {
    if (level < gp::LOGLEVEL_FATAL) return;
    std::fprintf(stderr, "[libprotobuf FATAL %s:%d] %s\n", file, line, message.c_str());
}

void quiet_protobuf_log() {
    static const bool once = (gp::SetLogHandler(&protobuf_log), true);
    (void)once;
}

}  // namespace

uint8_t status_code(decode_status s) noexcept {
    switch (s) {
        case decode_status::ok: return TERN_COAP_CODE(2, 1);
        case decode_status::conversion_error: return TERN_COAP_CODE(4, 0);
        case decode_status::too_many_values: return TERN_COAP_CODE(4, 13);
        case decode_status::parse_error:
        case decode_status::incomplete:
        case decode_status::empty_channels: return TERN_COAP_CODE(5, 0);
    }
    return TERN_COAP_CODE(5, 0);
}

const char* status_name(decode_status s) noexcept {
    switch (s) {
        case decode_status::ok: return "ok";
        case decode_status::parse_error: return "parse_error";
        case decode_status::conversion_error: return "conversion_error";
        case decode_status::incomplete: return "incomplete";
        case decode_status::empty_channels: return "empty_channels";
        case decode_status::too_many_values: return "too_many_values";
    }
    return "unknown";
}

struct decoder::state {
    std::unique_ptr<char[]> block;
    size_t block_size = 0;
    size_t wanted = first_block_size;
    std::optional<gp::Arena> arena;

    message_kind kind = message_kind::measurements;
    gp::Message* message = nullptr;  // on the arena; null after a failed parse
    std::string_view token;

    conversion conv;
    proto_walk::walk_output walk;
    bool has_records = false;
    bool has_attributes = false;
    uint32_t count = 0;

    // A fresh arena: the old one reset, or a new one on a larger block after a message that
    // needed more than the block.
    gp::Arena& fresh_arena() {
        if (arena) {
            const size_t used = arena->SpaceAllocated();
            while (wanted < used && wanted < max_block_size) wanted *= 2;
        }
        if (arena && block_size >= wanted) {
            arena->Reset();
            return *arena;
        }
        arena.reset();
        block = std::make_unique<char[]>(wanted);
        block_size = wanted;
        gp::ArenaOptions o;
        o.initial_block = block.get();
        o.initial_block_size = block_size;
        o.start_block_size = first_block_size;
        o.max_block_size = max_block_size;
        arena.emplace(o);
        return *arena;
    }

    template <class M>
    bool parse_into(M* m, tern_bytes body) {
        if (!m->ParseFromArray(body.data, static_cast<int>(body.size))) return false;
        message = m;
        token = m->cloud_token();
        return true;
    }
    template <class M>
    bool parse_on_arena(tern_bytes body) {
        return parse_into(gp::Arena::CreateMessage<M>(&fresh_arena()), body);
    }
    ProtoMeasurements measurements;  // reused, off the arena
    size_t measurements_largest = 0;  // the largest body parsed into it

    bool parse_measurements(tern_bytes body) {
        if (measurements_largest > max_kept_measurements && body.size <= max_kept_measurements) {
            measurements = ProtoMeasurements();
            measurements_largest = 0;
        }
        measurements_largest = std::max(measurements_largest, body.size);
        return parse_into(&measurements, body);
    }
};

decoder::decoder() : s_(std::make_unique<state>()) { quiet_protobuf_log(); }
decoder::~decoder() = default;

decode_status decoder::parse(message_kind kind, tern_bytes body, std::string& err) {
    state& s = *s_;
    s.kind = kind;
    s.message = nullptr;
    s.token = {};
    s.has_records = s.has_attributes = false;
    s.count = 0;
    if (body.size > static_cast<size_t>(INT_MAX)) {
        err = "the body is too large for a protobuf message";
        return decode_status::parse_error;
    }
    bool ok = false;
    switch (kind) {
        case message_kind::measurements: ok = s.parse_measurements(body); break;
        case message_kind::device_info: ok = s.parse_on_arena<ProtoDeviceInfo>(body); break;
        case message_kind::configuration: ok = s.parse_on_arena<ProtoConfig>(body); break;
    }
    if (ok) return decode_status::ok;
    err = std::string("the body (") + std::to_string(body.size) + " bytes) is not a valid " + message_name(kind) +
          " message";
    return decode_status::parse_error;
}

std::string_view decoder::cloud_token() const noexcept { return s_->token; }

decode_status decoder::convert(int64_t now_ms, const decode_limits& lim, std::string& err) {
    state& s = *s_;
    s.has_records = s.has_attributes = false;
    s.count = 0;
    if (s.message == nullptr) {
        err = "no message was parsed";
        return decode_status::parse_error;
    }
    decode_status st = decode_status::ok;
    switch (s.kind) {
        case message_kind::measurements:
            st = convert_measurements(*static_cast<const ProtoMeasurements*>(s.message), lim, s.conv, err);
            break;
        case message_kind::device_info:
            st = convert_device_info(*static_cast<const ProtoDeviceInfo*>(s.message), now_ms, lim, s.conv, err);
            break;
        case message_kind::configuration:
            st = convert_configuration(*static_cast<const ProtoConfig*>(s.message), lim, s.walk, err);
            if (st == decode_status::ok) {
                s.has_attributes = true;
                s.count = static_cast<uint32_t>(s.walk.values().size());
            }
            return st;
    }
    if (st == decode_status::ok) {
        s.has_records = true;
        s.count = static_cast<uint32_t>(s.conv.values.size());
    }
    return st;
}

std::span<const tern_ts_record> decoder::records() const noexcept {
    if (!s_->has_records) return {};
    return s_->conv.records;
}

std::span<const tern_kv> decoder::attributes() const noexcept {
    if (!s_->has_attributes) return {};
    return s_->walk.values();
}

uint32_t decoder::value_count() const noexcept { return s_->count; }

decoder& thread_decoder() noexcept {
    thread_local decoder d;
    return d;
}

}  // namespace tern::efento

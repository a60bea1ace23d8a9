// The protobuf adaptor's construction and its check of a profile's schemas (tern.payload/2).
#include "adaptor.hpp"

#include <google/protobuf/stubs/logging.h>

#include <cstdio>

#include "fixed_messages.hpp"
#include "tern/sdk/status.hpp"

namespace tern::protobuf {

namespace {

proto_walk::walk_limits walk_limits_of(const options& o) {
    proto_walk::walk_limits w;
    w.type_cast_enabled = o.type_cast_enabled;
    w.max_decoded_size = o.max_decoded_size;
    w.max_number_text_length = o.max_number_text_length;
    w.max_depth = static_cast<int>(o.max_depth);
    return w;
}

parse_limits parse_limits_of(const options& o) {
    parse_limits p;
    p.max_depth = static_cast<int>(o.max_depth);
    // A message parses into a few times its size on the arena: the thread's block may grow to
    // 16 times the largest body (1 MiB with the defaults), no further.
    const int64_t bound = o.max_message_size > 0 ? o.max_message_size * 16 : int64_t{1} << 20;
    p.max_block = static_cast<std::size_t>(bound > (int64_t{1} << 16) ? bound : int64_t{1} << 16);
    return p;
}

// libprotobuf writes an ERROR line to stderr for every body a device sends with bad UTF-8 in a
// string field, outside Tern's log and its rate limits. What such a body means is already
// answered (4.00) and counted (protobuf_unparsable_total), so below FATAL its lines are
// dropped; a FATAL one (a bug: libprotobuf aborts after it) still reaches stderr. The handler
// is the process's, set once.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
    if (level < google::protobuf::LOGLEVEL_FATAL) return;
    std::fprintf(stderr, "[libprotobuf FATAL %s:%d] %s\n", file, line, message.c_str());
}

void quiet_protobuf_log() {
    static const bool once = (google::protobuf::SetLogHandler(&protobuf_log), true);
    (void)once;
}

}  // namespace

adaptor::adaptor(const options& o, metrics m)
    : options_(o),
      metrics_(m),
      walk_limits_(walk_limits_of(o)),
      parse_limits_(parse_limits_of(o)),
      cache_(schema_limits{o.max_schema_size, o.max_depth}, o.max_cached_profiles, m.cache) {
    quiet_protobuf_log();
    fixed_messages::get();  // ThingsBoard's fixed messages, compiled at start
}

tern_status adaptor::check_profile(const tern_payload_context* ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (ctx == nullptr) return TERN_OK;
        const auto p = cache_.compile(*ctx);
        for (int i = 0; i < schema_kind_count; ++i) {
            const std::string_view why = p->refusal(static_cast<schema_kind>(i));
            if (!why.empty()) {
                sdk::set_error(err, why);
                return TERN_INVALID_ARGUMENT;
            }
        }
        return TERN_OK;
    });
}

}  // namespace tern::protobuf

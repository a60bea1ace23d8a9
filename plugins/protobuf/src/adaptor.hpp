// The protobuf payload adaptor (docs/device-api.md §8): a device's protobuf messages into
// Tern's records and back. Uplinks are parsed against the profile's schemas (compiled once per
// profile revision, profile_cache.hpp) and walked into the same typed records as JSON
// (libs/proto_walk); downlinks are ThingsBoard's fixed messages (encode_wire.hpp), and an RPC
// to the device is merged into the profile's RPC request schema. Independent of the host, so
// tests and the fuzz target construct it directly (adaptor(options, metrics) with default
// metrics counts nothing); protobuf_plugin.cpp only binds the configuration.
// The methods are in decode.cpp, encode.cpp and adaptor.cpp.
#pragma once

#include <cstdint>

#include "parse.hpp"
#include "profile_cache.hpp"
#include "tern/abi/payload.h"
#include "tern/proto_walk/message_walk.hpp"
#include "tern/sdk/host.hpp"

namespace tern::protobuf {

struct options {
    // Strings in plain decimal become numbers, as the json adaptor's type_cast_enabled.
    bool type_cast_enabled = true;
    // Most bytes of one uplink body; a longer one gets 4.00 without being parsed.
    int64_t max_message_size = 65536;
    // Nesting: messages in a body (the parser's recursion limit), declarations in a schema,
    // and what the walk follows.
    int64_t max_depth = 32;
    // Most bytes of one schema's .proto text.
    int64_t max_schema_size = 65536;
    // Profiles whose compiled schemas the shared table keeps.
    int64_t max_cached_profiles = 1024;
    // Longest text a number kept as a string by type casting may become.
    int64_t max_number_text_length = 64;
    // Most bytes one message's keys and values may decode to. 0: unlimited.
    int64_t max_decoded_size = 262144;
};

// Counters (default handles count nothing: tests, fuzzing).
struct metrics {
    cache_metrics cache;
    sdk::metric message_size;  // a body over max_message_size
    sdk::metric unparsable;    // a body that does not parse as its message (or nests too deep)
    sdk::metric decoded_size;  // a message over max_decoded_size
    sdk::metric number_text;   // a number's text over max_number_text_length
    sdk::metric walk_refused;  // any other message the walk refused (a value or shape it cannot type)
};

class adaptor final : public payload_v2 {
public:
    explicit adaptor(const options& o, metrics m = {});
    adaptor(const adaptor&) = delete;
    adaptor& operator=(const adaptor&) = delete;
    ~adaptor() = default;

    tern_str name() noexcept override;
    int32_t content_format() noexcept override;

    tern_status decode_telemetry(const tern_payload_context* ctx, tern_bytes body, int64_t now_ms,
                                 tern_records_sink sink, void* sink_ctx, tern_error* err) noexcept override;
    tern_status decode_attributes(const tern_payload_context* ctx, tern_bytes body, tern_kv_sink sink,
                                  void* sink_ctx, tern_error* err) noexcept override;
    tern_status decode_rpc_reply(const tern_payload_context* ctx, tern_bytes body, tern_bytes_sink sink,
                                 void* sink_ctx, tern_error* err) noexcept override;
    tern_status decode_rpc_call(const tern_payload_context* ctx, tern_bytes body, tern_rpc_call_sink sink,
                                void* sink_ctx, tern_error* err) noexcept override;
    tern_status decode_claim(const tern_payload_context* ctx, tern_bytes body, tern_claim_sink sink,
                             void* sink_ctx, tern_error* err) noexcept override;
    tern_status decode_provision(const tern_payload_context* ctx, tern_bytes body,
                                 tern_provision_sink sink, void* sink_ctx, tern_error* err) noexcept override;

    tern_status encode_attribute_update(const tern_payload_context* ctx, const tern_kv* updated,
                                        uint32_t updated_count, const tern_str* deleted,
                                        uint32_t deleted_count, tern_bytes_sink sink, void* sink_ctx,
                                        tern_error* err) noexcept override;
    tern_status encode_attributes(const tern_payload_context* ctx, const tern_kv* client,
                                  uint32_t client_count, const tern_kv* shared, uint32_t shared_count,
                                  tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept override;
    tern_status encode_rpc_request(const tern_payload_context* ctx, const tern_rpc_request* rpc,
                                   tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept override;
    tern_status encode_rpc_response(const tern_payload_context* ctx, tern_str reply, tern_str error,
                                    tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept override;
    tern_status encode_provision_response(const tern_payload_context* ctx,
                                          const tern_provision_result* result, tern_bytes_sink sink,
                                          void* sink_ctx, tern_error* err) noexcept override;

    tern_status check_profile(const tern_payload_context* ctx, tern_error* err) noexcept override;

    const options& settings() const noexcept { return options_; }
    profile_cache& cache() noexcept { return cache_; }

private:
    // decode.cpp: ctx's compiled profile (a null ctx: ThingsBoard's defaults), for this call.
    profile_cache::lease profile_of(const tern_payload_context* ctx);

    // decode.cpp: body as the root of ctx's schema of kind k, handed to walk(message, why).
    template <class Walk>
    tern_status decode_schema(const tern_payload_context* ctx, schema_kind k, tern_bytes body, tern_error* err,
                              Walk&& walk);
    // decode.cpp: whether body is over max_message_size (then counted, err set).
    bool too_big(tern_bytes body, tern_error* err) const;
    // decode.cpp: the counter of the bound that refused a walk.
    void count_refusal(proto_walk::walk_refusal why) const noexcept;
    // decode.cpp: body as a fixed message, handed to use(message).
    template <class Use>
    tern_status decode_fixed(const google::protobuf::Message& prototype, tern_bytes body, tern_error* err,
                             Use&& use);

    const options options_;
    const metrics metrics_;
    const proto_walk::walk_limits walk_limits_;
    const parse_limits parse_limits_;
    profile_cache cache_;
};

}  // namespace tern::protobuf

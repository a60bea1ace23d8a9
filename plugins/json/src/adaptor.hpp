// The JSON payload adaptor (docs/device-api.md §2, §3.2, §4, §5): device JSON into Tern's
// records and back, typed and shaped as ThingsBoard does it. Independent of the host, so
// tests and the fuzz target drive it directly; json_plugin.cpp only binds the configuration.
// The methods are in decode.cpp and encode.cpp.
#pragma once

#include <cstdint>

#include "tern/abi/payload.h"
#include "tern/sdk/host.hpp"

namespace tern::json {

struct options {
    // Numeric strings in plain decimal become numbers; numbers beyond a long, or with more than
    // 16 decimals, are kept as strings instead of refused.
    bool type_cast_enabled = true;
    // Longest string value in UTF-16 units (Java's String.length()); 0: unlimited.
    int64_t max_string_value_length = 0;
    // Accept Gson-lenient JSON when strict parsing fails.
    bool lenient = true;
    // Longest plain text a number kept as a string may become (1e400 is 401 characters);
    // longer refuses the message. 0: only the max_plain_text_zeros bound.
    int64_t max_number_text_length = 64;
    // Most bytes one message's keys and values may decode to (text as stored, 8 per
    // number or boolean; RPC bodies as re-serialised); more refuses it. 0: unlimited.
    int64_t max_decoded_size = 262144;
};

// Counters of refusals by the bounds above (default handles count nothing: tests, fuzzing).
struct limit_metrics {
    sdk::metric number_text;   // a number's plain text over max_number_text_length
    sdk::metric decoded_size;  // a message over max_decoded_size
};

class adaptor final : public payload_v1 {
public:
    explicit adaptor(const options& o, limit_metrics m = {}) noexcept : options_(o), metrics_(m) {}
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

    const options& settings() const noexcept { return options_; }

private:
    const options options_;
    const limit_metrics metrics_;
};

}  // namespace tern::json

// Payload adaptors: turn device payloads (JSON, protobuf, ...) into Tern's records and
// back. The device API picks the adaptor by the device profile's payload type and passes
// the profile's settings (e.g. protobuf schemas) in every call, so one adaptor instance
// serves every profile (it may cache what it compiles per profile_id + revision).
// Results come back through caller-supplied sinks, called synchronously before the call
// returns; views are borrowed for the sink call. See host.h for the rules and thread tags.
#ifndef TERN_ABI_PAYLOAD_H
#define TERN_ABI_PAYLOAD_H

#ifndef __cplusplus
#error "tern/abi/payload.h declares C++ interfaces; include it from C++"
#endif

#include <stdint.h>

#include "core.h"
#include "status.h"
#include "types.h"

#define TERN_IID_PAYLOAD_V1 "tern.payload/1"
#define TERN_IID_PAYLOAD_V2 "tern.payload/2"

extern "C" {

// Which profile a payload belongs to.
typedef struct tern_payload_context {
    uint32_t struct_size;
    uint32_t reserved; // zero
    uint64_t profile_id;
    // The profile's revision (TERN_OPTION_PROFILE_REVISION) when the core gives one, else the
    // device record's: it changes whenever the profile's settings do.
    uint64_t revision;
    const tern_kv* options; // the profile's settings (the device record's profile_options)
    uint32_t option_count;
    int32_t content_format; // the request's Content-Format, -1 when absent
} tern_payload_context;

typedef void (*tern_records_sink)(void* ctx, const tern_ts_record* records, uint32_t count);
typedef void (*tern_kv_sink)(void* ctx, const tern_kv* values, uint32_t count);
typedef void (*tern_bytes_sink)(void* ctx, tern_bytes data);
// method and params (JSON text, "null" when absent) of a client-side RPC
typedef void (*tern_rpc_call_sink)(void* ctx, tern_str method, tern_str params);
typedef void (*tern_claim_sink)(void* ctx, tern_str secret_key, int64_t duration_ms);
typedef void (*tern_provision_sink)(void* ctx, const tern_provision_request* request);

}  // extern "C"

namespace tern {

// Every decode returns TERN_OK after calling its sink once, or TERN_INVALID_ARGUMENT with
// a short reason in err (the device gets 4.00 with it), never calling the sink. Encoders
// call their sink once with the bytes. [any-thread]
struct payload_v1 {
    // "json", "protobuf". LIFETIME: the instance.
    virtual tern_str name() noexcept = 0;
    // The Content-Format of what the encoders produce (50 JSON, 42 octet-stream).
    virtual int32_t content_format() noexcept = 0;

    // POST .../telemetry. now_ms: the server's receive time, for records without ts.
    virtual tern_status decode_telemetry(const tern_payload_context* ctx, tern_bytes body,
                                         int64_t now_ms, tern_records_sink sink, void* sink_ctx,
                                         tern_error* err) noexcept = 0;
    // POST .../attributes: the client attributes it carries.
    virtual tern_status decode_attributes(const tern_payload_context* ctx, tern_bytes body,
                                          tern_kv_sink sink, void* sink_ctx,
                                          tern_error* err) noexcept = 0;
    // POST .../rpc/{id}: the reply as JSON text.
    virtual tern_status decode_rpc_reply(const tern_payload_context* ctx, tern_bytes body,
                                         tern_bytes_sink sink, void* sink_ctx,
                                         tern_error* err) noexcept = 0;
    // POST .../rpc: a client-side RPC call.
    virtual tern_status decode_rpc_call(const tern_payload_context* ctx, tern_bytes body,
                                        tern_rpc_call_sink sink, void* sink_ctx,
                                        tern_error* err) noexcept = 0;
    // POST .../claim (an empty body is valid: secret "", duration 0).
    virtual tern_status decode_claim(const tern_payload_context* ctx, tern_bytes body,
                                     tern_claim_sink sink, void* sink_ctx,
                                     tern_error* err) noexcept = 0;
    // POST /api/v1/provision.
    virtual tern_status decode_provision(const tern_payload_context* ctx, tern_bytes body,
                                         tern_provision_sink sink, void* sink_ctx,
                                         tern_error* err) noexcept = 0;

    // An attribute notification: updated shared attributes and deleted keys (also the
    // initial Observe response, with every shared attribute and no deletions).
    virtual tern_status encode_attribute_update(const tern_payload_context* ctx,
                                                const tern_kv* updated, uint32_t updated_count,
                                                const tern_str* deleted, uint32_t deleted_count,
                                                tern_bytes_sink sink, void* sink_ctx,
                                                tern_error* err) noexcept = 0;
    // The answer to GET .../attributes.
    virtual tern_status encode_attributes(const tern_payload_context* ctx, const tern_kv* client,
                                          uint32_t client_count, const tern_kv* shared,
                                          uint32_t shared_count, tern_bytes_sink sink,
                                          void* sink_ctx, tern_error* err) noexcept = 0;
    // A server-side RPC notification.
    virtual tern_status encode_rpc_request(const tern_payload_context* ctx,
                                           const tern_rpc_request* rpc, tern_bytes_sink sink,
                                           void* sink_ctx, tern_error* err) noexcept = 0;
    // The answer to a client-side RPC: reply (JSON text), or error when not empty.
    virtual tern_status encode_rpc_response(const tern_payload_context* ctx, tern_str reply,
                                            tern_str error, tern_bytes_sink sink, void* sink_ctx,
                                            tern_error* err) noexcept = 0;
    // The answer to a provisioning request.
    virtual tern_status encode_provision_response(const tern_payload_context* ctx,
                                                  const tern_provision_result* result,
                                                  tern_bytes_sink sink, void* sink_ctx,
                                                  tern_error* err) noexcept = 0;

protected:
    ~payload_v1() = default;
};

// tern.payload/2 (ABI 1.2): payload_v1 plus a check of a profile's settings before a core
// stores them, so a schema that cannot work is refused when it is saved, not on a device's
// first message. An adaptor object may answer both ids (single inheritance appends the slot).
struct payload_v2 : payload_v1 {
    // TERN_OK, or TERN_INVALID_ARGUMENT with the reason in err, naming the setting and, for a
    // text such as a schema, its line and column (1-based). ctx->options are the settings the
    // profile would have; ctx->profile_id is 0 for a profile not stored yet, and ctx->revision
    // is 0 (nothing is cached under it). content_format is -1. [any-thread]
    virtual tern_status check_profile(const tern_payload_context* ctx, tern_error* err) noexcept = 0;

protected:
    ~payload_v2() = default;
};

}  // namespace tern

#endif

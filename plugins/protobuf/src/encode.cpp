// The protobuf adaptor's encoding side: ThingsBoard's fixed downlink messages written with the
// wire writer, and server-side RPC merged into the profile's RPC request schema.
#include <google/protobuf/arena.h>

#include <span>
#include <string>
#include <string_view>

#include "adaptor.hpp"
#include "encode_wire.hpp"
#include "json_merge.hpp"
#include "json_text.hpp"
#include "tern/base64/base64.hpp"
#include "tern/sdk/record.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::protobuf {

namespace gp = google::protobuf;
using sdk::to_sv;

namespace {

// Field numbers of proto/thingsboard.proto (the tests check them against the compiled text).
namespace kv_proto {  // KeyValueProto
enum : uint32_t { key = 1, type = 2, bool_v = 3, long_v = 4, double_v = 5, string_v = 6, json_v = 7 };
enum : int64_t { boolean_t = 0, long_t = 1, double_t = 2, string_t = 3, json_t = 4 };  // KeyValueType
}  // namespace kv_proto
namespace ts_kv_proto {  // TsKvProto
enum : uint32_t { ts = 1, kv = 2 };
}
namespace update_msg {  // AttributeUpdateNotificationMsg
enum : uint32_t { shared_updated = 1, shared_deleted = 2 };
}
namespace get_response {  // GetAttributeResponseMsg
enum : uint32_t { request_id = 1, client_list = 2, shared_list = 3 };
}
namespace rpc_response {  // ToServerRpcResponseMsg
enum : uint32_t { request_id = 1, payload = 2, error = 3 };
}
namespace provision_response {  // ProvisionDeviceResponseMsg
enum : uint32_t { status = 1, credentials_type = 2, credentials_value = 3 };
}

tern_status fail(tern_error* err, std::string_view why) {
    sdk::set_error(err, why);
    return TERN_INVALID_ARGUMENT;
}

// The thread's buffers, cleared for one encoding.
struct buffers {
    std::string out;
    std::string ts_kv;
    std::string kv;
    std::string text;
};

buffers& scratch() {
    thread_local buffers b;
    b.out.clear();
    return b;
}

void emit(tern_bytes_sink sink, void* ctx, std::string_view bytes) {
    sink(ctx, tern_bytes{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

// KeyValueProto of kv into b.kv. Tern's values map onto ThingsBoard's five kinds; a null
// becomes JSON null and bytes their Base64 text (ThingsBoard has neither).
bool key_value(buffers& b, const tern_kv& kv, std::string& why) {
    std::string& o = b.kv;
    o.clear();
    wire::bytes(o, kv_proto::key, to_sv(kv.key));
    const tern_value& v = kv.value;
    switch (v.type) {
        case TERN_VALUE_BOOL:
            wire::integer(o, kv_proto::type, kv_proto::boolean_t);
            wire::integer(o, kv_proto::bool_v, v.u.b != 0 ? 1 : 0);
            return true;
        case TERN_VALUE_INT:
            wire::integer(o, kv_proto::type, kv_proto::long_t);
            wire::integer(o, kv_proto::long_v, v.u.i);
            return true;
        case TERN_VALUE_DOUBLE:
            wire::integer(o, kv_proto::type, kv_proto::double_t);
            wire::float64(o, kv_proto::double_v, v.u.d);
            return true;
        case TERN_VALUE_STR:
            wire::integer(o, kv_proto::type, kv_proto::string_t);
            wire::bytes(o, kv_proto::string_v, to_sv(v.u.s));
            return true;
        case TERN_VALUE_BYTES:
            b.text.clear();
            base64::append(b.text, std::span<const uint8_t>(v.u.bytes.data, v.u.bytes.size));
            wire::integer(o, kv_proto::type, kv_proto::string_t);
            wire::bytes(o, kv_proto::string_v, b.text);
            return true;
        case TERN_VALUE_JSON:
            wire::integer(o, kv_proto::type, kv_proto::json_t);
            wire::bytes(o, kv_proto::json_v, to_sv(v.u.s));
            return true;
        case TERN_VALUE_NULL:
            wire::integer(o, kv_proto::type, kv_proto::json_t);
            wire::bytes(o, kv_proto::json_v, "null");
            return true;
        default: why = "value of unknown type " + std::to_string(v.type); return false;
    }
}

// Each kv as a TsKvProto in field `field` of b.out. ts stays 0 (left out): tern_kv carries
// no update time.
bool ts_kv_list(buffers& b, uint32_t field, const tern_kv* kvs, uint32_t count, std::string& why) {
    for (uint32_t i = 0; i < count; ++i) {
        if (!key_value(b, kvs[i], why)) return false;
        b.ts_kv.clear();
        wire::bytes(b.ts_kv, ts_kv_proto::kv, b.kv, true);
        wire::bytes(b.out, field, b.ts_kv, true);
    }
    return true;
}

// ThingsBoard's CredentialsType number of a credential kind; -1 when it has none.
int64_t credentials_type(int32_t kind) {
    switch (kind) {
        case TERN_CREDENTIAL_ACCESS_TOKEN: return 0;
        case TERN_CREDENTIAL_X509: return 1;
        case TERN_CREDENTIAL_MQTT_BASIC: return 2;
        case TERN_CREDENTIAL_LWM2M: return 3;
        default: return -1;
    }
}

}  // namespace

tern_status adaptor::encode_attribute_update(const tern_payload_context*, const tern_kv* updated,
                                             uint32_t updated_count, const tern_str* deleted,
                                             uint32_t deleted_count, tern_bytes_sink sink, void* sink_ctx,
                                             tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if ((updated == nullptr && updated_count != 0) || (deleted == nullptr && deleted_count != 0))
            return fail(err, "null attribute list");
        buffers& b = scratch();
        std::string why;
        if (!ts_kv_list(b, update_msg::shared_updated, updated, updated_count, why)) return fail(err, why);
        for (uint32_t i = 0; i < deleted_count; ++i)
            wire::bytes(b.out, update_msg::shared_deleted, to_sv(deleted[i]), true);
        emit(sink, sink_ctx, b.out);  // nothing shared: an empty payload
        return TERN_OK;
    });
}

tern_status adaptor::encode_attributes(const tern_payload_context*, const tern_kv* client, uint32_t client_count,
                                       const tern_kv* shared, uint32_t shared_count, tern_bytes_sink sink,
                                       void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if ((client == nullptr && client_count != 0) || (shared == nullptr && shared_count != 0))
            return fail(err, "null attribute list");
        // requestId 0 (CoAP requests carry none), isMultipleAttributesRequest, error and
        // sharedStateMsg left at their defaults, as ThingsBoard answers a CoAP GET.
        buffers& b = scratch();
        std::string why;
        if (!ts_kv_list(b, get_response::client_list, client, client_count, why) ||
            !ts_kv_list(b, get_response::shared_list, shared, shared_count, why))
            return fail(err, why);
        emit(sink, sink_ctx, b.out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_rpc_response(const tern_payload_context*, tern_str reply, tern_str error,
                                         tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        buffers& b = scratch();
        if (error.size != 0) wire::bytes(b.out, rpc_response::error, to_sv(error));
        else wire::bytes(b.out, rpc_response::payload, to_sv(reply));
        emit(sink, sink_ctx, b.out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_provision_response(const tern_payload_context*, const tern_provision_result* result,
                                               tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (result == nullptr) return fail(err, "no provisioning result");
        const tern_provision_result r = sdk::read_record(result);
        // ResponseStatus: SUCCESS 1, NOT_FOUND 2, FAILURE 3.
        buffers& b = scratch();
        switch (r.status) {
            case TERN_PROVISION_NOT_FOUND:
            case TERN_PROVISION_FAILURE:
                wire::integer(b.out, provision_response::status, r.status);
                emit(sink, sink_ctx, b.out);
                return TERN_OK;
            case TERN_PROVISION_SUCCESS: break;
            default: return fail(err, "provisioning result has no status (" + std::to_string(r.status) + ")");
        }
        const int64_t type = credentials_type(r.credentials_type);
        if (type < 0)
            return fail(err, "credentials of kind " + std::to_string(r.credentials_type) + " cannot be provisioned");
        wire::integer(b.out, provision_response::status, TERN_PROVISION_SUCCESS);
        wire::integer(b.out, provision_response::credentials_type, type);
        if (r.credentials_type == TERN_CREDENTIAL_MQTT_BASIC) {
            // ThingsBoard sends these credentials as their JSON object; unset fields are null.
            std::string& v = b.text;
            v.clear();
            auto field = [&](const char* name, tern_str value) {
                v += name;
                if (value.size == 0) v += "null";
                else append_json_string(v, to_sv(value));
            };
            field("{\"clientId\":", r.client_id);
            field(",\"userName\":", r.username);
            field(",\"password\":", r.password);
            v.push_back('}');
            wire::bytes(b.out, provision_response::credentials_value, v);
        } else {
            wire::bytes(b.out, provision_response::credentials_value, to_sv(r.credentials_value));
        }
        emit(sink, sink_ctx, b.out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_rpc_request(const tern_payload_context* ctx, const tern_rpc_request* rpc,
                                        tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (rpc == nullptr) return fail(err, "no RPC request");
        const tern_rpc_request r = sdk::read_record(rpc);
        const auto profile = profile_of(ctx);
        if (profile->schema(schema_kind::rpc_request) == nullptr)
            return fail(err, profile->refusal(schema_kind::rpc_request));
        const compiled_schema& schema = *profile->schema(schema_kind::rpc_request);

        // ThingsBoard's JSON of the request, merged into the schema's root as protobuf-java
        // merges it (json_merge.hpp) and serialised.
        buffers& b = scratch();
        std::string& json = b.text;
        json = "{\"method\":";
        append_json_string(json, to_sv(r.method));
        json += ",\"requestId\":" + std::to_string(r.id) + ",\"params\":";
        json += r.params.size != 0 ? to_sv(r.params) : std::string_view{"null"};
        json.push_back('}');

        gp::Arena arena;
        gp::Message* m = schema.root->New(&arena);
        std::string why;
        if (!merge_json(json, *m, why))
            return fail(err, "the RPC does not convert to " + schema.root_name + ": " + why);
        if (!m->SerializeToString(&b.out)) return fail(err, "the RPC request does not serialise");
        emit(sink, sink_ctx, b.out);
        return TERN_OK;
    });
}

}  // namespace tern::protobuf

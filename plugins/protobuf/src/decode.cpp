// The protobuf adaptor's decoding side: telemetry, attributes and RPC replies against the
// profile's schemas (walked into typed records by libs/proto_walk), and the fixed ThingsBoard
// uplinks (client-side RPC, claim, provisioning) read by reflection.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "adaptor.hpp"
#include "fixed_messages.hpp"
#include "json_text.hpp"
#include "parse.hpp"
#include "tern/proto_walk/message_walk.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::protobuf {

namespace gp = google::protobuf;
using sdk::to_str;

namespace {

tern_status fail(tern_error* err, std::string_view why) {
    sdk::set_error(err, why);
    return TERN_INVALID_ARGUMENT;
}

// Reasons built on a refusal only; the thread keeps the buffer.
std::string& reason() {
    thread_local std::string r;
    r.clear();
    return r;
}

std::string_view text_of(const gp::Message& m, const char* field) {
    const gp::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field);
    std::string scratch;  // unused for DynamicMessage: the reference is the field's own string
    const std::string& s = m.GetReflection()->GetStringReference(m, f, &scratch);
    return &s == &scratch ? std::string_view{} : std::string_view{s};
}

const gp::Message& child_of(const gp::Message& m, const char* field) {
    return m.GetReflection()->GetMessage(m, m.GetDescriptor()->FindFieldByName(field));
}

// ThingsBoard's CredentialsType numbers as Tern's credential kinds; -1 for an unknown one.
int32_t credential_kind(int number) {
    switch (number) {
        case 0: return TERN_CREDENTIAL_ACCESS_TOKEN;
        case 1: return TERN_CREDENTIAL_X509;
        case 2: return TERN_CREDENTIAL_MQTT_BASIC;
        case 3: return TERN_CREDENTIAL_LWM2M;
        default: return -1;
    }
}

}  // namespace

tern_str adaptor::name() noexcept { return to_str("protobuf"); }

int32_t adaptor::content_format() noexcept { return 42; }

profile_cache::lease adaptor::profile_of(const tern_payload_context* ctx) {
    static const tern_payload_context none{};
    return cache_.get(ctx != nullptr ? *ctx : none);
}

bool adaptor::too_big(tern_bytes body, tern_error* err) const {
    if (options_.max_message_size <= 0 || body.size <= static_cast<uint64_t>(options_.max_message_size)) return false;
    metrics_.message_size.inc();
    std::string& why = reason();
    why = "the body is " + std::to_string(body.size) + " bytes, more than max_message_size (" +
          std::to_string(options_.max_message_size) + ")";
    fail(err, why);
    return true;
}

void adaptor::count_refusal(proto_walk::walk_refusal why) const noexcept {
    switch (why) {
        case proto_walk::walk_refusal::decoded_size: metrics_.decoded_size.inc(); return;
        case proto_walk::walk_refusal::number_text: metrics_.number_text.inc(); return;
        case proto_walk::walk_refusal::depth: metrics_.unparsable.inc(); return;
        default: metrics_.walk_refused.inc(); return;
    }
}

// Parses body as the root of the profile's schema of kind k and walks it with walk(message).
template <class Walk>
tern_status adaptor::decode_schema(const tern_payload_context* ctx, schema_kind k, tern_bytes body,
                                   tern_error* err, Walk&& walk) {
    if (too_big(body, err)) return TERN_INVALID_ARGUMENT;
    const auto profile = profile_of(ctx);
    if (profile->schema(k) == nullptr) return fail(err, profile->refusal(k));
    const compiled_schema& schema = *profile->schema(k);
    tern_status status = TERN_OK;
    auto use = [&](const gp::Message& m) {
        std::string& why = reason();
        if (!walk(m, why)) {
            count_refusal(proto_walk::thread_walk_output().refusal());
            status = fail(err, why);
        }
    };
    if (with_parsed(*schema.root, body, parse_limits_, use)) return status;
    metrics_.unparsable.inc();
    std::string& why = reason();
    why = "the body does not parse as " + schema.root_name;
    return fail(err, why);
}

tern_status adaptor::decode_telemetry(const tern_payload_context* ctx, tern_bytes body, int64_t now_ms,
                                      tern_records_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        return decode_schema(ctx, schema_kind::telemetry, body, err, [&](const gp::Message& m, std::string& why) {
            proto_walk::walk_output& out = proto_walk::thread_walk_output();
            if (!proto_walk::telemetry_records(m, now_ms, walk_limits_, out, why)) return false;
            sink(sink_ctx, out.records().data(), static_cast<uint32_t>(out.records().size()));
            return true;
        });
    });
}

tern_status adaptor::decode_attributes(const tern_payload_context* ctx, tern_bytes body, tern_kv_sink sink,
                                       void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        return decode_schema(ctx, schema_kind::attributes, body, err, [&](const gp::Message& m, std::string& why) {
            proto_walk::walk_output& out = proto_walk::thread_walk_output();
            if (!proto_walk::attribute_values(m, walk_limits_, out, why)) return false;
            sink(sink_ctx, out.values().data(), static_cast<uint32_t>(out.values().size()));
            return true;
        });
    });
}

tern_status adaptor::decode_rpc_reply(const tern_payload_context* ctx, tern_bytes body, tern_bytes_sink sink,
                                      void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        return decode_schema(ctx, schema_kind::rpc_response, body, err, [&](const gp::Message& m, std::string& why) {
            proto_walk::walk_output& out = proto_walk::thread_walk_output();
            if (!proto_walk::message_json(m, walk_limits_, out, why)) return false;
            const std::string_view json = out.json();
            sink(sink_ctx, tern_bytes{reinterpret_cast<const uint8_t*>(json.data()), json.size()});
            return true;
        });
    });
}

// Parses body as a fixed message and calls use(message); 4.00 when it does not parse.
template <class Use>
tern_status adaptor::decode_fixed(const gp::Message& prototype, tern_bytes body, tern_error* err, Use&& use) {
    if (too_big(body, err)) return TERN_INVALID_ARGUMENT;
    tern_status status = TERN_OK;
    if (with_parsed(prototype, body, parse_limits_, [&](const gp::Message& m) { status = use(m); })) return status;
    metrics_.unparsable.inc();
    std::string& why = reason();
    why = "the body does not parse as " + prototype.GetDescriptor()->full_name();
    return fail(err, why);
}

tern_status adaptor::decode_rpc_call(const tern_payload_context*, tern_bytes body, tern_rpc_call_sink sink,
                                     void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        return decode_fixed(fixed_messages::get().rpc_request(), body, err, [&](const gp::Message& m) -> tern_status {
            const std::string_view method = text_of(m, "method");
            const std::string_view params = text_of(m, "params");
            // params travel as JSON: JSON text as it is, any other text as a JSON string.
            thread_local std::string json;
            json.clear();
            if (params.empty()) json = "null";
            else if (is_json(params)) json.assign(params);
            else append_json_string(json, params);
            sink(sink_ctx, to_str(method), to_str(json));
            return TERN_OK;
        });
    });
}

tern_status adaptor::decode_claim(const tern_payload_context*, tern_bytes body, tern_claim_sink sink,
                                  void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        return decode_fixed(fixed_messages::get().claim(), body, err, [&](const gp::Message& m) -> tern_status {
            const auto* duration = m.GetDescriptor()->FindFieldByName("durationMs");
            sink(sink_ctx, to_str(text_of(m, "secretKey")), m.GetReflection()->GetInt64(m, duration));
            return TERN_OK;
        });
    });
}

tern_status adaptor::decode_provision(const tern_payload_context*, tern_bytes body, tern_provision_sink sink,
                                      void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        return decode_fixed(fixed_messages::get().provision_request(), body, err, [&](const gp::Message& m) -> tern_status {
            const gp::Reflection& r = *m.GetReflection();
            const gp::Descriptor& d = *m.GetDescriptor();
            tern_provision_request req{};
            req.struct_size = sizeof req;
            const int type = r.GetEnumValue(m, d.FindFieldByName("credentialsType"));
            req.credentials_type = credential_kind(type);
            if (req.credentials_type < 0)
                return fail(err, "unknown provisioning credentialsType " + std::to_string(type));
            req.device_name = to_str(text_of(m, "deviceName"));
            const gp::Message& keys = child_of(m, "provisionDeviceCredentialsMsg");
            req.provision_key = to_str(text_of(keys, "provisionDeviceKey"));
            req.provision_secret = to_str(text_of(keys, "provisionDeviceSecret"));
            const gp::Message& data = child_of(m, "credentialsDataProto");
            req.token = to_str(text_of(child_of(data, "validateDeviceTokenRequestMsg"), "token"));
            req.hash = to_str(text_of(child_of(data, "validateDeviceX509CertRequestMsg"), "hash"));
            const gp::Message& basic = child_of(data, "validateBasicMqttCredRequestMsg");
            req.client_id = to_str(text_of(basic, "clientId"));
            req.username = to_str(text_of(basic, "userName"));
            req.password = to_str(text_of(basic, "password"));
            req.gateway = r.GetBool(m, d.FindFieldByName("gateway")) ? 1 : 0;
            sink(sink_ctx, &req);
            return TERN_OK;
        });
    });
}

}  // namespace tern::protobuf

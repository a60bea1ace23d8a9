// The JSON adaptor's decoding side: device JSON (telemetry, attributes, RPC, claim,
// provisioning) into Tern's records.
#include <cstdint>
#include <string>
#include <string_view>

#include "adaptor.hpp"
#include "gson_access.hpp"
#include "scratch.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"
#include "value_decoder.hpp"

namespace tern::json {

using sdk::to_str;
using sdk::to_sv;

tern_str adaptor::name() noexcept { return to_str("json"); }

int32_t adaptor::content_format() noexcept { return 50; }

tern_status adaptor::decode_telemetry(const tern_payload_context*, tern_bytes body, int64_t now_ms,
                                      tern_records_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        const document& doc = s->doc;
        if (doc.empty) return fail(err, "telemetry must be a JSON object or array (the body is empty)");
        value_decoder values(*s, options_, metrics_);

        // One record per object: {"ts":..,"values":{..}} when both keys are there, else the
        // object itself at now_ms.
        auto record = [&](uint32_t obj) -> bool {
            const uint32_t ts_at = find_member(doc, obj, "ts");
            const uint32_t values_at = find_member(doc, obj, "values");
            int64_t ts = now_ms;
            uint32_t source = obj;
            if (ts_at != UINT32_MAX && values_at != UINT32_MAX) {
                if (!as_long(doc, ts_at, ts)) {
                    s->error = "telemetry 'ts' must be a number of milliseconds since the epoch";
                    return false;
                }
                if (doc[values_at].kind != node_kind::object) {
                    s->error = "telemetry 'values' must be a JSON object";
                    return false;
                }
                source = values_at;
            }
            const auto first = static_cast<uint32_t>(s->kvs.size());
            if (!values.object_values(source)) return false;
            s->records.push_back({ts, first, static_cast<uint32_t>(s->kvs.size()) - first});
            return true;
        };

        const node& root = doc[0];
        if (root.kind == node_kind::object) {
            if (!record(0)) return fail(err, s->error);
        } else if (root.kind == node_kind::array) {
            uint32_t index = 0;
            for (uint32_t k = 1; k < root.end; k = doc[k].end, ++index) {
                if (doc[k].kind != node_kind::object)
                    return fail(err, "telemetry array element " + std::to_string(index) + " is not a JSON object");
                if (!record(k)) return fail(err, s->error);
            }
        } else {
            return fail(err, "telemetry must be a JSON object or array");
        }

        values.fix_pointers();
        for (const auto& r : s->records) {
            tern_ts_record t{};
            t.ts = r.ts;
            t.values = r.count != 0 ? s->kvs.data() + r.first : nullptr;
            t.count = r.count;
            s->ts_records.push_back(t);
        }
        sink(sink_ctx, s->ts_records.data(), static_cast<uint32_t>(s->ts_records.size()));
        return TERN_OK;
    });
}

tern_status adaptor::decode_attributes(const tern_payload_context*, tern_bytes body, tern_kv_sink sink,
                                       void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "attributes must be a JSON object");
        value_decoder values(*s, options_, metrics_);
        if (!values.object_values(0)) return fail(err, s->error);
        values.fix_pointers();
        sink(sink_ctx, s->kvs.data(), static_cast<uint32_t>(s->kvs.size()));
        return TERN_OK;
    });
}

tern_status adaptor::decode_rpc_reply(const tern_payload_context*, tern_bytes body, tern_bytes_sink sink,
                                      void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "the RPC reply must be a JSON object");
        append_compact(s->out, s->doc, 0, s->members, s->order);
        if (!out_within_budget(*s, options_, metrics_, err)) return TERN_INVALID_ARGUMENT;
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::decode_rpc_call(const tern_payload_context*, tern_bytes body, tern_rpc_call_sink sink,
                                     void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "the RPC request must be a JSON object");
        const uint32_t method_at = find_member(s->doc, 0, "method");
        if (method_at == UINT32_MAX) return fail(err, "the RPC request has no 'method'");
        std::string_view method;
        if (!as_string(s->doc, method_at, method)) return fail(err, "the RPC 'method' must be a string");
        const uint32_t params_at = find_member(s->doc, 0, "params");
        if (params_at == UINT32_MAX) s->out = "null";
        else append_compact(s->out, s->doc, params_at, s->members, s->order);
        if (!out_within_budget(*s, options_, metrics_, err)) return TERN_INVALID_ARGUMENT;
        sink(sink_ctx, to_str(method), to_str(s->out));
        return TERN_OK;
    });
}

tern_status adaptor::decode_claim(const tern_payload_context*, tern_bytes body, tern_claim_sink sink,
                                  void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (body.size == 0) {
            sink(sink_ctx, tern_str{"", 0}, 0);
            return TERN_OK;
        }
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "the claim body must be a JSON object");
        std::string_view secret;
        int64_t duration = 0;
        if (const uint32_t at = find_member(s->doc, 0, "secretKey"); at != UINT32_MAX && !as_string(s->doc, at, secret))
            return fail(err, "claim 'secretKey' must be a string");
        if (const uint32_t at = find_member(s->doc, 0, "durationMs"); at != UINT32_MAX && !as_long(s->doc, at, duration))
            return fail(err, "claim 'durationMs' must be a number of milliseconds");
        sink(sink_ctx, to_str(secret), duration);
        return TERN_OK;
    });
}

tern_status adaptor::decode_provision(const tern_payload_context*, tern_bytes body, tern_provision_sink sink,
                                      void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        const document& doc = s->doc;
        if (!is_object(doc)) return fail(err, "the provisioning request must be a JSON object");

        tern_provision_request r{};
        r.struct_size = sizeof r;
        r.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
        // Field names from ThingsBoard's DataConstants; every field is read with getAsString.
        auto text = [&](const char* field, tern_str& out, bool required) -> bool {
            const uint32_t at = find_member(doc, 0, field);
            if (at == UINT32_MAX) {
                if (required) s->error = std::string("the provisioning request has no '") + field + "'";
                return !required;
            }
            std::string_view v;
            if (!as_string(doc, at, v)) {
                s->error = std::string("provisioning '") + field + "' must be a string";
                return false;
            }
            out = to_str(v);
            return true;
        };
        if (!text("deviceName", r.device_name, false)) return fail(err, s->error);
        tern_str type{};
        if (!text("credentialsType", type, false)) return fail(err, s->error);
        if (find_member(doc, 0, "credentialsType") != UINT32_MAX) {
            const std::string_view t = to_sv(type);
            if (t == "ACCESS_TOKEN") r.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
            else if (t == "X509_CERTIFICATE") r.credentials_type = TERN_CREDENTIAL_X509;
            else if (t == "MQTT_BASIC") r.credentials_type = TERN_CREDENTIAL_MQTT_BASIC;
            else if (t == "LWM2M_CREDENTIALS") r.credentials_type = TERN_CREDENTIAL_LWM2M;
            else return fail(err, "unknown provisioning credentialsType '" + shown(t) + "'");
        }
        if (!text("provisionDeviceKey", r.provision_key, true) ||
            !text("provisionDeviceSecret", r.provision_secret, true) || !text("token", r.token, false) ||
            !text("clientId", r.client_id, false) || !text("username", r.username, false) ||
            !text("password", r.password, false) || !text("hash", r.hash, false))
            return fail(err, s->error);
        if (const uint32_t at = find_member(doc, 0, "gateway"); at != UINT32_MAX) {
            bool gateway = false;
            if (!as_bool(doc, at, gateway)) return fail(err, "provisioning 'gateway' must be a boolean");
            r.gateway = gateway ? 1 : 0;
        }
        sink(sink_ctx, &r);
        return TERN_OK;
    });
}

}  // namespace tern::json

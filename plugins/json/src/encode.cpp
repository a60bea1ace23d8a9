// The JSON adaptor's encoding side: attribute updates, attribute answers, RPC requests and
// responses, provisioning answers, written as ThingsBoard writes them.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "adaptor.hpp"
#include "scratch.hpp"
#include "tern/base64/base64.hpp"
#include "tern/tb_number/number.hpp"
#include "tern/sdk/record.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"
#include "writer.hpp"

namespace tern::json {

namespace {

using sdk::to_str;
using sdk::to_sv;

void append_text(std::string& out, std::string_view text, std::string& tmp) {
    if (is_valid_utf8(text)) return append_string(out, text);
    sanitize_utf8(text, tmp);
    append_string(out, tmp);
}

void append_base64(std::string& out, tern_bytes b) {
    out.push_back('"');
    base64::append(out, sdk::to_span(b));
    out.push_back('"');
}

// JSON text from the server side (a JSON attribute, RPC params, a client RPC reply) the way
// ThingsBoard embeds it: parsed leniently (JsonParser) and written compactly; empty is null.
// Text that does not parse is sent as a JSON string rather than dropped.
void append_embedded(scratch& s, std::string_view text) {
    if (parse(text, parse_options{true}, s.input, s.doc, s.error)) {
        if (s.doc.empty) s.out += "null";
        else append_compact(s.out, s.doc, 0, s.members, s.order);
        return;
    }
    append_text(s.out, text, s.plain);
}

bool append_value(scratch& s, const tern_value& v, std::string& why) {
    char buf[32];
    switch (v.type) {
        case TERN_VALUE_NULL: s.out += "null"; return true;
        case TERN_VALUE_BOOL: s.out += v.u.b != 0 ? "true" : "false"; return true;
        case TERN_VALUE_INT: {
            const auto r = std::to_chars(buf, buf + sizeof buf, v.u.i);
            s.out.append(buf, r.ptr);
            return true;
        }
        case TERN_VALUE_DOUBLE: tb::append_java_double(s.out, v.u.d); return true;
        case TERN_VALUE_STR: append_text(s.out, to_sv(v.u.s), s.plain); return true;
        case TERN_VALUE_BYTES: append_base64(s.out, v.u.bytes); return true;
        case TERN_VALUE_JSON: append_embedded(s, to_sv(v.u.s)); return true;
        default: why = "value of unknown type " + std::to_string(v.type); return false;
    }
}

// {"k":v,...} of kvs, plus "deleted":[...] when deleted is not null; repeated keys as
// JsonObject keeps them.
bool append_object(scratch& s, const tern_kv* kvs, uint32_t count, const tern_str* deleted,
                   uint32_t deleted_count, std::string& why) {
    const std::size_t start = s.members.size();
    for (uint32_t i = 0; i < count; ++i) s.members.push_back(member{i, i});
    if (deleted_count != 0) s.members.push_back(member{count, count});
    std::size_t n = s.members.size() - start;
    keep_last_values(
        s.members.data() + start, n,
        [&](uint32_t k) { return k < count ? to_sv(kvs[k].key) : std::string_view{"deleted"}; }, s.order);
    s.members.resize(start + n);
    s.out.push_back('{');
    for (std::size_t k = start; k < start + n; ++k) {
        if (k != start) s.out.push_back(',');
        const uint32_t v = s.members[k].value;
        if (v == count) {
            s.out += "\"deleted\":[";
            for (uint32_t d = 0; d < deleted_count; ++d) {
                if (d != 0) s.out.push_back(',');
                append_text(s.out, to_sv(deleted[d]), s.plain);
            }
            s.out.push_back(']');
            continue;
        }
        append_text(s.out, to_sv(kvs[v].key), s.plain);
        s.out.push_back(':');
        if (!append_value(s, kvs[v].value, why)) return false;
    }
    s.out.push_back('}');
    s.members.resize(start);
    return true;
}

constexpr const char* credentials_type_name(tern_credential_kind k) noexcept {
    switch (k) {
        case TERN_CREDENTIAL_ACCESS_TOKEN: return "ACCESS_TOKEN";
        case TERN_CREDENTIAL_X509: return "X509_CERTIFICATE";
        case TERN_CREDENTIAL_MQTT_BASIC: return "MQTT_BASIC";
        case TERN_CREDENTIAL_LWM2M: return "LWM2M_CREDENTIALS";
        default: return nullptr;
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
        scratch_lease s;
        std::string why;
        if (!append_object(*s, updated, updated_count, deleted, deleted_count, why)) return fail(err, why);
        emit(sink, sink_ctx, s->out);
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
        scratch_lease s;
        std::string why;
        s->out.push_back('{');
        if (client_count != 0) {
            s->out += "\"client\":";
            if (!append_object(*s, client, client_count, nullptr, 0, why)) return fail(err, why);
        }
        if (shared_count != 0) {
            if (client_count != 0) s->out.push_back(',');
            s->out += "\"shared\":";
            if (!append_object(*s, shared, shared_count, nullptr, 0, why)) return fail(err, why);
        }
        s->out.push_back('}');
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_rpc_request(const tern_payload_context*, const tern_rpc_request* rpc,
                                        tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (rpc == nullptr) return fail(err, "no RPC request");
        const tern_rpc_request r = sdk::read_record(rpc);
        scratch_lease s;
        char buf[32];
        const auto id = std::to_chars(buf, buf + sizeof buf, r.id);
        s->out += "{\"id\":";
        s->out.append(buf, id.ptr);
        s->out += ",\"method\":";
        append_text(s->out, to_sv(r.method), s->plain);
        s->out += ",\"params\":";
        append_embedded(*s, to_sv(r.params));
        s->out.push_back('}');
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_rpc_response(const tern_payload_context*, tern_str reply, tern_str error,
                                         tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (error.size != 0) {
            s->out += "{\"error\":";
            append_text(s->out, to_sv(error), s->plain);
            s->out.push_back('}');
        } else {
            append_embedded(*s, to_sv(reply));
        }
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_provision_response(const tern_payload_context*, const tern_provision_result* result,
                                               tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (result == nullptr) return fail(err, "no provisioning result");
        const tern_provision_result r = sdk::read_record(result);
        switch (r.status) {
            case TERN_PROVISION_NOT_FOUND:
                emit(sink, sink_ctx, R"({"errorMsg":"Provision data was not found!","status":"NOT_FOUND"})");
                return TERN_OK;
            case TERN_PROVISION_FAILURE:
                emit(sink, sink_ctx, R"({"errorMsg":"Failed to provision device!","status":"FAILURE"})");
                return TERN_OK;
            case TERN_PROVISION_SUCCESS: break;
            default: return fail(err, "provisioning result has no status (" + std::to_string(r.status) + ")");
        }
        const char* type = credentials_type_name(r.credentials_type);
        if (type == nullptr)
            return fail(err, "credentials of kind " + std::to_string(r.credentials_type) + " cannot be provisioned");
        scratch_lease s;
        s->out.push_back('{');
        if (r.credentials_type == TERN_CREDENTIAL_MQTT_BASIC) {
            // ThingsBoard stores these as a JSON object and sends it as one; unset fields are null.
            auto field = [&](const char* name, tern_str v) {
                s->out += name;
                if (v.size == 0) s->out += "null";
                else append_text(s->out, to_sv(v), s->plain);
            };
            field("\"credentialsValue\":{\"clientId\":", r.client_id);
            field(",\"userName\":", r.username);
            field(",\"password\":", r.password);
            s->out += "},";
        } else if (r.credentials_type != TERN_CREDENTIAL_LWM2M) {
            s->out += "\"credentialsValue\":";
            append_text(s->out, to_sv(r.credentials_value), s->plain);
            s->out.push_back(',');
        }
        s->out += "\"credentialsType\":\"";
        s->out += type;
        s->out += "\",\"status\":\"SUCCESS\"}";
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

}  // namespace tern::json

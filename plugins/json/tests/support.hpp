// Calls payload_v1 methods and copies what their sinks receive into plain C++ values, so
// tests read as input → expected output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adaptor.hpp"
#include "tern/abi/payload.h"
#include "tern/sdk/views.hpp"
#include "tern/tb_number/number.hpp"

namespace tern::json::test {

inline std::string text(tern_str s) { return std::string(sdk::to_sv(s)); }
inline tern_str str(std::string_view s) { return tern_str{s.data(), s.size()}; }
inline tern_bytes bytes(std::string_view s) { return sdk::to_bytes(s); }

// A value as "type:text": "int:42", "double:42.0" (Java's Double.toString, which names one
// double exactly), "string:abc", "bool:true", "json:{...}".
inline std::string describe(const tern_value& v) {
    switch (v.type) {
        case TERN_VALUE_NULL: return "null";
        case TERN_VALUE_BOOL: return v.u.b ? "bool:true" : "bool:false";
        case TERN_VALUE_INT: return "int:" + std::to_string(v.u.i);
        case TERN_VALUE_DOUBLE: {
            std::string s = "double:";
            tb::append_java_double(s, v.u.d);
            return s;
        }
        case TERN_VALUE_STR: return "string:" + text(v.u.s);
        case TERN_VALUE_JSON: return "json:" + text(v.u.s);
        default: return "type " + std::to_string(v.type);
    }
}

struct kv_copy {
    std::string key;
    std::string value;  // describe()
    bool operator==(const kv_copy&) const = default;
};

inline std::vector<kv_copy> copy(const tern_kv* kvs, uint32_t n) {
    std::vector<kv_copy> out;
    for (uint32_t i = 0; i < n; ++i) out.push_back({text(kvs[i].key), describe(kvs[i].value)});
    return out;
}

struct result_base {
    tern_status status = -1;
    std::string error;
    int sink_calls = 0;
    bool ok() const { return status == TERN_OK; }
};

inline std::string error_of(tern_status s, const tern_error& e) {
    return s == TERN_OK ? std::string() : std::string(e.msg, e.len);
}

struct record_copy {
    int64_t ts;
    std::vector<kv_copy> values;
};

struct telemetry_result : result_base {
    std::vector<record_copy> records;
};

inline telemetry_result telemetry(payload_v1& p, std::string_view body, int64_t now = 1000) {
    telemetry_result r;
    tern_error err{};
    r.status = p.decode_telemetry(
        nullptr, bytes(body), now,
        [](void* ctx, const tern_ts_record* recs, uint32_t n) {
            auto& out = *static_cast<telemetry_result*>(ctx);
            ++out.sink_calls;
            for (uint32_t i = 0; i < n; ++i) out.records.push_back({recs[i].ts, copy(recs[i].values, recs[i].count)});
        },
        &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

struct kvs_result : result_base {
    std::vector<kv_copy> values;
};

inline kvs_result attributes(payload_v1& p, std::string_view body) {
    kvs_result r;
    tern_error err{};
    r.status = p.decode_attributes(
        nullptr, bytes(body),
        [](void* ctx, const tern_kv* kvs, uint32_t n) {
            auto& out = *static_cast<kvs_result*>(ctx);
            ++out.sink_calls;
            out.values = copy(kvs, n);
        },
        &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

// The typing of one JSON value: decodes {"v":<value>} as attributes. "" when the value was
// dropped, "error: <reason>" when refused.
inline std::string typed(payload_v1& p, std::string_view value) {
    const kvs_result r = attributes(p, "{\"v\":" + std::string(value) + "}");
    if (!r.ok()) return "error: " + r.error;
    return r.values.empty() ? std::string() : r.values.at(0).value;
}

struct text_result : result_base {
    std::string text;
};

inline void text_sink(void* ctx, tern_bytes b) {
    auto& out = *static_cast<text_result*>(ctx);
    ++out.sink_calls;
    out.text.assign(sdk::as_text(b));
}

inline text_result rpc_reply(payload_v1& p, std::string_view body) {
    text_result r;
    tern_error err{};
    r.status = p.decode_rpc_reply(nullptr, bytes(body), text_sink, &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

struct call_result : result_base {
    std::string method;
    std::string params;
};

inline call_result rpc_call(payload_v1& p, std::string_view body) {
    call_result r;
    tern_error err{};
    r.status = p.decode_rpc_call(
        nullptr, bytes(body),
        [](void* ctx, tern_str method, tern_str params) {
            auto& out = *static_cast<call_result*>(ctx);
            ++out.sink_calls;
            out.method = text(method);
            out.params = text(params);
        },
        &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

struct claim_result : result_base {
    std::string secret;
    int64_t duration = -1;
};

inline claim_result claim(payload_v1& p, std::string_view body) {
    claim_result r;
    tern_error err{};
    r.status = p.decode_claim(
        nullptr, bytes(body),
        [](void* ctx, tern_str secret, int64_t duration) {
            auto& out = *static_cast<claim_result*>(ctx);
            ++out.sink_calls;
            out.secret = text(secret);
            out.duration = duration;
        },
        &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

struct provision_result : result_base {
    tern_credential_kind type = -1;
    std::string device_name, key, secret, token, client_id, username, password, hash;
    int32_t gateway = -1;
};

inline provision_result provision(payload_v1& p, std::string_view body) {
    provision_result r;
    tern_error err{};
    r.status = p.decode_provision(
        nullptr, bytes(body),
        [](void* ctx, const tern_provision_request* q) {
            auto& out = *static_cast<provision_result*>(ctx);
            ++out.sink_calls;
            out.type = q->credentials_type;
            out.device_name = text(q->device_name);
            out.key = text(q->provision_key);
            out.secret = text(q->provision_secret);
            out.token = text(q->token);
            out.client_id = text(q->client_id);
            out.username = text(q->username);
            out.password = text(q->password);
            out.hash = text(q->hash);
            out.gateway = q->gateway;
        },
        &r, &err);
    r.error = error_of(r.status, err);
    return r;
}

// kv builders for the encoders
inline tern_kv kv_int(std::string_view k, int64_t v) {
    tern_kv kv{};
    kv.key = str(k);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = v;
    return kv;
}
inline tern_kv kv_double(std::string_view k, double v) {
    tern_kv kv{};
    kv.key = str(k);
    kv.value.type = TERN_VALUE_DOUBLE;
    kv.value.u.d = v;
    return kv;
}
inline tern_kv kv_bool(std::string_view k, bool v) {
    tern_kv kv{};
    kv.key = str(k);
    kv.value.type = TERN_VALUE_BOOL;
    kv.value.u.b = v ? 1 : 0;
    return kv;
}
inline tern_kv kv_str(std::string_view k, std::string_view v) {
    tern_kv kv{};
    kv.key = str(k);
    kv.value.type = TERN_VALUE_STR;
    kv.value.u.s = str(v);
    return kv;
}
inline tern_kv kv_json(std::string_view k, std::string_view v) {
    tern_kv kv = kv_str(k, v);
    kv.value.type = TERN_VALUE_JSON;
    return kv;
}

}  // namespace tern::json::test

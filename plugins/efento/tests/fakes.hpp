// Stand-ins for the CoAP engine and the core's capabilities, recording what the efento plugin
// asks of them, and Efento messages written field by field here (pb), not with the plugin's
// own code. fixture.hpp drives the resource with them; plugin_test.cpp the loaded plugin.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/coap.h"
#include "tern/abi/core_capabilities.h"
#include "tern/sdk/testing.hpp"

namespace tern::efento::test {

inline std::string str(tern_str s) { return s.size == 0 ? std::string() : std::string(s.data, s.size); }
inline std::string str(tern_bytes b) {
    return b.size == 0 ? std::string() : std::string(reinterpret_cast<const char*>(b.data), b.size);
}

// ---- protobuf, field by field -------------------------------------------------------------------

struct pb {
    std::string b;

    pb& varint(uint64_t v) {
        while (v >= 0x80) {
            b.push_back(static_cast<char>((v & 0x7f) | 0x80));
            v >>= 7;
        }
        b.push_back(static_cast<char>(v));
        return *this;
    }
    pb& tag(uint32_t field, uint32_t wire) { return varint((field << 3) | wire); }
    pb& u(uint32_t field, uint64_t v) { return tag(field, 0).varint(v); }
    pb& si(uint32_t field, int64_t v) { return u(field, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
    pb& s(uint32_t field, std::string_view v) {
        tag(field, 2).varint(v.size());
        b.append(v);
        return *this;
    }
    pb& msg(uint32_t field, const pb& m) { return s(field, m.b); }
    pb& packed_si(uint32_t field, const std::vector<int64_t>& vs) {
        pb inner;
        for (int64_t v : vs) inner.varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
        return s(field, inner.b);
    }
    pb& packed_u(uint32_t field, const std::vector<uint64_t>& vs) {
        pb inner;
        for (uint64_t v : vs) inner.varint(v);
        return s(field, inner.b);
    }
};

// ProtoMeasurements: one TEMPERATURE channel, two samples 60 s apart (21.5 and 22.0 degrees).
inline std::string measurements(std::string_view token, int64_t start_point = 215) {
    pb ch;
    ch.u(1, 1).u(2, 1700000000).si(4, start_point).packed_si(5, {0, 5});
    pb m;
    m.s(1, std::string("\x28\x2c\x02\x40\x02\x38", 6)).u(2, 1).u(3, 60).msg(4, ch).u(5, 1700000600).u(7, 20);
    if (!token.empty()) m.s(16, token);
    return m.b;
}
// ProtoMeasurements without channels.
inline std::string measurements_without_channels(std::string_view token) {
    pb m;
    m.s(1, std::string("\x28\x2c\x02\x40\x02\x38", 6)).u(3, 60).s(16, token);
    return m.b;
}
// ProtoDeviceInfo with n memory statistics (22 make it complete).
inline std::string device_info(std::string_view token, std::size_t n = 22) {
    pb m;
    m.s(1, std::string("\x28\x2c\x02\x40\x02\x38", 6)).u(3, 1234);
    std::vector<uint64_t> stats;
    for (std::size_t i = 0; i < n; ++i) stats.push_back(i + 1);
    if (n != 0) m.packed_u(17, stats);
    m.s(16, token);
    return m.b;
}
// ProtoConfig with a few settings and its cloud_token (field 24).
inline std::string configuration(std::string_view token) {
    pb m;
    m.u(2, 60).u(3, 300).s(11, "192.0.2.1").s(24, token);
    return m.b;
}

// ---- engine ------------------------------------------------------------------------------------

struct fake_engine final : coap_engine_v1 {
    struct registration {
        std::string pattern;
        uint32_t methods = 0;
        uint32_t flags = 0;
        std::string link_attrs;
        coap_handler_v1* handler = nullptr;
        bool removed = false;
    };
    struct response {
        uint64_t exchange = 0;
        uint8_t code = 0;
        uint32_t flags = 0;
        int32_t format = -1;
        int64_t max_age = -1;
        std::string payload;
    };
    std::vector<registration> resources;
    std::vector<response> responses;
    tern_status refuse_add = TERN_OK;
    bool record = true;  // false: respond() only counts (allocation tests)
    uint64_t answered = 0;

    tern_status add_resource(const tern_coap_resource* d, coap_handler_v1* h, uint64_t* out) noexcept override {
        if (refuse_add != TERN_OK) return refuse_add;
        resources.push_back({d->pattern, d->methods, d->flags, d->link_attrs ? d->link_attrs : "", h, false});
        *out = resources.size();
        return TERN_OK;
    }
    void remove_resource(uint64_t id) noexcept override {
        if (id != 0 && id <= resources.size()) resources[id - 1].removed = true;
    }
    tern_status respond(uint64_t exchange, const tern_coap_response* r, uint64_t* out) noexcept override {
        if (out != nullptr) *out = 0;
        ++answered;
        if (record)
            responses.push_back({exchange, r->code, r->flags, r->content_format, r->max_age, str(r->payload)});
        return TERN_OK;
    }
    tern_status notify(uint64_t, const tern_coap_response*, uint64_t, uint32_t) noexcept override { return TERN_NOT_FOUND; }
    tern_status end_observation(uint64_t, const tern_coap_response*) noexcept override { return TERN_NOT_FOUND; }

    // The resource a path reaches, as the engine matches: a literal pattern exactly, "x/**"
    // every path under x (and x itself); literals first.
    const registration* match(const std::vector<std::string>& path) const {
        std::string joined;
        for (const std::string& p : path) joined += (joined.empty() ? "" : "/") + p;
        for (const registration& r : resources)
            if (!r.removed && r.pattern == joined) return &r;
        for (const registration& r : resources) {
            if (r.removed || !r.pattern.ends_with("/**")) continue;
            const std::string base = r.pattern.substr(0, r.pattern.size() - 3);
            if (!path.empty() && path[0] == base) return &r;
        }
        return nullptr;
    }
    const response* find(uint64_t exchange) const {
        for (const response& r : responses)
            if (r.exchange == exchange) return &r;
        return nullptr;
    }
};

// ---- core ---------------------------------------------------------------------------------------

struct fake_device {
    uint64_t id = 7;
    uint64_t profile_id = 3;
    std::string profile = "Efento sensors";
    std::string coap_type = "EFENTO";  // "": no coap.device_type option
};

struct fake_core final : core_auth_v1,
                         core_telemetry_v1,
                         core_attributes_v1,
                         core_sessions_v1,
                         core_events_v1 {
    std::map<std::string, fake_device, std::less<>> tokens;
    tern_status auth_status = TERN_OK;  // for known tokens
    tern_status write_status = TERN_OK;
    std::string write_message;
    bool defer_auth = false;  // authentications wait for run_deferred()
    bool record = true;       // false: writes only count (allocation tests)
    std::vector<std::function<void()>> deferred;
    int auth_calls = 0;
    std::vector<std::string> asked;

    struct telemetry {
        uint64_t device;
        std::vector<std::pair<int64_t, std::map<std::string, std::string>>> records;
        uint32_t values = 0;
    };
    std::vector<telemetry> telemetry_posts;
    struct attributes {
        uint64_t device;
        tern_attribute_scope scope;
        std::map<std::string, std::string> values;
    };
    std::vector<attributes> attribute_posts;
    uint64_t writes = 0;
    struct session {
        uint64_t device;
        tern_session_event event;
        std::string transport, address;
    };
    std::vector<session> sessions;
    uint64_t activity = 0;
    core_listener_v1* listener = nullptr;
    uint64_t handle = 0;
    bool closed = false;

    // A value as text: numbers, booleans and strings, enough to tell what was stored.
    static std::string text(const tern_value& v) {
        switch (v.type) {
            case TERN_VALUE_BOOL: return v.u.b ? "true" : "false";
            case TERN_VALUE_INT: return std::to_string(v.u.i);
            case TERN_VALUE_DOUBLE: return std::to_string(v.u.d);
            case TERN_VALUE_STR:
            case TERN_VALUE_JSON: return str(v.u.s);
            default: return "?";
        }
    }

    void authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done, void* ctx) noexcept override {
        ++auth_calls;
        asked.push_back(str(value));
        auto answer = [this, kind, token = str(value), done, ctx] {
            auto it = tokens.find(token);
            if (kind != TERN_CREDENTIAL_ACCESS_TOKEN || it == tokens.end()) {
                done(ctx, TERN_NOT_FOUND, nullptr);
                return;
            }
            if (auth_status != TERN_OK) {
                done(ctx, auth_status, nullptr);
                return;
            }
            const fake_device& d = it->second;
            std::vector<tern_kv> opts;
            tern_kv t{};
            t.key = sdk::to_str("transport.type");
            t.value.type = TERN_VALUE_STR;
            t.value.u.s = sdk::to_str("COAP");
            opts.push_back(t);
            if (!d.coap_type.empty()) {
                tern_kv c{};
                c.key = sdk::to_str(TERN_OPTION_COAP_DEVICE_TYPE);
                c.value.type = TERN_VALUE_STR;
                c.value.u.s = sdk::to_str(d.coap_type);
                opts.push_back(c);
            }
            tern_device_record r{};
            r.struct_size = sizeof r;
            r.payload_type = TERN_PAYLOAD_JSON;
            r.device_id = d.id;
            r.device_name = sdk::to_str("sensor");
            r.profile_id = d.profile_id;
            r.profile_name = sdk::to_str(d.profile);
            r.revision = 1;
            r.profile_options = opts.data();
            r.profile_option_count = static_cast<uint32_t>(opts.size());
            done(ctx, TERN_OK, &r);
        };
        if (defer_auth) deferred.push_back(answer);
        else answer();
    }
    void psk_key(tern_str, tern_core_psk_key_fn done, void* ctx) noexcept override { done(ctx, TERN_NOT_FOUND, 0, {}); }

    void post_telemetry(uint64_t device, const tern_ts_record* recs, uint32_t n, tern_core_done_fn done,
                        void* ctx) noexcept override {
        ++writes;
        if (record) {
            telemetry t{device, {}, 0};
            for (uint32_t i = 0; i < n; ++i) {
                std::map<std::string, std::string> kv;
                for (uint32_t k = 0; k < recs[i].count; ++k) kv[str(recs[i].values[k].key)] = text(recs[i].values[k].value);
                t.values += recs[i].count;
                t.records.emplace_back(recs[i].ts, std::move(kv));
            }
            telemetry_posts.push_back(std::move(t));
        }
        done(ctx, write_status, sdk::to_str(write_message));
    }
    void post_attributes(uint64_t device, tern_attribute_scope scope, const tern_kv* v, uint32_t n, tern_core_done_fn done,
                         void* ctx) noexcept override {
        ++writes;
        if (record) {
            attributes a{device, scope, {}};
            for (uint32_t i = 0; i < n; ++i) a.values[str(v[i].key)] = text(v[i].value);
            attribute_posts.push_back(std::move(a));
        }
        done(ctx, write_status, sdk::to_str(write_message));
    }
    void get_attributes(uint64_t, const tern_key_filter*, const tern_key_filter*, tern_core_attributes_fn done,
                        void* ctx) noexcept override {
        done(ctx, TERN_NOT_FOUND, nullptr, 0, nullptr, 0);
    }
    void session_event(uint64_t device, tern_session_event event, tern_str transport, tern_str address) noexcept override {
        ++activity;
        if (record) sessions.push_back({device, event, str(transport), str(address)});
    }
    tern_status subscribe(core_listener_v1* l, uint64_t* out) noexcept override {
        listener = l;
        handle = 42;
        *out = handle;
        return TERN_OK;
    }
    tern_status subscribe_device(uint64_t, uint64_t, uint32_t) noexcept override { return TERN_OK; }
    void unsubscribe_device(uint64_t, uint64_t, uint32_t) noexcept override {}
    void close(uint64_t h) noexcept override {
        if (h == handle) closed = true;
        listener = nullptr;
    }

    void run_deferred() {
        auto d = std::move(deferred);
        deferred.clear();
        for (auto& f : d) f();
    }
};

}  // namespace tern::efento::test

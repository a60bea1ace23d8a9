// Stand-ins for the CoAP engine, the core and a DTLS transport, recording what the device API
// asks of them, so its request handling and home-shard state run deterministically in one
// thread (with the SDK's manual_reactor: posted tasks and timers run when the test says, the
// clock moves when the test says).
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <initializer_list>

#include "service.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/sdk/payload.hpp"
#include "tern/sdk/testing.hpp"

namespace tern::device_api::test {

inline std::string str(tern_str s) { return s.size == 0 ? std::string() : std::string(s.data, s.size); }
inline std::string str(tern_bytes b) {
    return b.size == 0 ? std::string() : std::string(reinterpret_cast<const char*>(b.data), b.size);
}

// The catalog the plugin builds from the registry, here of these adaptors (null ones left
// out), each published as tern.payload/1 under its own name.
inline sdk::payload_catalog adaptors_of(std::initializer_list<payload_v1*> adaptors) {
    sdk::testing::fake_registry r;
    for (payload_v1* p : adaptors)
        if (p != nullptr) r.provide(TERN_IID_PAYLOAD_V1, std::string(str(p->name())), p);
    return sdk::payload_catalog(r);
}

// ---- engine ----------------------------------------------------------------------------------

struct fake_engine final : coap_engine_v1 {
    struct response {
        uint64_t exchange = 0;
        uint8_t code = 0;
        uint32_t flags = 0;
        int32_t format = -1;
        int64_t max_age = -1;
        std::string payload;
        std::vector<std::pair<uint16_t, std::string>> options;
        uint64_t observation = 0;
    };
    struct notification {
        uint64_t observation = 0;
        uint8_t code = 0;
        int32_t format = -1;
        std::string payload;
        uint64_t cookie = 0;
        uint32_t flags = 0;
    };
    struct ended {
        uint64_t observation = 0;
        uint8_t code = 0;  // 0: no final response
        std::string payload;
    };
    std::vector<std::string> patterns;
    std::vector<response> responses;
    std::vector<notification> notes;
    std::vector<ended> ends;
    std::set<uint64_t> live;
    std::set<uint64_t> expired;  // exchanges that answer NOT_FOUND
    uint64_t next_obs = 1000;
    coap_handler_v1* handler = nullptr;

    tern_status add_resource(const tern_coap_resource* d, coap_handler_v1* h, uint64_t* out) noexcept override {
        patterns.emplace_back(d->pattern);
        handler = h;
        *out = patterns.size();
        return TERN_OK;
    }
    void remove_resource(uint64_t) noexcept override {}
    tern_status respond(uint64_t exchange, const tern_coap_response* r, uint64_t* out) noexcept override {
        if (out != nullptr) *out = 0;
        response x;
        x.exchange = exchange;
        x.code = r->code;
        x.flags = r->flags;
        x.format = r->content_format;
        x.max_age = r->max_age;
        for (uint32_t i = 0; i < r->option_count; ++i)
            x.options.emplace_back(r->options[i].number, str(r->options[i].value));
        if (r->body != nullptr) {
            std::string all(r->body->size(), '\0');
            size_t n = 0;
            r->body->read(0, reinterpret_cast<uint8_t*>(all.data()), all.size(), &n);
            all.resize(n);
            x.payload = all;
            r->body->release();
        } else {
            x.payload = str(r->payload);
        }
        if (expired.count(exchange) != 0) return TERN_NOT_FOUND;
        if ((r->flags & TERN_COAP_RESPONSE_OBSERVE) != 0 && (r->code >> 5) == 2) {
            x.observation = next_obs++;
            live.insert(x.observation);
            if (out != nullptr) *out = x.observation;
        }
        responses.push_back(x);
        return TERN_OK;
    }
    tern_status notify(uint64_t obs, const tern_coap_response* r, uint64_t cookie, uint32_t flags) noexcept override {
        if (live.count(obs) == 0) return TERN_NOT_FOUND;
        notes.push_back({obs, r->code, r->content_format, str(r->payload), cookie, flags});
        return TERN_OK;
    }
    tern_status end_observation(uint64_t obs, const tern_coap_response* f) noexcept override {
        if (live.erase(obs) == 0) return TERN_NOT_FOUND;
        ended e;
        e.observation = obs;
        if (f != nullptr) {
            e.code = f->code;
            e.payload = str(f->payload);
        }
        ends.push_back(e);
        return TERN_OK;
    }

    const response* find(uint64_t exchange) const {
        for (const response& r : responses)
            if (r.exchange == exchange) return &r;
        return nullptr;
    }
};

// ---- core --------------------------------------------------------------------------------------

struct fake_device {
    uint64_t id = 1;
    std::string name = "dev";
    uint64_t profile_id = 1;
    uint64_t revision = 1;
    tern_transport_type transport = TERN_TRANSPORT_DEFAULT;
    tern_coap_device_type coap_type = TERN_COAP_DEVICE_DEFAULT;
    tern_payload_type payload = TERN_PAYLOAD_JSON;
    tern_power_mode power = TERN_POWER_NONE;
    std::string power_name;  // a mode of another name (a vendor's); overrides power
    int64_t psm_ms = 0;
    int64_t ptw_ms = 0;
    std::string credential_value;
    std::vector<std::pair<std::string, int64_t>> options;  // profile options (integers)
};

// The core's capabilities (ABI 1.1) in one object, as a core provides them.
struct fake_core final : core_auth_v1,
                         core_telemetry_v1,
                         core_attributes_v1,
                         core_rpc_v1,
                         core_provisioning_v1,
                         core_ota_v1,
                         core_sessions_v1,
                         core_events_v1 {
    core_listener_v1* listener = nullptr;
    std::map<std::pair<int32_t, std::string>, fake_device> credentials;
    bool defer = false;  // completions wait for run_deferred()
    tern_status auth_status = TERN_OK;  // for found credentials
    std::map<std::string, tern_status> failing;  // credential value -> this error, found or not
    std::vector<std::function<void()>> deferred;
    int auth_calls = 0;
    std::vector<std::string> auth_values;  // what authenticate was asked, in order

    struct telemetry {
        uint64_t device;
        std::vector<std::map<std::string, std::string>> records;
    };
    std::vector<telemetry> telemetry_posts;
    std::vector<std::pair<uint64_t, std::map<std::string, std::string>>> attribute_posts;
    std::map<std::string, tern_value> shared;  // values must outlive the test's use
    std::map<std::string, tern_value> client;
    struct read_call {
        uint64_t device;
        int32_t client_sel = -1, shared_sel = -1;
        std::vector<std::string> client_keys, shared_keys;
    };
    std::vector<read_call> reads;
    std::map<uint64_t, uint32_t> subs;
    std::vector<std::pair<uint64_t, uint32_t>> sub_calls, unsub_calls;
    struct session {
        uint64_t device;
        tern_session_event event;
        std::string transport, address;
    };
    std::vector<session> sessions;
    struct status {
        uint64_t device;
        int64_t id;
        tern_rpc_status s;
        std::string error;
    };
    std::vector<status> statuses;
    std::vector<std::tuple<uint64_t, int64_t, std::string>> replies;
    tern_status reply_status = TERN_OK;
    tern_status write_status = TERN_OK;  // telemetry writes complete with this
    std::vector<uint64_t> resends;
    struct client_call {
        uint64_t device;
        std::string method, params;
        int64_t timeout;
        tern_core_text_fn done;
        void* ctx;
    };
    std::vector<client_call> client_calls;
    std::vector<std::tuple<uint64_t, std::string, int64_t>> claims;
    std::vector<std::string> provisions;  // device names
    tern_provision_status provision_result = TERN_PROVISION_SUCCESS;
    struct package {
        std::string title = "fw", version = "1.0", path, url;
    };
    std::map<uint64_t, package> packages;

    fake_device& add(const std::string& token, fake_device d) {
        return credentials[{TERN_CREDENTIAL_ACCESS_TOKEN, token}] = d;
    }

    void run_deferred() {
        auto d = std::move(deferred);
        deferred.clear();
        for (auto& f : d) f();
    }
    void later(std::function<void()> f) {
        if (defer) deferred.push_back(std::move(f));
        else f();
    }

    // tern.core.events/1: one subscriber
    tern_status subscribe(core_listener_v1* l, uint64_t* out_handle) noexcept override {
        listener = l;
        *out_handle = 1;
        return TERN_OK;
    }
    void close(uint64_t) noexcept override { listener = nullptr; }
    void psk_key(tern_str, tern_core_psk_key_fn done, void* ctx) noexcept override { done(ctx, TERN_NOT_FOUND, 0, {}); }
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done, void* ctx) noexcept override {
        ++auth_calls;
        auth_values.push_back(str(value));
        if (auto e = failing.find(str(value)); e != failing.end()) {
            const tern_status st = e->second;
            later([=] { done(ctx, st, nullptr); });
            return;
        }
        auto it = credentials.find({kind, str(value)});
        if (it == credentials.end()) {
            later([=] { done(ctx, TERN_NOT_FOUND, nullptr); });
            return;
        }
        const fake_device d = it->second;
        const tern_status st = auth_status;
        later([=] {
            // What a core puts in a device record: the transport profile's fields as the
            // TERN_OPTION_* profile options, first, then the profile's own.
            static constexpr const char* transports[] = {"DEFAULT", "COAP", "MQTT", "LWM2M", "SNMP"};
            static constexpr const char* powers[] = {nullptr, "DRX", "PSM", "E_DRX"};
            std::vector<std::string> keys;
            std::vector<tern_kv> opts;
            auto text = [&](const char* key, const char* v) {
                tern_kv kv{tern_str{key, std::strlen(key)}, tern_value{}};
                kv.value.type = TERN_VALUE_STR;
                kv.value.u.s = tern_str{v, std::strlen(v)};
                opts.push_back(kv);
            };
            auto integer = [&](const char* key, int64_t v) {
                tern_kv kv{tern_str{key, std::strlen(key)}, tern_value{}};
                kv.value.type = TERN_VALUE_INT;
                kv.value.u.i = v;
                opts.push_back(kv);
            };
            if (d.transport != TERN_TRANSPORT_DEFAULT) text(TERN_OPTION_TRANSPORT_TYPE, transports[d.transport]);
            if (d.coap_type == TERN_COAP_DEVICE_EFENTO) text(TERN_OPTION_COAP_DEVICE_TYPE, "EFENTO");
            if (!d.power_name.empty()) text(TERN_OPTION_POWER_MODE, d.power_name.c_str());
            else if (d.power != TERN_POWER_NONE) text(TERN_OPTION_POWER_MODE, powers[d.power]);
            if (d.psm_ms > 0) integer(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, d.psm_ms);
            if (d.ptw_ms > 0) integer(TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS, d.ptw_ms);
            for (const auto& [k, v] : d.options) {
                tern_kv kv{tern_str{k.data(), k.size()}, tern_value{}};
                kv.value.type = TERN_VALUE_INT;
                kv.value.u.i = v;
                opts.push_back(kv);
            }
            tern_device_record info{};
            info.struct_size = sizeof info;
            info.device_id = d.id;
            info.device_name = tern_str{d.name.data(), d.name.size()};
            info.profile_id = d.profile_id;
            info.revision = d.revision;
            info.payload_type = d.payload;
            info.credential_value =
                tern_bytes{reinterpret_cast<const uint8_t*>(d.credential_value.data()), d.credential_value.size()};
            info.profile_options = opts.empty() ? nullptr : opts.data();
            info.profile_option_count = static_cast<uint32_t>(opts.size());
            done(ctx, st, st == TERN_OK ? &info : nullptr);
        });
    }
    static std::map<std::string, std::string> kvs(const tern_kv* kv, uint32_t n) {
        std::map<std::string, std::string> m;
        for (uint32_t i = 0; i < n; ++i) {
            const tern_value& v = kv[i].value;
            std::string s;
            switch (v.type) {
                case TERN_VALUE_BOOL: s = v.u.b ? "true" : "false"; break;
                case TERN_VALUE_INT: s = std::to_string(v.u.i); break;
                case TERN_VALUE_DOUBLE: s = std::to_string(v.u.d); break;
                default: s = str(v.u.s); break;
            }
            m[str(kv[i].key)] = s;
        }
        return m;
    }
    void post_telemetry(uint64_t device, const tern_ts_record* r, uint32_t n, tern_core_done_fn done,
                        void* ctx) noexcept override {
        telemetry t{device, {}};
        for (uint32_t i = 0; i < n; ++i) t.records.push_back(kvs(r[i].values, r[i].count));
        telemetry_posts.push_back(t);
        const tern_status st = write_status;
        later([=] { done(ctx, st, tern_str{}); });
    }
    void post_attributes(uint64_t device, tern_attribute_scope, const tern_kv* v, uint32_t n, tern_core_done_fn done,
                         void* ctx) noexcept override {
        attribute_posts.emplace_back(device, kvs(v, n));
        later([=] { done(ctx, TERN_OK, tern_str{}); });
    }
    void get_attributes(uint64_t device, const tern_key_filter* c, const tern_key_filter* s,
                        tern_core_attributes_fn done, void* ctx) noexcept override {
        read_call rc;
        rc.device = device;
        auto pick = [](const tern_key_filter* f, const std::map<std::string, tern_value>& from,
                       std::vector<std::string>& keys, int32_t& sel) {
            std::vector<std::pair<std::string, tern_value>> out;
            if (f == nullptr) return out;
            sel = f->selection;
            for (uint32_t i = 0; i < f->count; ++i) keys.push_back(str(f->keys[i]));
            for (const auto& [k, v] : from)
                if (f->selection == TERN_KEYS_ALL ||
                    (f->selection == TERN_KEYS_LISTED && std::find(keys.begin(), keys.end(), k) != keys.end()))
                    out.emplace_back(k, v);
            return out;
        };
        auto cl = pick(c, client, rc.client_keys, rc.client_sel);
        auto sh = pick(s, shared, rc.shared_keys, rc.shared_sel);
        reads.push_back(rc);
        later([=] {
            std::vector<tern_kv> a, b;
            for (const auto& [k, v] : cl) a.push_back(tern_kv{tern_str{k.data(), k.size()}, v});
            for (const auto& [k, v] : sh) b.push_back(tern_kv{tern_str{k.data(), k.size()}, v});
            done(ctx, TERN_OK, a.data(), static_cast<uint32_t>(a.size()), b.data(), static_cast<uint32_t>(b.size()));
        });
    }
    tern_status subscribe_device(uint64_t, uint64_t device, uint32_t flags) noexcept override {
        subs[device] |= flags;
        sub_calls.emplace_back(device, flags);
        return TERN_OK;
    }
    void unsubscribe_device(uint64_t, uint64_t device, uint32_t flags) noexcept override {
        subs[device] &= ~flags;
        unsub_calls.emplace_back(device, flags);
    }
    void session_event(uint64_t device, tern_session_event e, tern_str t, tern_str a) noexcept override {
        sessions.push_back({device, e, str(t), str(a)});
    }
    void rpc_status(uint64_t device, int64_t id, tern_rpc_status s, tern_str error) noexcept override {
        statuses.push_back({device, id, s, str(error)});
    }
    void rpc_reply(uint64_t device, int64_t id, tern_str result, tern_core_done_fn done, void* ctx) noexcept override {
        replies.emplace_back(device, id, str(result));
        const tern_status st = reply_status;
        later([=] { done(ctx, st, tern_str{}); });
    }
    void resend_pending_rpcs(uint64_t device) noexcept override { resends.push_back(device); }
    void client_rpc(uint64_t device, tern_str method, tern_str params, int64_t timeout, tern_core_text_fn done,
                    void* ctx) noexcept override {
        client_calls.push_back({device, str(method), str(params), timeout, done, ctx});
    }
    void claim(uint64_t device, tern_str secret, int64_t duration, tern_core_done_fn done, void* ctx) noexcept override {
        claims.emplace_back(device, str(secret), duration);
        later([=] { done(ctx, TERN_OK, tern_str{}); });
    }
    void provision(const tern_provision_request* r, tern_core_provision_fn done, void* ctx) noexcept override {
        provisions.push_back(str(r->device_name));
        const tern_provision_status ps = provision_result;
        later([=] {
            static const std::string token = "NEW_TOKEN";
            tern_provision_result res{};
            res.struct_size = sizeof res;
            res.status = ps;
            res.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
            res.credentials_value = tern_str{token.data(), token.size()};
            done(ctx, TERN_OK, &res);
        });
    }
    void ota_package(uint64_t device, tern_ota_type, tern_core_ota_fn done, void* ctx) noexcept override {
        auto it = packages.find(device);
        if (it == packages.end()) {
            later([=] { done(ctx, TERN_NOT_FOUND, nullptr); });
            return;
        }
        const package p = it->second;
        later([=] {
            tern_ota_package k{};
            k.struct_size = sizeof k;
            k.title = tern_str{p.title.data(), p.title.size()};
            k.version = tern_str{p.version.data(), p.version.size()};
            k.path = tern_str{p.path.data(), p.path.size()};
            k.url = tern_str{p.url.data(), p.url.size()};
            done(ctx, TERN_OK, &k);
        });
    }

    std::vector<status> statuses_of(int64_t id) const {
        std::vector<status> out;
        for (const status& s : statuses)
            if (s.id == id) out.push_back(s);
        return out;
    }
    int count_sessions(tern_session_event e) const {
        int n = 0;
        for (const session& s : sessions) n += s.event == e;
        return n;
    }
};

// ---- a DTLS-like transport ------------------------------------------------------------------------

struct fake_transport final : transport_v1 {
    std::map<uint64_t, std::string> certs;                // session -> leaf DER (a chain of one)
    std::map<uint64_t, std::vector<std::string>> chains;  // session -> DER chain, leaf first
    std::map<uint64_t, std::string> psk;                  // session -> identity
    int calls = 0;
    tern_str scheme() noexcept override { return tern_str{"coaps", 5}; }
    uint32_t max_datagram_size() noexcept override { return 1152; }
    tern_status attach(datagram_sink_v1*) noexcept override { return TERN_OK; }
    tern_status send(uint32_t, const tern_datagram*, uint32_t) noexcept override { return TERN_OK; }
    tern_status peer_auth(const tern_peer* peer, tern_peer_auth_sink sink, void* ctx) noexcept override {
        ++calls;
        tern_peer_auth a{};
        a.struct_size = sizeof a;
        tern_bytes leaf{};
        std::vector<tern_bytes> chain;
        if (auto it = certs.find(peer->session); it != certs.end()) {
            a.kind = TERN_AUTH_X509;
            leaf = tern_bytes{reinterpret_cast<const uint8_t*>(it->second.data()), it->second.size()};
            a.chain = &leaf;
            a.chain_count = 1;
        } else if (auto c = chains.find(peer->session); c != chains.end()) {
            a.kind = TERN_AUTH_X509;
            for (const std::string& der : c->second)
                chain.push_back(tern_bytes{reinterpret_cast<const uint8_t*>(der.data()), der.size()});
            a.chain = chain.data();
            a.chain_count = static_cast<uint32_t>(chain.size());
        } else if (auto p = psk.find(peer->session); p != psk.end()) {
            a.kind = TERN_AUTH_PSK;
            a.psk_identity = tern_str{p->second.data(), p->second.size()};
        }
        sink(ctx, &a);
        return TERN_OK;
    }
};

}  // namespace tern::device_api::test

// A payload adaptor for tests of what uses adaptors (a core checking profiles, a catalog):
// it answers tern.payload/1 and tern.payload/2 under the name the test gives, checks a
// profile with the test's function and records what each check saw. It decodes and encodes
// nothing (every such call is TERN_UNSUPPORTED): tests of a real codec load the real one.
//
//     tern::sdk::testing::fake_payload_adaptor pb("protobuf");
//     pb.on_check = [](const tern::sdk::testing::checked_profile& p) -> std::string {
//         return p.option("telemetry_schema").find("required") != std::string::npos
//                    ? "telemetry_schema:2:3: proto3 has no required fields" : "";
//     };
//     host.registry.provide("tern.payload/1", "protobuf", static_cast<tern::payload_v1*>(&pb));
//     host.registry.provide("tern.payload/2", "protobuf", static_cast<tern::payload_v2*>(&pb));
//     // or pb.publish(host.registry, "protobuf")
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/abi/payload.h"
#include "tern/sdk/interfaces.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/views.hpp"

namespace tern::sdk::testing {

// What one check_profile call was given, copied.
struct checked_profile {
    uint64_t profile_id = 0;
    uint64_t revision = 0;
    int32_t content_format = 0;
    std::vector<std::pair<std::string, std::string>> options;  // key, text (an integer as digits)

    // The text of option key, or empty when absent.
    std::string option(std::string_view key) const {
        for (const auto& [k, v] : options)
            if (k == key) return v;
        return {};
    }
    bool has(std::string_view key) const {
        for (const auto& kv : options)
            if (kv.first == key) return true;
        return false;
    }
};

class fake_payload_adaptor final : public payload_v2 {
public:
    explicit fake_payload_adaptor(std::string name, int32_t content_format = 42)
        : name_(std::move(name)), format_(content_format) {}

    // Empty: the profile is accepted; else the reason it is refused with. Unset: accepts.
    std::function<std::string(const checked_profile&)> on_check;

    // Publishes this object under both ids, as an adaptor instance named instance.
    void publish(fake_registry& r, const std::string& instance) {
        r.provide(TERN_IID_PAYLOAD_V1, instance, static_cast<payload_v1*>(this));
        r.provide(TERN_IID_PAYLOAD_V2, instance, static_cast<payload_v2*>(this));
    }

    std::vector<checked_profile> checks() const {
        std::lock_guard lk(mu_);
        return checks_;
    }

    tern_str name() noexcept override { return to_str(name_); }
    int32_t content_format() noexcept override { return format_; }

    tern_status check_profile(const tern_payload_context* ctx, tern_error* err) noexcept override {
        try {
            checked_profile p;
            p.profile_id = ctx->profile_id;
            p.revision = ctx->revision;
            p.content_format = ctx->content_format;
            for (uint32_t i = 0; i < ctx->option_count; ++i) {
                const tern_value& v = ctx->options[i].value;
                p.options.emplace_back(std::string(to_sv(ctx->options[i].key)),
                                       v.type == TERN_VALUE_STR   ? std::string(to_sv(v.u.s))
                                       : v.type == TERN_VALUE_INT ? std::to_string(v.u.i)
                                                                  : std::string());
            }
            std::function<std::string(const checked_profile&)> check;
            {
                std::lock_guard lk(mu_);
                checks_.push_back(p);
                check = on_check;
            }
            const std::string why = check ? check(p) : std::string();
            if (why.empty()) return TERN_OK;
            return fail(err, TERN_INVALID_ARGUMENT, why);
        } catch (...) {
            return fail(err, TERN_INTERNAL, "fake adaptor: out of memory");
        }
    }

    tern_status decode_telemetry(const tern_payload_context*, tern_bytes, int64_t, tern_records_sink, void*,
                                 tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status decode_attributes(const tern_payload_context*, tern_bytes, tern_kv_sink, void*,
                                  tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status decode_rpc_reply(const tern_payload_context*, tern_bytes, tern_bytes_sink, void*,
                                 tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status decode_rpc_call(const tern_payload_context*, tern_bytes, tern_rpc_call_sink, void*,
                                tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status decode_claim(const tern_payload_context*, tern_bytes, tern_claim_sink, void*,
                             tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status decode_provision(const tern_payload_context*, tern_bytes, tern_provision_sink, void*,
                                 tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status encode_attribute_update(const tern_payload_context*, const tern_kv*, uint32_t, const tern_str*,
                                        uint32_t, tern_bytes_sink, void*, tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status encode_attributes(const tern_payload_context*, const tern_kv*, uint32_t, const tern_kv*, uint32_t,
                                  tern_bytes_sink, void*, tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status encode_rpc_request(const tern_payload_context*, const tern_rpc_request*, tern_bytes_sink, void*,
                                   tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status encode_rpc_response(const tern_payload_context*, tern_str, tern_str, tern_bytes_sink, void*,
                                    tern_error* err) noexcept override {
        return unsupported(err);
    }
    tern_status encode_provision_response(const tern_payload_context*, const tern_provision_result*,
                                          tern_bytes_sink, void*, tern_error* err) noexcept override {
        return unsupported(err);
    }

private:
    static tern_status fail(tern_error* err, tern_status s, std::string_view why) noexcept {
        set_error(err, why);
        return s;
    }
    static tern_status unsupported(tern_error* err) noexcept {
        return fail(err, TERN_UNSUPPORTED, "fake payload adaptor: it codes nothing");
    }

    std::string name_;
    int32_t format_;
    mutable std::mutex mu_;
    std::vector<checked_profile> checks_;
};

// Forwards every call to another adaptor (a real one, e.g. JSON through its ABI) under the name
// and Content-Format the test gives, so a test overrides only the calls it watches or breaks:
//
//     struct refusing final : tern::sdk::testing::forwarding_payload_adaptor {
//         using forwarding_payload_adaptor::forwarding_payload_adaptor;
//         tern_status encode_rpc_request(...) noexcept override { ...refuse... }
//     } proto(*json_adaptor, "protobuf");
class forwarding_payload_adaptor : public payload_v1 {
public:
    forwarding_payload_adaptor(payload_v1& inner, std::string name, int32_t content_format = 42)
        : inner_(inner), name_(std::move(name)), format_(content_format) {}
    forwarding_payload_adaptor(const forwarding_payload_adaptor&) = delete;
    forwarding_payload_adaptor& operator=(const forwarding_payload_adaptor&) = delete;
    virtual ~forwarding_payload_adaptor() = default;

    tern_str name() noexcept override { return to_str(name_); }
    int32_t content_format() noexcept override { return format_; }

    tern_status decode_telemetry(const tern_payload_context* c, tern_bytes b, int64_t now, tern_records_sink s,
                                 void* x, tern_error* e) noexcept override {
        return inner_.decode_telemetry(c, b, now, s, x, e);
    }
    tern_status decode_attributes(const tern_payload_context* c, tern_bytes b, tern_kv_sink s, void* x,
                                  tern_error* e) noexcept override {
        return inner_.decode_attributes(c, b, s, x, e);
    }
    tern_status decode_rpc_reply(const tern_payload_context* c, tern_bytes b, tern_bytes_sink s, void* x,
                                 tern_error* e) noexcept override {
        return inner_.decode_rpc_reply(c, b, s, x, e);
    }
    tern_status decode_rpc_call(const tern_payload_context* c, tern_bytes b, tern_rpc_call_sink s, void* x,
                                tern_error* e) noexcept override {
        return inner_.decode_rpc_call(c, b, s, x, e);
    }
    tern_status decode_claim(const tern_payload_context* c, tern_bytes b, tern_claim_sink s, void* x,
                             tern_error* e) noexcept override {
        return inner_.decode_claim(c, b, s, x, e);
    }
    tern_status decode_provision(const tern_payload_context* c, tern_bytes b, tern_provision_sink s, void* x,
                                 tern_error* e) noexcept override {
        return inner_.decode_provision(c, b, s, x, e);
    }
    tern_status encode_attribute_update(const tern_payload_context* c, const tern_kv* u, uint32_t nu,
                                        const tern_str* d, uint32_t nd, tern_bytes_sink s, void* x,
                                        tern_error* e) noexcept override {
        return inner_.encode_attribute_update(c, u, nu, d, nd, s, x, e);
    }
    tern_status encode_attributes(const tern_payload_context* c, const tern_kv* cl, uint32_t ncl,
                                  const tern_kv* sh, uint32_t nsh, tern_bytes_sink s, void* x,
                                  tern_error* e) noexcept override {
        return inner_.encode_attributes(c, cl, ncl, sh, nsh, s, x, e);
    }
    tern_status encode_rpc_request(const tern_payload_context* c, const tern_rpc_request* r, tern_bytes_sink s,
                                   void* x, tern_error* e) noexcept override {
        return inner_.encode_rpc_request(c, r, s, x, e);
    }
    tern_status encode_rpc_response(const tern_payload_context* c, tern_str r, tern_str er, tern_bytes_sink s,
                                    void* x, tern_error* e) noexcept override {
        return inner_.encode_rpc_response(c, r, er, s, x, e);
    }
    tern_status encode_provision_response(const tern_payload_context* c, const tern_provision_result* r,
                                          tern_bytes_sink s, void* x, tern_error* e) noexcept override {
        return inner_.encode_provision_response(c, r, s, x, e);
    }

protected:
    payload_v1& inner_;

private:
    std::string name_;
    int32_t format_;
};

}  // namespace tern::sdk::testing

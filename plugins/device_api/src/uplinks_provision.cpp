// Provisioning (docs/device-api.md §5.2): no credentials; each adaptor tries the body in turn,
// in the SDK's provisioning order (JSON first, then protobuf when loaded), and the answer uses
// the one that understood it: 2.01 on SUCCESS, 4.00 with the body on NOT_FOUND/FAILURE.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "responder.hpp"
#include "runtime.hpp"
#include "tern/sdk/status.hpp"
#include "uplinks.hpp"

namespace tern::device_api {

namespace {

struct provision_ctx {
    responder* out = nullptr;
    uint64_t exchange = 0;
    payload_v1* codec = nullptr;
    int32_t format = -1;
};

}  // namespace

void uplinks::provision_done(void* ctx, tern_status status, const tern_provision_result* result) noexcept {
    std::unique_ptr<provision_ctx> c(static_cast<provision_ctx*>(ctx));
    responder& out = *c->out;
    if (status != TERN_OK || result == nullptr) {
        char msg[96];
        const int n = std::snprintf(msg, sizeof msg, "provisioning failed: core %s",
                                    sdk::status_name(status != TERN_OK ? status : TERN_INTERNAL));
        out.core_error(c->exchange, action::provision, status,
                       std::string_view(msg, n > 0 ? static_cast<std::size_t>(n) : 0));
        return;
    }
    tern_provision_result res{};
    std::memcpy(&res, result, result->struct_size < sizeof res ? result->struct_size : sizeof res);
    tern_payload_context pc{};
    pc.struct_size = sizeof pc;
    pc.content_format = c->format;
    encoded_answer so{&out, c->exchange, action::provision,
                      res.status == TERN_PROVISION_SUCCESS ? code::created : code::bad_request,
                      c->codec->content_format()};
    tern_error err{};
    c->codec->encode_provision_response(&pc, &res, &encoded_answer::put, &so, &err);
    if (!so.sent)
        out.error(c->exchange, action::provision, code::internal,
                  reason_or(err, "cannot encode the provisioning answer"));
}

void uplinks::provision(const request& v) {
    auto c = std::make_unique<provision_ctx>();
    c->out = &out_;
    c->exchange = v.exchange;
    c->format = v.content_format;
    struct sink_state {
        const core_links* core;
        provision_ctx* c;
        bool called = false;
    } ss{&rt_.w.core, c.get()};
    tern_payload_context pc{};
    pc.struct_size = sizeof pc;
    pc.content_format = v.content_format;
    auto sink = [](void* x, const tern_provision_request* req) {
        auto* s = static_cast<sink_state*>(x);
        s->called = true;
        // The core owns the context from here (it may finish before this returns).
        s->core->provisioning->provision(req, &uplinks::provision_done, s->c);
    };
    // On a syntax or shape error the next adaptor in provisioning order tries; the device
    // gets the first one's reason, with the second's after it when that one was tried too.
    tern_error first_err{};
    int tried = 0;
    const auto& order = rt_.w.adaptors.provisioning_order();
    for (std::size_t i = 0; i < order.size(); ++i) {
        payload_v1* codec = order[i];
        if (codec == nullptr) continue;
        c->codec = codec;
        tern_error err{};
        const tern_status st = codec->decode_provision(&pc, v.payload, sink, &ss, &err);
        if (ss.called) {
            c.release();
            return;
        }
        if (tried++ == 0) {
            first_err = err;
        } else if (tried == 2) {  // say that the next codec did not understand it either
            const std::string_view first = reason_or(first_err, "bad provisioning request");
            const std::string_view next = reason_or(err, "not understood");
            const std::string_view name = sdk::to_sv(codec->name());
            tern_error both{};
            const int n = std::snprintf(both.msg, sizeof both.msg, "%.*s (as %.*s: %.*s)",
                                        static_cast<int>(first.size()), first.data(), static_cast<int>(name.size()),
                                        name.data(), static_cast<int>(next.size()), next.data());
            both.len = n < 0 ? 0 : std::min<uint32_t>(static_cast<uint32_t>(n), sizeof both.msg - 1);
            first_err = both;
        }
        if (st != TERN_INVALID_ARGUMENT) break;
    }
    out_.error(v.exchange, action::provision, code::bad_request, reason_or(first_err, "bad provisioning request"));
}

}  // namespace tern::device_api

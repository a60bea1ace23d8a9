// OTA downloads (docs/device-api.md §6, §0.5): the package assigned to the device, matched against the
// query's title and version, served by range from its file (file_body.hpp) so Block2
// requests read only the block they ask for.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "file_body.hpp"
#include "ota_range.hpp"
#include "path.hpp"
#include "query.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"
#include "uplinks.hpp"

namespace tern::device_api {

namespace {

struct ota_ctx {
    runtime* rt = nullptr;
    responder* out = nullptr;
    uint64_t exchange = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
    std::optional<std::string> title, version;
    int64_t size = 0;
    int64_t chunk = 0;
};

}  // namespace

void uplinks::ota_done(void* ctx, tern_status status, const tern_ota_package* package) noexcept {
    std::unique_ptr<ota_ctx> c(static_cast<ota_ctx*>(ctx));
    runtime& rt = *c->rt;
    responder& out = *c->out;
    const char* what = c->type == TERN_OTA_FIRMWARE ? "firmware" : "software";
    char msg[200];
    auto say = [&](uint8_t code_, const char* fmt, const auto&... a) {
        const int n = std::snprintf(msg, sizeof msg, fmt, a...);
        out.error(c->exchange, action::ota, code_,
                  std::string_view(msg, n > 0 ? std::min<std::size_t>(n, sizeof msg - 1) : 0));
    };
    if (status == TERN_NOT_FOUND) return say(code::not_found, "no %s package is assigned to the device", what);
    if (come_back_later(status))
        return out.busy(c->exchange, action::ota,
                        status == TERN_BUSY ? "cannot look up the package: the core is busy"
                                            : "cannot look up the package: the core cannot be reached now");
    if (status != TERN_OK || package == nullptr)
        return say(code::internal, "cannot look up the %s package: core %s", what,
                   sdk::status_name(status != TERN_OK ? status : TERN_INTERNAL));
    tern_ota_package pkg{};
    std::memcpy(&pkg, package, package->struct_size < sizeof pkg ? package->struct_size : sizeof pkg);
    if (pkg.path.size == 0)
        return say(code::not_found, "the %s package is only available from its URL: %.*s", what,
                   static_cast<int>(std::min<std::size_t>(pkg.url.size, 120)), pkg.url.data == nullptr ? "" : pkg.url.data);
    if (c->title && *c->title != sdk::to_sv(pkg.title))
        return say(code::bad_request, "title '%.*s' is not the assigned %s package's",
                   static_cast<int>(std::min<std::size_t>(c->title->size(), 64)), c->title->c_str(), what);
    if (c->version && *c->version != sdk::to_sv(pkg.version))
        return say(code::bad_request, "version '%.*s' is not the assigned %s package's",
                   static_cast<int>(std::min<std::size_t>(c->version->size(), 64)), c->version->c_str(), what);
    std::string err;
    file_body* body = nullptr;
    try {
        body = file_body::open(std::string(sdk::to_sv(pkg.path)), err);
    } catch (...) {
        err = "out of memory";
    }
    if (body == nullptr) return say(code::internal, "cannot read the %s package: %s", what, err.c_str());
    const byte_range range = ota_slice(body->size(), c->size, c->chunk);
    if (range.length == 0) {
        // A chunk past the end: 2.05 with no payload (docs/device-api.md §0.5), not silence.
        body->release();
        out.answer(c->exchange, action::ota, code::content);
        return;
    }
    body->narrow(range.offset, range.length);
    if (rt.stopping()) {
        body->release();
        return;
    }
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::content;
    r.content_format = -1;
    r.max_age = -1;
    r.body = body;  // the engine releases it
    rt.w.engine->respond(c->exchange, &r, nullptr);
    rt.m.request(action::ota, code::content);
}

void uplinks::ota(const request& v, const route& r, const device_entry& dev) {
    auto c = std::make_unique<ota_ctx>();
    c->rt = &rt_;
    c->out = &out_;
    c->exchange = v.exchange;
    c->type = r.ota;
    if (auto t = query_param(v.query, "title")) c->title.emplace(*t);
    if (auto t = query_param(v.query, "version")) c->version.emplace(*t);
    struct {
        const char* name;
        int64_t* out;
    } ints[] = {{"size", &c->size}, {"chunk", &c->chunk}};
    for (auto& i : ints) {
        const auto text = query_param(v.query, i.name);
        if (!text) continue;
        const auto n = parse_java_int(*text);
        if (!n) {
            // ThingsBoard's Integer.parseInt throws here, which answers 5.00 (docs/device-api.md §6).
            char msg[96];
            const int len = std::snprintf(msg, sizeof msg, "query option %s is not an integer", i.name);
            out_.error(v.exchange, action::ota, code::internal, std::string_view(msg, static_cast<std::size_t>(len)));
            return;
        }
        if (*n < 0) {
            char msg[96];
            const int len = std::snprintf(msg, sizeof msg, "query option %s must not be negative", i.name);
            out_.error(v.exchange, action::ota, code::bad_request, std::string_view(msg, static_cast<std::size_t>(len)));
            return;
        }
        *i.out = *n;
    }
    ota_ctx* raw = c.release();
    rt_.w.core.ota->ota_package(dev.device_id, r.ota, &uplinks::ota_done, raw);
}

}  // namespace tern::device_api

#include "route.hpp"

#include "tern/sdk/views.hpp"

namespace tern::device_api {

namespace {

constexpr uint8_t bad_request = TERN_COAP_CODE(4, 0);
constexpr uint8_t unauthorized = TERN_COAP_CODE(4, 1);
constexpr uint8_t not_found = TERN_COAP_CODE(4, 4);
constexpr uint8_t not_allowed = TERN_COAP_CODE(4, 5);

std::string_view seg(std::span<const tern_str> s, std::size_t i) noexcept { return sdk::to_sv(s[i]); }

classified refuse(uint8_t code, std::string_view why, action k = action::other) noexcept {
    classified c;
    c.error = code;
    c.reason = why;
    c.kind = k;
    return c;
}

classified accept(action a, route r) noexcept {
    classified c;
    r.what = a;
    c.r = r;
    c.kind = a;
    return c;
}

}  // namespace

classified classify(std::span<const tern_str> path, uint8_t method, int32_t observe) noexcept {
    if (observe != 0 && observe != 1) observe = -1;
    if (path.empty()) return refuse(not_found, "no resource");
    const std::string_view top = seg(path, 0);

    // ---- /fw/{token}, /sw/{token} (docs/device-api.md §6): exactly two segments ----
    if (top == "fw" || top == "sw") {
        if (method != TERN_COAP_GET)
            return refuse(not_allowed, "method not allowed; allowed: GET", action::ota);
        if (path.size() != 2)
            return refuse(unauthorized, top == "fw" ? "the firmware download path is /fw/{access token}"
                                                    : "the software download path is /sw/{access token}",
                          action::ota);
        route r;
        r.api = false;
        r.token = seg(path, 1);
        r.ota = top == "fw" ? TERN_OTA_FIRMWARE : TERN_OTA_SOFTWARE;
        return accept(action::ota, r);
    }

    if (top != "api" || path.size() < 2 || seg(path, 1) != "v1") return refuse(not_found, "no resource");
    if (path.size() < 3) return refuse(bad_request, "no feature in the path: /api/v1/{access token}/{feature}");
    const api_path p = parse_api_path(path);
    if (p.what == feature::none) return refuse(bad_request, "unknown feature in the path");
    route r;
    r.token = p.token;

    if (method == TERN_COAP_GET) {
        switch (p.what) {
            case feature::telemetry:
                return refuse(bad_request, "telemetry is sent with POST", action::telemetry);
            case feature::firmware:
            case feature::software:
                r.ota = p.what == feature::firmware ? TERN_OTA_FIRMWARE : TERN_OTA_SOFTWARE;
                return accept(action::ota, r);
            case feature::rpc:
                if (observe == 0) return accept(action::rpc_observe, r);
                // Observe=1 gets what a plain GET would get (docs/device-api.md §0.3).
                return refuse(bad_request, "GET rpc subscribes with Observe=0; server-side RPCs come as notifications",
                              action::rpc_observe);
            case feature::attributes:
                if (observe == 0) return accept(action::attributes_observe, r);
                return accept(action::attributes_get, r);
            default:
                // ThingsBoard treats an Observe GET of any other feature as an attribute
                // subscription (docs/device-api.md §1.3 quirk).
                if (observe == 0) return accept(action::attributes_observe, r);
                return refuse(bad_request, p.what == feature::claim ? "claim is sent with POST"
                                                                    : "provision is sent with POST");
        }
    }
    if (method == TERN_COAP_POST) {
        switch (p.what) {
            case feature::telemetry: return accept(action::telemetry, r);
            case feature::attributes: return accept(action::attributes_post, r);
            case feature::rpc:
                if (p.rpc_id) {
                    r.rpc_id = *p.rpc_id;
                    return accept(action::rpc_reply, r);
                }
                return accept(action::rpc_call, r);
            case feature::claim: return accept(action::claim, r);
            case feature::provision: return accept(action::provision, r);
            case feature::firmware:
            case feature::software:
                return refuse(not_allowed, "method not allowed; allowed: GET", action::ota);
            default: break;
        }
    }
    return refuse(not_allowed, "method not allowed; allowed: GET, POST");
}

}  // namespace tern::device_api

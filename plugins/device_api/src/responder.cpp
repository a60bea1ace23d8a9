#include "responder.hpp"

#include <cstdio>

#include "runtime.hpp"
#include "tern/ratelimit/ratelimit.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

std::string_view reason_or(const tern_error& e, std::string_view fallback) noexcept {
    const std::string_view r = sdk::error_text(e);
    return r.empty() ? fallback : r;
}

void responder::answer(uint64_t exchange, action k, uint8_t c, tern_bytes payload, int32_t format, uint32_t flags,
                       const tern_coap_option* opts, uint32_t nopts, int64_t max_age) noexcept {
    if (rt_.stopping()) return;
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = c;
    r.flags = flags;
    r.content_format = format;
    r.max_age = max_age;
    r.options = opts;
    r.option_count = nopts;
    r.payload = payload;
    rt_.w.engine->respond(exchange, &r, nullptr);
    rt_.m.request(k, c, (flags & TERN_COAP_RESPONSE_SILENT) != 0);
}

void responder::error(uint64_t exchange, action k, uint8_t c, std::string_view text) noexcept {
    answer(exchange, k, c, sdk::to_bytes(text));
}

void responder::limited(uint64_t exchange, action k, uint64_t wait_ns, std::string_view text) noexcept {
    answer(exchange, k, code::too_many, sdk::to_bytes(text), -1, 0, nullptr, 0, ratelimit::retry_seconds(wait_ns));
}

void responder::busy(uint64_t exchange, action k, std::string_view text) noexcept {
    answer(exchange, k, code::unavailable, sdk::to_bytes(text), -1, 0, nullptr, 0, rt_.s.busy_max_age_s);
}

void responder::core_error(uint64_t exchange, action k, tern_status status, std::string_view text) noexcept {
    if (come_back_later(status)) busy(exchange, k, text);
    else if (status == TERN_INVALID_ARGUMENT) error(exchange, k, code::bad_request, text);  // refused as sent
    else error(exchange, k, code::internal, text);
}

void responder::too_large(uint64_t exchange, action k, uint64_t size, uint32_t lim) noexcept {
    uint8_t size1[4];
    size1[0] = static_cast<uint8_t>(lim >> 24);
    size1[1] = static_cast<uint8_t>(lim >> 16);
    size1[2] = static_cast<uint8_t>(lim >> 8);
    size1[3] = static_cast<uint8_t>(lim);
    std::size_t skip = 0;
    while (skip < 3 && size1[skip] == 0) ++skip;
    const tern_coap_option opt{TERN_COAP_OPT_SIZE1, 0, 0, tern_bytes{size1 + skip, 4 - skip}};
    char text[96];
    const int n = std::snprintf(text, sizeof text, "request body of %zu bytes exceeds max_payload_size (%u bytes)",
                                static_cast<std::size_t>(size), lim);
    rt_.m.payload_too_large.inc();
    answer(exchange, k, code::too_large,
           tern_bytes{reinterpret_cast<const uint8_t*>(text), n > 0 ? static_cast<std::size_t>(n) : 0}, -1, 0, &opt,
           1);
}

void responder::silent(uint64_t exchange, action k) noexcept {
    answer(exchange, k, code::content, {}, -1, TERN_COAP_RESPONSE_SILENT);
}

}  // namespace tern::device_api

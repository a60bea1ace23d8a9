// How the device API answers a request: the CoAP codes it uses, and every answer counted in
// device_api_requests_total{feature,code}. Errors carry a short text saying why.
#pragma once

#include <cstdint>
#include <string_view>

#include "action.hpp"
#include "tern/abi/coap.h"
#include "tern/abi/status.h"

namespace tern::device_api {

class runtime;

namespace code {
constexpr uint8_t created = TERN_COAP_CODE(2, 1);
constexpr uint8_t deleted = TERN_COAP_CODE(2, 2);
constexpr uint8_t valid = TERN_COAP_CODE(2, 3);
constexpr uint8_t content = TERN_COAP_CODE(2, 5);
constexpr uint8_t bad_request = TERN_COAP_CODE(4, 0);
constexpr uint8_t unauthorized = TERN_COAP_CODE(4, 1);
constexpr uint8_t not_found = TERN_COAP_CODE(4, 4);
constexpr uint8_t too_large = TERN_COAP_CODE(4, 13);
constexpr uint8_t too_many = TERN_COAP_CODE(4, 29);  // RFC 8516
constexpr uint8_t internal = TERN_COAP_CODE(5, 0);
constexpr uint8_t unavailable = TERN_COAP_CODE(5, 3);
}  // namespace code

// An adaptor's or the core's reason, or fallback when it gave none.
std::string_view reason_or(const tern_error& e, std::string_view fallback) noexcept;

// A core status that means "try again later" rather than "this failed": the core is busy, or a
// remote core cannot be reached now or did not answer in time. Devices get 5.03 with Max-Age.
constexpr bool come_back_later(tern_status s) noexcept {
    return s == TERN_BUSY || s == TERN_UNAVAILABLE || s == TERN_TIMEOUT;
}

class responder {
public:
    explicit responder(runtime& rt) : rt_(rt) {}

    // Nothing is sent once the plugin stops. [any-thread]
    void answer(uint64_t exchange, action k, uint8_t code, tern_bytes payload = {}, int32_t format = -1,
                uint32_t flags = 0, const tern_coap_option* opts = nullptr, uint32_t nopts = 0,
                int64_t max_age = -1) noexcept;
    void error(uint64_t exchange, action k, uint8_t code, std::string_view text) noexcept;
    // 4.29 Too Many Requests (RFC 8516) with Max-Age: when the limit lets the request pass.
    void limited(uint64_t exchange, action k, uint64_t wait_ns, std::string_view text) noexcept;
    // 5.03 with Max-Age busy_max_age: the core's queues are full.
    void busy(uint64_t exchange, action k, std::string_view text) noexcept;
    // The core's failure as the device sees it: 5.03 + Max-Age when busy or unreachable
    // (come_back_later), 4.00 when it
    // refused what was sent, else 5.00.
    void core_error(uint64_t exchange, action k, tern_status status, std::string_view text) noexcept;
    // 4.13 with the largest body taken in Size1 (RFC 7959 §4).
    void too_large(uint64_t exchange, action k, uint64_t size, uint32_t limit) noexcept;
    // No response at all: only the empty ACK.
    void silent(uint64_t exchange, action k) noexcept;

private:
    runtime& rt_;
};

// An encoder's output sink (tern_bytes_sink) that answers the request with the bytes.
struct encoded_answer {
    responder* out;
    uint64_t exchange;
    action kind;
    uint8_t code;
    int32_t format;
    bool sent = false;

    static void put(void* ctx, tern_bytes b) noexcept {
        auto* s = static_cast<encoded_answer*>(ctx);
        s->sent = true;
        s->out->answer(s->exchange, s->kind, s->code, b, s->format);
    }
};

}  // namespace tern::device_api

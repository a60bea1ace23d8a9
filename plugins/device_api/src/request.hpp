// A request as the device API reads it, and an owned copy of one. On the hot path a
// `request` is views into the engine's tern_coap_request (valid during on_request only).
// When authentication has to wait for the core, the request is copied into an
// owned_request, which the waiting work owns; its view() points into that copy.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/coap.h"

namespace tern::device_api {

struct request {
    uint64_t exchange = 0;
    uint32_t shard = 0;
    uint8_t type = TERN_COAP_CON;
    uint8_t method = 0;
    int32_t observe = -1;
    int32_t content_format = -1;
    tern_bytes coap_token{};
    tern_peer peer{};
    std::string_view transport;
    std::span<const tern_str> path;
    std::span<const tern_str> query;
    tern_bytes payload{};
};

// The engine's request as views (shard clamped to the shard count).
request view_of(const tern_coap_request& req, uint32_t shard_count) noexcept;

// A copy of a request. It neither copies nor moves (its view points into itself): keep it
// where it was built, e.g. inside a heap object owned by a unique_ptr.
class owned_request {
public:
    explicit owned_request(const request& v);
    owned_request(const owned_request&) = delete;
    owned_request& operator=(const owned_request&) = delete;

    // LIFETIME: this object's.
    const request& view() const noexcept { return view_; }

private:
    std::string coap_token_;
    std::string transport_;
    std::vector<std::string> path_text_, query_text_;
    std::vector<tern_str> path_, query_;
    std::string payload_;
    request view_;
};

}  // namespace tern::device_api

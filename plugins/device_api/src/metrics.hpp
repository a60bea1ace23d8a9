// The plugin's metrics. Every handle is a no-op when no metrics service is given (tests).
#pragma once

#include <array>
#include <cstdint>

#include "tern/abi/coap.h"
#include "tern/abi/host.h"

namespace tern::device_api {

// What a request was, for device_api_requests_total{feature}.
enum class req_kind : uint8_t {
    telemetry,
    attributes,
    attributes_get,
    attributes_observe,
    rpc_observe,
    rpc_reply,
    rpc_call,
    claim,
    provision,
    ota,
    other,
    count_
};

// The response codes the plugin sends, for device_api_requests_total{code}.
enum class code_slot : uint8_t {
    c201, c203, c205, c400, c401, c404, c405, c413, c429, c500, c503, none, other, count_
};

code_slot slot_of(uint8_t code, bool silent) noexcept;

enum class dl_kind : uint8_t { attributes, rpc, count_ };
enum class dl_result : uint8_t { sent, delivered, merged, timeout, dropped, reset, failed, count_ };

struct handle {
    metrics_v1* m = nullptr;
    uint64_t id = 0;
    void inc(uint64_t n = 1) const noexcept { if (m) m->count(id, n); }
    void add(int64_t d) const noexcept { if (m) m->gauge_add(id, d); }
};

struct metrics {
    std::array<std::array<handle, static_cast<size_t>(code_slot::count_)>,
               static_cast<size_t>(req_kind::count_)> requests{};
    handle token_hits, token_misses, token_evictions, token_entries;
    handle session_hits, session_misses, session_evictions, session_entries;
    handle auth_ok, auth_unknown, auth_error;
    std::array<handle, 2> observations{};  // attributes, rpc
    handle states, states_refused, states_expired, states_evicted, sessions;
    std::array<std::array<handle, static_cast<size_t>(dl_result::count_)>, 2> downlinks{};
    handle rpc_sent, rpc_delivered, rpc_timeout, rpc_failed, rpc_replies, rpc_refused;
    handle client_rpc_ok, client_rpc_timeout, client_rpc_error;
    handle payload_too_large, activity_reports;
    // rate limits (ratelimit.hpp): device_api_rate_limited_total{limit}
    handle limited_provision, limited_token, limited_messages, limited_datapoints;
    handle source_evictions, source_buckets;
    // the negative token cache: device_api_auth_cache_*{cache="unknown_token"}
    handle unknown_hits, unknown_evictions, unknown_entries;

    // Registers everything; throws on a refused registration. m may be null.
    void init(metrics_v1* m);

    void request(req_kind k, uint8_t code, bool silent = false) const noexcept {
        requests[static_cast<size_t>(k)][static_cast<size_t>(slot_of(code, silent))].inc();
    }
    void downlink(dl_kind k, dl_result r) const noexcept {
        downlinks[static_cast<size_t>(k)][static_cast<size_t>(r)].inc();
    }
};

}  // namespace tern::device_api

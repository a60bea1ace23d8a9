// The plugin's metrics (sdk::metric sdk::metrics). Every one is a no-op when no metrics service
// is given (tests).
#pragma once

#include <array>
#include <cstdint>

#include "tern/abi/coap.h"
#include "action.hpp"
#include "tern/abi/host.h"
#include "tern/sdk/host.hpp"

namespace tern::device_api {

// The response codes the plugin sends, for device_api_requests_total{code}.
enum class code_slot : uint8_t {
    c201, c203, c205, c400, c401, c404, c405, c413, c429, c500, c503, none, other, count_
};

code_slot slot_of(uint8_t code, bool silent) noexcept;

enum class dl_kind : uint8_t { attributes, rpc, count_ };
enum class dl_result : uint8_t { sent, delivered, merged, timeout, dropped, reset, failed, count_ };

struct metrics {
    std::array<std::array<sdk::metric, static_cast<size_t>(code_slot::count_)>,
               static_cast<size_t>(action::count_)> requests{};
    sdk::metric token_hits, token_misses, token_evictions, token_entries;
    sdk::metric session_hits, session_misses, session_evictions, session_entries;
    sdk::metric auth_ok, auth_unknown, auth_error;
    std::array<sdk::metric, 2> observations{};  // attributes, rpc
    sdk::metric states, states_refused, states_expired, states_evicted, sessions;
    std::array<std::array<sdk::metric, static_cast<size_t>(dl_result::count_)>, 2> downlinks{};
    sdk::metric rpc_sent, rpc_delivered, rpc_timeout, rpc_failed, rpc_replies, rpc_refused;
    sdk::metric client_rpc_ok, client_rpc_timeout, client_rpc_error;
    sdk::metric payload_too_large, activity_reports;
    // rate limits (libs/ratelimit): device_api_rate_limited_total{limit}
    sdk::metric limited_provision, limited_token, limited_messages, limited_datapoints;
    sdk::metric source_evictions, source_buckets;
    // power saving: devices of a sleeping mode by state (awake, asleep), RPCs and updates held
    // for them, downlinks held by kind, bounds hit, wake-to-delivery latency (seconds)
    std::array<sdk::metric, 2> power_devices{};
    sdk::metric held_rpcs, held_updates;
    std::array<sdk::metric, 2> held{};
    sdk::metric held_limit_rpcs, held_limit_update;
    sdk::metric wake_delivery;
    // the negative token cache: device_api_auth_cache_*{cache="unknown_token"}
    sdk::metric unknown_hits, unknown_evictions, unknown_entries;

    // Registers everything through the host; throws on a refused registration. h may be
    // null (tests): every handle is then a no-op.
    void init(const sdk::host* h);

    void request(action k, uint8_t code, bool silent = false) const noexcept {
        requests[static_cast<size_t>(k)][static_cast<size_t>(slot_of(code, silent))].inc();
    }
    void downlink(dl_kind k, dl_result r) const noexcept {
        downlinks[static_cast<size_t>(k)][static_cast<size_t>(r)].inc();
    }
};

}  // namespace tern::device_api

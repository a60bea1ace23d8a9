// The entries of a shard's authentication caches: access token -> device and DTLS session
// -> device, each with the device's meter on that shard (so the hot path finds identity,
// rate limits and the activity throttle with one lookup).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "device.hpp"
#include "tern/ratelimit/ratelimit.hpp"

namespace tern::device_api {

using tern::ratelimit::token_bucket;

// What a shard keeps per authenticated device beside its identity: the activity-report
// throttle and the device's rate-limit buckets on this shard.
struct device_meter {
    uint64_t last_report_ns = 0;  // activity rate limit for this device on this shard
    token_bucket messages;
    token_bucket datapoints;
};

struct token_val {
    std::shared_ptr<const device_entry> dev;
    device_meter meter;
};

struct session_key {
    uint32_t transport = 0;
    uint64_t session = 0;
    bool operator==(const session_key&) const noexcept = default;
};
struct session_hash {
    std::size_t operator()(const session_key& k) const noexcept {
        return std::hash<uint64_t>{}(k.session * 0x9E3779B97F4A7C15ull ^ k.transport);
    }
};
struct session_val {
    std::shared_ptr<const device_entry> dev;  // null: the session has no usable identity
    device_meter meter;
};

}  // namespace tern::device_api

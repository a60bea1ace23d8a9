// The node-local credential cache: (credential kind, value) -> device record and PSK identity
// -> (device, key), each an LRU bounded by auth_cache_size with a TTL of auth_cache_ttl, and
// grouped by device id so that forget(device) drops everything known about a device at once
// (a DeviceEvent broadcast by a core node: credentials changed, device deleted, updated).
//
// Only answers TERN_OK are kept (a credential created later must work at once). A reply that
// was requested before a forget() may already be stale, so put() takes the epoch read when
// the request was sent and keeps nothing when a forget() happened since.
//
// Threads: every call from any thread; one mutex, never held while a caller's completion runs
// (lookups hand out shared_ptrs).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/core_capabilities.h"
#include "tern/lru/lru_map.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_nats {

// A deep copy of a tern_device_record: the record's views point into texts.
class owned_record {
public:
    explicit owned_record(const tern_device_record& r);
    owned_record(const owned_record&) = delete;
    owned_record& operator=(const owned_record&) = delete;
    const tern_device_record& record() const noexcept { return record_; }

private:
    tern_str keep(tern_str s);
    tern_bytes keep(tern_bytes b);

    tern_device_record record_{};
    std::vector<tern_kv> options_;
    std::deque<std::string> texts_;  // a deque never moves its elements
};

struct psk_entry {
    uint64_t device_id = 0;
    std::string key;
};

class auth_cache {
public:
    // capacity 0: nothing is kept.
    auth_cache(std::size_t capacity, std::chrono::milliseconds ttl);

    void set_metrics(sdk::metric entries, sdk::metric hits) {
        entries_ = entries;
        hits_ = hits;
    }

    // Read before sending a request whose answer may be put().
    uint64_t epoch() const;

    std::shared_ptr<const owned_record> find(tern_credential_kind kind, std::string_view value);
    void put(tern_credential_kind kind, std::string_view value, const tern_device_record& record,
             uint64_t epoch_at_request) noexcept;

    std::shared_ptr<const psk_entry> find_psk(std::string_view identity);
    // Out of memory: nothing is kept (never throws: it runs on a nats.c thread).
    void put_psk(std::string_view identity, uint64_t device_id, tern_bytes key, uint64_t epoch_at_request) noexcept;

    // Drops every credential and identity of the device. [any-thread]
    void forget(uint64_t device_id);
    // Drops everything (a core node restarted and may have lost or changed anything).
    void clear();

    std::size_t size() const;

private:
    static std::string key_of(tern_credential_kind kind, std::string_view value);
    uint64_t now_ns() const;
    void update_gauge();  // under mu_

    using record_map = lru::lru_map<std::string, std::shared_ptr<const owned_record>, lru::string_hash>;
    using psk_map = lru::lru_map<std::string, std::shared_ptr<const psk_entry>, lru::string_hash>;

    const std::chrono::milliseconds ttl_;
    mutable std::mutex mu_;
    record_map records_;
    psk_map psks_;
    uint64_t epoch_ = 0;
    sdk::metric entries_, hits_;
};

}  // namespace tern::core_nats

// Authentication: (credential kind, value) -> the device with everything a transport needs
// (tern_device_info), answered from an LRU cache bounded by credential_cache_size, or read
// on a reader thread. Entries are dropped when a credential, the device or its profile
// changes; an epoch check keeps a read that raced with such a change out of the cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core_parts.hpp"
#include "tern/lru/lru_map.hpp"

namespace tern::core_embedded {

class auth_cache {
public:
    struct device_record;  // a resolved tern_device_info with its owned text
    struct profile_part;   // what records of one profile revision share

    explicit auth_cache(core_parts& parts) : p_(parts) {}

    // Start-up: an empty cache of at most `capacity` credentials (0: no cache).
    void configure(size_t capacity);

    // core_v1::authenticate (the caller checked that the core runs).
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done, void* ctx) noexcept;

    void forget_device(uint64_t device_id);
    void clear();

    size_t entries();
    uint64_t hits() const noexcept { return hits_.load(); }
    uint64_t misses() const noexcept { return misses_.load(); }
    // Cached credentials and the bytes they hold (core_memory_bytes{table="auth_cache"}).
    std::pair<size_t, size_t> memory();

private:
    std::shared_ptr<const device_record> find(const std::string& key);
    void insert(const std::string& key, std::shared_ptr<device_record> rec, uint64_t epoch);
    std::shared_ptr<device_record> load_record(db::connection& c, tern_credential_kind kind, std::string_view id);
    template <class Make>
    std::shared_ptr<const profile_part> shared_profile(uint64_t profile_id, uint64_t revision, Make&& make);

    core_parts& p_;
    // (kind, value) -> device, grouped by device id; entries never expire.
    using cache_map = lru::lru_map<std::string, std::shared_ptr<const device_record>, lru::string_hash>;
    std::mutex mutex_;
    std::unique_ptr<cache_map> cache_;
    uint64_t epoch_ = 0;
    std::unordered_map<uint64_t, std::weak_ptr<const profile_part>> profiles_;  // by profile id
    std::atomic<int64_t> record_bytes_{0};  // cached records' own bytes
    std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace tern::core_embedded

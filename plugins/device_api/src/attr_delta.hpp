// Shared-attribute changes waiting to reach an observer (docs/device-api.md §0.2, §3.2). Changes are
// merged per key, the newer one winning: a set after a delete is a set, a delete after a
// set is a delete (and deletions are kept, never merged away). Each change carries the
// sequence number of the notification that first had to carry it; once the engine reports
// notification n DELIVERED, every key whose latest change is <= n has reached the device
// and leaves. A newer notification always carries everything still pending, so the engine
// may replace a queued one with it (TERN_COAP_NOTIFY_MERGEABLE) without losing anything.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "owned_value.hpp"
#include "tern/abi/types.h"

namespace tern::device_api {

class attr_delta {
public:
    // One change set from the core, as change number seq (increasing).
    void apply(const tern_kv* updated, uint32_t updated_count, const tern_str* deleted,
               uint32_t deleted_count, uint64_t seq);
    void set(std::string_view key, const tern_value& v, uint64_t seq);
    void remove(std::string_view key, uint64_t seq);
    // Notification seq was delivered: drop what it carried that nothing newer replaced.
    void delivered(uint64_t seq);
    // Every change of other, as change number seq.
    void merge_from(const attr_delta& other, uint64_t seq);
    // Keeps only the deletions (a held update past its byte bound: the values are read anew
    // from the core when the device wakes).
    void drop_values();
    // Forgets the key's pending change, whatever it was.
    void forget(std::string_view key);
    // While the values are dropped: other's deletions are kept as change number seq, and a
    // key other sets forgets its pending deletion (the read on wake has its value).
    void merge_deletions_from(const attr_delta& other, uint64_t seq);
    // Values read from the core (read's sets) as change number seq, except keys changed
    // after change number since (those changes are newer than the read).
    void merge_read(const attr_delta& read, uint64_t seq, uint64_t since);
    void clear() noexcept {
        entries_.reset();
        bytes_ = 0;
    }
    bool empty() const noexcept { return !entries_ || entries_->empty(); }
    std::size_t size() const noexcept { return entries_ ? entries_->size() : 0; }
    // The keys and values pending, in bytes (a number counts 8, a deletion its key).
    std::size_t bytes() const noexcept { return bytes_; }
    // The heap it holds (map nodes with their keys and owned values), for the memory metric.
    std::size_t heap_bytes() const noexcept;
    // The newest change number pending (0 when empty).
    uint64_t newest() const noexcept;

    // Views of everything pending, for encoding. LIFETIME: until the next change.
    void view(std::vector<tern_kv>& updated, std::vector<tern_str>& deleted) const;

private:
    struct entry {
        owned_value value;
        bool deleted = false;
        uint64_t seq = 0;
        std::size_t bytes = 0;  // its key and value
    };
    using map = std::map<std::string, entry, std::less<>>;
    map::iterator erase(map::iterator it) noexcept;
    // The map, made by the first change (an idle device's delta is one null pointer).
    map& entries();
    // Frees the map once nothing is pending.
    void release_if_empty() noexcept {
        if (entries_ && entries_->empty()) entries_.reset();
    }
    template <class F>
    void each(F&& f) const {
        if (entries_)
            for (const auto& [k, e] : *entries_) f(k, e);
    }
    // Sorted by key: notifications list keys in a stable order.
    std::unique_ptr<map> entries_;
    std::size_t bytes_ = 0;
};

}  // namespace tern::device_api

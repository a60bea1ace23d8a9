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
    void clear() noexcept { entries_.clear(); }
    bool empty() const noexcept { return entries_.empty(); }
    std::size_t size() const noexcept { return entries_.size(); }
    // The newest change number pending (0 when empty).
    uint64_t newest() const noexcept;

    // Views of everything pending, for encoding. LIFETIME: until the next change.
    void view(std::vector<tern_kv>& updated, std::vector<tern_str>& deleted) const;

private:
    struct entry {
        owned_value value;
        bool deleted = false;
        uint64_t seq = 0;
    };
    // Sorted by key: notifications list keys in a stable order.
    std::map<std::string, entry, std::less<>> entries_;
};

}  // namespace tern::device_api

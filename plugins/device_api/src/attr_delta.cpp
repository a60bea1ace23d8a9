#include "attr_delta.hpp"

namespace tern::device_api {

void attr_delta::set(std::string_view key, const tern_value& v, uint64_t seq) {
    auto it = entries_.find(key);
    if (it == entries_.end()) it = entries_.emplace(std::string(key), entry{}).first;
    it->second.value.assign(v);
    it->second.deleted = false;
    it->second.seq = seq;
}

void attr_delta::remove(std::string_view key, uint64_t seq) {
    auto it = entries_.find(key);
    if (it == entries_.end()) it = entries_.emplace(std::string(key), entry{}).first;
    it->second.value = owned_value{};
    it->second.deleted = true;
    it->second.seq = seq;
}

void attr_delta::apply(const tern_kv* updated, uint32_t updated_count, const tern_str* deleted,
                       uint32_t deleted_count, uint64_t seq) {
    // Within one change set a key is either updated or deleted; deletions go first so a
    // set of the same key (should a core send both) wins as the later fact.
    for (uint32_t i = 0; i < deleted_count; ++i) remove(sdk::to_sv(deleted[i]), seq);
    for (uint32_t i = 0; i < updated_count; ++i) {
        // A null value carries nothing a device could store: treat it as a deletion.
        if (updated[i].value.type == TERN_VALUE_NULL) remove(sdk::to_sv(updated[i].key), seq);
        else set(sdk::to_sv(updated[i].key), updated[i].value, seq);
    }
}

void attr_delta::delivered(uint64_t seq) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.seq <= seq) it = entries_.erase(it);
        else ++it;
    }
}

void attr_delta::merge_from(const attr_delta& other, uint64_t seq) {
    for (const auto& [k, e] : other.entries_) {
        if (e.deleted) remove(k, seq);
        else set(k, e.value.view(), seq);
    }
}

uint64_t attr_delta::newest() const noexcept {
    uint64_t n = 0;
    for (const auto& [k, e] : entries_)
        if (e.seq > n) n = e.seq;
    return n;
}

void attr_delta::view(std::vector<tern_kv>& updated, std::vector<tern_str>& deleted) const {
    updated.clear();
    deleted.clear();
    for (const auto& [k, e] : entries_) {
        if (e.deleted) deleted.push_back(sdk::to_str(k));
        else updated.push_back(tern_kv{sdk::to_str(k), e.value.view()});
    }
}

}  // namespace tern::device_api

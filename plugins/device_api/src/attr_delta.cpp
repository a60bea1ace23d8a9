#include "attr_delta.hpp"

namespace tern::device_api {

namespace {

std::size_t value_bytes(const tern_value& v) noexcept {
    switch (v.type) {
        case TERN_VALUE_STR:
        case TERN_VALUE_JSON: return v.u.s.size;
        case TERN_VALUE_BYTES: return v.u.bytes.size;
        default: return 8;
    }
}

}  // namespace

attr_delta::map& attr_delta::entries() {
    if (!entries_) entries_ = std::make_unique<map>();
    return *entries_;
}

attr_delta::map::iterator attr_delta::erase(map::iterator it) noexcept {
    bytes_ -= it->second.bytes;
    return entries_->erase(it);
}

std::size_t attr_delta::heap_bytes() const noexcept {
    if (!entries_) return 0;
    // The map object, and per entry its node (key, value, links) and what key and value own
    // beyond their inline storage (bytes_ counts those, a number as 8).
    constexpr std::size_t node = sizeof(map::value_type) + 4 * sizeof(void*);
    return sizeof(map) + entries_->size() * node + bytes_;
}

void attr_delta::set(std::string_view key, const tern_value& v, uint64_t seq) {
    map& m = entries();
    auto it = m.find(key);
    if (it == m.end()) it = m.emplace(std::string(key), entry{}).first;
    it->second.value.assign(v);
    it->second.deleted = false;
    it->second.seq = seq;
    bytes_ -= it->second.bytes;
    it->second.bytes = key.size() + value_bytes(v);
    bytes_ += it->second.bytes;
}

void attr_delta::remove(std::string_view key, uint64_t seq) {
    map& m = entries();
    auto it = m.find(key);
    if (it == m.end()) it = m.emplace(std::string(key), entry{}).first;
    it->second.value = owned_value{};
    it->second.deleted = true;
    it->second.seq = seq;
    bytes_ -= it->second.bytes;
    it->second.bytes = key.size();
    bytes_ += it->second.bytes;
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
    if (!entries_) return;
    for (auto it = entries_->begin(); it != entries_->end();) {
        if (it->second.seq <= seq) it = erase(it);
        else ++it;
    }
    release_if_empty();
}

void attr_delta::merge_from(const attr_delta& other, uint64_t seq) {
    other.each([&](const std::string& k, const entry& e) {
        if (e.deleted) remove(k, seq);
        else set(k, e.value.view(), seq);
    });
}

void attr_delta::drop_values() {
    if (!entries_) return;
    for (auto it = entries_->begin(); it != entries_->end();) {
        if (!it->second.deleted) it = erase(it);
        else ++it;
    }
    release_if_empty();
}

void attr_delta::forget(std::string_view key) {
    if (!entries_) return;
    if (auto it = entries_->find(key); it != entries_->end()) erase(it);
    release_if_empty();
}

void attr_delta::merge_deletions_from(const attr_delta& other, uint64_t seq) {
    other.each([&](const std::string& k, const entry& e) {
        if (e.deleted) remove(k, seq);
        else forget(k);
    });
}

void attr_delta::merge_read(const attr_delta& read, uint64_t seq, uint64_t since) {
    read.each([&](const std::string& k, const entry& e) {
        if (e.deleted) return;
        if (entries_)
            if (auto it = entries_->find(k); it != entries_->end() && it->second.seq > since) return;
        set(k, e.value.view(), seq);
    });
}

uint64_t attr_delta::newest() const noexcept {
    uint64_t n = 0;
    each([&](const std::string&, const entry& e) {
        if (e.seq > n) n = e.seq;
    });
    return n;
}

void attr_delta::view(std::vector<tern_kv>& updated, std::vector<tern_str>& deleted) const {
    updated.clear();
    deleted.clear();
    each([&](const std::string& k, const entry& e) {
        if (e.deleted) deleted.push_back(sdk::to_str(k));
        else updated.push_back(tern_kv{sdk::to_str(k), e.value.view()});
    });
}

}  // namespace tern::device_api

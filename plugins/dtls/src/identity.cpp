#include "identity.hpp"

#include <algorithm>
#include <cstring>

#include "hash_mix.hpp"
#include "memory.hpp"

namespace tern::dtls {

identity_store::key identity_store::ticket_key(uint64_t ref) noexcept {
    key k;
    k.len = 9;
    k.bytes[0] = 't';
    std::memcpy(k.bytes + 1, &ref, 8);
    return k;
}

identity_store::key identity_store::session_key(std::span<const uint8_t> id) noexcept {
    key k;
    const size_t n = std::min(id.size(), key_max - 1);  // session IDs are at most 32 bytes
    k.len = static_cast<uint8_t>(1 + n);
    k.bytes[0] = 's';
    if (n != 0) std::memcpy(k.bytes + 1, id.data(), n);
    return k;
}

identity_store::key identity_store::key_of(const entry& e) noexcept {
    key k;
    k.len = e.len;
    std::memcpy(k.bytes, e.key, e.len);
    return k;
}

uint64_t identity_store::hash(const uint8_t* k, size_t len) noexcept {
    uint64_t h = mix(len);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = 0;
        std::memcpy(&w, k + i, std::min<size_t>(8, len - i));
        h = mix(h ^ w);
    }
    return h;
}

bool identity_store::same(const entry& e, const key& k) const noexcept {
    return e.len == k.len && std::memcmp(e.key, k.bytes, k.len) == 0;
}

uint32_t identity_store::find(const key& k) const noexcept {
    if (index_.empty()) return none;
    const size_t mask = index_.size() - 1;
    for (size_t i = hash(k.bytes, k.len) & mask;; i = (i + 1) & mask) {
        const uint32_t slot = index_[i];
        if (slot == none) return none;
        if (same(slots_[slot], k)) return static_cast<uint32_t>(i);
    }
}

void identity_store::grow_index() {
    std::vector<uint32_t> old = std::move(index_);
    index_.assign(old.empty() ? 64 : old.size() * 2, none);
    for (uint32_t slot : old)
        if (slot != none) index_insert(slot);
}

void identity_store::index_insert(uint32_t slot) {
    const size_t mask = index_.size() - 1;
    size_t i = hash(slots_[slot].key, slots_[slot].len) & mask;
    while (index_[i] != none) i = (i + 1) & mask;
    index_[i] = slot;
}

void identity_store::index_erase(uint32_t pos) noexcept {
    // Backward shift: later entries of the probe run move up so that no search stops early.
    const size_t mask = index_.size() - 1;
    size_t hole = pos;
    for (size_t j = (hole + 1) & mask; index_[j] != none; j = (j + 1) & mask) {
        const entry& e = slots_[index_[j]];
        const size_t home = hash(e.key, e.len) & mask;
        // j's entry may fill the hole unless its home lies cyclically in (hole, j]
        const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        index_[hole] = index_[j];
        hole = j;
    }
    index_[hole] = none;
}

void identity_store::unlink(uint32_t slot) noexcept {
    entry& e = slots_[slot];
    if (e.older != none) slots_[e.older].newer = e.newer; else oldest_ = e.newer;
    if (e.newer != none) slots_[e.newer].older = e.older; else newest_ = e.older;
    e.older = e.newer = none;
}

void identity_store::push_newest(uint32_t slot) noexcept {
    entry& e = slots_[slot];
    e.older = newest_;
    e.newer = none;
    if (newest_ != none) slots_[newest_].newer = slot; else oldest_ = slot;
    newest_ = slot;
}

void identity_store::erase(uint32_t pos) noexcept {
    const uint32_t slot = index_[pos];
    index_erase(pos);
    unlink(slot);
    entry& e = slots_[slot];
    if (e.who) identity_bytes_ -= identity_heap(*e.who);
    e.who.reset();
    e.len = 0;
    e.newer = free_;
    free_ = slot;
    --count_;
}

void identity_store::put(const key& k, identity_ptr who, uint64_t now_ns) {
    if (capacity_ == 0) return;
    std::lock_guard lk(mu_);
    if (const uint32_t pos = find(k); pos != none) erase(pos);
    while (count_ >= capacity_ && oldest_ != none) {
        const entry& o = slots_[oldest_];
        erase(find(key_of(o)));
    }
    if ((count_ + 1) * 2 > index_.size()) grow_index();
    uint32_t slot = free_;
    if (slot != none) {
        free_ = slots_[slot].newer;
    } else {
        // grown by doubling, never past the capacity
        if (slots_.size() == slots_.capacity())
            slots_.reserve(std::min(capacity_, std::max<size_t>(64, slots_.size() * 2)));
        slots_.emplace_back();
        slot = static_cast<uint32_t>(slots_.size() - 1);
    }
    entry& e = slots_[slot];
    e.len = k.len;
    std::memcpy(e.key, k.bytes, k.len);
    e.expires_ns = now_ns + lifetime_ns_;
    if (who) identity_bytes_ += identity_heap(*who);
    e.who = std::move(who);
    push_newest(slot);
    index_insert(slot);
    ++count_;
}

identity_ptr identity_store::get(const key& k, uint64_t now_ns) {
    std::lock_guard lk(mu_);
    const uint32_t pos = find(k);
    if (pos == none) return nullptr;
    const uint32_t slot = index_[pos];
    if (slots_[slot].expires_ns <= now_ns) {
        erase(pos);
        return nullptr;
    }
    unlink(slot);  // used: most recent
    push_newest(slot);
    return slots_[slot].who;
}

uint64_t identity_store::add_ticket(identity_ptr who, uint64_t now_ns) {
    if (capacity_ == 0) return 0;
    uint64_t ref;
    {
        std::lock_guard lk(mu_);
        ref = ++next_ref_;
    }
    put(ticket_key(ref), std::move(who), now_ns);
    return ref;
}

identity_ptr identity_store::ticket(uint64_t ref, uint64_t now_ns) {
    return ref == 0 ? nullptr : get(ticket_key(ref), now_ns);
}

void identity_store::add_session_id(std::span<const uint8_t> id, identity_ptr who, uint64_t now_ns) {
    if (!id.empty()) put(session_key(id), std::move(who), now_ns);
}

identity_ptr identity_store::session_id(std::span<const uint8_t> id, uint64_t now_ns) {
    return id.empty() ? nullptr : get(session_key(id), now_ns);
}

size_t identity_store::size() {
    std::lock_guard lk(mu_);
    return count_;
}

size_t identity_store::bytes() {
    std::lock_guard lk(mu_);
    return (slots_.capacity() ? chunk(slots_.capacity() * sizeof(entry)) : 0) +
           (index_.capacity() ? chunk(index_.capacity() * sizeof(uint32_t)) : 0) + identity_bytes_;
}

}  // namespace tern::dtls

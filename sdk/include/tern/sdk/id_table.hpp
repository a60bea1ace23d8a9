// id_table<V>: a flat hash map from a 64-bit id (a device id, an observation id) to a small
// value, for the tables that hold one entry per device. One array of {id, V} slots, open
// addressing with linear probing and backward-shift deletion (no tombstones): no node and no
// allocation per entry, 8 bytes of key beside V.
//
// Policy (one for every user):
//  - the id 0 is reserved as the empty slot's key: device ids (SQLite row ids) and the CoAP
//    engine's observation ids are never 0. try_emplace(0) is refused (null), find(0) and
//    erase(0) find nothing;
//  - Fibonacci hashing, mapped onto the array by its top bits (multiply-shift over any
//    capacity), so consecutive ids spread over the whole array;
//  - at most 7/8 full: past that it grows by half (to 7/12), and it halves when it falls
//    below 1/8 of a table larger than 1024 slots, so a table that emptied gives its memory
//    back. Growing by half rather than doubling keeps the load between 7/12 and 7/8 at any
//    population: a doubling table holding 1 000 000 entries (just past 7/8 of 2^20) would be
//    half empty. A slot costs sizeof(slot) whatever the load: bytes() / size() lies between
//    8/7 and 12/7 of it while growing;
//  - bytes() is the slot array, all of it resident (every slot is written when the array is
//    made); heap a value owns (e.g. through a unique_ptr) is the owner's to count.
//
// V: default-constructible, nothrow move (a unique_ptr is fine). Not thread-safe: its owner
// locks, or one shard owns it. Growing throws std::bad_alloc and then leaves the table as it
// was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace tern::sdk {

template <class V>
class id_table {
public:
    static constexpr uint64_t empty_id = 0;
    static constexpr std::size_t min_shrink_capacity = 1024;
    struct slot {
        uint64_t id = empty_id;
        V value{};
    };

    id_table() = default;
    id_table(const id_table&) = delete;
    id_table& operator=(const id_table&) = delete;

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t capacity() const noexcept { return cap_; }
    // What the table itself holds: its slot array.
    std::size_t bytes() const noexcept { return cap_ * sizeof(slot); }

    V* find(uint64_t id) noexcept {
        if (size_ == 0 || id == empty_id) return nullptr;
        for (std::size_t i = home(id);; i = next(i)) {
            if (slots_[i].id == id) return &slots_[i].value;
            if (slots_[i].id == empty_id) return nullptr;
        }
    }
    const V* find(uint64_t id) const noexcept { return const_cast<id_table*>(this)->find(id); }
    bool contains(uint64_t id) const noexcept { return find(id) != nullptr; }

    // The entry of id, made (value-initialised) when missing; second: whether it was made.
    // {nullptr, false} for the reserved id 0. Throws std::bad_alloc when the table cannot grow
    // (nothing changed).
    std::pair<V*, bool> try_emplace(uint64_t id) {
        // (Here, not at class scope: V may be a nested class of the owner, complete only later.)
        static_assert(std::is_default_constructible_v<V> && std::is_nothrow_move_assignable_v<V>);
        if (id == empty_id) return {nullptr, false};
        if (V* v = find(id)) return {v, false};
        if ((size_ + 1) * 8 > cap_ * 7) rehash(cap_ == 0 ? 16 : cap_ + cap_ / 2);
        std::size_t i = home(id);
        while (slots_[i].id != empty_id) i = next(i);
        slots_[i].id = id;
        ++size_;
        return {&slots_[i].value, true};
    }

    // Whether id was there. The value is destroyed (its slot holds V{} again).
    bool erase(uint64_t id) noexcept {
        if (size_ == 0 || id == empty_id) return false;
        std::size_t i = home(id);
        for (;; i = next(i)) {
            if (slots_[i].id == id) break;
            if (slots_[i].id == empty_id) return false;
        }
        erase_at(i);
        shrink();
        return true;
    }

    // Calls pred(id, V&) once for every entry and erases those it returns true for; pred may
    // change the value but not the table. Returns how many were erased.
    template <class P>
    std::size_t erase_if(P&& pred) {
        if (size_ == 0) return 0;
        // Start after an empty slot (there is one: at most 7/8 full). No probe run crosses it,
        // and backward shift only moves an entry towards the run's start, into the slot just
        // visited: visiting that slot again sees each entry exactly once.
        std::size_t start = 0;
        while (slots_[start].id != empty_id) ++start;
        std::size_t erased = 0;
        for (std::size_t n = 1, i = next(start); n < cap_; ++n, i = next(i)) {
            while (slots_[i].id != empty_id && pred(slots_[i].id, slots_[i].value)) {
                erase_at(i);
                ++erased;
            }
        }
        shrink();
        return erased;
    }

    // Drops every entry and the array.
    void clear() noexcept {
        slots_.reset();
        cap_ = size_ = 0;
    }

    // f(id, V&) for every entry; f must not insert or erase.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t i = 0; i < cap_; ++i)
            if (slots_[i].id != empty_id) f(slots_[i].id, slots_[i].value);
    }

private:
    std::size_t home(uint64_t id) const noexcept {
        // The hash's top 32 bits scaled onto the array (a capacity stays far below 2^32 slots).
        const uint64_t h = (id * 0x9E3779B97F4A7C15ull) >> 32;
        return static_cast<std::size_t>((h * static_cast<uint64_t>(cap_)) >> 32);
    }
    std::size_t next(std::size_t i) const noexcept { return i + 1 == cap_ ? 0 : i + 1; }
    // How far b lies after a, going round the array.
    std::size_t ahead(std::size_t a, std::size_t b) const noexcept { return b >= a ? b - a : b + cap_ - a; }

    // Empties slot i, moving later members of its probe run into the hole while their home
    // allows it, so lookups never need tombstones.
    void erase_at(std::size_t i) noexcept {
        for (std::size_t j = next(i);; j = next(j)) {
            slot& s = slots_[j];
            if (s.id == empty_id) break;
            const std::size_t h = home(s.id);
            // s may move to i when i lies cyclically in [h, j).
            if (ahead(h, j) >= ahead(i, j)) {
                slots_[i].id = s.id;
                slots_[i].value = std::move(s.value);
                i = j;
            }
        }
        slots_[i].id = empty_id;
        slots_[i].value = V{};
        --size_;
    }

    // Halves (repeatedly) a large table that fell below 1/8 full.
    void shrink() noexcept {
        std::size_t cap = cap_;
        while (cap / 2 >= min_shrink_capacity && size_ * 8 < cap) cap /= 2;
        if (cap == cap_) return;
        try {
            rehash(cap);
        } catch (...) {  // keeping the larger array is fine
        }
    }

    // cap: at least size_ + 1 slots.
    void rehash(std::size_t cap) {
        std::unique_ptr<slot[]> fresh(new slot[cap]);
        std::unique_ptr<slot[]> old = std::move(slots_);
        const std::size_t old_cap = cap_;
        slots_ = std::move(fresh);
        cap_ = cap;
        for (std::size_t k = 0; k < old_cap; ++k) {
            if (old[k].id == empty_id) continue;
            std::size_t i = home(old[k].id);
            while (slots_[i].id != empty_id) i = next(i);
            slots_[i].id = old[k].id;
            slots_[i].value = std::move(old[k].value);
        }
    }

    std::unique_ptr<slot[]> slots_;
    std::size_t cap_ = 0;
    std::size_t size_ = 0;
};

}  // namespace tern::sdk

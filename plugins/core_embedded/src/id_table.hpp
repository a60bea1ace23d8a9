// id_table<V>: a flat hash map from device id (non-zero uint64) to a small trivially
// copyable V, for the core's tables that hold one entry per online device (sessions, sleeping
// devices, subscriptions). One array of {id, V} slots, open addressing with linear probing
// and backward-shift deletion: no node, no per-entry allocation, 8 bytes of key beside V
// and the empty share of a table at most 7/8 full (it doubles past that, to 7/16, and halves
// when it falls below 1/8). Not thread-safe: its owner locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace tern::core_embedded {

template <class V>
class id_table {
public:
    struct slot {
        uint64_t id = 0;  // 0: empty
        V value{};
    };

    id_table() = default;
    id_table(const id_table&) = delete;
    id_table& operator=(const id_table&) = delete;

    size_t size() const noexcept { return size_; }
    size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }
    // What the table holds: its slot array (every slot is written when the table is built,
    // so all of it is resident).
    size_t memory_bytes() const noexcept { return capacity() * sizeof(slot); }

    V* find(uint64_t id) noexcept {
        if (size_ == 0 || id == 0) return nullptr;
        for (size_t i = home(id);; i = (i + 1) & mask_) {
            if (slots_[i].id == id) return &slots_[i].value;
            if (slots_[i].id == 0) return nullptr;
        }
    }

    // The entry for id, made (value-initialised) when missing; second: whether it was made.
    // id must not be 0. Throws std::bad_alloc when the table cannot grow (nothing changed).
    std::pair<V*, bool> try_emplace(uint64_t id) {
        // (Here, not at class scope: V may be a nested class of the owner, complete only later.)
        static_assert(std::is_trivially_copyable_v<V> && std::is_default_constructible_v<V>);
        if (V* v = find(id)) return {v, false};
        if ((size_ + 1) * 8 > capacity() * 7) rehash(capacity() == 0 ? 16 : capacity() * 2);
        size_t i = home(id);
        while (slots_[i].id != 0) i = (i + 1) & mask_;
        slots_[i].id = id;
        slots_[i].value = V{};
        ++size_;
        return {&slots_[i].value, true};
    }

    bool erase(uint64_t id) noexcept {
        if (size_ == 0 || id == 0) return false;
        size_t i = home(id);
        for (;; i = (i + 1) & mask_) {
            if (slots_[i].id == id) break;
            if (slots_[i].id == 0) return false;
        }
        // Backward shift: move later members of the probe run into the hole.
        for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
            if (slots_[j].id == 0) break;
            const size_t h = home(slots_[j].id);
            // slots_[j] may move to i when its home is not in (i, j] (cyclically).
            if (((j - h) & mask_) >= ((j - i) & mask_)) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i] = slot{};
        --size_;
        if (capacity() > 1024 && size_ * 8 < capacity()) {
            try {
                rehash(capacity() / 2);
            } catch (...) {  // keeping the larger table is fine
            }
        }
        return true;
    }

    void clear() noexcept {
        slots_.reset();
        mask_ = 0;
        size_ = 0;
    }

    // f(id, V&) for every entry; f must not insert or erase.
    template <class F>
    void for_each(F&& f) {
        for (size_t i = 0; i < capacity(); ++i)
            if (slots_[i].id != 0) f(slots_[i].id, slots_[i].value);
    }

private:
    size_t home(uint64_t id) const noexcept {
        // Fibonacci hashing: consecutive ids (SQLite row ids) spread over the table.
        return static_cast<size_t>((id * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
    }

    void rehash(size_t cap) {
        std::unique_ptr<slot[]> fresh(new slot[cap]);
        const size_t old_cap = capacity();
        std::unique_ptr<slot[]> old = std::move(slots_);
        slots_ = std::move(fresh);
        mask_ = cap - 1;
        for (size_t k = 0; k < old_cap; ++k) {
            if (old[k].id == 0) continue;
            size_t i = home(old[k].id);
            while (slots_[i].id != 0) i = (i + 1) & mask_;
            slots_[i] = old[k];
        }
    }

    std::unique_ptr<slot[]> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

}  // namespace tern::core_embedded

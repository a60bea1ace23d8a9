// A flat open-addressing map from a 64-bit id to a small value, for the tables that grow
// with devices (device states by device id, observation id -> device): one array of
// (key, value) slots, linear probing, deletion by backward shift (no tombstones), doubling
// at 3/4 load. Costs sizeof(slot) / load per entry instead of a node allocation plus a bucket
// (an std::unordered_map node is 32 bytes of heap and its bucket 8 more). The key
// UINT64_MAX is reserved (never a device or observation id). One shard's: no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace tern::device_api {

template <class V>
class flat_table {
public:
    static constexpr uint64_t empty_key = UINT64_MAX;
    struct slot {
        uint64_t key = empty_key;
        V value{};
    };

    flat_table() = default;
    flat_table(const flat_table&) = delete;
    flat_table& operator=(const flat_table&) = delete;

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    // The bytes of the slot array (what the table itself holds; a value's own heap is not
    // counted).
    std::size_t bytes() const noexcept { return cap_ * sizeof(slot); }

    V* find(uint64_t key) noexcept {
        if (size_ == 0) return nullptr;
        for (std::size_t i = home(key);; i = (i + 1) & (cap_ - 1)) {
            slot& s = slots_[i];
            if (s.key == key) return &s.value;
            if (s.key == empty_key) return nullptr;
        }
    }
    const V* find(uint64_t key) const noexcept { return const_cast<flat_table*>(this)->find(key); }

    // The value of key, made (default) when absent. Throws std::bad_alloc when growing fails.
    V& operator[](uint64_t key) {
        if (V* v = find(key)) return *v;
        if ((size_ + 1) * 4 > cap_ * 3) grow();
        std::size_t i = home(key);
        while (slots_[i].key != empty_key) i = (i + 1) & (cap_ - 1);
        slots_[i].key = key;
        ++size_;
        return slots_[i].value;
    }

    bool erase(uint64_t key) noexcept {
        if (size_ == 0) return false;
        std::size_t i = home(key);
        while (slots_[i].key != key) {
            if (slots_[i].key == empty_key) return false;
            i = (i + 1) & (cap_ - 1);
        }
        // Backward shift: move later members of the probe run into the hole while their home
        // allows it, so lookups never need tombstones.
        for (std::size_t j = (i + 1) & (cap_ - 1);; j = (j + 1) & (cap_ - 1)) {
            slot& s = slots_[j];
            if (s.key == empty_key) break;
            const std::size_t h = home(s.key);
            // s may move to i when i lies cyclically in [h, j).
            if (((j - h) & (cap_ - 1)) >= ((j - i) & (cap_ - 1))) {
                slots_[i].key = s.key;
                slots_[i].value = std::move(s.value);
                i = j;
            }
        }
        slots_[i].key = empty_key;
        slots_[i].value = V{};
        --size_;
        return true;
    }

    // f(key, value&) for every member; f must not change the table.
    template <class F>
    void each(F&& f) {
        for (std::size_t i = 0; i < cap_; ++i)
            if (slots_[i].key != empty_key) f(slots_[i].key, slots_[i].value);
    }

    void clear() noexcept {
        slots_.reset();
        cap_ = size_ = 0;
    }

private:
    std::size_t home(uint64_t key) const noexcept {
        // Fibonacci hashing: consecutive ids spread over the whole array.
        return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    void grow() {
        const std::size_t cap = cap_ == 0 ? 16 : cap_ * 2;
        std::unique_ptr<slot[]> old = std::move(slots_);
        const std::size_t old_cap = cap_;
        slots_ = std::make_unique<slot[]>(cap);
        cap_ = cap;
        shift_ = 64;
        for (std::size_t c = cap; c > 1; c >>= 1) --shift_;
        for (std::size_t i = 0; i < old_cap; ++i) {
            if (old[i].key == empty_key) continue;
            std::size_t j = home(old[i].key);
            while (slots_[j].key != empty_key) j = (j + 1) & (cap_ - 1);
            slots_[j].key = old[i].key;
            slots_[j].value = std::move(old[i].value);
        }
    }

    std::unique_ptr<slot[]> slots_;
    std::size_t cap_ = 0;
    std::size_t size_ = 0;
    unsigned shift_ = 64;
};

}  // namespace tern::device_api

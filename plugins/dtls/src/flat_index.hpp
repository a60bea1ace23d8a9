// A shard's index of its sessions by one key (id, address or Connection ID), or of its
// sources by address: an open-addressing table of pointers, the key read from the element
// itself (Traits::key),
// linear probing, deletion by backward shift, at most half full. 8 bytes per slot, so 16 to
// 32 bytes per element, where a std::unordered_map node and its bucket took 40 to 72 (and
// for a source, 190 with the entry in the node).
//
// An element's key must not change while it is indexed: erase it first (the address of
// a session that moves, a Connection ID given up).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tern::dtls {

// Traits: using key_type; static key_type key(const T&); static uint64_t
// hash(const key_type&); static bool equal(const key_type&, const key_type&).
template <class T, class Traits>
class flat_index {
public:
    using key_type = typename Traits::key_type;

    T* find(const key_type& k) const noexcept {
        if (slots_.empty()) return nullptr;
        for (size_t i = home(k);; i = (i + 1) & mask()) {
            T* s = slots_[i];
            if (s == nullptr || Traits::equal(Traits::key(*s), k)) return s;
        }
    }
    bool contains(const key_type& k) const noexcept { return find(k) != nullptr; }

    // Indexes s under its key; returns the element indexed under that key before (now
    // replaced), or null. Throws std::bad_alloc when the table cannot grow.
    T* put(T* s) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        const key_type k = Traits::key(*s);
        for (size_t i = home(k);; i = (i + 1) & mask()) {
            T*& slot = slots_[i];
            if (slot == nullptr) {
                slot = s;
                ++size_;
                return nullptr;
            }
            if (Traits::equal(Traits::key(*slot), k)) {
                T* before = slot;
                slot = s;
                return before;
            }
        }
    }

    // Takes s out if it is what its key finds.
    void erase(const T* s) noexcept {
        if (slots_.empty()) return;
        const key_type k = Traits::key(*s);
        size_t i = home(k);
        for (;; i = (i + 1) & mask()) {
            if (slots_[i] == nullptr) return;
            if (Traits::equal(Traits::key(*slots_[i]), k)) break;
        }
        if (slots_[i] != s) return;
        // backward shift: later entries of the probe run move up so no search stops early
        size_t hole = i;
        for (size_t j = (hole + 1) & mask(); slots_[j] != nullptr; j = (j + 1) & mask()) {
            const size_t h = home(Traits::key(*slots_[j]));
            const bool stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
            if (stays) continue;
            slots_[hole] = slots_[j];
            hole = j;
        }
        slots_[hole] = nullptr;
        --size_;
    }

    size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    size_t slot_count() const noexcept { return slots_.size(); }
    // Every element indexed (to end them all: collect first, then change the index).
    std::vector<T*> all() const {
        std::vector<T*> out;
        out.reserve(size_);
        for (T* s : slots_)
            if (s != nullptr) out.push_back(s);
        return out;
    }
    void clear() noexcept {
        slots_.clear();
        slots_.shrink_to_fit();
        size_ = 0;
    }
    void reserve(size_t n) {
        while (n * 2 > slots_.size()) grow();
    }

private:
    size_t mask() const noexcept { return slots_.size() - 1; }
    size_t home(const key_type& k) const noexcept { return static_cast<size_t>(Traits::hash(k)) & mask(); }
    void grow() {
        std::vector<T*> old(slots_.empty() ? 64 : slots_.size() * 2, nullptr);
        old.swap(slots_);
        for (T* s : old) {
            if (s == nullptr) continue;
            size_t i = home(Traits::key(*s));
            while (slots_[i] != nullptr) i = (i + 1) & mask();
            slots_[i] = s;
        }
    }

    std::vector<T*> slots_;  // a power of two, or empty
    size_t size_ = 0;
};

}  // namespace tern::dtls

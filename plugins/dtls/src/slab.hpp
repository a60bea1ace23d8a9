// Fixed-size slots carved from blocks of a few hundred, for what every idle session keeps
// for hours (its record, its packed exported state). Kept apart from the general heap, those
// small long-lived pieces no longer sit between the ~30 KB a handshake allocates and frees,
// which would otherwise keep most of those freed pages resident (the allocator can give back
// only whole free pages). A block's slots are handed out in order, so a block is touched only
// as far as it is used; freed slots are reused first. Blocks are kept until the shard goes.
// One shard's, touched only by its thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace tern::dtls {

class slab {
public:
    // slot_size: a multiple of 8 (the slots' alignment), at least 8.
    slab(size_t slot_size, size_t per_block) noexcept : slot_(slot_size), per_block_(per_block) {}
    slab(const slab&) = delete;
    slab& operator=(const slab&) = delete;

    size_t slot_size() const noexcept { return slot_; }

    // A slot of slot_size bytes; null when no block can be had.
    void* take() noexcept {
        if (free_ != nullptr) {
            void* p = free_;
            free_ = *static_cast<void**>(p);
            ++used_;
            return p;
        }
        if (next_ == per_block_) {
            try {
                blocks_.reserve(blocks_.size() + 1);
                blocks_.emplace_back(new (std::nothrow) std::byte[slot_ * per_block_]);
            } catch (...) {
                return nullptr;
            }
            if (!blocks_.back()) {
                blocks_.pop_back();
                return nullptr;
            }
            next_ = 0;
        }
        ++used_;
        return blocks_.back().get() + slot_ * next_++;
    }
    // Gives back a slot take() handed out.
    void give(void* p) noexcept {
        *static_cast<void**>(p) = free_;
        free_ = p;
        --used_;
    }

    size_t used() const noexcept { return used_; }
    // The bytes the blocks take as far as they were touched (the newest one up to its last
    // slot handed out), and their heap headers.
    size_t bytes() const noexcept {
        if (blocks_.empty()) return 0;
        return (blocks_.size() - 1) * slot_ * per_block_ + next_ * slot_ + blocks_.size() * 16;
    }

private:
    size_t slot_;
    size_t per_block_;
    std::vector<std::unique_ptr<std::byte[]>> blocks_;
    size_t next_ = per_block_;  // the next unused slot of the newest block
    void* free_ = nullptr;      // freed slots, each holding the next
    size_t used_ = 0;
};

}  // namespace tern::dtls

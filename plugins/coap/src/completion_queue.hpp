// respond()/notify()/end_observation() called off a shard's thread reach the shard through
// this queue: a bounded lock-free multi-producer ring of fixed-size records (small
// responses travel inline, larger ones in a heap buffer the record owns). The first
// producer to find the queue idle posts one drain task, so a burst of completions costs one
// post. A full ring never loses a completion: producers fall back to an overflow list
// (locked, allocating: the exceptional path), and per-producer order is kept across both.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "response_check.hpp"
#include "tern/abi/coap.h"

namespace tern::coap {

// A response, notification or end_observation carried to the owning shard.
class completion {
public:
    enum class op : uint8_t { respond, notify, end };
    static constexpr std::size_t inline_capacity = 512;

    completion() = default;
    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;
    completion(completion&& o) noexcept { take(o); }
    completion& operator=(completion&& o) noexcept {
        if (this != &o) {
            clear();
            take(o);
        }
        return *this;
    }
    ~completion() { clear(); }

    // Copies what the record needs; body ownership moves into the record. False when the
    // response has more options than a message can carry or memory ran out (the body has
    // been released then, nothing is kept).
    bool fill(op kind, uint64_t id, const tern_coap_response* r, uint64_t cookie,
              uint32_t notify_flags) noexcept;

    // Views into the record, valid while it lives; option views are written to scratch
    // (max_response_options entries). has_response false: end_observation without a final response.
    bool has_response() const noexcept { return has_response_; }
    const tern_coap_response& response(tern_coap_option* scratch) noexcept;
    // Gives up the body (the shard takes ownership when it applies the record).
    void disown_body() noexcept { response_.body = nullptr; }
    // Releases whatever the record still owns (body, heap buffer).
    void clear() noexcept;

    op kind = op::respond;
    uint64_t id = 0;
    uint64_t cookie = 0;
    uint32_t notify_flags = 0;

private:
    void take(completion& o) noexcept;
    uint8_t* data() noexcept { return heap_ != nullptr ? heap_ : inline_; }

    tern_coap_response response_{};
    bool has_response_ = false;
    uint16_t option_count_ = 0;
    uint32_t options_len_ = 0;
    uint8_t* heap_ = nullptr;
    uint16_t opt_number_[max_response_options];
    uint16_t opt_length_[max_response_options];
    uint8_t inline_[inline_capacity];
};

class completion_queue {
public:
    explicit completion_queue(uint32_t capacity);
    ~completion_queue();

    // Producer side, any thread. Returns true when the caller must post a drain task
    // (the queue went from idle to busy). False from push means out of memory (the
    // record's body has been released).
    bool push(completion&& c, bool& must_post) noexcept;

    // Consumer side (the shard): applies every record, in order, with fn(completion&).
    template <class Fn>
    void drain(Fn&& fn) noexcept {
        scheduled_.store(false, std::memory_order_seq_cst);
        for (;;) {
            drain_ring(fn);
            if (!overflow_active_.load(std::memory_order_acquire)) return;
            std::deque<completion> batch;
            {
                std::lock_guard<std::mutex> lock(mu_);
                batch.swap(overflow_);
                if (batch.empty()) {
                    overflow_active_.store(false, std::memory_order_release);
                    return;
                }
            }
            // Records a producer put in the ring before it switched to the overflow list
            // come first.
            drain_ring(fn);
            for (completion& c : batch) fn(c);
        }
    }

    // Drops everything queued (shutdown), releasing bodies.
    void discard() noexcept;

private:
    struct cell {
        std::atomic<uint64_t> seq;
        completion value;
    };

    template <class Fn>
    void drain_ring(Fn& fn) noexcept {
        for (;;) {
            cell& c = cells_[head_ & mask_];
            const uint64_t s = c.seq.load(std::memory_order_acquire);
            if (s != head_ + 1) {
                // Empty, or a producer claimed the slot and is still writing it: wait for
                // it so the order of records stays the order of claims.
                if (tail_.load(std::memory_order_acquire) == head_) return;
                spin();
                continue;
            }
            fn(c.value);
            c.value.clear();
            c.seq.store(head_ + mask_ + 1, std::memory_order_release);
            ++head_;
        }
    }
    static void spin() noexcept;

    std::unique_ptr<cell[]> cells_;
    uint64_t mask_;
    alignas(64) std::atomic<uint64_t> tail_{0};
    alignas(64) uint64_t head_ = 0;
    std::atomic<bool> scheduled_{false};
    std::atomic<bool> overflow_active_{false};
    std::mutex mu_;
    std::deque<completion> overflow_;
};

}  // namespace tern::coap

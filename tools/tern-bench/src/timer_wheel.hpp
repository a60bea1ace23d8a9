// Hashed timing wheel with intrusive nodes: O(1) arm and cancel, no allocation, 1 ms
// resolution. Request timeouts are armed and cancelled once per request, so a heap or
// a lazily-cleaned queue would cost more than the CoAP work being measured.
#pragma once

#include <cstdint>
#include <vector>

namespace tern::bench {

struct timer_node {
    timer_node* prev = nullptr;
    timer_node* next = nullptr;
    uint64_t deadline_ms = 0;
    bool armed() const { return next != nullptr; }
};

class timer_wheel {
public:
    static constexpr unsigned bits = 12;  // 4.096 s per revolution
    static constexpr uint64_t size = uint64_t{1} << bits;

    explicit timer_wheel(uint64_t now_ms) : heads_(size), current_ms_(now_ms) {
        for (auto& h : heads_) h.prev = h.next = &h;
    }
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    // A deadline already passed fires on the next advance().
    void arm(timer_node& n, uint64_t deadline_ms) {
        if (n.armed()) cancel(n);
        // While advance() walks bucket current_ms_, that bucket is detached: a late
        // deadline then goes to the next one so it still fires on this pass.
        const uint64_t floor = advancing_ ? current_ms_ + 1 : current_ms_;
        n.deadline_ms = deadline_ms < floor ? floor : deadline_ms;
        link(heads_[n.deadline_ms & (size - 1)], n);
        ++armed_;
    }

    void cancel(timer_node& n) {
        if (!n.armed()) return;
        n.prev->next = n.next;
        n.next->prev = n.prev;
        n.prev = n.next = nullptr;
        --armed_;
    }

    size_t armed_count() const { return armed_; }

    // The next millisecond at which advance() may have work; only meaningful if armed.
    uint64_t next_tick_ms() const { return current_ms_ + 1; }

    // Fires every node whose deadline millisecond has fully passed. `fire` may re-arm
    // the node or arm others.
    template <class Fire>
    void advance(uint64_t now_ms, Fire&& fire) {
        if (now_ms > current_ms_ + size) current_ms_ = now_ms - size;  // one full turn is enough
        advancing_ = true;
        while (current_ms_ < now_ms) {
            timer_node& head = heads_[current_ms_ & (size - 1)];
            // Detach the bucket first: fire() may arm into it again.
            timer_node pending;
            if (head.next != &head) {
                pending.next = head.next;
                pending.prev = head.prev;
                pending.next->prev = &pending;
                pending.prev->next = &pending;
                head.prev = head.next = &head;
            } else {
                pending.prev = pending.next = &pending;
            }
            while (pending.next != &pending) {
                timer_node* n = pending.next;
                n->prev->next = n->next;
                n->next->prev = n->prev;
                n->prev = n->next = nullptr;
                if (n->deadline_ms <= current_ms_) {
                    --armed_;
                    fire(*n);
                } else {
                    link(head, *n);  // a later revolution
                }
            }
            ++current_ms_;
        }
        advancing_ = false;
    }

private:
    static void link(timer_node& head, timer_node& n) {
        n.prev = head.prev;
        n.next = &head;
        head.prev->next = &n;
        head.prev = &n;
    }

    std::vector<timer_node> heads_;
    uint64_t current_ms_;
    size_t armed_ = 0;
    bool advancing_ = false;
};

}  // namespace tern::bench

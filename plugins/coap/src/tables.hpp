// Fixed-capacity building blocks of the engine's per-shard state: everything is sized once at
// start, so the message path never allocates. Arrays come from calloc: a table sized for
// 100 000 peers costs address space, not resident memory, until its slots are first used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace tern::coap {

inline constexpr uint32_t nil = 0xFFFFFFFFu;

// ---- hashing ------------------------------------------------------------------------

// splitmix64's finaliser: a cheap full-avalanche mix.
constexpr uint64_t mix64(uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

// Seeded hash of a byte string. The seed is random per engine, so a peer cannot choose
// addresses, ports or tokens that collide in our open-addressing tables (hash flooding).
inline uint64_t hash_bytes(const void* data, std::size_t n, uint64_t seed) noexcept {
    const auto* p = static_cast<const uint8_t*>(data);
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = mix64(h ^ w);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (std::size_t i = 0; i < n; ++i) w |= uint64_t{p[i]} << (8 * i);
    return mix64(h ^ w ^ 0x5bd1e995u);
}

// ---- zeroed arrays ----------------------------------------------------------------------

struct free_deleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

// An array of n zero-initialised T from calloc (T must be valid when all-zero bytes).
template <class T>
using zarray = std::unique_ptr<T[], free_deleter>;

template <class T>
zarray<T> make_zarray(std::size_t n) {
    static_assert(std::is_trivially_destructible_v<T>);
    static_assert(std::is_trivially_default_constructible_v<T> ||
                  std::is_trivially_copyable_v<T>);
    void* p = std::calloc(n == 0 ? 1 : n, sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return zarray<T>(static_cast<T*>(p));
}

constexpr uint32_t next_pow2(uint64_t v) noexcept {
    uint64_t p = 1;
    while (p < v) p <<= 1;
    return static_cast<uint32_t>(p);
}

// ---- open-addressing index ----------------------------------------------------------------

// Maps a 32-bit hash to slot numbers of some table; the table owns the keys, the caller
// confirms a match with a predicate. Linear probing, load factor <= 1/2, deletion by
// backward shift (no tombstones, so probe lengths never degrade).
class open_index {
public:
    struct bucket {
        uint32_t hash;
        uint32_t slot1; // slot + 1; 0 = empty
    };

    void init(uint32_t max_items) {
        cap_ = next_pow2(uint64_t{max_items} * 2 < 16 ? 16 : uint64_t{max_items} * 2);
        mask_ = cap_ - 1;
        b_ = make_zarray<bucket>(cap_);
    }

    template <class Eq>
    uint32_t find(uint32_t hash, Eq&& eq) const noexcept {
        for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
            const bucket& b = b_[i];
            if (b.slot1 == 0) return nil;
            if (b.hash == hash && eq(b.slot1 - 1)) return b.slot1 - 1;
        }
    }

    // The caller guarantees the slot is not present and fewer than capacity/2 items exist.
    void insert(uint32_t hash, uint32_t slot) noexcept {
        uint32_t i = hash & mask_;
        while (b_[i].slot1 != 0) i = (i + 1) & mask_;
        b_[i] = bucket{hash, slot + 1};
    }

    // Removes the bucket holding slot (inserted with hash); false if absent.
    bool erase(uint32_t hash, uint32_t slot) noexcept {
        uint32_t i = hash & mask_;
        for (;; i = (i + 1) & mask_) {
            if (b_[i].slot1 == 0) return false;
            if (b_[i].slot1 == slot + 1) break;
        }
        // Backward-shift: move later members of the probe run into the hole when their
        // home position does not lie cyclically in (hole, j].
        uint32_t hole = i;
        for (uint32_t j = (i + 1) & mask_; b_[j].slot1 != 0; j = (j + 1) & mask_) {
            const uint32_t home = b_[j].hash & mask_;
            const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!stays) {
                b_[hole] = b_[j];
                hole = j;
            }
        }
        b_[hole] = bucket{0, 0};
        return true;
    }

    std::size_t bytes() const noexcept { return std::size_t{cap_} * sizeof(bucket); }
    uint32_t capacity() const noexcept { return cap_; }

private:
    zarray<bucket> b_;
    uint32_t cap_ = 0;
    uint32_t mask_ = 0;
};

// ---- slot pool -----------------------------------------------------------------------------

// Slots of T handed out by number. T has a `uint32_t gen` member: the pool bumps it when a
// slot is freed so ids that carry the generation go stale (never 0, so an id is never 0).
// Fresh slots are taken in order (bump), freed ones are reused from a stack.
template <class T>
class slot_pool {
public:
    void init(uint32_t cap) {
        cap_ = cap;
        items_ = make_zarray<T>(cap);
        free_ = make_zarray<uint32_t>(cap);
        nfree_ = 0;
        bump_ = 0;
        used_ = 0;
    }

    uint32_t alloc() noexcept {
        uint32_t s;
        if (nfree_ != 0) {
            s = free_[--nfree_];
        } else if (bump_ < cap_) {
            s = bump_++;
            items_[s].gen = 1;
        } else {
            return nil;
        }
        ++used_;
        return s;
    }

    // Resets the slot to zero except its (bumped) generation.
    void free(uint32_t s) noexcept {
        uint32_t g = items_[s].gen + 1;
        if (g == 0) g = 1;
        std::memset(static_cast<void*>(&items_[s]), 0, sizeof(T));
        items_[s].gen = g;
        free_[nfree_++] = s;
        --used_;
    }

    T& operator[](uint32_t s) noexcept { return items_[s]; }
    const T& operator[](uint32_t s) const noexcept { return items_[s]; }
    uint32_t capacity() const noexcept { return cap_; }
    uint32_t used() const noexcept { return used_; }
    bool full() const noexcept { return used_ == cap_; }
    // Slots ever handed out: iterate [0, high_water()) to visit every live slot.
    uint32_t high_water() const noexcept { return bump_; }
    std::size_t bytes() const noexcept { return std::size_t{cap_} * (sizeof(T) + 4); }

private:
    zarray<T> items_;
    zarray<uint32_t> free_;
    uint32_t cap_ = 0;
    uint32_t nfree_ = 0;
    uint32_t bump_ = 0;
    uint32_t used_ = 0;
};

// ---- intrusive lists over slot numbers -----------------------------------------------------

struct list_link {
    uint32_t prev;
    uint32_t next;
};

// A doubly linked list threaded through list_link members of some slot table. Link(s)
// returns the list_link of slot s. Ordered: push_back + front give FIFO/LRU order.
struct slot_list {
    uint32_t head = nil;
    uint32_t tail = nil;
    uint32_t size = 0;

    template <class Link>
    void push_back(uint32_t s, Link&& link) noexcept {
        list_link& l = link(s);
        l.prev = tail;
        l.next = nil;
        if (tail != nil) link(tail).next = s;
        else head = s;
        tail = s;
        ++size;
    }
    template <class Link>
    void remove(uint32_t s, Link&& link) noexcept {
        list_link& l = link(s);
        if (l.prev != nil) link(l.prev).next = l.next;
        else head = l.next;
        if (l.next != nil) link(l.next).prev = l.prev;
        else tail = l.prev;
        l.prev = l.next = nil;
        --size;
    }
    bool empty() const noexcept { return head == nil; }
};

// ---- chunk pool ---------------------------------------------------------------------------

// Byte storage for messages the engine must keep (queued notifications, CON messages
// awaiting their ACK): chains of fixed-size chunks, so there is no fragmentation and the
// pool's byte budget is exact.
class chunk_pool {
public:
    static constexpr uint32_t chunk_size = 256;

    void init(std::size_t bytes) {
        cap_ = static_cast<uint32_t>(bytes / chunk_size);
        data_ = make_zarray<uint8_t>(std::size_t{cap_} * chunk_size);
        next_ = make_zarray<uint32_t>(cap_);
        free_head_ = nil;
        bump_ = 0;
        used_ = 0;
    }

    static uint32_t chunks_for(std::size_t n) noexcept {
        return static_cast<uint32_t>((n + chunk_size - 1) / chunk_size);
    }
    uint32_t free_chunks() const noexcept { return cap_ - used_; }

    // Stores n bytes; nil when the pool lacks room.
    uint32_t store(const uint8_t* p, std::size_t n) noexcept {
        const uint32_t need = n == 0 ? 1 : chunks_for(n);
        if (need > free_chunks()) return nil;
        uint32_t head = nil;
        uint32_t prev = nil;
        for (uint32_t i = 0; i < need; ++i) {
            const uint32_t c = take();
            if (prev == nil) head = c;
            else next_[prev] = c;
            next_[c] = nil;
            const std::size_t k = n > chunk_size ? chunk_size : n;
            if (k != 0) std::memcpy(&data_[std::size_t{c} * chunk_size], p, k);
            p += k;
            n -= k;
            prev = c;
        }
        return head;
    }

    // Copies bytes [off, off + n) of the chain into out.
    void read(uint32_t head, std::size_t off, uint8_t* out, std::size_t n) const noexcept {
        uint32_t c = head;
        while (off >= chunk_size) {
            c = next_[c];
            off -= chunk_size;
        }
        while (n != 0) {
            const std::size_t k = n < chunk_size - off ? n : chunk_size - off;
            std::memcpy(out, &data_[std::size_t{c} * chunk_size + off], k);
            out += k;
            n -= k;
            off = 0;
            c = next_[c];
        }
    }

    void release(uint32_t head) noexcept {
        while (head != nil) {
            const uint32_t n = next_[head];
            next_[head] = free_head_;
            free_head_ = head;
            --used_;
            head = n;
        }
    }

    std::size_t bytes() const noexcept { return std::size_t{cap_} * (chunk_size + 4); }

private:
    uint32_t take() noexcept {
        ++used_;
        if (free_head_ != nil) {
            const uint32_t c = free_head_;
            free_head_ = next_[c];
            return c;
        }
        return bump_++;
    }

    zarray<uint8_t> data_;
    zarray<uint32_t> next_;
    uint32_t cap_ = 0;
    uint32_t free_head_ = nil;
    uint32_t bump_ = 0;
    uint32_t used_ = 0;
};

// ---- timer heap -------------------------------------------------------------------------------

// A binary min-heap of deadlines keyed by owner number (0..owners-1), each owner at most
// once; position tracking makes reschedule and cancel O(log n) without search.
class timer_heap {
public:
    void init(uint32_t owners) {
        owners_ = owners;
        heap_ = make_zarray<entry>(owners);
        pos_ = make_zarray<uint32_t>(owners);
        for (uint32_t i = 0; i < owners; ++i) pos_[i] = nil;
        size_ = 0;
    }

    void schedule(uint32_t owner, uint64_t deadline) noexcept {
        uint32_t i = pos_[owner];
        if (i == nil) {
            i = size_++;
            heap_[i] = entry{deadline, owner, 0};
            pos_[owner] = i;
            up(i);
            return;
        }
        const uint64_t old = heap_[i].deadline;
        heap_[i].deadline = deadline;
        if (deadline < old) up(i);
        else down(i);
    }

    void cancel(uint32_t owner) noexcept {
        const uint32_t i = pos_[owner];
        if (i == nil) return;
        pos_[owner] = nil;
        --size_;
        if (i == size_) return;
        // Move the last entry into the hole, then restore the order in whichever direction
        // it is violated (heap_[size_] still holds the moved entry).
        const uint32_t moved = heap_[size_].owner;
        place(i, heap_[size_]);
        up(i);
        down(pos_[moved]);
    }

    bool scheduled(uint32_t owner) const noexcept { return pos_[owner] != nil; }
    bool empty() const noexcept { return size_ == 0; }
    uint64_t top_deadline() const noexcept { return heap_[0].deadline; }
    uint32_t top_owner() const noexcept { return heap_[0].owner; }
    uint32_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return std::size_t{owners_} * (sizeof(entry) + 4); }

private:
    struct entry {
        uint64_t deadline;
        uint32_t owner;
        uint32_t pad;
    };

    void place(uint32_t i, const entry& e) noexcept {
        heap_[i] = e;
        pos_[e.owner] = i;
    }
    void up(uint32_t i) noexcept {
        const entry e = heap_[i];
        while (i != 0) {
            const uint32_t p = (i - 1) / 2;
            if (heap_[p].deadline <= e.deadline) break;
            place(i, heap_[p]);
            i = p;
        }
        place(i, e);
    }
    void down(uint32_t i) noexcept {
        const entry e = heap_[i];
        for (;;) {
            uint32_t c = 2 * i + 1;
            if (c >= size_) break;
            if (c + 1 < size_ && heap_[c + 1].deadline < heap_[c].deadline) ++c;
            if (heap_[c].deadline >= e.deadline) break;
            place(i, heap_[c]);
            i = c;
        }
        place(i, e);
    }

    zarray<entry> heap_;
    zarray<uint32_t> pos_;
    uint32_t owners_ = 0;
    uint32_t size_ = 0;
};

}  // namespace tern::coap

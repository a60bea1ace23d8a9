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

#include <sys/mman.h>
#include <unistd.h>

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

// Gives the whole pages inside [p, p + n) back to the system; they stay mapped and read as
// zero when next touched (MADV_DONTNEED on private anonymous memory), which is what calloc
// gave. For tables that are empty again, so their resident memory goes with their entries.
inline void discard_pages(void* p, std::size_t n) noexcept {
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t from = (base + page - 1) & ~(page - 1);
    const uintptr_t to = (base + n) & ~(page - 1);
    if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
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
//
// The buckets grow with the items: the index starts small and doubles (rehashing every
// item once) when an insert would pass half its buckets, up to the size max_items needs. A
// hashed table touches its pages at random, so an index sized for a million peers up front
// would be resident after a few thousand; grown, it costs 16 to 32 bytes per item held at
// its fullest. A steady population never allocates; the population's growth does, log2
// times in all.
class open_index {
public:
    struct bucket {
        uint32_t hash;
        uint32_t slot1; // slot + 1; 0 = empty
    };
    // Buckets an index starts with (at most the final size): 64 KiB.
    static constexpr uint32_t initial_buckets = 8192;

    void init(uint32_t max_items) {
        max_cap_ = next_pow2(uint64_t{max_items} * 2 < 16 ? 16 : uint64_t{max_items} * 2);
        const uint32_t cap = max_cap_ < initial_buckets ? max_cap_ : initial_buckets;
        b_ = make_zarray<bucket>(cap);
        cap_ = cap;
        mask_ = cap_ - 1;
        count_ = 0;
    }

    template <class Eq>
    uint32_t find(uint32_t hash, Eq&& eq) const noexcept {
        for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
            const bucket& b = b_[i];
            if (b.slot1 == 0) return nil;
            if (b.hash == hash && eq(b.slot1 - 1)) return b.slot1 - 1;
        }
    }

    // The caller guarantees the slot is not present and fewer than max_items items exist.
    void insert(uint32_t hash, uint32_t slot) noexcept {
        if ((count_ + 1) * 2 > cap_ && cap_ < max_cap_ && !grow() && count_ + 1 >= cap_)
            std::abort();  // out of memory with the index full: nothing sound is left to do
        place(hash, slot);
        ++count_;
        discarded_ = false;
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
        --count_;
        return true;
    }

    // An empty index gives its buckets' pages back (they read as empty buckets again).
    void discard_if_empty() noexcept {
        if (count_ != 0 || discarded_) return;
        discard_pages(b_.get(), bytes());
        discarded_ = true;
    }

    // Bytes of the buckets now (all of them touched: hashing spreads items over every page).
    std::size_t bytes() const noexcept { return std::size_t{cap_} * sizeof(bucket); }
    // Bytes resident: the buckets, unless given back while empty and not touched since.
    std::size_t touched_bytes() const noexcept { return discarded_ ? 0 : bytes(); }
    uint32_t capacity() const noexcept { return cap_; }
    uint32_t max_capacity() const noexcept { return max_cap_; }
    uint32_t size() const noexcept { return count_; }

private:
    void place(uint32_t hash, uint32_t slot) noexcept {
        uint32_t i = hash & mask_;
        while (b_[i].slot1 != 0) i = (i + 1) & mask_;
        b_[i] = bucket{hash, slot + 1};
    }
    // Doubles the buckets and reinserts every item; false (the old buckets kept) when the
    // memory is not there.
    bool grow() noexcept {
        const uint32_t cap = cap_ * 2;
        void* p = std::calloc(cap, sizeof(bucket));
        if (p == nullptr) return false;
        zarray<bucket> old(static_cast<bucket*>(p));
        old.swap(b_);
        const uint32_t old_cap = cap_;
        cap_ = cap;
        mask_ = cap - 1;
        for (uint32_t i = 0; i < old_cap; ++i)
            if (old[i].slot1 != 0) place(old[i].hash, old[i].slot1 - 1);
        return true;
    }

    zarray<bucket> b_;
    uint32_t cap_ = 0;
    uint32_t max_cap_ = 0;
    uint32_t mask_ = 0;
    uint32_t count_ = 0;
    bool discarded_ = false;
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
            items_[s].gen = first_gen_;
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
        if (g >= next_first_gen_) next_first_gen_ = g + 1 == 0 ? 1 : g + 1;
        free_[nfree_++] = s;
        --used_;
    }

    // With every slot free: forgets them and gives their pages back. Slots handed out
    // afterwards start past every generation used so far, so an old id stays stale.
    void discard_if_empty() noexcept {
        if (used_ != 0 || bump_ == 0) return;
        discard_pages(items_.get(), std::size_t{bump_} * sizeof(T));
        discard_pages(free_.get(), std::size_t{bump_} * sizeof(uint32_t));
        bump_ = 0;
        nfree_ = 0;
        first_gen_ = next_first_gen_;
    }

    T& operator[](uint32_t s) noexcept { return items_[s]; }
    const T& operator[](uint32_t s) const noexcept { return items_[s]; }
    uint32_t capacity() const noexcept { return cap_; }
    uint32_t used() const noexcept { return used_; }
    bool full() const noexcept { return used_ == cap_; }
    // Slots ever handed out: iterate [0, high_water()) to visit every live slot.
    uint32_t high_water() const noexcept { return bump_; }
    std::size_t bytes() const noexcept { return std::size_t{cap_} * (sizeof(T) + 4); }
    // Bytes touched so far (resident): the slots ever handed out and their free-list words.
    std::size_t touched_bytes() const noexcept { return std::size_t{bump_} * (sizeof(T) + 4); }

private:
    zarray<T> items_;
    zarray<uint32_t> free_;
    uint32_t cap_ = 0;
    uint32_t nfree_ = 0;
    uint32_t bump_ = 0;
    uint32_t used_ = 0;
    uint32_t first_gen_ = 1;       // the generation of a slot handed out fresh
    uint32_t next_first_gen_ = 2;  // past every generation a slot has had
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
    // Bytes touched so far (resident): the chunks ever handed out and their link words.
    std::size_t touched_bytes() const noexcept { return std::size_t{bump_} * (chunk_size + 4); }

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
// once; position tracking makes reschedule and cancel O(log n) without search. At most
// `entries` owners are scheduled at once. Nothing is written at init: an owner that is never
// scheduled costs no resident memory (its position word stays the calloc'd 0, "none").
class timer_heap {
public:
    void init(uint32_t owners, uint32_t entries) {
        owners_ = owners;
        entries_ = entries < owners ? entries : owners;
        heap_ = make_zarray<entry>(entries_);
        pos1_ = make_zarray<uint32_t>(owners);
        size_ = 0;
        peak_ = 0;
    }

    // The caller guarantees fewer than `entries` owners are scheduled, or owner is.
    void schedule(uint32_t owner, uint64_t deadline) noexcept {
        if (pos1_[owner] == 0) {
            const uint32_t i = size_++;
            if (size_ > peak_) peak_ = size_;
            heap_[i] = entry{deadline, owner, 0};
            pos1_[owner] = i + 1;
            up(i);
            return;
        }
        const uint32_t i = pos1_[owner] - 1;
        const uint64_t old = heap_[i].deadline;
        heap_[i].deadline = deadline;
        if (deadline < old) up(i);
        else down(i);
    }

    void cancel(uint32_t owner) noexcept {
        if (pos1_[owner] == 0) return;
        const uint32_t i = pos1_[owner] - 1;
        pos1_[owner] = 0;
        --size_;
        if (i == size_) return;
        // Move the last entry into the hole, then restore the order in whichever direction
        // it is violated (heap_[size_] still holds the moved entry).
        const uint32_t moved = heap_[size_].owner;
        place(i, heap_[size_]);
        up(i);
        down(pos1_[moved] - 1);
    }

    bool scheduled(uint32_t owner) const noexcept { return pos1_[owner] != 0; }
    bool empty() const noexcept { return size_ == 0; }
    uint64_t top_deadline() const noexcept { return heap_[0].deadline; }
    uint32_t top_owner() const noexcept { return heap_[0].owner; }
    uint32_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept {
        return std::size_t{entries_} * sizeof(entry) + std::size_t{owners_} * 4;
    }
    // Heap entries touched so far (the most ever scheduled at once); position words are
    // counted with their owners' tables.
    std::size_t touched_entry_bytes() const noexcept { return std::size_t{peak_} * sizeof(entry); }

private:
    struct entry {
        uint64_t deadline;
        uint32_t owner;
        uint32_t pad;
    };

    void place(uint32_t i, const entry& e) noexcept {
        heap_[i] = e;
        pos1_[e.owner] = i + 1;
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
    zarray<uint32_t> pos1_;  // position + 1; 0: not scheduled
    uint32_t owners_ = 0;
    uint32_t entries_ = 0;
    uint32_t size_ = 0;
    uint32_t peak_ = 0;
};

}  // namespace tern::coap

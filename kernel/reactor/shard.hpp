// One reactor shard: an io_context run by one thread, plus the shard's timer and fd-watch
// slot tables. Slot contents are touched only by the shard's own thread (or by the
// start-stop thread while the shard is not running); slot allocation takes a mutex so
// that a handle can be handed out synchronously from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tern/abi/host.h"

namespace tern::kernel::reactor {

class shard_pool;

// Handles: shard in bits 48..63, slot in 24..47, generation (never 0) in 0..23. A handle
// whose generation no longer matches its slot is stale and ignored.
struct handle_parts {
    uint32_t shard;
    uint32_t slot;
    uint32_t gen;
};
constexpr uint64_t make_handle(uint32_t shard, uint32_t slot, uint32_t gen) {
    return (uint64_t{shard} << 48) | (uint64_t{slot} << 24) | gen;
}
constexpr handle_parts split_handle(uint64_t h) {
    return {static_cast<uint32_t>(h >> 48), static_cast<uint32_t>((h >> 24) & 0xffffff),
            static_cast<uint32_t>(h & 0xffffff)};
}
constexpr uint32_t next_gen(uint32_t g) { return (g + 1) & 0xffffff ? (g + 1) & 0xffffff : 1; }

// Stable storage for slots: objects are created once and reused, never moved or freed
// before the table, so a (stale) handle can always be checked against its slot.
template <class T>
class slot_table {
public:
    static constexpr uint32_t chunk_size = 256;
    static constexpr uint32_t max_chunks = 1024;

    slot_table() = default;
    slot_table(const slot_table&) = delete;
    slot_table& operator=(const slot_table&) = delete;
    ~slot_table() {
        for (auto& c : chunks_) {
            chunk* p = c.load(std::memory_order_relaxed);
            if (p == nullptr) continue;
            for (auto& s : p->slots) delete s.load(std::memory_order_relaxed);
            delete p;
        }
    }

    T* get(uint32_t slot) const noexcept {
        if (slot >= chunk_size * max_chunks) return nullptr;
        chunk* c = chunks_[slot / chunk_size].load(std::memory_order_acquire);
        return c == nullptr ? nullptr : c->slots[slot % chunk_size].load(std::memory_order_acquire);
    }

    // A free slot (reused or new, made by make()), or nullopt when the table is full.
    template <class Make>
    std::optional<uint32_t> allocate(Make&& make) {
        std::lock_guard lock(mu_);
        if (!free_.empty()) {
            const uint32_t s = free_.back();
            free_.pop_back();
            return s;
        }
        if (next_ >= chunk_size * max_chunks) return std::nullopt;
        const uint32_t s = next_++;
        auto& cp = chunks_[s / chunk_size];
        chunk* c = cp.load(std::memory_order_relaxed);
        if (c == nullptr) {
            c = new chunk{};
            cp.store(c, std::memory_order_release);
        }
        c->slots[s % chunk_size].store(make(), std::memory_order_release);
        return s;
    }

    void release(uint32_t slot) {
        std::lock_guard lock(mu_);
        free_.push_back(slot);
    }

    template <class F>
    void for_each(F&& f) {
        std::lock_guard lock(mu_);
        for (uint32_t s = 0; s < next_; ++s)
            if (T* t = get(s)) f(*t);
    }

private:
    struct chunk {
        std::array<std::atomic<T*>, chunk_size> slots{};
    };
    std::array<std::atomic<chunk*>, max_chunks> chunks_{};
    std::mutex mu_;
    std::vector<uint32_t> free_;
    uint32_t next_ = 0;
};

struct timer_slot {
    explicit timer_slot(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    tern_task_fn fn = nullptr;
    void* ctx = nullptr;
    std::atomic<uint32_t> gen{1};
    uint64_t seq = 0;  // bumped by every arm/cancel, so a completion already queued is ignored
    bool armed = false;
};

struct watch_slot {
    std::unique_ptr<boost::asio::posix::stream_descriptor> sd;
    tern_fd_fn fn = nullptr;
    void* ctx = nullptr;
    int fd = -1;
    uint32_t events = 0;
    std::atomic<uint32_t> gen{1};
    bool live = false;
};

class shard {
public:
    shard(shard_pool& pool, uint32_t index);
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;
    ~shard();

    shard_pool& pool() const noexcept { return pool_; }
    uint32_t index() const noexcept { return index_; }
    boost::asio::io_context& io() noexcept { return io_; }

    void start();  // spawns the thread
    void stop();   // stops the io_context and joins the thread
    // Whether the calling thread is this shard's thread.
    bool is_current() const noexcept;

    // Any thread. Returns the new handle.
    tern_status timer_create(tern_task_fn fn, void* ctx, uint64_t* out);
    // On the shard's thread (or while it is not running).
    void timer_arm(uint32_t slot, uint32_t gen, uint64_t delay_ns);
    void timer_cancel(uint32_t slot, uint32_t gen);
    void timer_destroy(uint32_t slot, uint32_t gen);

    // Any thread: registers fd with this shard's event loop. Arming happens on the shard.
    tern_status watch_create(int fd, uint32_t events, tern_fd_fn fn, void* ctx, uint64_t* out,
                             std::string& err);
    void watch_arm(uint32_t slot, uint32_t gen);
    void watch_destroy(uint32_t slot, uint32_t gen);

    // After the thread stopped: gives every watched fd back without closing it.
    void release_all();

private:
    struct timer_handler;
    struct watch_handler;
    void timer_fired(uint32_t slot, uint32_t gen, uint64_t seq);
    void watch_fired(uint32_t slot, uint32_t gen, uint32_t event, const boost::system::error_code& ec);
    void wait_for(watch_slot& w, uint32_t slot, uint32_t gen, uint32_t event);

    shard_pool& pool_;
    const uint32_t index_;
    // Declared before the slot tables: timers and descriptors must die before it.
    boost::asio::io_context io_{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;
    std::atomic<std::thread::id> thread_id_{};
    slot_table<timer_slot> timers_;
    slot_table<watch_slot> watches_;
};

}  // namespace tern::kernel::reactor

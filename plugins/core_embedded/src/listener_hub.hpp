// The transport's listener (core_listener_v1) and which devices subscribed to what: the
// core's way out to devices. A listener call never races set_listener(nullptr).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "model.hpp"
#include "tern/abi/core.h"
#include "tern/sdk/id_table.hpp"

namespace tern::core_embedded {

class listener_hub {
public:
    // Returns once no call can still be using the old listener.
    void set(core_listener_v1* listener) noexcept;

    // Runs f(listener) when one is set.
    template <class F>
    void with_listener(F&& f) {
        calls_.fetch_add(1);
        if (core_listener_v1* l = listener_.load()) f(*l);
        calls_.fetch_sub(1);
    }

    void subscribe(uint64_t device_id, uint32_t flags);
    void unsubscribe(uint64_t device_id, uint32_t flags);
    bool subscribed(uint64_t device_id, uint32_t flag);
    void forget(uint64_t device_id);  // a deleted device
    void clear();

    // Shared attributes changed: told to the device when it subscribed to attributes.
    void notify_attributes(uint64_t device_id, const std::vector<kv>& updated,
                           const std::vector<std::string>& deleted);
    void device_event(uint64_t device_id, int32_t event);

    // Subscribed devices and the bytes their table holds (core_memory_bytes{table="subscriptions"}).
    std::pair<size_t, size_t> memory();

private:
    std::atomic<core_listener_v1*> listener_{nullptr};
    std::atomic<int64_t> calls_{0};
    std::mutex mutex_;
    sdk::id_table<uint8_t> subs_;  // device -> TERN_SUBSCRIBE_* flags
};

}  // namespace tern::core_embedded

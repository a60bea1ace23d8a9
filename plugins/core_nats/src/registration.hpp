// registration: which transport node hears a device, recorded in the key-value bucket
// <prefix>_device_node (key: the decimal device id, value: the node id), so that a core node
// sends the device's downlinks to this node.
//
// heard(device) is called for every uplink and device subscription, from any shard, so it is
// cheap when nothing changed: this node keeps a bounded LRU set of the devices it knows the
// bucket assigns to itself, split into shards of their own mutex (a hit is one short lock).
// A miss puts the key once (concurrent misses of one device share the put). The set is fed by
// a plain subscription to $KV.<prefix>_device_node.>, which receives every put live, in the
// bucket's order: our own put's echo adds the device, another node's put erases it. So a put
// happens once per device per move, and a put that raced with another node's is decided by
// the order the bucket stored them in, not by which acknowledgement came back first.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "node.hpp"
#include "tern/lru/lru_map.hpp"
#include "tern/nats_link/link.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_nats {

class registration final : public registration_hook {
public:
    // Registers its state listener with n: construct it before n.open(). The bucket's puts
    // are subscribed when the link first connects; a reconnect forgets the set. Prefix,
    // node id and registration_cache_size come from n.config().
    explicit registration(node& n);
    // put_echo_wait: a put whose echo never came (a message the subscription dropped) stops
    // holding back new puts of that device after this long.
    registration(node& n, std::chrono::milliseconds put_echo_wait);
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;

    // Called with each device this node took back from another node (our put's echo after
    // another node's put of it): the events piece tells the core nodes this node's
    // subscription of it again, so that the core node's owner of the subscription follows the
    // bucket. Set before the node opens; runs on a nats.c thread. [start-stop]
    void on_claimed(std::function<void(uint64_t device_id)> fn) { claimed_ = std::move(fn); }

    // This node heard the device (an uplink, a device subscription). [any-thread]
    void heard(uint64_t device_id) noexcept override;

    // Forgets what the set says (the link reconnected: puts may have been missed), so each
    // device is put again when it is next heard. [any-thread]
    void forget_all() noexcept;

    // Whether the set says the bucket assigns the device to this node (tests, stats).
    bool registered(uint64_t device_id) noexcept;
    std::size_t size() noexcept;

    const std::string& bucket() const noexcept { return bucket_; }

private:
    static constexpr std::size_t shard_count = 16;
    struct empty {};
    struct shard {
        std::mutex mu;
        std::unique_ptr<lru::lru_map<uint64_t, empty>> set;
        // Devices another node put since this node last held them (same bound): our own put
        // of one of them is a device coming back, which on_claimed reports.
        std::unique_ptr<lru::lru_map<uint64_t, empty>> taken;
        // Devices with a put on its way: when it was sent (steady ns).
        std::unordered_map<uint64_t, uint64_t> putting;
    };

    shard& shard_of(uint64_t device_id) noexcept { return shards_[device_id % shard_count]; }
    void on_put(const nats_link::message& m) noexcept;
    void on_link_state(nats_link::link_state s) noexcept;
    void put(uint64_t device_id) noexcept;
    void put_done(uint64_t device_id, nats_link::status st) noexcept;

    node& node_;
    std::function<void(uint64_t)> claimed_;
    const uint64_t put_echo_wait_ns_;
    const std::string bucket_;
    const std::string key_subject_prefix_;  // "$KV.<bucket>."
    std::array<shard, shard_count> shards_;
    // The link whose $KV subscription is in place (a new link after a restart is not yet).
    std::atomic<nats_link::link*> watching_{nullptr};
    // Failed puts are logged at most once per 10 s, with how many failed since.
    std::atomic<uint64_t> failures_{0};
    std::atomic<int64_t> last_failure_log_ns_{0};
};

}  // namespace tern::core_nats

// events: tern.core.events/1 on a transport node. The core is on another node, so the
// subscriptions of the local subscribers (device_api, power, ...) are told to the core nodes
// and the downlinks come back over NATS:
//
//  - subscribe_device/unsubscribe_device keep, per device, which handles want its attribute
//    updates and its RPCs (an sdk::event_subscribers table, as core_embedded's). When the UNION of
//    the flags over the local handles changes, the sync thread sends
//    <prefix>.core.v1.events.subscribe {device, union, node_id} as a request (0: this node no
//    longer wants the device), and retries it with a growing delay until a core node says OK.
//    Changes made while a request is on its way are coalesced into the next one.
//  - <prefix>.node.<node_id>.down.{attributes,rpc} carry the core's downlinks for devices this
//    node subscribed; each goes to every local handle that subscribed the device with that
//    flag (none: dropped and counted; the core tracks RPCs and retries persistent ones).
//  - <prefix>.core.v1.events.device: a device changed; the node's credential cache forgets
//    it, then every handle's on_device_event runs.
//  - <prefix>.core.v1.events.hello (a core node started) and a reconnect of our own link:
//    every device with a non-zero union is sent again, paced by resubscribe_rate (on hello the
//    node also reads the uplink partition count again).
//
// Threads: the capability calls come from any thread and take one mutex briefly; the
// listeners are called on the NATS subscription threads (the ABI allows any thread), never
// under that mutex. close(handle) waits until no call to that handle's listener runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "tern/abi/core_capabilities.h"
#include "tern/core_wire/codec.hpp"
#include "tern/nats_link/link.hpp"
#include "tern/sdk/event_subscribers.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_nats {

class node;

class events final : public core_events_v1 {
public:
    // Subscribers at most (the bit masks' width); the setting event_subscribers admits fewer.
    static constexpr uint32_t slot_count = sdk::event_subscribers::slot_count;

    struct options {
        uint32_t max_in_flight = 64;                   // events.subscribe requests awaiting a reply
        std::chrono::milliseconds retry_min{100};     // first retry of a refused or lost request ...
        std::chrono::milliseconds retry_max{10000};   // ... doubling up to this
    };

    // Registers its state listener with n: construct it before n.open(). The subjects are
    // subscribed when the link first connects (nats.c renews them on every reconnect).
    // Subject prefix, node id, request timeout and resubscribe_rate come from n.config().
    explicit events(node& n);
    events(node& n, options o);
    ~events();
    events(const events&) = delete;
    events& operator=(const events&) = delete;

    // core_nats_event_subscribers_refused_total. [start-stop], before start().
    void register_metrics(const sdk::host& h);
    // Starts the sync thread; before n.open(). [start-stop]
    void start();
    // Stops the sync thread; before n.close(), whose completions of the requests in flight
    // still find this object (it outlives the link). [start-stop]
    void stop();

    // Sends every non-zero union again (a core node's hello, our reconnect). [any-thread]
    void resync() noexcept;
    // Sends the device's union again when it is not zero: this node just took the device in
    // the device_node bucket, and the core node may hold another node as the owner of its
    // subscription (the device came back to a node whose subscription never ended). [any-thread]
    void reclaim(uint64_t device_id) noexcept;

    // ---- core_events_v1 ------------------------------------------------------------------
    tern_status subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept override;
    tern_status subscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept override;
    void unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept override;
    void close(uint64_t handle) noexcept override;

    // ---- tests and stats -----------------------------------------------------------------
    uint32_t subscribers() noexcept;
    uint32_t local_union(uint64_t device_id) noexcept;
    // The union the core nodes confirmed for the device (0 when none or unknown).
    uint32_t confirmed_union(uint64_t device_id) noexcept;
    // Devices whose union is not (yet) confirmed by a core node.
    std::size_t unsynced() noexcept;

private:
    static constexpr uint32_t unknown = UINT32_MAX;  // confirmed: must be sent again

    struct device {
        uint32_t want = 0;        // the union of the local handles' flags (subs_'s, as last told)
        uint32_t confirmed = 0;   // the union a core node last said OK to (unknown: resend)
        uint32_t sending = 0;     // the union of the request in flight (unknown: reclaimed meanwhile)
        bool in_flight = false;
        bool queued = false;      // in ready_ or later_
        uint32_t backoff_ms = 0;
    };
    // One decoder per subscription (its messages arrive one at a time on its thread; the
    // mutex makes that an invariant rather than an assumption).
    struct inbox {
        std::mutex mu;
        core_wire::decoder dec;
    };

    // subs_'s change hook (under its lock; takes mu_): records the device's new union.
    tern_status on_union_change(const sdk::event_subscribers::union_change& c) noexcept;
    // After a device's masks or confirmation changed: queues it when its union needs sending,
    // erases it when nothing is wanted or pending. Under mu_.
    void settle(std::unordered_map<uint64_t, device>::iterator it);

    // NATS handlers.
    void on_downlink(const nats_link::message& m) noexcept;
    void on_device_event(const nats_link::message& m) noexcept;
    void on_hello(const nats_link::message& m) noexcept;
    void on_link_state(nats_link::link_state s) noexcept;
    void subscribe_subjects(nats_link::link& l) noexcept;
    void fan_out_attributes(const core_wire::attributes_updated_event& e) noexcept;
    void fan_out_rpc(const core_wire::rpc_request_event& e) noexcept;

    // The sync thread: sends queued unions, paced and bounded.
    void sync_loop();
    void send(uint64_t device_id, uint32_t flags, uint64_t epoch);
    void on_reply(uint64_t device_id, uint32_t flags, uint64_t epoch, nats_link::status st,
                  std::string_view reply) noexcept;
    void warn_failure(uint64_t device_id, const char* what, std::string_view detail) noexcept;

    node& node_;
    const options opt_;
    const std::string subscribe_subject_;

    // Guards devices_, the queues and the epoch. Taken under subs_'s lock (its change hook),
    // never the other way round.
    std::mutex mu_;
    std::condition_variable cv_;
    std::unordered_map<uint64_t, device> devices_;
    std::deque<uint64_t> ready_;                    // devices to send now
    std::multimap<uint64_t, uint64_t> later_;       // steady ns -> device, retries
    uint64_t epoch_ = 1;                            // bumped by resync: older replies confirm nothing
    uint32_t in_flight_ = 0;
    bool stopping_ = false;
    bool running_ = false;
    sdk::event_subscribers subs_;  // the local handles and their per-device masks

    inbox down_inbox_, device_inbox_, reply_inbox_;
    core_wire::encoder enc_;  // the sync thread's
    std::string wire_;        // the sync thread's
    std::thread sync_;
    std::atomic<int64_t> last_warn_ns_{0};
    std::atomic<uint64_t> failures_{0};
};

}  // namespace tern::core_nats

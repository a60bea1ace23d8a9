// The transport node's side of the NATS link: what every piece of core_nats shares and
// receives by reference. It owns the settings, the nats_link::link, this node's id and boot
// id, the subject builder, the logger, the metrics, the credential cache and the uplink
// partition count; it fans the link's state changes out to the pieces that registered for
// them, and it holds the hooks through which the requests reach the registration and the OTA
// cache.
//
//   requests (requests.hpp)      tern.core.auth/1 ... sessions/1 over NATS: uses link(),
//                                subject(), auth_cache(), partitions(), heard(), localize()
//   events (events.hpp)          tern.core.events/1: subscribes the broadcast and downlink
//                                subjects in on_state(connected); calls auth_cache().forget()
//                                on a DeviceEvent, refresh_partitions() on a core's hello
//   registration, ota_cache      plug into the hooks below
//
// Threads: link() and the accessors may be called from any thread once open() returned;
// state listeners run on nats.c's connection thread, in registration order.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth_cache.hpp"
#include "settings.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/nats_link/link.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_nats {

// The calls counted in core_nats_requests_total{op} and core_nats_request_failures_total.
enum class request_op : uint8_t {
    authenticate,
    psk_key,
    get_attributes,
    client_rpc,
    claim,
    provision,
    ota_package,
    ota_chunk,            // the OTA cache's chunk fetches
    subscribe_device,     // events.subscribe (the events piece)
    session_event,        // published, no reply
    resend_pending_rpcs,  // published, no reply
    count_
};
const char* to_string(request_op op) noexcept;

// The durable uplinks, core_nats_uplinks_total{op}; the op is also the subject's last token.
enum class uplink_op : uint8_t { telemetry, attributes, rpc_reply, rpc_status, count_ };
const char* to_string(uplink_op op) noexcept;

// Downlink kinds, core_nats_downlinks_total{kind}.
enum class downlink_kind : uint8_t { attributes, rpc, count_ };

// tern_status 1..11 have a series each; slot 0 counts any other value.
inline constexpr std::size_t status_slots = 12;
inline constexpr std::size_t status_slot(tern_status s) noexcept {
    return s >= 1 && s < static_cast<tern_status>(status_slots) ? static_cast<std::size_t>(s) : 0;
}

struct node_metrics {
    sdk::metric connected, pending_acks, rtt_us, reconnects;
    std::array<sdk::metric, static_cast<std::size_t>(request_op::count_)> requests{};
    std::array<std::array<sdk::metric, status_slots>, static_cast<std::size_t>(request_op::count_)> request_failures{};
    std::array<sdk::metric, static_cast<std::size_t>(uplink_op::count_)> uplinks{};
    std::array<std::array<sdk::metric, status_slots>, static_cast<std::size_t>(uplink_op::count_)> uplink_failures{};
    sdk::metric auth_cache_entries, auth_cache_hits;
    sdk::metric registrations;
    std::array<sdk::metric, static_cast<std::size_t>(downlink_kind::count_)> downlinks{}, downlinks_dropped{};
    sdk::metric ota_cache_bytes;

    void request(request_op op) const noexcept { requests[static_cast<std::size_t>(op)].inc(); }
    void request_failed(request_op op, tern_status s) const noexcept {
        request_failures[static_cast<std::size_t>(op)][status_slot(s)].inc();
    }
    void uplink(uplink_op op) const noexcept { uplinks[static_cast<std::size_t>(op)].inc(); }
    void uplink_failed(uplink_op op, tern_status s) const noexcept {
        uplink_failures[static_cast<std::size_t>(op)][status_slot(s)].inc();
    }
};

// Hook: the registration (registration.hpp) learns every device this node hears.
struct registration_hook {
    // This node heard the device (an uplink, a subscription). Returns at once. [any-thread]
    virtual void heard(uint64_t device_id) noexcept = 0;

protected:
    ~registration_hook() = default;
};

// Hook: the OTA cache (ota_cache.hpp) makes a package's bytes local before a local caller
// gets it.
struct ota_hook {
    // done(TERN_OK, local) with local->path a file on this node, or done(status, nullptr).
    // local is borrowed for done's call; done runs exactly once, on any thread (possibly
    // inside localize).
    using done_fn = std::function<void(tern_status, const tern_ota_package* local)>;
    // package (path: a file on the core node) is borrowed for this call only. [any-thread]
    virtual void localize(uint64_t device_id, const tern_ota_package& package, done_fn done) noexcept = 0;

protected:
    ~ota_hook() = default;
};

class node {
public:
    using state_fn = std::function<void(nats_link::link_state)>;

    // s must have been resolve()d.
    node(settings s, sdk::logger log);
    ~node();
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    const settings& config() const noexcept { return s_; }
    const sdk::logger& log() const noexcept { return log_; }
    std::string_view id() const noexcept { return s_.node_id; }
    // 16 hex digits chosen at construction: tells this run's msg ids from the last run's.
    std::string_view boot() const noexcept { return boot_; }
    // "<prefix>.<tail>", e.g. subject("core.v1.auth.authenticate").
    std::string subject(std::string_view tail) const;
    // "<prefix>_<name>", e.g. bucket("cluster") == "tern_cluster".
    std::string bucket(std::string_view name) const;

    // Registered once by the plugin at start, before open(); used by every piece.
    void register_metrics(const sdk::host& h);
    const node_metrics& metrics() const noexcept { return m_; }

    // Listeners for the link's state changes; add them before open(). [start-stop]
    void on_state(state_fn fn) { listeners_.push_back(std::move(fn)); }
    void set_registration(registration_hook* r) noexcept { registration_ = r; }
    void set_ota(ota_hook* o) noexcept { ota_ = o; }

    // Starts connecting (returns at once; the link connects and reconnects by itself).
    // Throws sdk::error on settings nats.c refuses. [start-stop]
    void open();
    // Closes the link: every pending request and publish completes UNAVAILABLE before it
    // returns. [start-stop]
    void close() noexcept;

    // The link, or null before open() / after close(). [any-thread]
    nats_link::link* link() const noexcept { return link_.load(std::memory_order_acquire); }
    bool connected() const noexcept {
        nats_link::link* l = link();
        return l != nullptr && l->connected();
    }

    class auth_cache& auth_cache() noexcept { return auth_; }

    // The cluster's uplink partition count, 0 while unknown. [any-thread]
    uint32_t partitions() const noexcept { return partitions_.load(std::memory_order_acquire); }
    // Reads it again from the <P>_cluster bucket (on every (re)connect and a core's hello).
    void refresh_partitions();

    // The hooks, or nothing when that piece is absent.
    void heard(uint64_t device_id) noexcept {
        if (registration_ != nullptr) registration_->heard(device_id);
    }
    ota_hook* ota() const noexcept { return ota_; }

    // Copies the link's numbers into the gauges (the plugin's timer, once a second).
    void sample_metrics() noexcept;

    // The next uplink msg id: "<node_id>.<boot>.<seq>". [any-thread]
    std::string next_msg_id();

private:
    void state_changed(nats_link::link_state st);

    settings s_;
    sdk::logger log_;
    std::string boot_;
    node_metrics m_;
    std::vector<state_fn> listeners_;
    registration_hook* registration_ = nullptr;
    ota_hook* ota_ = nullptr;
    class auth_cache auth_;
    std::unique_ptr<nats_link::link> owned_;
    std::atomic<nats_link::link*> link_{nullptr};
    std::atomic<uint32_t> partitions_{0};
    std::atomic<uint64_t> seq_{0};
    std::atomic<bool> partitions_warned_{false};
    std::atomic<bool> connected_announced_{false};
};

}  // namespace tern::core_nats

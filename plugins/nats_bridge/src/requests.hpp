// requests: the request subjects <P>.core.v1.* served for the transport nodes (queue group
// <P>-core): decode, call the core, encode its answer, publish it to the message's reply
// subject. Also the fire-and-forget calls (sessions.event, rpc.resend), answered only when the
// sender asked for a reply. At most max_requests_in_flight calls wait for the core; past it a
// request is answered TERN_BUSY at once.
//
// Threads: handle() runs on the subscription's nats.c thread, one message at a time per
// subscription (so each subscription has its own decoder); completions run on any thread and
// encode with a per-thread encoder.
#pragma once

#include <atomic>
#include <memory>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "downlinks.hpp"
#include "tern/core_wire/codec.hpp"
#include "tern/nats_link/link.hpp"

namespace tern::nats_bridge {

class requests : public std::enable_shared_from_this<requests> {
public:
    requests(const core_caps& core, bridge_metrics& metrics, sdk::logger log, downlinks& down);

    void configure(uint32_t max_in_flight) { max_in_flight_ = max_in_flight; }
    void attach(nats_link::link* l) noexcept { link_.store(l); }

    // [nats thread of op's subscription]
    void handle(request_op op, const nats_link::message& m, core_wire::decoder& dec);

    // Shutdown: new requests are answered TERN_UNAVAILABLE; waits (bounded) for the calls in
    // flight. False when some are still running: each holds this object (shared_ptr) until
    // its completion, which then sends nothing once the link is detached.
    bool stop(std::chrono::milliseconds wait);
    uint32_t in_flight() const noexcept { return in_flight_.load(); }

    struct call;  // one request waiting for the core (requests.cpp)

private:
    void start_call(request_op op, const nats_link::message& m, core_wire::decoder& dec);
    // Answers op's reply type with a status only.
    void answer_status(request_op op, std::string_view reply, tern_status status, std::string_view message);

public:
    // Used by the completions (requests.cpp).
    template <class R>
    void send(std::string_view reply, const R& r);
    void finish(call* c);
    sdk::logger log() const noexcept { return log_; }

private:
    const core_caps& core_;
    bridge_metrics& metrics_;
    sdk::logger log_;
    downlinks& down_;
    std::atomic<nats_link::link*> link_{nullptr};
    uint32_t max_in_flight_ = 1024;
    std::atomic<uint32_t> in_flight_{0};
    std::atomic<bool> stopping_{false};
};

}  // namespace tern::nats_bridge

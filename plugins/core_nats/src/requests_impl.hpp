// The templates requests.cpp and uplinks.cpp share: encoding with the bounds, sending a
// request, publishing a durable uplink. Included by those two files only.
#pragma once

#include <charconv>
#include <string>

#include "requests.hpp"
#include "wire.hpp"

namespace tern::core_nats {

inline constexpr const char* link_down = "core unreachable: NATS link is down";

inline tern_str str_of(const char* s) noexcept { return tern_str{s, std::char_traits<char>::length(s)}; }

template <class Msg>
requests::refusal requests::encode(const Msg& msg) {
    refusal r;
    thread_codec& c = codec();
    if (const core_wire::result e = c.enc.encode(msg, c.out); !e) {
        r.status = TERN_INVALID_ARGUMENT;
        r.text = sdk::cat("refused before sending: ", core_wire::to_string(e.error), " (", e.detail, ")");
        return r;
    }
    // The smaller of max_message_bytes and what the server accepts (its max_payload).
    uint64_t limit = n_.config().max_message_bytes;
    if (const nats_link::link* l = n_.link(); l != nullptr && l->max_payload() != 0 && l->max_payload() < limit)
        limit = l->max_payload();
    if (c.out.size() > limit) {
        r.status = TERN_INVALID_ARGUMENT;
        r.text = sdk::cat("refused before sending: the message has ", c.out.size(), " bytes, more than the ", limit,
                          " a message may have (max_message_bytes, the NATS server's max_payload)");
    }
    return r;
}

template <class OnReply, class OnFail>
void requests::send(request_op op, uint32_t timeout_ms, OnReply on_reply, OnFail on_fail) {
    const node_metrics& m = n_.metrics();
    nats_link::link* l = n_.link();
    if (l == nullptr || !l->connected()) {
        m.request_failed(op, TERN_UNAVAILABLE);
        on_fail(TERN_UNAVAILABLE, str_of(link_down));
        return;
    }
    l->request(subjects_[static_cast<std::size_t>(op)], codec().out, timeout_ms,
               [this, op, on_reply = std::move(on_reply), on_fail = std::move(on_fail)](
                   nats_link::status st, std::string_view reply) mutable {
                   const node_metrics& mm = n_.metrics();
                   if (st == nats_link::status::ok) {
                       on_reply(reply);  // counts a failure itself, before it completes
                       return;
                   }
                   tern_str message{};
                   const tern_status s = map_request(st, message);
                   mm.request_failed(op, s);
                   on_fail(s, message);
               });
}

template <class Done>
void requests::publish_uplink(uplink_op op, uint64_t device_id, Done done) {
    const node_metrics& m = n_.metrics();
    n_.heard(device_id);
    nats_link::link* l = n_.link();
    if (l == nullptr || !l->connected()) {
        m.uplink_failed(op, TERN_UNAVAILABLE);
        done(TERN_UNAVAILABLE, str_of(link_down));
        return;
    }
    const uint32_t parts = n_.partitions();
    if (parts == 0) {
        m.uplink_failed(op, TERN_UNAVAILABLE);
        done(TERN_UNAVAILABLE, str_of("no core node has announced the uplink partitions"));
        return;
    }
    char part[24];
    const auto r = std::to_chars(part, part + sizeof part, device_id % parts);
    std::string subject;
    subject.reserve(up_prefix_.size() + 24 + 12);
    subject.append(up_prefix_).append(part, r.ptr).push_back('.');
    subject.append(to_string(op));
    l->publish_durable(subject, codec().out, n_.next_msg_id(),
                       [this, op, done = std::move(done)](nats_link::status st, uint64_t) mutable {
                           tern_status s = TERN_OK;
                           const char* message = "";
                           switch (st) {
                               case nats_link::status::ok: break;
                               case nats_link::status::timeout:
                                   s = TERN_TIMEOUT;
                                   message = "JetStream did not acknowledge the uplink within publish_ack_timeout";
                                   break;
                               case nats_link::status::busy:
                                   s = TERN_BUSY;
                                   message = "max_pending_publishes uplinks are waiting for JetStream";
                                   break;
                               case nats_link::status::unavailable:
                                   s = TERN_UNAVAILABLE;
                                   message = link_down;
                                   break;
                               case nats_link::status::refused:
                                   s = TERN_BUSY;
                                   message = "JetStream will not store the uplink (stream full, or no stream: "
                                             "has a core node's bridge started?)";
                                   break;
                               case nats_link::status::not_found:
                               case nats_link::status::error:
                                   s = TERN_INTERNAL;
                                   message = "the NATS link failed the uplink (see the log)";
                                   break;
                           }
                           if (s != TERN_OK) n_.metrics().uplink_failed(op, s);
                           done(s, str_of(message));
                       });
}

}  // namespace tern::core_nats

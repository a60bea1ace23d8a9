// The message layer (RFC 7252 §4) and a request's way to its handler, as a sequence of
// stages that each return early when they answered: reply_for (No-Response), the peer,
// check_duplicate (dedup), the amplification gate (Echo), validate_options, read_options,
// split_path, well_known (/.well-known/core), route (the engine's first routing stage; the
// resource plugin parses its own path grammar after it), reassemble (Block1, blockwise),
// reserve (Observe), open_exchange and call_handler.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"
#include "tern/sdk/views.hpp"

namespace tern::coap {

namespace {

// Critical options the codec knows but the engine does not implement (RFC 8613, 9177, 9668).
bool unsupported_known(uint16_t n) noexcept {
    return n == opt::oscore || n == opt::q_block1 || n == opt::q_block2 || n == opt::edhoc;
}

}  // namespace

void shard::on_datagrams(uint32_t transport, const tern_datagram* batch, uint32_t count) noexcept {
    if (stopped_) return;
    scope sc(*this);
    for (uint32_t i = 0; i < count; ++i) datagram(transport, batch[i]);
}

void shard::datagram(uint32_t transport, const tern_datagram& dg) noexcept {
    const std::span<const uint8_t> bytes{dg.data.data, dg.data.size};
    const parse_status st = parse(bytes, msg_);
    switch (st) {
    case parse_status::ok: break;
    case parse_status::too_short: m_.inc(ctr::drop_too_short); return;
    case parse_status::bad_version: m_.inc(ctr::drop_bad_version); return;
    case parse_status::too_many_options:
        if (is_request_code(msg_.code) &&
            (msg_.type == msg_type::con || msg_.type == msg_type::non)) {
            request(transport, dg, true);
            return;
        }
        [[fallthrough]];
    default:
        // RFC 7252 §4.2/§4.3: a CON we cannot process is rejected with RST; anything
        // else malformed is silently ignored.
        if (msg_.type == msg_type::con) {
            m_.inc(ctr::drop_malformed_con);
            send_empty(transport, dg.peer, msg_type::rst, msg_.message_id);
        } else {
            m_.inc(ctr::drop_malformed);
        }
        return;
    }

    if (msg_.code == code::empty) {
        switch (msg_.type) {
        case msg_type::con:  // CoAP ping (§4.3): answered with RST
            send_empty(transport, dg.peer, msg_type::rst, msg_.message_id);
            return;
        case msg_type::non:  // §4.3: a NON is never Empty
            m_.inc(ctr::drop_malformed);
            return;
        case msg_type::ack: retransmit_.on_ack(transport, dg.peer, msg_.message_id); return;
        case msg_type::rst: retransmit_.on_reset(transport, dg.peer, msg_.message_id); return;
        }
        return;
    }
    if (is_request_code(msg_.code)) {
        if (msg_.type == msg_type::con || msg_.type == msg_type::non) {
            request(transport, dg, false);
        } else {
            m_.inc(ctr::drop_unexpected);  // a request cannot ride in an ACK or RST
        }
        return;
    }
    // A response: Tern sends no requests, so nothing is waiting for one.
    m_.inc(ctr::drop_unexpected);
    if (msg_.type == msg_type::con) send_empty(transport, dg.peer, msg_type::rst, msg_.message_id);
}

// The stages are functions of their own for the reader; flatten compiles them back into this
// one body (they live in this file), so the hot path costs what one long function did.
[[gnu::flatten]] void shard::request(uint32_t transport, const tern_datagram& dg, bool too_many) noexcept {
    reply_to to = reply_for(transport, dg);
    to.peer = peer_get(transport, dg.peer);
    if (to.peer == nil) {  // counted by peer_get (shed_peers or shed_peers_per_prefix)
        reply_error(to, code::service_unavailable, "server busy: too many peers",
                    cfg_.overload_max_age);
        return;
    }
    if (check_duplicate(to, dg)) return;
    if (amp_gate(to)) return;  // Echo (RFC 9175): verifies the address, or 4.01 asks for it
    if (too_many) {
        reply_error(to, code::bad_option, "too many options");
        return;
    }
    request_options o;
    if (!validate_options(to, o) || !read_options(to, o)) return;
    split_path(o);
    if (well_known(to, o)) return;
    const resource_entry* res = route(to, o);
    if (res == nullptr) return;
    tern_bytes payload{msg_.payload.data(), msg_.payload.size()};
    uint32_t transfer = nil;
    if (!blockwise_.reassemble(to, o, payload, transfer)) return;
    uint32_t rel = nil;
    if (!observe_.reserve(to, o, res, transfer, rel)) return;
    open_exchange(to, o, res, rel, transfer, payload, dg.peer);
}

reply_to shard::reply_for(uint32_t transport, const tern_datagram& dg) noexcept {
    const message& m = msg_;
    reply_to to;
    to.transport = transport;
    to.addr = &dg.peer;
    to.token = m.token;
    to.mid = m.message_id;
    to.type = static_cast<uint8_t>(m.type);
    to.method = m.code;
    to.request_len = static_cast<uint32_t>(std::min<std::size_t>(dg.data.size, 65535));
    // RFC 7967 No-Response applies to every answer, the engine's own errors included.
    if (const option_view* nr = m.find(opt::no_response); nr != nullptr && nr->value.size() <= 1) {
        const uint32_t v = nr->value.empty() ? 0 : nr->value[0];
        to.no_response = static_cast<uint8_t>(((v & 2) ? 1u << 2 : 0) | ((v & 8) ? 1u << 4 : 0) |
                                              ((v & 16) ? 1u << 5 : 0));
    }
    return to;
}

bool shard::check_duplicate(reply_to& to, const tern_datagram& dg) noexcept {
    // RFC 7252 §4.5: a duplicate is answered as its first copy was, never processed twice.
    if (const uint32_t d = dedup_.find(to.peer, to.mid); d != nil) {
        dedup_.answer_duplicate(d, to.transport, dg);
        return true;
    }
    to.dedup_seq = dedup_.insert(to.peer, to.mid, to.type);
    return false;
}

bool shard::validate_options(reply_to& to, request_options& ro) noexcept {
    // RFC 7252 §5.4: an unknown or malformed critical option is an error; an elective one
    // is treated as absent.
    const message& m = msg_;
    for (uint32_t i = 0; i < m.option_count; ++i) {
        const option_view& o = m.options[i];
        const auto info = find_option(o.number);
        const bool repeat = i > 0 && m.options[i - 1].number == o.number;
        const bool unknown = !info || unsupported_known(o.number);
        const bool invalid =
            info && (!option_length_ok(*info, o.value.size()) || (repeat && !info->repeatable));
        if (!unknown && !invalid) continue;
        if (!is_critical(o.number)) {
            ro.ignored |= uint64_t{1} << i;
            continue;
        }
        diag d;
        if (unknown) {
            d.add("unsupported critical option ").add(o.number);
        } else {
            d.add("invalid critical option ").add(o.number).add(" (").add(info->name).add(")");
        }
        reply_error(to, code::bad_option, d.text());
        return false;
    }
    return true;
}

bool shard::read_options(reply_to& to, request_options& ro) noexcept {
    const message& m = msg_;
    for (uint32_t i = 0; i < m.option_count; ++i) {
        if ((ro.ignored >> i) & 1) continue;
        const option_view& o = m.options[i];
        const tern_str text{reinterpret_cast<const char*>(o.value.data()), o.value.size()};
        switch (o.number) {
        case opt::observe: ro.observe = static_cast<int64_t>(*decode_uint(o.value)); break;
        case opt::content_format: ro.content_format = static_cast<int32_t>(*decode_uint(o.value)); break;
        case opt::accept: ro.accept = static_cast<int32_t>(*decode_uint(o.value)); break;
        case opt::uri_path: path_[ro.path_count++] = text; break;
        case opt::uri_query: query_[ro.query_count++] = text; break;
        case opt::proxy_uri:
        case opt::proxy_scheme: ro.proxy = true; break;
        case opt::block1:
        case opt::block2: {
            const auto b = decode_block(o.value);
            if (!b) {
                reply_error(to, code::bad_request,
                            o.number == opt::block1 ? "invalid Block1 option" : "invalid Block2 option");
                return false;
            }
            (o.number == opt::block1 ? ro.block1 : ro.block2) = b;
            break;
        }
        case opt::size1: ro.size1 = static_cast<int64_t>(*decode_uint(o.value)); break;
        case opt::size2: ro.size2 = true; break;
        default: break;
        }
    }
    if (ro.proxy) {
        reply_error(to, make_code(5, 5), "proxying not supported");
        return false;
    }
    if (ro.block2) {
        to.block2 = true;
        to.block2_num = ro.block2->num;
        to.block2_szx = ro.block2->szx;
    }
    to.size2 = ro.size2;
    return true;
}

void shard::split_path(request_options& o) noexcept {
    // device-api §1.1: one Uri-Path holding "/api/v1/..." is split on '/'.
    uint32_t& np = o.path_count;
    if (!cfg_.split_single_uri_path || np != 1 ||
        std::memchr(path_[0].data, '/', path_[0].size) == nullptr)
        return;
    std::string_view whole = sdk::to_sv(path_[0]);
    if (!whole.empty() && whole.front() == '/') whole.remove_prefix(1);
    np = 0;
    while (!whole.empty() && np < max_path_segments) {
        const std::size_t slash = whole.find('/');
        const std::string_view seg = whole.substr(0, slash);
        path_[np++] = tern_str{seg.data(), seg.size()};
        if (slash == std::string_view::npos) break;
        whole.remove_prefix(slash + 1);
    }
    // Like Java's String.split: trailing empty segments are dropped.
    while (np > 0 && path_[np - 1].size == 0) --np;
}

bool shard::well_known(reply_to& to, const request_options& o) noexcept {
    // RFC 6690: GET /.well-known/core lists the resources, filtered by the query.
    auto seg_is = [&](uint32_t i, std::string_view s) {
        return sdk::to_sv(path_[i]) == s;
    };
    if (o.path_count != 2 || !seg_is(0, ".well-known") || !seg_is(1, "core")) return false;
    if (to.method != code_get) {
        reply_error(to, code::method_not_allowed, "method not allowed; allowed: GET");
        return true;
    }
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::content;
    r.content_format = TERN_COAP_FORMAT_LINK;
    r.max_age = -1;
    if (o.query_count == 0) {
        const std::string_view doc = routes_ != nullptr ? routes_->well_known() : std::string_view{};
        r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(doc.data()), doc.size()};
    } else if (routes_ != nullptr) {
        const std::size_t n =
            routes_->well_known_filtered(query_.data(), o.query_count, well_known_buf_.get());
        r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(well_known_buf_.get()), n};
    }
    send_response(to, r, nil);
    return true;
}

const resource_entry* shard::route(reply_to& to, request_options& o) noexcept {
    // The first of two routing stages: the registered pattern (literal, {capture}, **) and
    // its methods. The resource's handler parses what its pattern left open (device_api:
    // ThingsBoard's path grammar) itself.
    const uint32_t np = o.path_count;
    const uint8_t method = to.method;
    const resource_entry* res =
        routes_ != nullptr ? routes_->match(path_.data(), np, caps_.data(), &o.capture_count) : nullptr;
    if (res == nullptr) {
        diag d;
        d.add("no resource at ");
        if (np == 0) d.add("/");
        for (uint32_t i = 0; i < np; ++i) d.add("/").add(sdk::to_sv(path_[i]));
        reply_error(to, code::not_found, d.text());
        return nullptr;
    }
    if (method > 31 || (res->methods & (1u << method)) == 0) {
        diag d;
        d.add("method not allowed; allowed:");
        bool first = true;
        for (uint8_t k = 1; k <= 7; ++k) {
            if ((res->methods & (1u << k)) == 0) continue;
            d.add(first ? " " : ", ").add(method_label(k));
            first = false;
        }
        if (first) d.add(" none");
        reply_error(to, code::method_not_allowed, d.text());
        return nullptr;
    }
    return res;
}

void shard::open_exchange(reply_to& to, const request_options& o, const resource_entry* res,
                          uint32_t rel, uint32_t transfer, tern_bytes payload,
                          const tern_peer& from) noexcept {
    const uint32_t x = exchange_.open(to, res, rel);
    if (x == nil) {
        if (rel != nil) observe_.cancel_reservation(rel);
        if (transfer != nil) blockwise_.discard(transfer);
        m_.inc(ctr::shed_exchanges);
        reply_error(to, code::service_unavailable, "server busy: too many exchanges",
                    cfg_.overload_max_age);
        return;
    }
    const uint32_t gen = exch_[x].gen;
    call_handler(x, o, res, payload, from);
    if (transfer != nil) blockwise_.discard(transfer);
    // piggyback_timeout 0: the empty ACK goes now unless the handler answered inside
    // on_request.
    if (msg_.type == msg_type::con && cfg_.piggyback_timeout_ms == 0) {
        const exchange_rec& after = exch_[x];
        if (after.gen == gen && after.state == exch_pending && !after.acked) exchange_.ack_now(x);
    }
}

void shard::call_handler(uint32_t x, const request_options& o, const resource_entry* res,
                         tern_bytes payload, const tern_peer& from) noexcept {
    const message& m = msg_;
    for (uint32_t i = 0; i < m.option_count; ++i) {
        opts_[i] = tern_coap_option{m.options[i].number, 0, 0,
                                    tern_bytes{m.options[i].value.data(), m.options[i].value.size()}};
    }
    const exchange_rec& e = exch_[x];
    tern_coap_request req{};
    req.struct_size = sizeof req;
    req.type = e.type;
    req.code = e.method;
    req.message_id = m.message_id;
    req.exchange = make_id(index_, x, e.gen);
    req.shard = index_;
    req.observe = static_cast<int32_t>(o.observe);
    req.content_format = o.content_format;
    req.accept = o.accept;
    req.token = tern_bytes{m.token.data(), m.token.size()};
    req.peer = from;
    req.transport = eng_.transport_name(peers_[e.peer].transport);
    req.path = path_.data();
    req.path_count = o.path_count;
    req.query = query_.data();
    req.query_count = o.query_count;
    req.options = opts_.data();
    req.option_count = m.option_count;
    req.captures = caps_.data();
    req.capture_count = o.capture_count;
    req.payload = payload;
    res->handler->on_request(&req);
}

}  // namespace tern::coap

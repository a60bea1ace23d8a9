// The message layer (RFC 7252 §4) and request handling: parse, reject, deduplicate,
// validate options, route, reassemble Block1 (RFC 7959), register Observe (RFC 7641) and
// hand the request to its handler.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"

namespace tern::coap {

namespace {

// A short diagnostic payload (RFC 7252 §5.5.2) assembled without allocation.
class diag {
public:
    diag& add(std::string_view s) noexcept {
        const std::size_t k = std::min(s.size(), sizeof buf_ - n_);
        std::memcpy(buf_ + n_, s.data(), k);
        n_ += k;
        return *this;
    }
    diag& add(uint64_t v) noexcept {
        char t[24];
        auto r = std::to_chars(t, t + sizeof t, v);
        return add(std::string_view(t, static_cast<std::size_t>(r.ptr - t)));
    }
    std::string_view text() const noexcept { return {buf_, n_}; }

private:
    char buf_[200];
    std::size_t n_ = 0;
};

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
        case msg_type::ack: empty_ack(transport, dg.peer, msg_.message_id); return;
        case msg_type::rst: empty_rst(transport, dg.peer, msg_.message_id); return;
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

void shard::empty_ack(uint32_t transport, const tern_peer& from, uint16_t mid) noexcept {
    const uint32_t p = peer_find(transport, from);
    const uint32_t owner = p == nil ? nil : tx_find(p, mid);
    if (owner == nil) {
        // A ping is answered by RST (RFC 7252 §4.3); an ACK naming its MID proves as much.
        if (!amp_ping_answered(transport, p, mid) && !amp_ping_late(transport, p, mid))
            m_.inc(ctr::drop_unmatched_ack);
        return;
    }
    peers_[p].last_ns = now_;
    amp_proved(transport, from);  // the ACK names a MID only that address has seen
    if (owner < lim_.exchanges) {
        exchange_free(owner);  // the separate response arrived
    } else {
        relation_acked(owner - lim_.exchanges);
    }
}

void shard::empty_rst(uint32_t transport, const tern_peer& from, uint16_t mid) noexcept {
    const uint32_t p = peer_find(transport, from);
    if (p == nil) {
        m_.inc(ctr::drop_unmatched_rst);
        return;
    }
    const uint32_t owner = tx_find(p, mid);
    if (owner != nil) {
        amp_proved(transport, from);
        if (owner < lim_.exchanges) {
            // The client rejected a separate response; if it carried an Observe
            // registration, the client does not want that relation either (RFC 7641 §3.6).
            const exchange_rec& x = exch_[owner];
            const uint32_t r = x.obs;
            const uint32_t g = x.obs_gen;
            exchange_free(owner);
            if (r != nil && rels_[r].gen == g &&
                (rels_[r].state == rel_live || rels_[r].state == rel_ending))
                relation_end(r, TERN_COAP_END_RESET, true, TERN_COAP_NOTIFY_DROPPED, nil);
        } else {
            relation_reset(owner - lim_.exchanges);
        }
        return;
    }
    if (amp_ping_answered(transport, p, mid)) return;  // the Reset to our ping
    // An RST answering a NON notification (RFC 7641 §3.6) ends that relation.
    for (uint32_t r = peers_[p].relations.head; r != nil; r = rels_[r].peer_link.next) {
        const relation_rec& rel = rels_[r];
        if ((rel.flags & rf_has_non_mid) != 0 && rel.last_non_mid == mid &&
            (rel.state == rel_live || rel.state == rel_ending)) {
            relation_end(r, TERN_COAP_END_RESET, true, TERN_COAP_NOTIFY_DROPPED, nil);
            return;
        }
    }
    if (amp_ping_late(transport, p, mid)) return;  // the Reset to a ping that timed out
    if (amp_ping_wrong(transport, p)) return;      // a guess at the ping's MID
    m_.inc(ctr::drop_unmatched_rst);
}

void shard::request(uint32_t transport, const tern_datagram& dg, bool too_many) noexcept {
    const message& m = msg_;
    const uint8_t method = m.code;
    reply_to to;
    to.transport = transport;
    to.addr = &dg.peer;
    to.token = m.token;
    to.mid = m.message_id;
    to.type = static_cast<uint8_t>(m.type);
    to.method = method;
    to.request_len = static_cast<uint32_t>(std::min<std::size_t>(dg.data.size, 65535));

    // RFC 7967 No-Response applies to every answer, the engine's own errors included.
    if (const option_view* nr = m.find(opt::no_response); nr != nullptr && nr->value.size() <= 1) {
        const uint32_t v = nr->value.empty() ? 0 : nr->value[0];
        to.no_response = static_cast<uint8_t>(((v & 2) ? 1u << 2 : 0) | ((v & 8) ? 1u << 4 : 0) |
                                              ((v & 16) ? 1u << 5 : 0));
    }

    const uint32_t p = peer_get(transport, dg.peer);
    if (p == nil) {  // counted by peer_get (shed_peers or shed_peers_per_prefix)
        reply_error(to, code::service_unavailable, "server busy: too many peers",
                    cfg_.overload_max_age);
        return;
    }
    to.peer = p;

    // ---- duplicate detection (RFC 7252 §4.5) ----
    if (const uint32_t d = dedup_find(p, m.message_id); d != nil) {
        m_.inc(ctr::duplicates);
        dedup_rec& e = dedup_[d];
        if (m.type != msg_type::con || e.type != static_cast<uint8_t>(msg_type::con)) {
            m_.inc(ctr::drop_duplicate_non);
            return;
        }
        switch (e.state) {
        case dedup_pending:
            // The client is retransmitting: stop it with the empty ACK now; the response
            // will follow as a separate message. A held answer not acknowledged yet keeps
            // its ACK (it rides there within ping_timeout): the duplicate is absorbed.
            if (e.exchange != nil && exch_[e.exchange].state == exch_held &&
                exch_[e.exchange].type == static_cast<uint8_t>(msg_type::con) &&
                exch_[e.exchange].acked == 0)
                return;
            if (e.exchange != nil && exch_[e.exchange].state == exch_pending) {
                exchange_ack_now(e.exchange);
            } else {
                send_empty(transport, dg.peer, msg_type::ack, m.message_id);
                e.state = dedup_acked;
            }
            return;
        case dedup_cached: {
            if (!amp_replay_ok(transport, dg.peer, dg.data.size, e.arena_len)) return;
            std::span<uint8_t> s = out_slot();
            std::memcpy(s.data(), &arena_[e.arena_off], e.arena_len);
            out_commit(transport, dg.peer, e.arena_len);
            return;
        }
        case dedup_acked: send_empty(transport, dg.peer, msg_type::ack, m.message_id); return;
        default: return;
        }
    }
    to.dedup_seq = dedup_insert(p, m.message_id, to.type);
    if (amp_gate(to)) return;  // Echo (RFC 9175): verifies the address, or 4.01 asks for it

    if (too_many) {
        reply_error(to, code::bad_option, "too many options");
        return;
    }

    // ---- options (RFC 7252 §5.4) ----
    uint64_t ignored = 0;  // bit i: option i is an elective option treated as absent
    for (uint32_t i = 0; i < m.option_count; ++i) {
        const option_view& o = m.options[i];
        const auto info = find_option(o.number);
        const bool repeat = i > 0 && m.options[i - 1].number == o.number;
        const bool unknown = !info || unsupported_known(o.number);
        const bool invalid =
            info && (!option_length_ok(*info, o.value.size()) || (repeat && !info->repeatable));
        if (!unknown && !invalid) continue;
        if (!is_critical(o.number)) {
            ignored |= uint64_t{1} << i;
            continue;
        }
        diag d;
        if (unknown) {
            d.add("unsupported critical option ").add(o.number);
        } else {
            d.add("invalid critical option ").add(o.number).add(" (").add(info->name).add(")");
        }
        reply_error(to, code::bad_option, d.text());
        return;
    }

    int64_t observe = -1;
    int32_t content_format = -1;
    int32_t accept = -1;
    std::optional<block> block1;
    std::optional<block> block2;
    int64_t size1 = -1;
    bool size2 = false;
    bool proxy = false;
    uint32_t np = 0;
    uint32_t nq = 0;
    for (uint32_t i = 0; i < m.option_count; ++i) {
        if ((ignored >> i) & 1) continue;
        const option_view& o = m.options[i];
        switch (o.number) {
        case opt::observe: observe = static_cast<int64_t>(*decode_uint(o.value)); break;
        case opt::content_format: content_format = static_cast<int32_t>(*decode_uint(o.value)); break;
        case opt::accept: accept = static_cast<int32_t>(*decode_uint(o.value)); break;
        case opt::uri_path: path_[np++] = tern_str{reinterpret_cast<const char*>(o.value.data()), o.value.size()}; break;
        case opt::uri_query: query_[nq++] = tern_str{reinterpret_cast<const char*>(o.value.data()), o.value.size()}; break;
        case opt::proxy_uri:
        case opt::proxy_scheme: proxy = true; break;
        case opt::block1:
        case opt::block2: {
            const auto b = decode_block(o.value);
            if (!b) {
                reply_error(to, code::bad_request,
                            o.number == opt::block1 ? "invalid Block1 option" : "invalid Block2 option");
                return;
            }
            (o.number == opt::block1 ? block1 : block2) = b;
            break;
        }
        case opt::size1: size1 = static_cast<int64_t>(*decode_uint(o.value)); break;
        case opt::size2: size2 = true; break;
        default: break;
        }
    }
    if (proxy) {
        reply_error(to, make_code(5, 5), "proxying not supported");
        return;
    }
    if (block2) {
        to.block2 = true;
        to.block2_num = block2->num;
        to.block2_szx = block2->szx;
    }
    to.size2 = size2;

    // ---- path: device-api §1.1, one Uri-Path holding "/api/v1/..." is split on '/' ----
    if (cfg_.split_single_uri_path && np == 1 &&
        std::memchr(path_[0].data, '/', path_[0].size) != nullptr) {
        std::string_view whole(path_[0].data, path_[0].size);
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

    // ---- /.well-known/core (RFC 6690) ----
    auto seg_is = [&](uint32_t i, std::string_view s) {
        return std::string_view(path_[i].data, path_[i].size) == s;
    };
    if (np == 2 && seg_is(0, ".well-known") && seg_is(1, "core")) {
        if (method != code_get) {
            reply_error(to, code::method_not_allowed, "method not allowed; allowed: GET");
            return;
        }
        tern_coap_response r{};
        r.struct_size = sizeof r;
        r.code = code::content;
        r.content_format = TERN_COAP_FORMAT_LINK;
        r.max_age = -1;
        if (nq == 0) {
            const std::string_view doc = routes_ != nullptr ? routes_->well_known() : std::string_view{};
            r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(doc.data()), doc.size()};
        } else if (routes_ != nullptr) {
            const std::size_t n = routes_->well_known_filtered(query_.data(), nq, well_known_buf_.get());
            r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(well_known_buf_.get()), n};
        }
        send_response(to, r, nil);
        return;
    }

    // ---- routing ----
    uint32_t ncap = 0;
    const resource_entry* res =
        routes_ != nullptr ? routes_->match(path_.data(), np, caps_.data(), &ncap) : nullptr;
    if (res == nullptr) {
        diag d;
        d.add("no resource at ");
        if (np == 0) d.add("/");
        for (uint32_t i = 0; i < np; ++i) d.add("/").add(std::string_view(path_[i].data, path_[i].size));
        reply_error(to, code::not_found, d.text());
        return;
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
        return;
    }

    // ---- Block1 (RFC 7959 §2.5): reassemble the request body ----
    tern_bytes payload{m.payload.data(), m.payload.size()};
    uint32_t transfer = nil;
    if (block1 || size1 >= 0) {
        // Request matching ignores MID and token: method, path and query identify it.
        uint64_t key = mix64(hash_seed_ ^ method);
        for (uint32_t i = 0; i < np; ++i)
            key = mix64(key ^ hash_bytes(path_[i].data, path_[i].size, hash_seed_ + 1));
        for (uint32_t i = 0; i < nq; ++i)
            key = mix64(key ^ hash_bytes(query_[i].data, query_[i].size, hash_seed_ + 2));
        const uint32_t kh = static_cast<uint32_t>(mix64(key ^ p));
        uint32_t t = xfer_index_.find(kh, [&](uint32_t i) {
            return xfers_[i].peer == p && xfers_[i].key == key;
        });

        // Refused at the first block whose Size1 or offset passes the limit, not after the
        // bytes were buffered. (Its default is device_api's max_payload_size default.)
        const uint64_t limit = cfg_.max_resource_body_size;
        if (size1 >= 0 && static_cast<uint64_t>(size1) > limit) {
            if (t != nil) transfer_free(t);
            m_.inc(ctr::block1_too_large);
            diag d;
            d.add("request body too large (limit ").add(limit).add(" bytes)");
            reply_error(to, code::request_entity_too_large, d.text(), -1, static_cast<int64_t>(limit));
            return;
        }
        if (block1) {
            const block b = *block1;
            const uint8_t szx = std::min(b.szx, pref_szx_);
            const uint64_t off = b.offset();
            const std::size_t len = m.payload.size();
            if ((b.more && len != b.size()) || len > b.size()) {
                if (t != nil) transfer_free(t);
                reply_error(to, code::bad_request, "Block1 payload size does not match its SZX");
                return;
            }
            to.block1 = true;
            to.block1_num = b.num;
            to.block1_szx = szx;
            if (b.num == 0 && !b.more) {
                if (t != nil) transfer_free(t);  // a one-block body replaces any transfer
            } else {
                if (b.num == 0) {
                    if (t != nil) transfer_free(t);
                    // A peer at its cap gives up its own least recently advanced upload; a
                    // full table the least recently advanced of any peer. A new upload is
                    // never refused for uploads that stalled (or were never meant to finish).
                    if (peers_[p].transfers >= cfg_.max_block1_transfers_per_peer) {
                        uint32_t own = xfer_lru_.head;
                        while (own != nil && xfers_[own].peer != p) own = xfers_[own].lru.next;
                        if (own != nil) {
                            m_.inc(ctr::block1_recycled_per_peer);
                            transfer_free(own);
                        }
                    }
                    if (xfers_.full()) {
                        m_.inc(ctr::block1_evicted);
                        transfer_free(xfer_lru_.head);
                    }
                    t = xfers_.alloc();
                    if (t == nil) {  // not reached: room was made above
                        m_.inc(ctr::shed_block1_transfers);
                        reply_error(to, code::service_unavailable,
                                    "server busy: too many block-wise uploads", cfg_.overload_max_age);
                        return;
                    }
                    transfer_rec& tr = xfers_[t];
                    tr.peer = p;
                    tr.key = key;
                    tr.hash = kh;
                    tr.last_off = UINT64_MAX;
                    xfer_index_.insert(kh, t);
                    xfer_lru_.push_back(t, [this](uint32_t i) -> list_link& { return xfers_[i].lru; });
                    ++peers_[p].transfers;
                    peer_ref(p);
                } else if (t == nil) {
                    diag d;
                    d.add("block ").add(b.num).add(" arrived without the blocks before it");
                    reply_error(to, code::request_entity_incomplete, d.text());
                    return;
                }
                transfer_rec& tr = xfers_[t];
                const bool repeat = off == tr.last_off && b.num == tr.last_num && b.szx == tr.last_szx;
                if (!repeat && off != tr.size) {
                    // the diagnostic reads the transfer, so it is built before the free
                    diag d;
                    d.add("block ").add(b.num).add(" out of order (expected offset ").add(tr.size).add(")");
                    transfer_free(t);
                    reply_error(to, code::request_entity_incomplete, d.text());
                    return;
                }
                if (!repeat) {
                    const uint64_t end = off + len;
                    if (end > limit) {
                        transfer_free(t);
                        m_.inc(ctr::block1_too_large);
                        diag d;
                        d.add("request body too large (limit ").add(limit).add(" bytes)");
                        reply_error(to, code::request_entity_too_large, d.text(), -1,
                                    static_cast<int64_t>(limit));
                        return;
                    }
                    if (end > tr.cap) {
                        // Grown as blocks arrive (doubling), never reserved from Size1: a
                        // claimed size costs nothing until the bytes come.
                        const uint64_t cap = std::max<uint64_t>(
                            end, std::min<uint64_t>(limit, std::max<uint64_t>(tr.cap * 2, 4096)));
                        const uint64_t grow = cap - tr.cap;
                        auto& total = eng_.block1_bytes();
                        // Over the memory budget (shared by every shard): this shard's least
                        // recently advanced other uploads give way first.
                        while (total.load(std::memory_order_relaxed) + grow > cfg_.block1_memory) {
                            const uint32_t v =
                                xfer_lru_.head == t ? xfers_[t].lru.next : xfer_lru_.head;
                            if (v == nil) break;
                            m_.inc(ctr::block1_evicted);
                            transfer_free(v);
                        }
                        void* nb = nullptr;
                        if (total.fetch_add(grow, std::memory_order_relaxed) + grow <= cfg_.block1_memory)
                            nb = std::realloc(tr.buf, cap);
                        if (nb == nullptr) {
                            total.fetch_sub(grow, std::memory_order_relaxed);
                            transfer_free(t);
                            m_.inc(ctr::shed_block1_memory);
                            reply_error(to, code::service_unavailable,
                                        "server busy: block-wise upload memory exhausted",
                                        cfg_.overload_max_age);
                            return;
                        }
                        tr.buf = static_cast<uint8_t*>(nb);
                        tr.cap = cap;
                    }
                    if (len != 0) std::memcpy(tr.buf + off, m.payload.data(), len);
                    tr.size = end;
                    tr.last_off = off;
                    tr.last_num = b.num;
                    tr.last_szx = b.szx;
                }
                tr.last_ns = now_;
                xfer_lru_.remove(t, [this](uint32_t i) -> list_link& { return xfers_[i].lru; });
                xfer_lru_.push_back(t, [this](uint32_t i) -> list_link& { return xfers_[i].lru; });
                if (b.more) {
                    // RFC 7959 §2.3: 2.31 Continue, with the server's block size.
                    tern_coap_response r{};
                    r.struct_size = sizeof r;
                    r.code = code::continue_;
                    r.content_format = -1;
                    r.max_age = -1;
                    reply_to cont = to;
                    cont.block2 = false;
                    build_opts o;
                    o.block1 = true;
                    o.block1_num = b.num;
                    o.block1_more = true;
                    o.block1_szx = szx;
                    cont.block1 = false;
                    send_response(cont, r, nil, &o);
                    return;
                }
                m_.inc(ctr::block_in);
                transfer = t;
                payload = tern_bytes{tr.buf, static_cast<std::size_t>(tr.size)};
            }
        }
    }

    // ---- Observe (RFC 7641) ----
    uint32_t rel = nil;
    if (method == code_get && (observe == 0 || observe == 1)) {
        uint32_t seq_start = 0;
        const uint32_t old = relation_find(p, m.token);
        if (old != nil) {
            if (observe == 1) {
                relation_end(old, TERN_COAP_END_DEREGISTERED, true, TERN_COAP_NOTIFY_DROPPED, nil);
            } else if (res->observable()) {
                // Re-registration: the new relation continues the old sequence so the
                // client's freshness check (§3.4) accepts its first response.
                seq_start = (rels_[old].seq + 1) & 0xFFFFFFu;
                relation_end(old, TERN_COAP_END_REPLACED, true, TERN_COAP_NOTIFY_DROPPED, nil);
            }
        }
        if (observe == 0 && res->observable()) {
            const bool total_full = rels_.full();
            if (total_full || peers_[p].observations >= cfg_.max_observations_per_peer) {
                if (transfer != nil) transfer_free(transfer);
                m_.inc(total_full ? ctr::shed_observations : ctr::shed_observations_per_peer);
                reply_error(to, code::service_unavailable, "observation limit reached",
                            cfg_.overload_max_age);
                return;
            }
            rel = rels_.alloc();
            relation_rec& r = rels_[rel];
            r.state = rel_reserved;
            r.peer = p;
            r.res = res;
            r.type = to.type;
            r.tkl = static_cast<uint8_t>(m.token.size());
            std::memcpy(r.token, m.token.data(), m.token.size());
            r.seq = seq_start;
            r.q_head = r.q_tail = r.inflight = nil;
            peers_[p].relations.push_back(rel, [this](uint32_t i) -> list_link& { return rels_[i].peer_link; });
            ++peers_[p].observations;
            peer_ref(p);
            // Published now, so a notify() from another thread right after its respond()
            // is queued behind it instead of refused.
            std::atomic_ref<uint32_t>(pub_obs_gen_[rel]).store(r.gen, std::memory_order_release);
        }
    }

    // ---- the exchange ----
    const uint32_t x = exch_.alloc();
    if (x == nil) {
        if (rel != nil) relation_release_reservation(rel);
        if (transfer != nil) transfer_free(transfer);
        m_.inc(ctr::shed_exchanges);
        reply_error(to, code::service_unavailable, "server busy: too many exchanges",
                    cfg_.overload_max_age);
        return;
    }
    exchange_rec& e = exch_[x];
    amp_.request_len[x] = static_cast<uint16_t>(to.request_len);
    e.peer = p;
    e.arrival_ns = now_;
    e.dedup_seq = to.dedup_seq;
    e.res = res;
    e.obs = rel;
    e.obs_gen = rel != nil ? rels_[rel].gen : 0;
    e.tx_chunks = nil;
    e.held_chunks = nil;
    e.mid = m.message_id;
    e.state = exch_pending;
    e.type = to.type;
    e.method = method;
    e.tkl = static_cast<uint8_t>(m.token.size());
    std::memcpy(e.token, m.token.data(), m.token.size());
    e.no_response = to.no_response;
    e.flags = static_cast<uint8_t>((block2 ? xf_block2 : 0) | (size2 ? xf_size2 : 0) |
                                   (to.block1 ? xf_block1 : 0));
    if (block2) {
        e.block2_num = block2->num;
        e.block2_szx = block2->szx;
    }
    e.block1_num = to.block1_num;
    e.block1_szx = to.block1_szx;
    if (dedup_rec* d = dedup_get(to.dedup_seq)) d->exchange = x;
    pending_.push_back(x, [this](uint32_t i) -> list_link& { return exch_[i].pending_link; });
    if (m.type == msg_type::con && cfg_.piggyback_timeout_ms != 0) {
        piggy_.push_back(x, [this](uint32_t i) -> list_link& { return exch_[i].piggy_link; });
        e.in_piggy = 1;
    }
    peers_[p].exchanges.push_back(x, [this](uint32_t i) -> list_link& { return exch_[i].peer_link; });
    peer_ref(p);
    m_.add(gge::exchanges, 1);
    const uint32_t gen = e.gen;
    const uint64_t id = make_id(index_, x, gen);
    std::atomic_ref<uint64_t>(pub_exch_obs_[x])
        .store(rel != nil ? make_id(index_, rel, rels_[rel].gen) : 0, std::memory_order_relaxed);
    std::atomic_ref<uint32_t>(pub_exch_gen_[x]).store(e.gen, std::memory_order_release);

    for (uint32_t i = 0; i < m.option_count; ++i) {
        opts_[i] = tern_coap_option{m.options[i].number, 0, 0,
                                    tern_bytes{m.options[i].value.data(), m.options[i].value.size()}};
    }
    tern_coap_request req{};
    req.struct_size = sizeof req;
    req.type = to.type;
    req.code = method;
    req.message_id = m.message_id;
    req.exchange = id;
    req.shard = index_;
    req.observe = static_cast<int32_t>(observe);
    req.content_format = content_format;
    req.accept = accept;
    req.token = tern_bytes{m.token.data(), m.token.size()};
    req.peer = dg.peer;
    req.transport = eng_.transport_name(transport);
    req.path = path_.data();
    req.path_count = np;
    req.query = query_.data();
    req.query_count = nq;
    req.options = opts_.data();
    req.option_count = m.option_count;
    req.captures = caps_.data();
    req.capture_count = ncap;
    req.payload = payload;
    res->handler->on_request(&req);

    if (transfer != nil) transfer_free(transfer);
    // piggyback_timeout 0: the empty ACK goes now unless the handler answered inside
    // on_request.
    if (m.type == msg_type::con && cfg_.piggyback_timeout_ms == 0) {
        const exchange_rec& after = exch_[x];
        if (after.gen == gen && after.state == exch_pending && !after.acked) exchange_ack_now(x);
    }
}

// ---- Block1 transfers ----------------------------------------------------------------------

void shard::transfer_free(uint32_t t) noexcept {
    transfer_rec& tr = xfers_[t];
    if (tr.buf != nullptr) std::free(tr.buf);
    eng_.block1_bytes().fetch_sub(tr.cap, std::memory_order_relaxed);
    xfer_index_.erase(tr.hash, t);
    xfer_lru_.remove(t, [this](uint32_t i) -> list_link& { return xfers_[i].lru; });
    const uint32_t p = tr.peer;
    --peers_[p].transfers;
    xfers_.free(t);
    peer_unref(p);
}

void shard::transfers_expire() noexcept {
    const uint64_t life = cfg_.blockwise_status_lifetime_ms * 1000000;
    while (!xfer_lru_.empty() && xfers_[xfer_lru_.head].last_ns + life <= now_)
        transfer_free(xfer_lru_.head);
}

}  // namespace tern::coap

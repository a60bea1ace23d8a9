// Responses: building a message from a handler's response (options in order, the Block2
// slice, the payload or the body's range), piggy-backed or separate (RFC 7252 §5.2),
// No-Response (RFC 7967), and the engine's own error answers.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"

namespace tern::coap {

namespace {

// Options whose value the engine decides; a handler's copy of them is ignored.
bool engine_managed(uint16_t n) noexcept {
    return n == opt::observe || n == opt::block2 || n == opt::block1 || n == opt::size2 ||
           n == opt::size1;
}

// The build options of an answer to `to`: base (2.31, errors) or none, with the request's
// Observe value, Block2 (early negotiation included), Size2 and Block1 echo.
build_opts options_for(const reply_to& to, const build_opts* base) noexcept {
    build_opts o = base != nullptr ? *base : build_opts{};
    o.observe = to.observe;
    if (to.block2) {
        o.block2 = true;
        o.block2_num = to.block2_num;
        o.block2_szx = to.block2_szx;
    }
    o.size2 = to.size2;
    if (to.block1) {
        o.block1 = true;
        o.block1_num = to.block1_num;
        o.block1_more = false;
        o.block1_szx = to.block1_szx;
    }
    return o;
}

struct pending_option {
    uint16_t number;
    uint16_t from_handler; // 1: value = handler option index; 2: the Echo value
    uint64_t value;
};

}  // namespace

shard::built shard::build(writer& w, uint8_t code, const tern_coap_response& r,
                          build_opts& o) noexcept {
    const uint64_t total = r.body != nullptr ? r.body->size() : r.payload.size;
    const blockwise::slice_t sl = blockwise_.slice(total, code_class_of(code) == 2, o);
    if (sl.out_of_range) return built::out_of_range;
    const bool b2 = sl.block2;
    const uint32_t num = sl.num;
    const uint8_t szx = sl.szx;
    const bool more = sl.more;
    const uint64_t off = sl.off;
    uint64_t len = sl.len;
    const bool size2 = sl.size2;
    o.first_block = b2 && num == 0 && more;

    // the handler's options, and up to 8 the engine sets
    std::array<pending_option, max_response_options + 8> items;
    uint32_t n = 0;
    const int64_t max_age = o.max_age >= 0 ? o.max_age : r.max_age;
    for (uint32_t i = 0; i < r.option_count && n < max_response_options; ++i) {
        const uint16_t num_i = r.options[i].number;
        if (num_i == 0) continue;
        // A handler's own 4.13 may say its limit in Size1 (RFC 7959 §4); every other
        // block-wise option is the engine's to set.
        const bool handler_size1 =
            num_i == opt::size1 && code == code::request_entity_too_large && o.size1 < 0;
        if (engine_managed(num_i) && !handler_size1) continue;
        if (num_i == opt::content_format && r.content_format >= 0) continue;
        if (num_i == opt::max_age && max_age >= 0) continue;
        items[n++] = pending_option{num_i, 1, i};
    }
    auto add = [&](uint16_t number, uint64_t v) { items[n++] = pending_option{number, 0, v}; };
    if (o.observe >= 0) add(opt::observe, static_cast<uint64_t>(o.observe) & 0xFFFFFFu);
    if (r.content_format >= 0) add(opt::content_format, static_cast<uint64_t>(r.content_format) & 0xFFFFu);
    if (max_age >= 0) add(opt::max_age, std::min<uint64_t>(static_cast<uint64_t>(max_age), 0xFFFFFFFFu));
    if (b2) add(opt::block2, (uint64_t{num} << 4) | (more ? 8u : 0u) | szx);
    if (o.block1)
        add(opt::block1, (uint64_t{o.block1_num} << 4) | (o.block1_more ? 8u : 0u) | o.block1_szx);
    if (b2 && size2) add(opt::size2, std::min<uint64_t>(total, 0xFFFFFFFFu));
    if (o.size1 >= 0) add(opt::size1, std::min<uint64_t>(static_cast<uint64_t>(o.size1), 0xFFFFFFFFu));
    if (o.echo != nullptr) items[n++] = pending_option{opt::echo, 2, 0};
    // Stable insertion sort: the wire order is by number, repeated options keep theirs.
    for (uint32_t i = 1; i < n; ++i) {
        const pending_option v = items[i];
        uint32_t j = i;
        while (j > 0 && items[j - 1].number > v.number) {
            items[j] = items[j - 1];
            --j;
        }
        items[j] = v;
    }
    uint16_t prev = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const pending_option& it = items[i];
        if (it.number == opt::observe) {
            o.obs_at = w.size();
            o.prev_opt = prev;
        }
        if (it.from_handler == 2) {
            w.option(it.number, std::span<const uint8_t>{o.echo, echo_size});
        } else if (it.from_handler) {
            const tern_coap_option& ho = r.options[it.value];
            w.option(it.number, std::span<const uint8_t>{ho.value.data, ho.value.size});
        } else {
            w.option_uint(it.number, it.value);
        }
        if (it.number == opt::observe) o.suffix_at = w.size();
        prev = it.number;
    }
    if (!w.ok()) return built::too_large;

    len = std::min<uint64_t>(len, o.payload_cap);
    o.payload_len = static_cast<std::size_t>(len);
    if (len != 0) {
        if (r.body != nullptr) {
            if (len > lim_.datagram_capacity) return built::too_large;
            std::size_t got_total = 0;
            while (got_total < len) {
                std::size_t got = 0;
                const tern_status st = r.body->read(off + got_total, &body_buf_[got_total],
                                                    static_cast<std::size_t>(len) - got_total, &got);
                if (st != TERN_OK || got == 0 || got > len - got_total) return built::body_failed;
                got_total += got;
            }
            w.payload(std::span<const uint8_t>{&body_buf_[0], static_cast<std::size_t>(len)});
        } else {
            w.payload(std::span<const uint8_t>{r.payload.data + off, static_cast<std::size_t>(len)});
        }
    }
    return w.ok() ? built::ok : built::too_large;
}

// A response being built into its send slot, through the stages of send_response.
struct shard::draft {
    std::span<uint8_t> slot;
    msg_type type = msg_type::ack;
    uint16_t mid = 0;
    uint8_t code = 0;
    const build_opts* base = nullptr;  // send_response's (see options_for)
    build_opts o;                  // the build options, as built (outputs filled in)
    built res = built::ok;
    std::span<const uint8_t> bytes;
    uint32_t budget = UINT32_MAX;  // amplification budget of the address
    // verify_by_ping: the full answer, stored while the address is pinged
    ping_plan plan = ping_plan::none;
    uint32_t full_chunks = nil;
    std::size_t full_len = 0;
    bool held() const noexcept { return plan != ping_plan::none; }
};

// flatten: the stages below (and build) are compiled into this one body, as in request().
[[gnu::flatten]] shard::sent shard::send_response(reply_to& to, const tern_coap_response& r,
                                                  uint32_t exchange, const build_opts* base) noexcept {
    if (suppressed(to, r)) return sent::done;
    draft d = draft_for(to, r, base);
    if (d.res == built::ok && d.bytes.size() > d.budget) plan_ping(d, to, r, exchange);
    if (d.res == built::ok && (d.held() || d.bytes.size() > d.budget)) fit_budget(d, to, r);
    if (r.body != nullptr) r.body->release();
    if (d.held()) {
        // Both answers stored (amp_ping_plan made sure of the room); the ACK and the ping
        // go now, one of the answers when the Reset comes or ping_timeout passes.
        const uint32_t limited = tx_chunks_.store(d.bytes.data(), d.bytes.size());
        amp_hold(exchange, d.plan, d.full_chunks, d.full_len, limited, d.bytes.size(), d.mid);
        last_code_ = r.code;
        return sent::held;
    }
    if (d.res != built::ok) {
        build_failed(d, to);
    } else if (d.o.first_block) {
        m_.inc(ctr::block_out);
    }
    out_commit(to.transport, *to.addr, d.bytes.size());
    if (to.peer != nil) peers_[to.peer].last_ns = now_;
    m_.request(to.method, d.code);
    last_code_ = d.code;
    if (d.type == msg_type::ack) {
        dedup_.cache(to.dedup_seq, d.bytes);
        return sent::done;
    }
    if (d.type != msg_type::con || exchange == nil) return sent::done;
    return retransmit_.await_ack(exchange, d.bytes, d.mid) ? sent::separate_con : sent::done;
}

bool shard::suppressed(const reply_to& to, const tern_coap_response& r) noexcept {
    if ((to.no_response & (1u << code_class_of(r.code))) == 0) return false;
    // RFC 7967: the client is not interested; a CON still gets its (empty) ACK.
    if (to.type == static_cast<uint8_t>(msg_type::con) && !to.acked) {
        send_empty(to.transport, *to.addr, msg_type::ack, to.mid);
        dedup_.mark(to.dedup_seq, dedup_acked);
    }
    if (r.body != nullptr) r.body->release();
    m_.request(to.method, 0);
    last_code_ = 0;
    return true;
}

shard::draft shard::draft_for(const reply_to& to, const tern_coap_response& r,
                              const build_opts* base) noexcept {
    draft d;
    d.code = r.code;
    if (to.type == static_cast<uint8_t>(msg_type::con) && !to.acked) {
        d.type = msg_type::ack;  // piggy-backed (RFC 7252 §5.2.1)
        d.mid = to.mid;
    } else {
        d.type = to.type == static_cast<uint8_t>(msg_type::con) ? msg_type::con : msg_type::non;
        d.mid = next_mid(to.peer);
    }
    d.base = base;
    d.o = options_for(to, base);
    d.budget = amp_budget(to);
    d.slot = out_slot();
    writer w(d.slot);
    w.header(d.type, d.code, d.mid, to.token);
    d.res = build(w, d.code, r, d.o);
    d.bytes = w.bytes();
    return d;
}

void shard::plan_ping(draft& d, const reply_to& to, const tern_coap_response& r,
                      uint32_t exchange) noexcept {
    // verify_by_ping: the full answer is held (stored) while the address is pinged; the
    // limited one (fit_budget) is built and stored too, for when no Reset comes.
    d.plan = amp_ping_plan(to, exchange, d.code, d.bytes.size());
    if (d.plan == ping_plan::none) return;
    // Stored as a separate response of the request's type (RFC 7252 §5.2.2) with the
    // request's token; a CON request not acknowledged yet gets it in its ACK instead
    // (amp_hold keeps the ACK back, amp_release rewrites the header).
    d.type = to.type == static_cast<uint8_t>(msg_type::con) ? msg_type::con : msg_type::non;
    d.mid = next_mid(to.peer);
    build_opts full = options_for(to, d.base);
    writer w(d.slot);
    w.header(d.type, d.code, d.mid, to.token);
    if (build(w, d.code, r, full) == built::ok) {
        d.full_len = w.size();
        d.full_chunks = tx_chunks_.store(w.bytes().data(), d.full_len);
    }
    if (d.full_chunks != nil) {
        d.budget = amp_ping_budget(to);
        return;
    }
    d.plan = ping_plan::none;  // not reached: amp_ping_plan checked the room
    w = writer(d.slot);
    if (to.type == static_cast<uint8_t>(msg_type::con) && !to.acked) d.type = msg_type::ack;
    if (d.type == msg_type::ack) d.mid = to.mid;
    w.header(d.type, d.code, d.mid, to.token);
    d.o = options_for(to, d.base);
    build(w, d.code, r, d.o);
    d.bytes = w.bytes();
}

void shard::fit_budget(draft& d, const reply_to& to, const tern_coap_response& r) noexcept {
    // An unverified address: at most budget bytes (amplification.hpp).
    const bool held = d.held();
    const build_opts in = options_for(to, d.base);
    const std::size_t budget = d.budget;
    const std::size_t full = held ? d.full_len : d.bytes.size();
    const std::size_t full_payload = d.o.payload_len;
    const bool safe = to.method == code_get || to.method == 5;  // GET, FETCH
    const bool success = code_class_of(d.code) == 2;
    // The limited answer is counted when it is sent (a held one maybe never is).
    auto amp_count = [&](ctr c) {
        if (!held) m_.inc(c);
    };
    bool fitted = false;
    echo_value ev{};
    const bool offer = cfg_.echo_in_limited_responses;
    if (offer) ev = amp_.echo.make(to.transport, to.addr->endpoint, now_);
    writer fallback(d.slot);
    if (success && !safe) {
        // The request's effect has happened: cutting its answer would lose it.
        amp_count(ctr::amp_exceeded);
        fitted = true;
    } else if (success && full_payload != 0) {
        // Smaller blocks (RFC 7959 §2.4: the server may use a smaller block size than
        // asked for), with an Echo value the client may return (RFC 9175 §2.3).
        for (int pass = offer ? 0 : 1; pass < 2 && !fitted; ++pass) {
            // Headroom for Block2, Size2 (and Echo) when the full answer had none; one
            // size up is tried too, as they may have been there already.
            const std::size_t fixed = full - full_payload + 9 + (pass == 0 ? 2 + echo_size : 0);
            int szx = std::min<int>(pref_szx_, (budget > fixed ? szx_fitting(budget - fixed) : 0) + 1);
            for (szx = std::max(szx, 0); szx >= 0 && !fitted; --szx) {
                build_opts b = in;
                b.szx_cap = static_cast<uint8_t>(szx);
                b.echo = pass == 0 ? ev.data() : nullptr;
                fallback = writer(d.slot);
                fallback.header(d.type, d.code, d.mid, to.token);
                if (build(fallback, d.code, r, b) != built::ok) break;
                if (fallback.size() <= budget) {
                    fitted = true;
                    d.o = b;
                    d.bytes = fallback.bytes();
                    amp_count(ctr::amp_block);
                }
            }
        }
    }
    if (fitted) return;
    amp_count(ctr::amp_truncated);
    d.o = in;
    bool done = false;
    if (!success) {
        // A diagnostic is cut to fit.
        d.o.payload_cap = full_payload > full - budget ? full_payload - (full - budget) : 0;
        fallback = writer(d.slot);
        fallback.header(d.type, d.code, d.mid, to.token);
        done = build(fallback, d.code, r, d.o) == built::ok && fallback.size() <= budget;
    } else {
        // Not even 16-byte blocks fit (a tiny request): ask the client to verify its
        // address instead (RFC 9175 §2.4).
        d.code = code::unauthorized;
    }
    if (!done) {
        // The code alone: no larger than the request's own header and token.
        fallback = writer(d.slot);
        fallback.header(d.type, d.code, d.mid, to.token);
        if (offer && fallback.size() + 2 + echo_size <= budget)
            fallback.option(opt::echo, std::span<const uint8_t>{ev.data(), echo_size});
        d.o.first_block = false;
    }
    d.bytes = fallback.bytes();
}

void shard::build_failed(draft& d, const reply_to& to) noexcept {
    std::string_view text;
    if (d.res == built::out_of_range) {
        d.code = code::bad_request;
        text = "block out of range";
    } else {
        d.code = code::internal_server_error;
        text = d.res == built::body_failed ? "response body could not be read" : "response too large";
        m_.inc(ctr::drop_response_too_large);
    }
    writer w(d.slot);
    w.header(d.type, d.code, d.mid, to.token);
    if (w.size() + 1 + text.size() > d.budget) {
        m_.inc(ctr::amp_truncated);
        text = text.substr(0, d.budget > w.size() + 1 ? d.budget - w.size() - 1 : 0);
    }
    w.payload(text);
    d.bytes = w.bytes();
}

void shard::reply_error(reply_to& to, uint8_t code, std::string_view diagnostic, int64_t max_age,
                        int64_t size1) noexcept {
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code;
    r.content_format = -1;  // diagnostic payloads carry no Content-Format (RFC 7252 §5.5.2)
    r.max_age = -1;
    r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(diagnostic.data()), diagnostic.size()};
    build_opts o;
    o.max_age = max_age;
    o.size1 = size1;
    reply_to t = to;
    t.block2 = false;
    t.block1 = false;
    t.observe = -1;
    send_response(t, r, nil, &o);
}

}  // namespace tern::coap

// Amplification limits: the verified-address table, Echo values, and the shard's checks
// (see amplification.hpp for the rules).
#include "amplification.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"

namespace tern::coap {

// ---- SipHash-2-4 ---------------------------------------------------------------------------

namespace {

inline void sip_round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
}

inline uint64_t load_le64(const uint8_t* p) noexcept {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

uint64_t siphash24(uint64_t k0, uint64_t k1, const uint8_t* data, std::size_t n) noexcept {
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;
    const std::size_t whole = n & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8) {
        const uint64_t m = load_le64(data + i);
        v3 ^= m;
        sip_round(v0, v1, v2, v3);
        sip_round(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = uint64_t{n & 0xff} << 56;
    for (std::size_t i = whole; i < n; ++i) b |= uint64_t{data[i]} << (8 * (i - whole));
    v3 ^= b;
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) sip_round(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

// ---- verified addresses --------------------------------------------------------------------

namespace {
// The bytes that identify an endpoint: family, port, scope, address.
std::size_t endpoint_key(uint32_t transport, const tern_endpoint& e, uint8_t (&k)[28]) noexcept {
    k[0] = static_cast<uint8_t>(transport);
    k[1] = static_cast<uint8_t>(e.family);
    std::memcpy(k + 2, &e.port, 2);
    std::memcpy(k + 4, &e.scope_id, 4);
    const std::size_t a = e.family == 6 ? 16 : 4;
    std::memcpy(k + 8, e.addr, a);
    return 8 + a;
}
}  // namespace

void verified_addresses::init(uint32_t capacity, uint64_t seed) {
    sets_ = next_pow2((std::max<uint32_t>(capacity, ways) + ways - 1) / ways);
    mask_ = sets_ - 1;
    seed_ = seed;
    occupied_ = 0;
    e_ = make_zarray<entry>(std::size_t{sets_} * ways);
}

bool verified_addresses::same(const entry& x, uint32_t transport, const tern_endpoint& e) noexcept {
    return x.transport == static_cast<uint8_t>(transport) && x.family == e.family &&
           x.port == e.port && x.scope == e.scope_id &&
           std::memcmp(x.addr, e.addr, e.family == 6 ? 16 : 4) == 0;
}

uint32_t verified_addresses::set_of(uint32_t transport, const tern_endpoint& e) const noexcept {
    uint8_t k[28];
    const std::size_t n = endpoint_key(transport, e, k);
    return static_cast<uint32_t>(hash_bytes(k, n, seed_)) & mask_;
}

bool verified_addresses::contains(uint32_t transport, const tern_endpoint& e,
                                  uint64_t now_ns) const noexcept {
    if (sets_ == 0) return false;
    const entry* s = &e_[std::size_t{set_of(transport, e)} * ways];
    for (uint32_t i = 0; i < ways; ++i)
        if (s[i].until_ns > now_ns && same(s[i], transport, e)) return true;
    return false;
}

bool verified_addresses::insert(uint32_t transport, const tern_endpoint& e, uint64_t now_ns,
                                uint64_t until_ns) noexcept {
    if (sets_ == 0) return false;
    entry* s = &e_[std::size_t{set_of(transport, e)} * ways];
    uint32_t victim = 0;
    for (uint32_t i = 0; i < ways; ++i) {
        if (s[i].until_ns != 0 && same(s[i], transport, e)) {
            s[i].until_ns = std::max(s[i].until_ns, until_ns);
            return false;
        }
        if (s[i].until_ns < s[victim].until_ns) victim = i;
    }
    const bool evicted = s[victim].until_ns > now_ns;
    if (s[victim].until_ns == 0) ++occupied_;
    entry& x = s[victim];
    std::memset(&x, 0, sizeof x);
    std::memcpy(x.addr, e.addr, e.family == 6 ? 16 : 4);
    x.scope = e.scope_id;
    x.port = e.port;
    x.family = static_cast<uint8_t>(e.family);
    x.transport = static_cast<uint8_t>(transport);
    x.until_ns = until_ns;
    return evicted;
}

std::size_t verified_addresses::touched_bytes() const noexcept {
    constexpr double page = 4096.0;
    const double pages = std::ceil(static_cast<double>(bytes()) / page);
    if (pages == 0.0) return 0;
    const double touched = pages * (1.0 - std::exp(-static_cast<double>(occupied_) / pages));
    return std::min(bytes(), static_cast<std::size_t>(touched * page));
}

uint32_t verified_addresses::live(uint64_t now_ns) const noexcept {
    uint32_t n = 0;
    for (std::size_t i = 0; i < std::size_t{sets_} * ways; ++i)
        if (e_[i].until_ns > now_ns) ++n;
    return n;
}

// ---- Echo values ---------------------------------------------------------------------------

uint64_t echo_codec::mac(uint32_t transport, const tern_endpoint& e, uint32_t issued) const noexcept {
    uint8_t k[32];
    uint8_t ek[28];
    const std::size_t n = endpoint_key(transport, e, ek);
    std::memcpy(k, &issued, 4);
    std::memcpy(k + 4, ek, n);
    return siphash24(k0_, k1_, k, 4 + n);
}

echo_value echo_codec::make(uint32_t transport, const tern_endpoint& e, uint64_t now_ns) const noexcept {
    const uint32_t issued = static_cast<uint32_t>(now_ns / 1000000000u);
    const uint64_t m = mac(transport, e, issued);
    echo_value v{};
    for (int i = 0; i < 4; ++i) v[i] = static_cast<uint8_t>(issued >> (24 - 8 * i));
    for (int i = 0; i < 8; ++i) v[4 + i] = static_cast<uint8_t>(m >> (56 - 8 * i));
    return v;
}

echo_codec::result echo_codec::check(uint32_t transport, const tern_endpoint& e,
                                     std::span<const uint8_t> value, uint64_t now_ns,
                                     uint64_t lifetime_ns) const noexcept {
    if (value.size() != echo_size) return result::forged;
    uint32_t issued = 0;
    for (int i = 0; i < 4; ++i) issued = (issued << 8) | value[i];
    const uint64_t m = mac(transport, e, issued);
    uint8_t diff = 0;
    for (int i = 0; i < 8; ++i) diff |= static_cast<uint8_t>(value[4 + i] ^ static_cast<uint8_t>(m >> (56 - 8 * i)));
    if (diff != 0) return result::forged;
    const uint64_t issued_ns = uint64_t{issued} * 1000000000u;
    // Issued at most a second in the future (clock granularity), at most lifetime ago.
    if (issued_ns > now_ns + 1000000000u || now_ns - std::min(now_ns, issued_ns) > lifetime_ns)
        return result::stale;
    return result::valid;
}

// ---- the shard's state ---------------------------------------------------------------------

void amplifier::init(const engine_config& c, const shard_limits& l, uint64_t k0, uint64_t k1,
                     uint64_t k2, uint64_t k3, uint64_t k4) {
    verified.init(l.verified_addresses, k2);
    echo.init(k0, k1);
    request_len = make_zarray<uint16_t>(l.exchanges);
    if (c.verify_by_ping) held_off.init(l.pings, k2 ^ 0x686f6c646f6666ull);
    pinging.init(l.pings);
    ping_mid.init(k3, k4);
}

amplifier amplifier::make(const engine_config& c, const shard_limits& l, engine_env& env) {
    amplifier a;
    const uint64_t k0 = mix64(env.random_seed() ^ 0x6563686f6b657930ull);
    const uint64_t k1 = mix64(env.random_seed() + 0x6563686f6b657931ull);
    const uint64_t k2 = mix64(env.random_seed() ^ k0 ^ 0x7665726966696564ull);
    // The ping key: two more draws from the environment's random source (the plugin's is
    // the operating system's), never derived from the other keys.
    const uint64_t k3 = mix64(env.random_seed() ^ 0x70696e676b657930ull);
    const uint64_t k4 = mix64(env.random_seed() + 0x70696e676b657931ull);
    a.init(c, l, k0, k1, k2, k3, k4);
    return a;
}

// ---- the shard's checks --------------------------------------------------------------------

bool shard::amp_verified(uint32_t transport, const tern_peer& p) noexcept {
    return p.session != 0 || amp_.verified.contains(transport, p.endpoint, now_);
}

uint32_t shard::amp_budget(const reply_to& to) noexcept {
    if (cfg_.amplification_factor == 0 || to.request_len == 0 || to.addr == nullptr)
        return UINT32_MAX;
    if (amp_verified(to.transport, *to.addr)) return UINT32_MAX;
    const uint32_t b = to.request_len * cfg_.amplification_factor;
    // A separate response follows the 4-byte empty ACK: both count.
    return to.acked ? b - std::min<uint32_t>(b, 4) : b;
}

void shard::amp_mark_verified(uint32_t transport, const tern_peer& p, ctr how) noexcept {
    if (p.session != 0) return;
    if (amp_.verified.insert(transport, p.endpoint, now_,
                             now_ + cfg_.verified_lifetime_ms * 1000000))
        m_.inc(ctr::drop_verified_evicted);
    m_.inc(how);
}

void shard::amp_proved(uint32_t transport, const tern_peer& from) noexcept {
    if (cfg_.amplification_factor == 0 && !cfg_.require_echo) return;
    amp_mark_verified(transport, from, ctr::verified_ack);
}

bool shard::amp_replay_ok(uint32_t transport, const tern_peer& from, std::size_t request_len,
                          std::size_t cached_len) noexcept {
    if (cfg_.amplification_factor == 0 || cached_len <= request_len * cfg_.amplification_factor)
        return true;
    if (amp_verified(transport, from)) return true;
    m_.inc(ctr::amp_replay_dropped);
    return false;
}

bool shard::amp_may_resend(uint32_t x) noexcept {
    const exchange_rec& e = exch_[x];
    if (cfg_.amplification_factor == 0) return true;
    const uint64_t budget = uint64_t{amp_.request_len[x]} * cfg_.amplification_factor;
    // Everything this request made us send: its empty ACK, the ping to its address, and
    // every transmission so far, this one included (attempts counts it already).
    const uint64_t total = (e.acked ? 4u : 0u) + ((e.flags & xf_pinged) != 0 ? 4u : 0u) +
                           uint64_t{e.attempts + 1u} * e.tx_len;
    if (amp_.request_len[x] == 0 || total <= budget) return true;
    if (amp_verified(peers_[e.peer].transport, peers_[e.peer].addr)) return true;
    m_.inc(ctr::amp_retransmit_skipped);
    return false;
}

bool shard::amp_gate(reply_to& to) noexcept {
    const tern_peer& p = *to.addr;
    if (p.session != 0) return false;
    if (const option_view* ev = msg_.find(opt::echo); ev != nullptr) {
        const auto r = amp_.echo.check(to.transport, p.endpoint, ev->value, now_,
                                       cfg_.verified_lifetime_ms * 1000000);
        if (r == echo_codec::result::valid) {
            amp_mark_verified(to.transport, p, ctr::verified_echo);
            return false;
        }
        m_.inc(ctr::echo_rejected);
    }
    if (!cfg_.require_echo || amp_verified(to.transport, p)) return false;
    // RFC 9175 §2.4: 4.01 with an Echo value; the client repeats the request with it. The
    // 4.01 itself is small (within the budget, see send_response).
    m_.inc(ctr::amp_challenged);
    const echo_value v = amp_.echo.make(to.transport, p.endpoint, now_);
    constexpr std::string_view text = "echo required: repeat the request with this Echo option";
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::unauthorized;
    r.content_format = -1;
    r.max_age = -1;
    r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
    build_opts o;
    o.echo = v.data();
    reply_to t = to;
    t.block2 = false;
    t.block1 = false;
    t.observe = -1;
    send_response(t, r, nil, &o);
    return true;
}

// ---- verification by a CoAP ping (verify_by_ping) ------------------------------------------
//
// RFC 7252 §4.3: every CoAP endpoint answers an Empty CON with a Reset of the same Message
// ID. A Reset naming the ID of a ping we sent (16 unpredictable bits) shows that the address
// receives our datagrams, without the client knowing anything beyond RFC 7252. While the
// ping is out the answer is held as two stored messages: the full one and the one limited
// to the budget (less the ping and the empty ACK); exactly one of them is sent.

shard::ping_plan shard::amp_ping_plan(const reply_to& to, uint32_t exchange, uint8_t code,
                                      std::size_t full_len) noexcept {
    if (!cfg_.verify_by_ping || exchange == nil || to.peer == nil || to.observe >= 0 ||
        to.addr->session != 0 || code_class_of(code) != 2 ||
        (to.method != code_get && to.method != 5))  // GET, FETCH
        return ping_plan::none;
    if (amp_.held_off.contains(to.transport, to.addr->endpoint, now_)) {
        m_.inc(ctr::ping_held_off);
        return ping_plan::none;
    }
    if (amp_.held >= lim_.pings) {
        m_.inc(ctr::ping_table_full);
        return ping_plan::none;
    }
    // Both messages stored; the limited one is never larger than the full one.
    if (tx_chunks_.free_chunks() < 2 * chunk_pool::chunks_for(full_len)) {
        m_.inc(ctr::ping_no_memory);
        return ping_plan::none;
    }
    return amp_ping_of(to.peer) != nil ? ping_plan::wait : ping_plan::ping;
}

namespace {
inline uint32_t ping_hash(uint64_t seed, uint32_t peer) noexcept {
    return static_cast<uint32_t>(mix64(seed ^ 0x70696e675f6f7574ull ^ peer));
}
}  // namespace

uint32_t shard::amp_ping_of(uint32_t peer) const noexcept {
    return amp_.pinging.find(ping_hash(hash_seed_, peer), [&](uint32_t x) {
        return exch_[x].peer == peer && (exch_[x].flags & xf_ping_out) != 0;
    });
}

void shard::amp_ping_forget(uint32_t x) noexcept {
    exchange_rec& e = exch_[x];
    if ((e.flags & xf_ping_out) == 0) return;
    e.flags = static_cast<uint8_t>(e.flags & ~xf_ping_out);
    amp_.pinging.erase(ping_hash(hash_seed_, e.peer), x);
}

uint32_t shard::amp_ping_budget(const reply_to& to) const noexcept {
    const uint32_t b = to.request_len * cfg_.amplification_factor;
    // The ping (4 bytes) and, for a CON request that had its empty ACK already (the
    // answer goes separately), that ACK (4) come out of it. One not acknowledged yet gets
    // the answer in its ACK (amp_hold).
    const uint32_t spent =
        4 + (to.type == static_cast<uint8_t>(msg_type::con) && to.acked ? 4 : 0);
    return b > spent ? b - spent : 0;
}

void shard::amp_hold(uint32_t x, ping_plan plan, uint32_t full_chunks, std::size_t full_len,
                     uint32_t limited_chunks, std::size_t limited_len, uint16_t mid) noexcept {
    exchange_rec& e = exch_[x];
    // A CON request not yet acknowledged keeps its ACK back until the Reset comes or
    // ping_timeout passes, past the piggyback window: the answer, whole or limited, then
    // rides in the ACK, which every client handles (libcoap, for one, cannot take a Block2
    // transfer it did not start from a separate response). ping_timeout (2 s) stays below
    // the client's first retransmission (ACK_TIMEOUT 2 s times 1..1.5); a retransmission
    // meanwhile is absorbed (request()). Only an answer that came after the window (the
    // empty ACK went already) follows separately (RFC 7252 §5.2.2).
    if (e.in_piggy) {
        piggy_.remove(x, [this](uint32_t i) -> list_link& { return exch_[i].piggy_link; });
        e.in_piggy = 0;
    }
    if (e.state == exch_pending)
        pending_.remove(x, [this](uint32_t i) -> list_link& { return exch_[i].pending_link; });
    e.state = exch_held;
    e.tx_chunks = full_chunks;
    e.tx_len = static_cast<uint16_t>(full_len);
    e.tx_mid = mid;
    e.held_chunks = limited_chunks;
    e.held_len = static_cast<uint16_t>(limited_len);
    e.attempts = 0;
    e.flags |= xf_pinged;
    ++amp_.held;
    peer_rec& p = peers_[e.peer];
    if (plan == ping_plan::ping) {
        // A fresh unpredictable MID, not one of our CON messages to this peer.
        uint16_t m = amp_.ping_mid.next();
        for (int i = 0; i < 4 && retransmit_.find(e.peer, m) != nil; ++i) m = amp_.ping_mid.next();
        e.ping_mid = m;
        e.flags |= xf_ping_out;
        amp_.pinging.insert(ping_hash(hash_seed_, e.peer), x);
        send_empty(p.transport, p.addr, msg_type::con, m);
        m_.inc(ctr::ping_sent);
    } else {
        m_.inc(ctr::ping_waited);
    }
    p.last_ns = now_;
    heap_.schedule(x, now_ + cfg_.ping_timeout_ms * 1000000);
}

void shard::amp_unhold(uint32_t x, uint32_t keep) noexcept {
    exchange_rec& e = exch_[x];
    heap_.cancel(x);
    if (e.in_piggy) {
        piggy_.remove(x, [this](uint32_t i) -> list_link& { return exch_[i].piggy_link; });
        e.in_piggy = 0;
    }
    if (e.tx_chunks != keep) tx_chunks_.release(e.tx_chunks);
    if (e.held_chunks != keep) tx_chunks_.release(e.held_chunks);
    e.tx_chunks = nil;
    e.held_chunks = nil;
    amp_ping_forget(x);
    --amp_.held;
}

void shard::amp_release(uint32_t x, bool full) noexcept {
    exchange_rec& e = exch_[x];
    const uint32_t chunks = full ? e.tx_chunks : e.held_chunks;
    const uint16_t len = full ? e.tx_len : e.held_len;
    peer_rec& p = peers_[e.peer];
    const std::span<uint8_t> s = out_slot();
    tx_chunks_.read(chunks, 0, s.data(), len);
    const bool piggy = e.type == static_cast<uint8_t>(msg_type::con) && !e.acked;
    if (piggy) {
        // Still within the piggyback window: the stored separate response becomes the ACK
        // (same length: only the type and the Message ID differ).
        s[0] = static_cast<uint8_t>((s[0] & 0xCF) | (static_cast<uint8_t>(msg_type::ack) << 4));
        s[2] = static_cast<uint8_t>(e.mid >> 8);
        s[3] = static_cast<uint8_t>(e.mid);
    }
    out_commit(p.transport, p.addr, len);
    p.last_ns = now_;
    m_.request(e.method, s[1]);
    if (!full) m_.inc(code_class_of(s[1]) == 2 ? ctr::amp_block : ctr::amp_truncated);
    if (piggy) {
        dedup_.cache(e.dedup_seq, std::span<const uint8_t>{s.data(), len});
        exchange_.close(x);
        return;
    }
    if (e.type != static_cast<uint8_t>(msg_type::con)) {
        exchange_.close(x);  // a NON answer: nothing awaits an ACK
        return;
    }
    amp_unhold(x, chunks);
    e.state = exch_awaiting_ack;
    e.tx_chunks = chunks;
    e.tx_len = len;
    e.attempts = 0;
    retransmit_.start(x, e.peer, e.tx_mid, e.tx_timeout_ms);
}

void shard::amp_release_peer(uint32_t peer, bool full) noexcept {
    const uint32_t gen = peers_[peer].gen;
    uint32_t x = peers_[peer].exchanges.head;
    while (x != nil && peers_[peer].gen == gen) {
        const uint32_t next = exch_[x].peer_link.next;
        if (exch_[x].state == exch_held) amp_release(x, full);
        x = next;
    }
}

bool shard::amp_ping_answered(uint32_t transport, uint32_t peer, uint16_t mid) noexcept {
    if (peer == nil) return false;
    const uint32_t x = amp_ping_of(peer);
    if (x == nil || exch_[x].ping_mid != mid) return false;
    amp_ping_forget(x);
    amp_mark_verified(transport, peers_[peer].addr, ctr::verified_ping);
    amp_release_peer(peer, true);
    return true;
}

bool shard::amp_ping_wrong(uint32_t transport, uint32_t peer) noexcept {
    const uint32_t x = peer == nil ? nil : amp_ping_of(peer);
    if (x == nil) return false;
    // Someone guessing the ping's MID from a forged source: one guess per ping, then none
    // for ping_holdoff. The answers go limited, as without verify_by_ping.
    m_.inc(ctr::ping_wrong_mid);
    amp_ping_forget(x);
    if (cfg_.ping_holdoff_ms != 0 &&
        amp_.held_off.insert(transport, peers_[peer].addr.endpoint, now_,
                             now_ + cfg_.ping_holdoff_ms * 1000000))
        m_.inc(ctr::drop_verified_evicted);
    amp_release_peer(peer, false);
    return true;
}

bool shard::amp_ping_late(uint32_t transport, uint32_t peer, uint16_t mid) noexcept {
    if (peer == nil || peers_[peer].late_ping == 0) return false;
    peer_rec& p = peers_[peer];
    p.late_ping = 0;  // one try: a wrong MID forgets it
    if (p.late_ping_mid != mid) return false;
    m_.inc(ctr::ping_late);
    amp_mark_verified(transport, p.addr, ctr::verified_ping);
    return true;
}

void shard::amp_ping_expired(uint32_t x) noexcept {
    // No Reset in time (the address does not receive our datagrams, or the ping was lost):
    // this answer and every other one waiting on the same ping go limited. The ping's MID
    // stays with the peer: a Reset naming it later still verifies the address for the
    // next requests (amp_ping_late).
    const uint32_t peer = exch_[x].peer;
    m_.inc(ctr::ping_timeout);
    if ((exch_[x].flags & xf_ping_out) != 0) {
        peers_[peer].late_ping_mid = exch_[x].ping_mid;
        peers_[peer].late_ping = 1;
        amp_ping_forget(x);
        amp_release_peer(peer, false);
    } else {
        amp_release(x, false);
    }
}

}  // namespace tern::coap

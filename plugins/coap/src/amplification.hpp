// Amplification limits (RFC 7252 §11.3, RFC 9175 §2.4): what the engine may send to a
// source address it has not verified, and how an address becomes verified.
//
// A CoAP request over plain UDP can carry any source address. Until the address has shown
// that it receives what we send there, no answer to one of its requests is larger than
// amplification_factor times the request's bytes: large 2.xx answers to GET/FETCH go
// block-wise in smaller blocks, error diagnostics are cut, a cached response is not
// replayed to a smaller duplicate, a separate CON response is not retransmitted past the
// budget. An address is verified (for verified_lifetime) when
//   - a request from it carries an Echo value (RFC 9175) we issued to that address, or
//   - it acknowledged (ACK or RST) a CON message we sent it: the ACK names our Message ID,
//     which only the address we sent the message to has seen;
//   - it answered our CoAP ping (an Empty CON, RFC 7252 §4.3) with a Reset naming the
//     ping's Message ID, drawn from a keyed PRF (verify_by_ping: a 2.05 over the budget is
//     held until the Reset comes, or limited after ping_timeout);
// and a peer with a transport session (DTLS) is always verified: the cookie exchange
// proved its address before the session existed, and its records are authenticated.
//
// Everything here is per shard (a peer's datagrams always arrive on one shard), sized at
// start, touched without locks, and allocates nothing per message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "config.hpp"
#include "env.hpp"
#include "tables.hpp"
#include "tern/abi/types.h"

namespace tern::coap {

// SipHash-2-4 (Aumasson and Bernstein, 2012) of data under a 128-bit key: the MAC that
// binds an Echo value to the address it was issued to.
uint64_t siphash24(uint64_t k0, uint64_t k1, const uint8_t* data, std::size_t n) noexcept;

// The table of verified addresses: (transport, address, port) → verified until. Set
// associative (8 ways): a lookup or insert touches one set; when a set is full the entry
// that expires first leaves (counted when it had not expired yet). Bounded, allocated once.
class verified_addresses {
public:
    static constexpr uint32_t ways = 8;

    // capacity: entries (rounded up to a power of two of sets); seed keys the set index.
    void init(uint32_t capacity, uint64_t seed);

    bool contains(uint32_t transport, const tern_endpoint& e, uint64_t now_ns) const noexcept;
    // Marks the address verified until until_ns (never shortens an entry). Returns true
    // when a live entry of another address was evicted to make room.
    bool insert(uint32_t transport, const tern_endpoint& e, uint64_t now_ns,
                uint64_t until_ns) noexcept;
    // Entries not yet expired (tests and diagnostics; walks the table).
    uint32_t live(uint64_t now_ns) const noexcept;
    uint32_t capacity() const noexcept { return sets_ * ways; }
    std::size_t bytes() const noexcept { return std::size_t{sets_} * ways * sizeof(entry); }
    // Entries ever filled (a filled entry is only ever replaced, never emptied).
    uint32_t occupied() const noexcept { return occupied_; }
    // Bytes resident: the pages the occupied entries fell on (sets are chosen by a keyed
    // hash, so n entries over P pages touch P * (1 - e^(-n/P)) of them).
    std::size_t touched_bytes() const noexcept;

private:
    struct entry {
        uint8_t addr[16];
        uint32_t scope;
        uint16_t port;
        uint8_t family;
        uint8_t transport;
        uint64_t until_ns;  // 0: empty
    };
    static_assert(sizeof(entry) == 32);
    static bool same(const entry& x, uint32_t transport, const tern_endpoint& e) noexcept;
    uint32_t set_of(uint32_t transport, const tern_endpoint& e) const noexcept;

    zarray<entry> e_;
    uint32_t sets_ = 0;
    uint32_t mask_ = 0;
    uint32_t occupied_ = 0;
    uint64_t seed_ = 0;
};

// Echo option values (RFC 9175 §2.2): 4 bytes of issue time (seconds of the engine's
// clock, big-endian) and 8 bytes of SipHash over (time, transport, address, port). No
// state is kept per value; a value is accepted from the address it was issued to for
// verified_lifetime.
inline constexpr std::size_t echo_size = 12;
using echo_value = std::array<uint8_t, echo_size>;

class echo_codec {
public:
    enum class result : uint8_t { valid, stale, forged };

    void init(uint64_t k0, uint64_t k1) noexcept {
        k0_ = k0;
        k1_ = k1;
    }
    echo_value make(uint32_t transport, const tern_endpoint& e, uint64_t now_ns) const noexcept;
    result check(uint32_t transport, const tern_endpoint& e, std::span<const uint8_t> value,
                 uint64_t now_ns, uint64_t lifetime_ns) const noexcept;

private:
    uint64_t mac(uint32_t transport, const tern_endpoint& e, uint32_t issued) const noexcept;
    uint64_t k0_ = 0;
    uint64_t k1_ = 0;
};

// Unpredictable 16-bit values (the Message IDs of pings): SipHash-2-4 of a counter under a
// random 128-bit key, four values per call. Someone who sees every earlier value still
// cannot tell the next (unlike the engine's xorshift, whose output reveals its state).
class ping_ids {
public:
    void init(uint64_t k0, uint64_t k1) noexcept {
        k0_ = k0;
        k1_ = k1;
    }
    uint16_t next() noexcept {
        if (left_ == 0) {
            uint8_t c[8];
            for (int i = 0; i < 8; ++i) c[i] = static_cast<uint8_t>(counter_ >> (8 * i));
            ++counter_;
            pool_ = siphash24(k0_, k1_, c, sizeof c);
            left_ = 4;
        }
        const uint16_t v = static_cast<uint16_t>(pool_);
        pool_ >>= 16;
        --left_;
        return v;
    }

private:
    uint64_t k0_ = 0;
    uint64_t k1_ = 0;
    uint64_t counter_ = 0;
    uint64_t pool_ = 0;
    uint32_t left_ = 0;
};

// One shard's amplification state: the verified table, the Echo key, and the request size
// of every exchange (its answer may go later, as a separate response).
struct amplifier {
    verified_addresses verified;
    echo_codec echo;
    zarray<uint16_t> request_len;  // by exchange slot
    // verify_by_ping: addresses that sent a Reset with a wrong Message ID while their ping
    // was out (no ping for them until the entry expires), the pings' Message IDs, and the
    // answers held now (at most shard_limits::pings).
    verified_addresses held_off;
    open_index pinging;  // peer -> the exchange whose ping is out to it
    ping_ids ping_mid;
    uint32_t held = 0;

    // keys: two random words for the Echo MAC, one for the table's index.
    void init(const engine_config& c, const shard_limits& l, uint64_t k0, uint64_t k1,
              uint64_t k2, uint64_t k3 = 0, uint64_t k4 = 0);
    // Sized from the limits, keyed from the environment's random seed. [start-stop]
    static amplifier make(const engine_config& c, const shard_limits& l, engine_env& env);
};

// The largest SZX (0..6) whose block fits `room` payload bytes; -1 when not even 16 do.
inline int szx_fitting(std::size_t room) noexcept {
    for (int s = 6; s >= 0; --s)
        if ((std::size_t{16} << s) <= room) return s;
    return -1;
}

}  // namespace tern::coap

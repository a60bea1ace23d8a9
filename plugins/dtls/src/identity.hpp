// Who a DTLS session's peer proved to be: its certificate chain (DER, leaf first) or its
// PSK identity. Immutable once made, shared by the session and the resumption store.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "tern/abi/transport.h"

namespace tern::dtls {

struct identity {
    tern_auth_kind kind = TERN_AUTH_NONE;
    std::vector<uint8_t> der;   // the chain's certificates back to back
    std::vector<uint32_t> ends; // where each certificate ends in der
    std::string psk;            // the PSK identity

    size_t chain_count() const noexcept { return ends.size(); }
    std::span<const uint8_t> cert(size_t i) const noexcept {
        const uint32_t begin = i == 0 ? 0 : ends[i - 1];
        return {der.data() + begin, ends[i] - begin};
    }
};
using identity_ptr = std::shared_ptr<const identity>;

// The identities of sessions that may be resumed: a resumed handshake carries no
// certificate, so the resumed session takes the identity the full handshake proved.
// Entries are found by ticket reference (in the tickets the plugin issues) or by session
// ID (wolfSSL's session cache); both kinds share one LRU bound and a lifetime. Shared by
// all shards (a device may resume from another address, hence another shard): one mutex,
// taken once per full or resumed handshake, never per datagram.
//
// A million sessions may each leave an entry, so the entries are flat: a slab of fixed
// 72-byte slots (the key inline, the LRU as slot numbers) grown as needed up to the
// capacity, and an open-addressing index of 4-byte slot numbers (linear probing, deletion
// by backward shift, at most half full).
class identity_store {
public:
    identity_store(size_t capacity, uint64_t lifetime_ns) : capacity_(capacity), lifetime_ns_(lifetime_ns) {}

    // Remembers who under a new reference for a ticket; 0 when the store is disabled.
    uint64_t add_ticket(identity_ptr who, uint64_t now_ns);
    identity_ptr ticket(uint64_t ref, uint64_t now_ns);
    void add_session_id(std::span<const uint8_t> id, identity_ptr who, uint64_t now_ns);
    identity_ptr session_id(std::span<const uint8_t> id, uint64_t now_ns);
    size_t size();
    // The heap the store holds: the slots and index it has made, and the identities of its
    // entries (also counted by the sessions that still hold them).
    size_t bytes();

private:
    static constexpr uint32_t none = UINT32_MAX;
    static constexpr size_t key_max = 33;  // a kind byte ('t', 's') and up to 32 bytes
    struct key {
        uint8_t len = 0;
        uint8_t bytes[key_max] = {};
    };
    struct entry {
        identity_ptr who;
        uint64_t expires_ns = 0;
        uint32_t older = none;  // LRU neighbours (slot numbers); a free slot's next free in newer
        uint32_t newer = none;
        uint8_t len = 0;        // 0: free
        uint8_t key[key_max] = {};
    };
    static key ticket_key(uint64_t ref) noexcept;
    static key session_key(std::span<const uint8_t> id) noexcept;
    static key key_of(const entry& e) noexcept;
    static uint64_t hash(const uint8_t* k, size_t len) noexcept;
    bool same(const entry& e, const key& k) const noexcept;
    uint32_t find(const key& k) const noexcept;  // the index position, none when absent
    void index_insert(uint32_t slot);
    void index_erase(uint32_t pos) noexcept;
    void grow_index();
    void erase(uint32_t pos) noexcept;  // the entry at index position pos
    void unlink(uint32_t slot) noexcept;
    void push_newest(uint32_t slot) noexcept;
    void put(const key& k, identity_ptr who, uint64_t now_ns);
    identity_ptr get(const key& k, uint64_t now_ns);

    std::mutex mu_;
    size_t capacity_;
    uint64_t lifetime_ns_;
    uint64_t next_ref_ = 0;
    std::vector<entry> slots_;
    uint32_t free_ = none;     // free slots, threaded through newer
    uint32_t oldest_ = none;
    uint32_t newest_ = none;
    size_t count_ = 0;
    size_t identity_bytes_ = 0;  // identity_heap() of the entries' identities
    std::vector<uint32_t> index_;  // slot numbers; none: empty. Size a power of two
};

}  // namespace tern::dtls

// Who a DTLS session's peer proved to be: its certificate chain (DER, leaf first) or its
// PSK identity. Immutable once made, shared by the session and the resumption store.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
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
class identity_store {
public:
    identity_store(size_t capacity, uint64_t lifetime_ns) : capacity_(capacity), lifetime_ns_(lifetime_ns) {}

    // Remembers who under a new reference for a ticket; 0 when the store is disabled.
    uint64_t add_ticket(identity_ptr who, uint64_t now_ns);
    identity_ptr ticket(uint64_t ref, uint64_t now_ns);
    void add_session_id(std::span<const uint8_t> id, identity_ptr who, uint64_t now_ns);
    identity_ptr session_id(std::span<const uint8_t> id, uint64_t now_ns);
    size_t size();

private:
    struct entry {
        std::string key;
        identity_ptr who;
        uint64_t expires_ns;
    };
    void put(std::string key, identity_ptr who, uint64_t now_ns);
    identity_ptr get(const std::string& key, uint64_t now_ns);

    std::mutex mu_;
    size_t capacity_;
    uint64_t lifetime_ns_;
    uint64_t next_ref_ = 0;
    std::list<entry> lru_;  // most recent at the back
    std::unordered_map<std::string, std::list<entry>::iterator> index_;
};

}  // namespace tern::dtls

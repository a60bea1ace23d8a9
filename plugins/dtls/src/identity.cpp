#include "identity.hpp"

#include <cstring>

namespace tern::dtls {

namespace {
std::string ticket_key(uint64_t ref) {
    std::string k(9, 't');
    std::memcpy(k.data() + 1, &ref, 8);
    return k;
}
std::string session_key(std::span<const uint8_t> id) {
    std::string k(1 + id.size(), 's');
    if (!id.empty()) std::memcpy(k.data() + 1, id.data(), id.size());
    return k;
}
}  // namespace

void identity_store::put(std::string key, identity_ptr who, uint64_t now_ns) {
    if (capacity_ == 0) return;
    std::lock_guard lk(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
        lru_.erase(it->second);
        index_.erase(it);
    }
    while (lru_.size() >= capacity_) {
        index_.erase(lru_.front().key);
        lru_.pop_front();
    }
    lru_.push_back(entry{key, std::move(who), now_ns + lifetime_ns_});
    index_.emplace(std::move(key), std::prev(lru_.end()));
}

identity_ptr identity_store::get(const std::string& key, uint64_t now_ns) {
    std::lock_guard lk(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (it->second->expires_ns <= now_ns) {
        lru_.erase(it->second);
        index_.erase(it);
        return nullptr;
    }
    lru_.splice(lru_.end(), lru_, it->second);  // used: most recent
    return it->second->who;
}

uint64_t identity_store::add_ticket(identity_ptr who, uint64_t now_ns) {
    if (capacity_ == 0) return 0;
    uint64_t ref;
    {
        std::lock_guard lk(mu_);
        ref = ++next_ref_;
    }
    put(ticket_key(ref), std::move(who), now_ns);
    return ref;
}

identity_ptr identity_store::ticket(uint64_t ref, uint64_t now_ns) {
    return ref == 0 ? nullptr : get(ticket_key(ref), now_ns);
}

void identity_store::add_session_id(std::span<const uint8_t> id, identity_ptr who, uint64_t now_ns) {
    if (!id.empty()) put(session_key(id), std::move(who), now_ns);
}

identity_ptr identity_store::session_id(std::span<const uint8_t> id, uint64_t now_ns) {
    return id.empty() ? nullptr : get(session_key(id), now_ns);
}

size_t identity_store::size() {
    std::lock_guard lk(mu_);
    return lru_.size();
}

}  // namespace tern::dtls

// A bounded least-recently-used map with per-entry expiry and groups. It takes no lock:
// the owner keeps it per shard (the device API's authentication caches: access token ->
// device, DTLS session -> device) or behind its own mutex (the embedded core's credential
// cache). Each entry belongs to a group (a device id), so everything known about a device
// is dropped at once when its credentials change or it is deleted. Entries that never
// expire use no_expiry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tern::lru {

// The expiry of an entry that only capacity, erase and erase_group remove.
inline constexpr uint64_t no_expiry = UINT64_MAX;

// Transparent hashing so a std::string-keyed map is searched with a string_view without
// building a string.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class Key, class Value, class Hash = std::hash<Key>, class Eq = std::equal_to<>>
class lru_map {
public:
    struct node {
        Value value;
        uint64_t group = 0;
        uint64_t expires_ns = 0;
        // LRU list (most recent at the head) and the group's chain, through the map's
        // nodes (unordered_map never moves them).
        node* prev = nullptr;
        node* next = nullptr;
        node* group_prev = nullptr;
        node* group_next = nullptr;
        const Key* key = nullptr;
    };

    explicit lru_map(std::size_t capacity) : capacity_(capacity) {}
    lru_map(const lru_map&) = delete;
    lru_map& operator=(const lru_map&) = delete;

    std::size_t size() const noexcept { return map_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

    // The live entry for key, made most recent; an expired one is removed (nullptr).
    // refresh_ns != 0 slides the expiry to now + refresh_ns.
    template <class K>
    node* find(const K& key, uint64_t now_ns, uint64_t refresh_ns = 0) {
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        node* n = &it->second;
        if (n->expires_ns <= now_ns) {
            unlink(n);
            map_.erase(it);
            return nullptr;
        }
        if (refresh_ns != 0) n->expires_ns = now_ns + refresh_ns;
        touch(n);
        return n;
    }

    // Inserts or replaces key; evicts the least recently used entry when full. Returns
    // the node, or nullptr when the capacity is 0. *evicted counts evictions.
    template <class K>
    node* put(const K& key, Value value, uint64_t group, uint64_t expires_ns,
              std::size_t* evicted = nullptr) {
        if (capacity_ == 0) return nullptr;
        auto it = map_.find(key);
        if (it != map_.end()) {
            node* n = &it->second;
            group_unlink(n);
            n->value = std::move(value);
            n->group = group;
            n->expires_ns = expires_ns;
            group_link(n);
            touch(n);
            return n;
        }
        while (map_.size() >= capacity_ && tail_ != nullptr) {
            node* victim = tail_;
            const Key k = *victim->key;
            unlink(victim);
            map_.erase(k);
            if (evicted != nullptr) ++*evicted;
        }
        auto [ins, ok] = map_.try_emplace(Key(key));
        node* n = &ins->second;
        n->key = &ins->first;
        n->value = std::move(value);
        n->group = group;
        n->expires_ns = expires_ns;
        push_front(n);
        group_link(n);
        return n;
    }

    template <class K>
    bool erase(const K& key) {
        auto it = map_.find(key);
        if (it == map_.end()) return false;
        unlink(&it->second);
        map_.erase(it);
        return true;
    }

    // Drops every entry of a group; returns how many.
    std::size_t erase_group(uint64_t group) {
        auto g = groups_.find(group);
        if (g == groups_.end()) return 0;
        std::size_t n = 0;
        while ((g = groups_.find(group)) != groups_.end()) {
            node* x = g->second;
            const Key k = *x->key;
            unlink(x);
            map_.erase(k);
            ++n;
        }
        return n;
    }

    void clear() {
        map_.clear();
        groups_.clear();
        head_ = tail_ = nullptr;
    }

    // For tests: the keys from most to least recently used.
    template <class F>
    void each_recent(F&& f) const {
        for (node* n = head_; n != nullptr; n = n->next) f(*n->key, *n);
    }

private:
    void push_front(node* n) noexcept {
        n->prev = nullptr;
        n->next = head_;
        if (head_ != nullptr) head_->prev = n;
        head_ = n;
        if (tail_ == nullptr) tail_ = n;
    }
    void list_unlink(node* n) noexcept {
        if (n->prev != nullptr) n->prev->next = n->next;
        else head_ = n->next;
        if (n->next != nullptr) n->next->prev = n->prev;
        else tail_ = n->prev;
        n->prev = n->next = nullptr;
    }
    void touch(node* n) noexcept {
        if (head_ == n) return;
        list_unlink(n);
        push_front(n);
    }
    void group_link(node* n) {
        auto [it, fresh] = groups_.try_emplace(n->group, n);
        n->group_prev = nullptr;
        n->group_next = fresh ? nullptr : it->second;
        if (!fresh) {
            it->second->group_prev = n;
            it->second = n;
        }
    }
    void group_unlink(node* n) noexcept {
        if (n->group_prev != nullptr) {
            n->group_prev->group_next = n->group_next;
        } else {
            auto it = groups_.find(n->group);
            if (it != groups_.end()) {
                if (n->group_next != nullptr) it->second = n->group_next;
                else groups_.erase(it);
            }
        }
        if (n->group_next != nullptr) n->group_next->group_prev = n->group_prev;
        n->group_prev = n->group_next = nullptr;
    }
    void unlink(node* n) noexcept {
        list_unlink(n);
        group_unlink(n);
    }

    std::size_t capacity_;
    std::unordered_map<Key, node, Hash, Eq> map_;
    std::unordered_map<uint64_t, node*> groups_;
    node* head_ = nullptr;
    node* tail_ = nullptr;
};

}  // namespace tern::lru

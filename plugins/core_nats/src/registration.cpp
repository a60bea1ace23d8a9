// registration: the device -> node bucket, put once per device per move (registration.hpp).
#include "registration.hpp"

#include <charconv>
#include <new>

namespace tern::core_nats {

namespace {

uint64_t now_ns() noexcept {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

constexpr int64_t failure_log_interval_ns = 10'000'000'000;
constexpr std::size_t putting_sweep_at = 1024;  // per shard: stale marks are swept past it

}  // namespace

registration::registration(node& n) : registration(n, std::chrono::milliseconds(10000)) {}

registration::registration(node& n, std::chrono::milliseconds put_echo_wait)
    : node_(n),
      put_echo_wait_ns_(static_cast<uint64_t>(std::chrono::nanoseconds(put_echo_wait).count())),
      bucket_(n.bucket("device_node")),
      key_subject_prefix_("$KV." + bucket_ + ".") {
    const std::size_t per_shard = (std::size_t{n.config().registration_cache_size} + shard_count - 1) / shard_count;
    for (shard& s : shards_) {
        s.set = std::make_unique<lru::lru_map<uint64_t, empty>>(per_shard);
        s.taken = std::make_unique<lru::lru_map<uint64_t, empty>>(per_shard);
    }
    n.on_state([this](nats_link::link_state st) { on_link_state(st); });
}

void registration::on_link_state(nats_link::link_state s) noexcept {
    if (s == nats_link::link_state::connected) {
        // The first connection of this link; nats.c renews the subscription on reconnects.
        // A new link (a restart of the plugin) may follow puts this one never saw.
        forget_all();
        nats_link::link* l = node_.link();
        if (l == nullptr) return;
        const nats_link::status st =
            l->subscribe(key_subject_prefix_ + ">", "", [this](const nats_link::message& m) { on_put(m); });
        if (st != nats_link::status::ok) {
            node_.log().error("core_nats: cannot subscribe to ", key_subject_prefix_, ">: ", nats_link::to_string(st),
                              "; devices are not recorded in ", bucket_, " until a restart");
            return;
        }
        // From here on every put of ours echoes into the set; puts before would not.
        watching_.store(l);
    } else if (s == nats_link::link_state::reconnected) {
        // Puts of other nodes may have gone by while we were away: re-put on next hearing.
        forget_all();
    }
}

void registration::on_put(const nats_link::message& m) noexcept {
    if (!m.subject.starts_with(key_subject_prefix_)) return;
    const std::string_view key = m.subject.substr(key_subject_prefix_.size());
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size()) return;  // not a key this plugin writes
    shard& s = shard_of(id);
    bool taken_back = false;
    try {
        std::lock_guard lk(s.mu);
        if (m.data == node_.id()) {
            // Our own put, in the bucket's order: from here on the device is ours.
            s.putting.erase(id);
            s.set->put(id, empty{}, id, lru::no_expiry);
            taken_back = s.taken->erase(id);
        } else {
            // Another node took the device (or the key was deleted: empty value).
            s.set->erase(id);
            s.taken->put(id, empty{}, id, lru::no_expiry);
        }
    } catch (const std::bad_alloc&) {
        // The set could not grow: the device is put again when next heard.
    }
    if (taken_back && claimed_) claimed_(id);
}

void registration::heard(uint64_t device_id) noexcept {
    shard& s = shard_of(device_id);
    const uint64_t now = now_ns();
    const uint64_t echo_wait = put_echo_wait_ns_;
    try {
        std::lock_guard lk(s.mu);
        if (s.set->find(device_id, now) != nullptr) return;
        auto it = s.putting.find(device_id);
        if (it != s.putting.end() && now - it->second < echo_wait) return;
        // Down: the uplink that heard it fails too; the device is put once the link is back.
        // Not yet watching the bucket (the link's connected event is still on its way): the
        // echo would be missed, so the device is put when next heard.
        nats_link::link* l = node_.link();
        if (l == nullptr || watching_.load() != l || !l->connected()) return;
        if (s.putting.size() >= putting_sweep_at)
            std::erase_if(s.putting, [&](const auto& p) { return now - p.second >= echo_wait; });
        s.putting[device_id] = now;
    } catch (const std::bad_alloc&) {
        return;
    }
    put(device_id);
}

void registration::put(uint64_t device_id) noexcept {
    char key[24];
    const auto r = std::to_chars(key, key + sizeof key, device_id);
    nats_link::link* l = node_.link();
    if (l == nullptr) {
        put_done(device_id, nats_link::status::unavailable);
        return;
    }
    try {
        l->kv_put(bucket_, std::string_view(key, static_cast<std::size_t>(r.ptr - key)), node_.id(),
                  [this, device_id](nats_link::status st) { put_done(device_id, st); });
    } catch (const std::bad_alloc&) {
        put_done(device_id, nats_link::status::error);
    }
}

void registration::put_done(uint64_t device_id, nats_link::status st) noexcept {
    if (st == nats_link::status::ok) {
        // The set learns it from the echo (which may have come already), in bucket order.
        node_.metrics().registrations.inc();
        return;
    }
    {
        shard& s = shard_of(device_id);
        std::lock_guard lk(s.mu);
        s.putting.erase(device_id);
    }
    const uint64_t failed = failures_.fetch_add(1) + 1;
    const auto now = static_cast<int64_t>(now_ns());
    int64_t last = last_failure_log_ns_.load();
    if (now - last < failure_log_interval_ns || !last_failure_log_ns_.compare_exchange_strong(last, now)) return;
    node_.log().warn("core_nats: cannot record device ", device_id, " as heard by node '", node_.id(), "' in bucket ",
              bucket_, ": ", nats_link::to_string(st), " (", failed,
              " such failures so far; the device is recorded when next heard)");
}

void registration::forget_all() noexcept {
    for (shard& s : shards_) {
        std::lock_guard lk(s.mu);
        s.set->clear();
        s.taken->clear();  // (the reconnect sends every subscription again anyway)
        s.putting.clear();
    }
}

bool registration::registered(uint64_t device_id) noexcept {
    shard& s = shard_of(device_id);
    std::lock_guard lk(s.mu);
    return s.set->find(device_id, now_ns()) != nullptr;
}

std::size_t registration::size() noexcept {
    std::size_t n = 0;
    for (shard& s : shards_) {
        std::lock_guard lk(s.mu);
        n += s.set->size();
    }
    return n;
}

}  // namespace tern::core_nats

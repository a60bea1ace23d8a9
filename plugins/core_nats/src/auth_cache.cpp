#include "auth_cache.hpp"

#include <algorithm>
#include <cstring>

namespace tern::core_nats {

owned_record::owned_record(const tern_device_record& r) {
    // A growable record: read what the sender's struct has, fill the rest with zeros.
    std::memcpy(&record_, &r, std::min<std::size_t>(r.struct_size, sizeof record_));
    record_.struct_size = sizeof record_;
    record_.device_name = keep(record_.device_name);
    record_.profile_name = keep(record_.profile_name);
    record_.credential_value = keep(record_.credential_value);
    if (record_.profile_options != nullptr && record_.profile_option_count != 0) {
        options_.assign(record_.profile_options, record_.profile_options + record_.profile_option_count);
        for (tern_kv& kv : options_) {
            kv.key = keep(kv.key);
            switch (kv.value.type) {
                case TERN_VALUE_STR:
                case TERN_VALUE_JSON: kv.value.u.s = keep(kv.value.u.s); break;
                case TERN_VALUE_BYTES: kv.value.u.bytes = keep(kv.value.u.bytes); break;
                default: break;
            }
        }
        record_.profile_options = options_.data();
    } else {
        record_.profile_options = nullptr;
        record_.profile_option_count = 0;
    }
}

tern_str owned_record::keep(tern_str s) {
    if (s.data == nullptr || s.size == 0) return tern_str{"", 0};
    const std::string& t = texts_.emplace_back(s.data, s.size);
    return tern_str{t.data(), t.size()};
}

tern_bytes owned_record::keep(tern_bytes b) {
    if (b.data == nullptr || b.size == 0) return tern_bytes{nullptr, 0};
    const std::string& t = texts_.emplace_back(reinterpret_cast<const char*>(b.data), b.size);
    return tern_bytes{reinterpret_cast<const uint8_t*>(t.data()), t.size()};
}

auth_cache::auth_cache(std::size_t capacity, std::chrono::milliseconds ttl)
    : ttl_(ttl), records_(capacity), psks_(capacity) {}

uint64_t auth_cache::now_ns() const {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

std::string auth_cache::key_of(tern_credential_kind kind, std::string_view value) {
    std::string k;
    k.reserve(value.size() + 4);
    k.append(std::to_string(static_cast<int32_t>(kind)));
    k.push_back(':');
    k.append(value);
    return k;
}

uint64_t auth_cache::epoch() const {
    std::lock_guard lk(mu_);
    return epoch_;
}

void auth_cache::update_gauge() { entries_.set(static_cast<int64_t>(records_.size() + psks_.size())); }

std::shared_ptr<const owned_record> auth_cache::find(tern_credential_kind kind, std::string_view value) {
    if (records_.capacity() == 0) return nullptr;
    const std::string key = key_of(kind, value);
    std::lock_guard lk(mu_);
    auto* n = records_.find(key, now_ns());
    if (n == nullptr) {
        update_gauge();  // an expired entry may have gone
        return nullptr;
    }
    hits_.inc();
    return n->value;
}

void auth_cache::put(tern_credential_kind kind, std::string_view value, const tern_device_record& record,
                     uint64_t epoch_at_request) noexcept {
    if (records_.capacity() == 0) return;
    try {
        auto copy = std::make_shared<const owned_record>(record);
        const std::string key = key_of(kind, value);
        std::lock_guard lk(mu_);
        if (epoch_ != epoch_at_request) return;  // a forget() since the request: maybe stale
        records_.put(key, std::move(copy), record.device_id, now_ns() + static_cast<uint64_t>(ttl_.count()) * 1000000u);
        update_gauge();
    } catch (...) {  // out of memory: the record is simply not kept
    }
}

std::shared_ptr<const psk_entry> auth_cache::find_psk(std::string_view identity) {
    if (psks_.capacity() == 0) return nullptr;
    std::lock_guard lk(mu_);
    auto* n = psks_.find(identity, now_ns());
    if (n == nullptr) {
        update_gauge();
        return nullptr;
    }
    hits_.inc();
    return n->value;
}

void auth_cache::put_psk(std::string_view identity, uint64_t device_id, tern_bytes key,
                         uint64_t epoch_at_request) noexcept {
    if (psks_.capacity() == 0) return;
    try {
        auto e = std::make_shared<psk_entry>();
        e->device_id = device_id;
        if (key.data != nullptr) e->key.assign(reinterpret_cast<const char*>(key.data), key.size);
        std::lock_guard lk(mu_);
        if (epoch_ != epoch_at_request) return;
        psks_.put(identity, std::shared_ptr<const psk_entry>(std::move(e)), device_id,
                  now_ns() + static_cast<uint64_t>(ttl_.count()) * 1000000u);
        update_gauge();
    } catch (...) {
    }
}

void auth_cache::forget(uint64_t device_id) {
    std::lock_guard lk(mu_);
    ++epoch_;
    records_.erase_group(device_id);
    psks_.erase_group(device_id);
    update_gauge();
}

void auth_cache::clear() {
    std::lock_guard lk(mu_);
    ++epoch_;
    records_.clear();
    psks_.clear();
    update_gauge();
}

std::size_t auth_cache::size() const {
    std::lock_guard lk(mu_);
    return records_.size() + psks_.size();
}

}  // namespace tern::core_nats

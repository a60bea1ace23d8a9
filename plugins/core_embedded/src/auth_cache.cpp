#include "auth_cache.hpp"

#include <algorithm>

#include "store.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/sdk/heap_size.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_str;
using sdk::to_sv;

// What a device's record takes from its profile, shared by every cached device of that
// profile revision: the name, the schema texts, the integer options and the option views.
struct auth_cache::profile_part {
    uint64_t profile_id = 0, profile_revision = 0;
    std::string profile_name;
    std::string schemas[4];
    std::vector<profile_option> extra;  // the profile's integer options
    std::vector<tern_kv> options;

    void bind_views() {
        options.clear();
        // First, so that it follows the TERN_OPTION_* keys in a tern_device_record
        // (capabilities.cpp): the profile's own revision, by which payload adaptors key
        // what they compile from the profile's settings.
        {
            tern_kv kv{};
            kv.key = to_str(TERN_OPTION_PROFILE_REVISION);
            kv.value.type = TERN_VALUE_INT;
            kv.value.u.i = static_cast<int64_t>(profile_revision);
            options.push_back(kv);
        }
        for (int i = 0; i < 4; ++i) {
            if (schemas[i].empty()) continue;
            tern_kv kv{};
            kv.key = tern_str{profile_option_keys[i], std::char_traits<char>::length(profile_option_keys[i])};
            kv.value.type = TERN_VALUE_STR;
            kv.value.u.s = to_str(schemas[i]);
            options.push_back(kv);
        }
        for (const profile_option& o : extra) {
            tern_kv kv{};
            kv.key = to_str(o.key);
            kv.value.type = TERN_VALUE_INT;
            kv.value.u.i = o.value;
            options.push_back(kv);
        }
        options.shrink_to_fit();
    }
};

// A resolved device: its own fields and text, and its profile's part, shared. A hit hands out
// a tern_device_info made on the stack from it (views into the record), so the record does
// not carry one. Once cached it counts itself in its cache's record_bytes_ until it goes.
struct auth_cache::device_record {
    uint64_t device_id = 0, profile_id = 0, revision = 0;
    int64_t psm_activity_timer_ms = 0, edrx_cycle_ms = 0, paging_transmission_window_ms = 0;
    tern_transport_type transport_type{};
    tern_coap_device_type coap_device_type{};
    tern_payload_type payload_type{};
    tern_power_mode power_mode{};
    std::string name, credential_value;
    std::shared_ptr<const profile_part> profile;
    std::atomic<int64_t>* account = nullptr;
    int64_t accounted = 0;

    device_record() = default;
    device_record(const device_record&) = delete;
    device_record& operator=(const device_record&) = delete;
    ~device_record() {
        if (account != nullptr) account->fetch_sub(accounted, std::memory_order_relaxed);
    }

    void keep(const tern_device_info& i) {
        device_id = i.device_id;
        profile_id = i.profile_id;
        revision = i.revision;
        transport_type = i.transport_type;
        coap_device_type = i.coap_device_type;
        payload_type = i.payload_type;
        power_mode = i.power_mode;
        psm_activity_timer_ms = i.psm_activity_timer_ms;
        edrx_cycle_ms = i.edrx_cycle_ms;
        paging_transmission_window_ms = i.paging_transmission_window_ms;
    }
    // Valid while the record lives.
    tern_device_info view() const {
        tern_device_info i{};
        i.struct_size = sizeof i;
        i.device_id = device_id;
        i.device_name = to_str(name);
        i.profile_id = profile_id;
        i.profile_name = to_str(profile->profile_name);
        i.revision = revision;
        i.transport_type = transport_type;
        i.coap_device_type = coap_device_type;
        i.payload_type = payload_type;
        i.power_mode = power_mode;
        i.psm_activity_timer_ms = psm_activity_timer_ms;
        i.edrx_cycle_ms = edrx_cycle_ms;
        i.paging_transmission_window_ms = paging_transmission_window_ms;
        i.credential_value = tern_bytes{reinterpret_cast<const uint8_t*>(credential_value.data()), credential_value.size()};
        i.profile_options = profile->options.empty() ? nullptr : profile->options.data();
        i.profile_option_count = static_cast<uint32_t>(profile->options.size());
        return i;
    }
};

namespace {

std::string cache_key(tern_credential_kind kind, std::string_view value) {
    std::string k;
    k.reserve(value.size() + 1);
    k.push_back(static_cast<char>('0' + kind));
    k.append(value);
    return k;
}

// Device value if set, else profile value, else 0 (the device API applies its defaults).
int64_t pick(int64_t device_value, int64_t profile_value) {
    return device_value != 0 ? device_value : profile_value;
}

}  // namespace

// The profile's part as cached records share it: the one known for this revision, or make().
template <class Make>
std::shared_ptr<const auth_cache::profile_part> auth_cache::shared_profile(uint64_t profile_id, uint64_t revision,
                                                                           Make&& make) {
    {
        std::lock_guard lk(mutex_);
        if (auto it = profiles_.find(profile_id); it != profiles_.end())
            if (auto known = it->second.lock(); known && known->profile_revision == revision) return known;
    }
    std::shared_ptr<const profile_part> made = make();
    std::lock_guard lk(mutex_);
    profiles_[profile_id] = made;
    if (profiles_.size() > 4096) std::erase_if(profiles_, [](const auto& kv) { return kv.second.expired(); });
    return made;
}

std::shared_ptr<auth_cache::device_record> auth_cache::load_record(db::connection& c, tern_credential_kind kind,
                                                                   std::string_view id) {
    auto q = c.query(
        "SELECT d.id, d.name, d.profile_id, p.name, d.revision, p.revision, p.transport_type, "
        "p.coap_device_type, p.payload_type, d.power_mode, p.power_mode, d.psm_activity_timer, "
        "p.psm_activity_timer, d.edrx_cycle, p.edrx_cycle, d.paging_transmission_window, "
        "p.paging_transmission_window, c.value, p.telemetry_schema, p.attributes_schema, "
        "p.rpc_request_schema, p.rpc_response_schema, p.options "
        "FROM credentials c JOIN devices d ON d.id = c.device_id "
        "JOIN profiles p ON p.id = d.profile_id WHERE c.kind = ? AND c.id = ?");
    q->bind(1, static_cast<int64_t>(kind)).bind(2, id);
    if (!q->step()) return nullptr;
    auto r = std::make_shared<auth_cache::device_record>();
    tern_device_info i{};
    i.device_id = q->get_id(0);
    r->name = q->get_string(1);
    i.profile_id = q->get_id(2);
    i.revision = std::max(q->get_id(4), q->get_id(5));
    i.transport_type = static_cast<tern_transport_type>(q->get_int(6));
    i.coap_device_type = static_cast<tern_coap_device_type>(q->get_int(7));
    i.payload_type = static_cast<tern_payload_type>(q->get_int(8));
    i.power_mode = static_cast<tern_power_mode>(pick(q->get_int(9), q->get_int(10)));
    i.psm_activity_timer_ms = pick(q->get_int(11), q->get_int(12));
    i.edrx_cycle_ms = pick(q->get_int(13), q->get_int(14));
    i.paging_transmission_window_ms = pick(q->get_int(15), q->get_int(16));
    r->credential_value = q->get_string(17);
    r->profile = shared_profile(i.profile_id, q->get_id(5), [&] {
        auto p = std::make_shared<profile_part>();
        p->profile_id = i.profile_id;
        p->profile_revision = q->get_id(5);
        p->profile_name = q->get_string(3);
        for (int k = 0; k < 4; ++k) p->schemas[k] = q->get_string(18 + k);
        p->extra = store::options_from_json(q->get_string(22));
        p->bind_views();
        return p;
    });
    r->keep(i);
    return r;
}

void auth_cache::configure(size_t capacity) {
    std::lock_guard lk(mutex_);
    ++epoch_;
    cache_ = std::make_unique<cache_map>(capacity);
    p_.metrics.auth_cache_size.set(0);
}

std::pair<size_t, size_t> auth_cache::memory() {
    std::lock_guard lk(mutex_);
    const size_t n = cache_ ? cache_->size() : 0;
    // Per entry beside its record: the key's map node (key, LRU links, next pointer, cached
    // hash) and the group index's node, each with the allocator's 16-byte rounding and
    // header, and a bucket pointer for each map.
    constexpr size_t key_node = (sizeof(std::string) + sizeof(cache_map::node) + 2 * sizeof(void*) + 8 + 15) / 16 * 16;
    constexpr size_t group_node = 32;
    size_t profiles = 0;
    for (const auto& [id, part] : profiles_)
        if (auto p = part.lock()) profiles += sizeof(profile_part) + p->options.capacity() * sizeof(tern_kv);
    const int64_t records = record_bytes_.load(std::memory_order_relaxed);
    return {n, n * (key_node + group_node + 2 * sizeof(void*)) + static_cast<size_t>(std::max<int64_t>(0, records)) +
                   profiles};
}

std::shared_ptr<const auth_cache::device_record> auth_cache::find(const std::string& key) {
    std::lock_guard lk(mutex_);
    if (!cache_) return nullptr;
    auto* n = cache_->find(key, 0);
    return n == nullptr ? nullptr : n->value;
}

void auth_cache::insert(const std::string& key, std::shared_ptr<device_record> rec, uint64_t epoch) {
    std::lock_guard lk(mutex_);
    // An invalidation since the read began may concern this very record: drop it.
    if (!cache_ || epoch != epoch_) return;
    const uint64_t device = rec->device_id;
    if (rec->account == nullptr) {
        // The record and its control block (one allocation), its own text beyond the
        // small-string buffers, and the cache key's.
        auto chunk = [](size_t n) { return static_cast<int64_t>(sdk::heap_chunk(n)); };
        auto heap = [](const std::string& s) { return static_cast<int64_t>(sdk::string_heap(s)); };
        rec->accounted = chunk(sizeof(device_record) + 2 * sizeof(void*)) + heap(rec->name) + heap(rec->credential_value) +
                         heap(key);
        rec->account = &record_bytes_;
        record_bytes_.fetch_add(rec->accounted, std::memory_order_relaxed);
    }
    if (cache_->put(key, std::move(rec), device, lru::no_expiry) == nullptr) return;  // capacity 0
    p_.metrics.auth_cache_size.set(static_cast<int64_t>(cache_->size()));
}

void auth_cache::forget_device(uint64_t device_id) {
    std::lock_guard lk(mutex_);
    ++epoch_;
    if (!cache_) return;
    cache_->erase_group(device_id);
    p_.metrics.auth_cache_size.set(static_cast<int64_t>(cache_->size()));
}

void auth_cache::clear() {
    std::lock_guard lk(mutex_);
    ++epoch_;
    if (cache_) cache_->clear();
    p_.metrics.auth_cache_size.set(0);
}

void auth_cache::authenticate(tern_credential_kind kind, tern_str value,
                                 tern_core_device_fn done, void* ctx) noexcept {
    if (value.size == 0) {
        done(ctx, TERN_NOT_FOUND, nullptr);
        return;
    }
    std::string key;
    uint64_t epoch = 0;
    try {
        key = cache_key(kind, to_sv(value));
        if (auto rec = find(key)) {
            hits_.fetch_add(1, std::memory_order_relaxed);
            p_.metrics.auth_cache_hits.inc();
            const tern_device_info info = rec->view();
            done(ctx, TERN_OK, &info);
            return;
        }
        {
            std::lock_guard lk(mutex_);
            epoch = epoch_;
        }
    } catch (...) {
        done(ctx, TERN_INTERNAL, nullptr);
        return;
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    p_.metrics.auth_cache_misses.inc();
    try {
        std::string id(to_sv(value));
        p_.reads.submit(
            [this, kind, id = std::move(id), key = std::move(key), epoch, done, ctx](db::connection& c) {
                std::shared_ptr<device_record> rec;
                try {
                    rec = load_record(c, kind, id);
                } catch (const std::exception& e) {
                    p_.log.error("authentication lookup failed: ", e.what());
                    done(ctx, TERN_UNAVAILABLE, nullptr);
                    return;
                }
                if (!rec) {
                    done(ctx, TERN_NOT_FOUND, nullptr);
                    return;
                }
                insert(key, rec, epoch);
                const tern_device_info info = rec->view();
            done(ctx, TERN_OK, &info);
            },
            [done, ctx](tern_status s) { done(ctx, s, nullptr); }, value.size);
    } catch (const std::bad_alloc&) {  // nothing was queued
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

size_t auth_cache::entries() {
    std::lock_guard lk(mutex_);
    return cache_ ? cache_->size() : 0;
}

}  // namespace tern::core_embedded

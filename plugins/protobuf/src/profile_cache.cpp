// Compiled profile schemas: the per-thread entries, the shared table, and compiling a
// profile's four schemas from its settings.
#include "profile_cache.hpp"

#include <utility>
#include <vector>

#include "tern/sdk/views.hpp"

namespace tern::protobuf {

namespace {

// Generations come from one process-wide counter, so two caches (two adaptor instances) never
// share a value and a thread's entries always belong to the cache whose generation they carry.
std::atomic<uint64_t> generation_counter{1};

constexpr std::size_t local_slots = 8;

// One profile of the thread's.
struct local_entry {
    const profile_cache* owner = nullptr;
    uint64_t profile_id = 0;
    uint64_t revision = 0;
    std::shared_ptr<const compiled_profile> profile;
};

struct local_cache {
    uint64_t generation = 0;
    std::array<local_entry, local_slots> slots;
    std::size_t next = 0;
    // Leases alive on this thread; while there are any, dropped entries wait in retired (a
    // sink that calls the adaptor again must not free the profile its caller is using).
    int leases = 0;
    std::vector<std::shared_ptr<const compiled_profile>> retired;

    void drop(local_entry& s) {
        if (leases > 0 && s.profile) retired.push_back(std::move(s.profile));
        s = local_entry{};
    }
    void clear(uint64_t g) {
        for (auto& s : slots) drop(s);
        generation = g;
    }
    local_entry& put(const profile_cache* owner, const tern_payload_context& ctx,
                     std::shared_ptr<const compiled_profile> p) {
        local_entry* slot = nullptr;
        for (auto& s : slots)
            if (s.owner == owner && s.profile_id == ctx.profile_id) slot = &s;
        if (slot == nullptr) {
            slot = &slots[next];
            next = (next + 1) % local_slots;
        }
        drop(*slot);
        *slot = local_entry{owner, ctx.profile_id, ctx.revision, std::move(p)};
        return *slot;
    }
};

thread_local local_cache tls_profiles;

// The text of option key in ctx (absent or null: empty). False when it is not text.
bool option_text(const tern_payload_context& ctx, std::string_view key, std::string_view& text) {
    text = {};
    for (uint32_t i = 0; i < ctx.option_count; ++i) {
        const tern_kv& kv = ctx.options[i];
        if (sdk::to_sv(kv.key) != key) continue;
        if (kv.value.type == TERN_VALUE_NULL) return true;
        if (kv.value.type != TERN_VALUE_STR) return false;
        text = sdk::to_sv(kv.value.u.s);
        return true;
    }
    return true;
}

bool has_schema_text(const tern_payload_context& ctx) {
    for (int i = 0; i < schema_kind_count; ++i) {
        std::string_view text;
        if (!option_text(ctx, kind_option(static_cast<schema_kind>(i)), text) || !text.empty()) return true;
    }
    return false;
}

const std::shared_ptr<const compiled_profile>& default_profile() {
    static const std::shared_ptr<const compiled_profile> p = [] {
        auto d = std::make_shared<compiled_profile>();
        for (int i = 0; i < schema_kind_count; ++i) d->schemas[i] = default_schema(static_cast<schema_kind>(i));
        return d;
    }();
    return p;
}

}  // namespace

profile_cache::profile_cache(const schema_limits& lim, int64_t max_profiles, cache_metrics m)
    : lim_(lim),
      max_profiles_(max_profiles > 0 ? static_cast<std::size_t>(max_profiles) : 1),
      metrics_(m),
      generation_(generation_counter.fetch_add(1)) {
    default_profile();  // ThingsBoard's defaults, compiled once for the process
}

std::shared_ptr<const compiled_profile> profile_cache::compile(const tern_payload_context& ctx) const {
    if (!has_schema_text(ctx)) return default_profile();
    auto p = std::make_shared<compiled_profile>();
    for (int i = 0; i < schema_kind_count; ++i) {
        const auto k = static_cast<schema_kind>(i);
        std::string_view text;
        if (!option_text(ctx, kind_option(k), text)) {
            p->refusals[i] = std::string(kind_label(k)) + " schema: " + std::string(kind_option(k)) + " must be text";
        } else {
            p->schemas[i] = compile_schema(k, text, lim_, p->refusals[i]);
        }
        if (!p->schemas[i]) metrics_.refusals.inc();
    }
    metrics_.compiles.inc();
    return p;
}

profile_cache::lease::lease(const compiled_profile* p, std::shared_ptr<const compiled_profile> owned) noexcept
    : p_(p), owned_(std::move(owned)) {
    ++tls_profiles.leases;
}

profile_cache::lease::~lease() {
    local_cache& local = tls_profiles;
    if (--local.leases == 0 && !local.retired.empty()) local.retired.clear();
}

std::shared_ptr<const compiled_profile> profile_cache::lease::share() const {
    if (owned_) return owned_;
    for (const auto& s : tls_profiles.slots)
        if (s.profile.get() == p_) return s.profile;
    for (const auto& r : tls_profiles.retired)
        if (r.get() == p_) return r;
    return nullptr;
}

profile_cache::lease profile_cache::get(const tern_payload_context& ctx) {
    if (ctx.profile_id == 0 || ctx.revision == 0) {
        auto p = compile(ctx);
        const compiled_profile* raw = p.get();
        return lease(raw, std::move(p));
    }
    local_cache& local = tls_profiles;
    uint64_t g = generation();
    if (local.generation != g) local.clear(g);
    for (const auto& s : local.slots)
        if (s.owner == this && s.profile_id == ctx.profile_id && s.revision == ctx.revision)
            return lease(s.profile.get(), nullptr);  // no reference count touched

    auto p = shared_lookup(ctx);
    g = generation();
    if (local.generation != g) local.clear(g);
    return lease(local.put(this, ctx, std::move(p)).profile.get(), nullptr);
}

std::shared_ptr<const compiled_profile> profile_cache::shared_lookup(const tern_payload_context& ctx) {
    {
        std::lock_guard lock(mu_);
        if (auto it = table_.find(ctx.profile_id); it != table_.end() && it->second.revision == ctx.revision) {
            it->second.last_use = ++tick_;
            return it->second.profile;
        }
    }
    auto fresh = compile(ctx);  // outside the lock: other threads' misses go on meanwhile
    std::shared_ptr<const compiled_profile> dropped;  // freed after the lock is released
    std::lock_guard lock(mu_);
    auto it = table_.find(ctx.profile_id);
    if (it != table_.end()) {
        if (it->second.revision == ctx.revision) {  // another thread compiled it first
            it->second.last_use = ++tick_;
            return it->second.profile;
        }
        if (it->second.revision > ctx.revision) return fresh;  // an older revision: not cached
        dropped = std::move(it->second.profile);
        it->second = entry{ctx.revision, ++tick_, fresh};
        next_generation();
        return fresh;
    }
    make_room(dropped);
    table_.emplace(ctx.profile_id, entry{ctx.revision, ++tick_, fresh});
    return fresh;
}

void profile_cache::make_room(std::shared_ptr<const compiled_profile>& evicted) {
    if (table_.size() < max_profiles_) return;
    auto oldest = table_.begin();
    for (auto it = table_.begin(); it != table_.end(); ++it)
        if (it->second.last_use < oldest->second.last_use) oldest = it;
    evicted = std::move(oldest->second.profile);
    table_.erase(oldest);
    metrics_.evictions.inc();
    next_generation();
}

void profile_cache::next_generation() noexcept {
    generation_.store(generation_counter.fetch_add(1), std::memory_order_release);
}

std::size_t profile_cache::size() const {
    std::lock_guard lock(mu_);
    return table_.size();
}

}  // namespace tern::protobuf

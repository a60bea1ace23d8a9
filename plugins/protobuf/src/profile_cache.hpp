// Compiled profile schemas, compiled once per (profile_id, revision) and shared.
//
// Lookups on the hot path take no lock: each thread keeps a few recent profiles of its own in
// front of the shared table, which a mutex guards and only a thread's miss touches. The table
// keeps the newest revision of each profile; a request with a newer revision compiles it and
// replaces the entry, one with an older revision (a device record not yet refreshed) is
// compiled for that thread's cache alone. Every removal from the table (a replacement or an
// eviction beyond max_cached_profiles, least recently looked up first) moves the table's
// generation, and a thread that sees a new generation on its next lookup drops all of its
// entries first. So the memory of a replaced or evicted profile (its pools, factories and
// prototypes) goes when the last of these lets go of it: the table; every thread that used
// it, at that thread's next lookup (of any profile) after the removal; and every message in
// flight with it (a lease, below). A thread that never looks up again keeps its entries until
// it exits.
//
// Compiled objects are immutable once built and published only whole; two threads that miss
// the same entry at once both compile it (the compile runs outside the lock) and the second
// uses the first's. A context with profile_id 0 or revision 0 (check_profile, a device without
// a profile) is compiled on every call and never cached, except that a profile with no schema
// texts at all is the one shared object of ThingsBoard's defaults.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "schema.hpp"
#include "tern/abi/payload.h"
#include "tern/sdk/host.hpp"

namespace tern::protobuf {

struct cache_metrics {
    sdk::metric compiles;   // profiles compiled
    sdk::metric evictions;  // profiles evicted from the full table
    sdk::metric refusals;   // schemas refused when compiled
};

// A profile's four schemas. A kind whose text was refused has no schema but its refusal.
struct compiled_profile {
    std::array<std::shared_ptr<const compiled_schema>, schema_kind_count> schemas;
    std::array<std::string, schema_kind_count> refusals;

    const compiled_schema* schema(schema_kind k) const noexcept { return schemas[static_cast<int>(k)].get(); }
    std::string_view refusal(schema_kind k) const noexcept { return refusals[static_cast<int>(k)]; }
};

class profile_cache {
public:
    profile_cache(const schema_limits& lim, int64_t max_profiles, cache_metrics m = {});
    profile_cache(const profile_cache&) = delete;
    profile_cache& operator=(const profile_cache&) = delete;

    // A compiled profile borrowed for one call on this thread. A hit in the thread's entries
    // touches no reference count (a shared count bounced between the cores of every thread
    // decoding one profile); the entry stays alive until the lease ends, even when a call made
    // meanwhile on the same thread (a sink calling the adaptor again) drops it.
    class lease {
    public:
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease();
        const compiled_profile& operator*() const noexcept { return *p_; }
        const compiled_profile* operator->() const noexcept { return p_; }
        // Shared ownership of the profile (tests: identity, when it is freed).
        std::shared_ptr<const compiled_profile> share() const;

    private:
        friend class profile_cache;
        lease(const compiled_profile* p, std::shared_ptr<const compiled_profile> owned) noexcept;
        const compiled_profile* p_;
        std::shared_ptr<const compiled_profile> owned_;  // an uncached profile
    };

    // ctx's compiled profile: from this thread's entries, else the shared table, else
    // compiled now (and cached when ctx has a profile_id and a revision).
    lease get(const tern_payload_context& ctx);
    // ctx's schemas compiled now, never cached.
    std::shared_ptr<const compiled_profile> compile(const tern_payload_context& ctx) const;

    // Profiles in the shared table.
    std::size_t size() const;
    // Moves on every removal from the shared table; threads compare it to drop their entries.
    uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
    const schema_limits& limits() const noexcept { return lim_; }

private:
    struct entry {
        uint64_t revision = 0;
        uint64_t last_use = 0;
        std::shared_ptr<const compiled_profile> profile;
    };

    std::shared_ptr<const compiled_profile> shared_lookup(const tern_payload_context& ctx);
    // Under mu_: room for one more entry (evicts the least recently looked up).
    void make_room(std::shared_ptr<const compiled_profile>& evicted);
    void next_generation() noexcept;

    const schema_limits lim_;
    const std::size_t max_profiles_;
    const cache_metrics metrics_;
    mutable std::mutex mu_;
    std::unordered_map<uint64_t, entry> table_;
    uint64_t tick_ = 0;
    std::atomic<uint64_t> generation_;
};

}  // namespace tern::protobuf

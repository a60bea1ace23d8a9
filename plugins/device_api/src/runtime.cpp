#include "runtime.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <random>
#include <thread>

#include "authenticator.hpp"

namespace tern::device_api {

namespace {

uint64_t ms_to_ns(int64_t ms) noexcept { return ms <= 0 ? 0 : static_cast<uint64_t>(ms) * 1000000u; }

}  // namespace

shard_tables::shard_tables(uint32_t i, std::size_t token_cap, std::size_t session_cap, std::size_t unknown_cap,
                           std::size_t source_cap, uint64_t seed)
    : index(i), tokens(token_cap), sessions(session_cap), unknown(unknown_cap), sources(source_cap, seed) {}

shard_tables::~shard_tables() = default;

runtime::runtime(const settings& settings_, services services_)
    : s(settings_), w(std::move(services_)), log(w.log) {
    if (w.reactor == nullptr || w.engine == nullptr || !w.core.complete() ||
        w.adaptors.for_type(TERN_PAYLOAD_JSON) == nullptr)
        throw sdk::error(TERN_INVALID_ARGUMENT, "device_api needs a reactor, an engine, a core and a json adaptor");
    m.init(w.host);
    for (std::size_t i = 0; i < sdk::payload_kinds.size(); ++i)
        missing_adaptor[i] = sdk::missing_payload_adaptor(sdk::payload_kinds[i].type);
    shard_count = w.reactor->shard_count();
    if (shard_count == 0) shard_count = 1;
    auto per_shard = [&](int64_t total) {
        return total <= 0 ? std::size_t{0} : static_cast<std::size_t>((total + shard_count - 1) / shard_count);
    };
    std::random_device rd;
    for (uint32_t i = 0; i < shard_count; ++i) {
        const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
        shards.push_back(std::make_unique<shard_tables>(i, per_shard(s.auth_cache_size), per_shard(s.auth_cache_size),
                                                        per_shard(s.unknown_token_cache_size),
                                                        s.source_rate > 0 ? per_shard(s.source_table_size) : 0, seed));
    }
    for (auto& sd : shards) refresh_memory(*sd);  // the source table, allocated now
    states_per_shard = per_shard(s.max_devices_with_state);
    report_ns = ms_to_ns(s.report_timeout_ms);
    ttl_ns = ms_to_ns(s.auth_cache_ttl_ms);
    unknown_ttl_ns = ms_to_ns(s.unknown_token_cache_ttl_ms);
    dtls_ttl_ns = ms_to_ns(s.dtls_session_inactivity_timeout_ms);
    inactivity_ns = ms_to_ns(s.inactivity_timeout_ms);
    // A re-registration follows its REPLACED end at once unless its authentication waits
    // for the core, which never takes longer than a request may live.
    grace_ns = ms_to_ns(s.client_rpc_timeout_ms);
    if (s.max_pending_rpcs > 256) rpc_cap = static_cast<std::size_t>(s.max_pending_rpcs);
    uint32_t n = 0;
    for (; n < w.transports.size() && n < max_transport_names; ++n) names_[n] = w.transports[n].name;
    name_count_.store(n, std::memory_order_release);
}

void runtime::resolve_power(device_entry& entry) noexcept {
    device_profile& e = *entry.profile;
    const sdk::power_policy_ref p = w.powers.find(std::string_view(e.power_mode_name));
    e.power_policy = p.policy;
    e.power_flags = p.flags;
    if (p || e.power_mode_name.empty()) return;
    try {
        std::lock_guard lk(power_warned_mu_);
        if (!power_warned_.emplace(e.power_mode_name).second) return;
    } catch (...) {
        return;
    }
    log.warn("no power policy decides power mode \"", e.power_mode_name, "\" (device id ", entry.device_id,
             "): its devices are treated as always reachable (load a plugin providing it, e.g. [plugins.power])");
}

bool runtime::post_raw(uint32_t s, tern_task_fn fn, void* ctx) noexcept {
    posts_in_flight_.fetch_add(1, std::memory_order_acq_rel);
    if (stopping() || w.reactor->post(s, fn, ctx) != TERN_OK) {
        posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    return true;
}

int64_t runtime::wall_ms() const noexcept {
    if (w.wall_ms != nullptr) return w.wall_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

device_state* runtime::state_of(uint64_t device_id) const noexcept {
    const shard_tables& sd = home_tables(device_id);
    const std::unique_ptr<device_state>* st = sd.states.find(device_id);
    return st == nullptr ? nullptr : st->get();
}

uint32_t runtime::transport_index(std::string_view name) const noexcept {
    for (uint32_t i = 0; i < w.transports.size(); ++i)
        if (w.transports[i].name == name) return i;
    return UINT32_MAX;
}

uint16_t runtime::transport_id(std::string_view name) noexcept {
    const uint32_t n = name_count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < n; ++i)
        if (names_[i] == name) return static_cast<uint16_t>(i);
    try {
        std::lock_guard lk(names_mu_);
        const uint32_t m = name_count_.load(std::memory_order_relaxed);
        for (uint32_t i = n; i < m; ++i)
            if (names_[i] == name) return static_cast<uint16_t>(i);
        if (m == max_transport_names) return UINT16_MAX;
        names_[m].assign(name);
        name_count_.store(m + 1, std::memory_order_release);
        return static_cast<uint16_t>(m);
    } catch (...) {
        return UINT16_MAX;
    }
}

std::string_view runtime::transport_name(uint32_t id) const noexcept {
    if (id >= name_count_.load(std::memory_order_acquire)) return {};
    return names_[id];
}

std::string_view runtime::format_address(const tern_peer& p, char (&buf)[64]) noexcept {
    return format_address(p.endpoint, buf);
}

std::string_view runtime::format_address(const tern_endpoint& e, char (&buf)[64]) noexcept {
    int n = 0;
    if (e.family == 0) return {};  // none
    if (e.family == 6) {
        char a[INET6_ADDRSTRLEN] = {};
        inet_ntop(AF_INET6, e.addr, a, sizeof a);
        n = std::snprintf(buf, sizeof buf, "[%s]:%u", a, static_cast<unsigned>(e.port));
    } else {
        char a[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, e.addr, a, sizeof a);
        n = std::snprintf(buf, sizeof buf, "%s:%u", a, static_cast<unsigned>(e.port));
    }
    if (n < 0) n = 0;
    if (n >= static_cast<int>(sizeof buf)) n = sizeof buf - 1;
    return std::string_view(buf, static_cast<std::size_t>(n));
}

void runtime::run_task(void* ctx) noexcept {
    std::unique_ptr<task_base> t(static_cast<task_base*>(ctx));
    runtime* rt = t->rt;
    if (!rt->stopping()) {
        try {
            t->run();
        } catch (const std::exception& e) {
            rt->log.error("device_api task failed: ", e.what());
        } catch (...) {
            rt->log.error("device_api task failed");
        }
    }
    t.reset();
    rt->posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

void runtime::drain(std::chrono::steady_clock::time_point give_up) const noexcept {
    while (posts_in_flight_.load(std::memory_order_acquire) != 0 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

namespace {

// One entry of a tern::lru::lru_map: the hash node (next link, key, the LRU node), its bucket,
// and with groups (device ids) the group index's node and bucket.
template <class Map, class Key>
constexpr std::size_t lru_entry(bool grouped) noexcept {
    const std::size_t node = heap_chunk(sizeof(void*) + sizeof(Key) + sizeof(typename Map::node)) + sizeof(void*);
    return grouped ? node + heap_chunk(3 * sizeof(void*)) + sizeof(void*) : node;
}

}  // namespace

void runtime::refresh_memory(shard_tables& sd) noexcept {
    auto report = [&](mem t, std::size_t bytes, std::size_t entries) {
        const auto i = static_cast<std::size_t>(t);
        const auto b = static_cast<int64_t>(bytes), e = static_cast<int64_t>(entries);
        m.memory(t, b - sd.mem_bytes[i], e - sd.mem_entries[i]);
        sd.mem_bytes[i] = b;
        sd.mem_entries[i] = e;
    };
    report(mem::device_states, sd.states.bytes() + sd.states.size() * heap_chunk(sizeof(device_state)),
           sd.states.size());
    report(mem::observation_ids, sd.obs_device.bytes(), sd.obs_device.size());
    const std::size_t tokens = sd.tokens.size(), unknown = sd.unknown.size();
    const std::size_t token_key = sd.token_keys == 0 ? 0 : sd.token_key_heap / sd.token_keys;
    const std::size_t unknown_key = sd.unknown_keys == 0 ? 0 : sd.unknown_key_heap / sd.unknown_keys;
    using token_map = decltype(sd.tokens);
    using session_map = decltype(sd.sessions);
    using unknown_map = decltype(sd.unknown);
    report(mem::auth_cache, tokens * (lru_entry<token_map, std::string>(true) + token_key), tokens);
    report(mem::dtls_sessions, sd.sessions.size() * lru_entry<session_map, session_key>(true), sd.sessions.size());
    report(mem::unknown_tokens, unknown * (lru_entry<unknown_map, std::string>(false) + unknown_key), unknown);
    // The source table is allocated whole at start: its key (family, 16 address bytes), a
    // used flag and a token bucket per slot.
    report(mem::source_limits,
           sd.sources.capacity() * ((18 + sizeof(tern::ratelimit::token_bucket) + 7) & ~std::size_t{7}),
           sd.sources.size());
}

void runtime::schedule(shard_tables& sd, uint64_t when_ns) noexcept {
    if (sd.timer == 0) return;
    if (sd.armed_ns != 0 && sd.armed_ns <= when_ns) return;
    const uint64_t now = now_ns();
    sd.armed_ns = when_ns;
    w.reactor->timer_arm(sd.timer, when_ns > now ? when_ns - now : 0);
}

}  // namespace tern::device_api

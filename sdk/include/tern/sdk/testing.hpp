// A fake host for plugin tests, in this tree and at vendors: every host service of ABI 1.0,
// deterministic and inspectable, so a test makes an instance through its descriptor's
// create() (or in process) and checks what it logged, registered and counted.
//
//     tern::sdk::testing::fake_host h(my_schema.keys());      // or (descriptor)
//     h.config.set("timeout", 250);                            // set_strings() for arrays
//     auto inst = tern::sdk::testing::create(descriptor, h);   // throws with create()'s reason
//     REQUIRE(tern::sdk::testing::start(*inst) == TERN_OK);
//     h.reactor.advance(5'000'000);                            // 5 ms: due timers fire
//     CHECK(h.metrics.value("my_timeouts_total") == 1);
//     CHECK(h.log.has("timed out"));
//
// The pieces:
//   recording_log       log_v1: keeps every line (level settable)
//   manual_reactor      reactor_v1: a clock the test moves; post() queued (run_pending()) or
//                       inline; timers fired by advance() in deadline order; fd watches
//                       fired by ready(fd)
//   fake_registry       registry_v1: providers the test registers, by id and instance
//   recording_metrics   metrics_v1: metrics by name and labels, values for asserts; updates
//                       take no lock and allocate nothing (usable in allocation tests)
//   map_config          config_v1: the schema's defaults, overridden by set()
//   fake_host           host_v1 over the five, plus create()/start() helpers and
//                       plugin_library (dlopen a built plugin, as the kernel does)
// A reactor with real threads, fds and a real clock, for transports: testing_threads.hpp.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tern/abi/host.h"
#include "tern/abi/plugin.h"
#include "tern/sdk/config.hpp"
#include "tern/sdk/host.hpp"
#include "tern/sdk/interfaces.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::sdk::testing {

// ---- log -------------------------------------------------------------------------------------

class recording_log final : public log_v1 {
public:
    struct line {
        tern_log_level level;
        std::string text;
    };

    // The lowest level recorded (and reported by level()).
    void set_level(tern_log_level l) noexcept { level_.store(l); }

    tern_log_level level() noexcept override { return level_.load(); }
    void write(tern_log_level l, tern_str msg) noexcept override {
        std::lock_guard lk(mu_);
        lines_.push_back(line{l, std::string(to_sv(msg))});
    }

    std::vector<line> entries() const {
        std::lock_guard lk(mu_);
        return lines_;
    }
    std::vector<std::string> lines() const {
        std::lock_guard lk(mu_);
        std::vector<std::string> out;
        for (const auto& l : lines_) out.push_back(l.text);
        return out;
    }
    // The first line containing part, or "" when none does.
    std::string find(std::string_view part) const {
        std::lock_guard lk(mu_);
        for (const auto& l : lines_)
            if (l.text.find(part) != std::string::npos) return l.text;
        return {};
    }
    bool has(std::string_view part) const { return count(part) != 0; }
    std::size_t count(std::string_view part) const {
        std::lock_guard lk(mu_);
        return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const line& l) {
            return l.text.find(part) != std::string::npos;
        }));
    }
    void clear() {
        std::lock_guard lk(mu_);
        lines_.clear();
    }

private:
    std::atomic<tern_log_level> level_{TERN_LOG_DEBUG};
    mutable std::mutex mu_;
    std::vector<line> lines_;
};

// ---- reactor with a manual clock -----------------------------------------------------------------

class manual_reactor final : public reactor_v1 {
public:
    explicit manual_reactor(uint32_t shards = 1, uint64_t start_ns = 1'000'000'000'000ull)
        : shards_(shards == 0 ? 1 : shards), now_(start_ns) {}

    // post() runs the task at once (on the target shard, as far as current_shard() tells)
    // instead of queueing it for run_pending().
    bool inline_posts = false;
    // post() answers TERN_UNAVAILABLE, as a stopping reactor does.
    bool refuse_posts = false;

    // ---- reactor_v1
    uint32_t shard_count() noexcept override { return shards_; }
    uint32_t current_shard() noexcept override { return current_; }
    uint64_t now_ns() noexcept override { return now_; }
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override {
        if (refuse_posts) return TERN_UNAVAILABLE;
        if (shard >= shards_ || fn == nullptr) return TERN_INVALID_ARGUMENT;
        if (inline_posts) {
            run_as(shard, [&] { fn(ctx); });
            return TERN_OK;
        }
        std::lock_guard lk(mu_);
        queue_.push_back(task{shard, fn, ctx});
        return TERN_OK;
    }
    tern_status watch_fd(uint32_t shard, int fd, uint32_t events, tern_fd_fn fn, void* ctx,
                         uint64_t* out) noexcept override {
        if (shard >= shards_ || fn == nullptr || out == nullptr) return TERN_INVALID_ARGUMENT;
        for (const auto& w : watches_)
            if (w.alive && w.fd == fd && w.shard == shard) return TERN_EXISTS;
        watches_.push_back(watch{shard, fd, events, fn, ctx, true});
        *out = watches_.size();
        return TERN_OK;
    }
    void unwatch_fd(uint64_t id) noexcept override {
        if (id != 0 && id <= watches_.size()) watches_[id - 1].alive = false;
    }
    tern_status timer_create(uint32_t shard, tern_task_fn fn, void* ctx, uint64_t* out) noexcept override {
        if (shard >= shards_ || fn == nullptr || out == nullptr) return TERN_INVALID_ARGUMENT;
        timers_.push_back(timer{shard, fn, ctx});
        *out = timers_.size();
        return TERN_OK;
    }
    void timer_arm(uint64_t id, uint64_t delay_ns) noexcept override {
        if (timer* t = timer_at(id)) {
            t->deadline = now_ + delay_ns;
            t->armed = true;
        }
    }
    void timer_cancel(uint64_t id) noexcept override {
        if (timer* t = timer_at(id)) t->armed = false;
    }
    void timer_destroy(uint64_t id) noexcept override {
        if (timer* t = timer_at(id)) {
            t->armed = false;
            t->alive = false;
        }
    }

    // ---- driving it
    // Runs queued tasks, and what they post, until none is left; returns how many ran.
    // Throws after a million (a task that re-posts itself forever).
    std::size_t run_pending() {
        std::size_t ran = 0;
        for (;;) {
            task t{};
            {
                std::lock_guard lk(mu_);
                if (queue_.empty()) return ran;
                t = queue_.front();
                queue_.pop_front();
            }
            if (++ran > 1'000'000) throw std::runtime_error("manual_reactor: tasks keep posting tasks");
            run_as(t.shard, [&] { t.fn(t.ctx); });
        }
    }
    std::size_t pending() const {
        std::lock_guard lk(mu_);
        return queue_.size();
    }
    // Moves the clock by ns: runs queued tasks, then fires every timer due by then in
    // deadline order (the clock reads each one's deadline while it runs), then sets the
    // clock to the end.
    void advance(uint64_t ns) {
        const uint64_t target = now_ + ns;
        for (;;) {
            run_pending();
            timer* next = nullptr;
            for (timer& t : timers_)
                if (t.alive && t.armed && t.deadline <= target && (next == nullptr || t.deadline < next->deadline))
                    next = &t;
            if (next == nullptr) break;
            now_ = std::max(now_, next->deadline);
            next->armed = false;
            const timer fire = *next;  // the callback may create timers (timers_ grows)
            run_as(fire.shard, [&] { fire.fn(fire.ctx); });
        }
        now_ = target;
        run_pending();
    }
    // Calls the callbacks watching fd with events (TERN_FD_READ...), as the reactor does when
    // it becomes ready; returns how many ran.
    std::size_t ready(int fd, uint32_t events = TERN_FD_READ) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < watches_.size(); ++i) {
            const watch w = watches_[i];
            if (!w.alive || w.fd != fd || (w.events & events) == 0) continue;
            run_as(w.shard, [&] { w.fn(w.ctx, fd, w.events & events); });
            ++n;
        }
        return n;
    }
    // Runs f as if on shard s (current_shard() answers s meanwhile).
    template <class F>
    void on(uint32_t s, F&& f) {
        run_as(s, f);
    }

    bool armed(uint64_t timer_id) const { return timer_at(timer_id) != nullptr && timers_[timer_id - 1].armed; }
    uint64_t deadline(uint64_t timer_id) const { return timer_at(timer_id) ? timers_[timer_id - 1].deadline : 0; }
    std::size_t live_timers() const {
        return static_cast<std::size_t>(std::count_if(timers_.begin(), timers_.end(), [](const timer& t) { return t.alive; }));
    }
    std::size_t live_watches() const {
        return static_cast<std::size_t>(std::count_if(watches_.begin(), watches_.end(), [](const watch& w) { return w.alive; }));
    }

private:
    struct task {
        uint32_t shard;
        tern_task_fn fn;
        void* ctx;
    };
    struct timer {
        uint32_t shard;
        tern_task_fn fn;
        void* ctx;
        uint64_t deadline = 0;
        bool armed = false;
        bool alive = true;
    };
    struct watch {
        uint32_t shard;
        int fd;
        uint32_t events;
        tern_fd_fn fn;
        void* ctx;
        bool alive;
    };

    template <class F>
    void run_as(uint32_t s, F&& f) {
        const uint32_t prev = current_;
        current_ = s;
        try {
            f();
        } catch (...) {
            current_ = prev;
            throw;
        }
        current_ = prev;
    }
    timer* timer_at(uint64_t id) { return id != 0 && id <= timers_.size() && timers_[id - 1].alive ? &timers_[id - 1] : nullptr; }
    const timer* timer_at(uint64_t id) const {
        return id != 0 && id <= timers_.size() && timers_[id - 1].alive ? &timers_[id - 1] : nullptr;
    }

    uint32_t shards_;
    uint64_t now_;
    uint32_t current_ = TERN_NO_SHARD;
    mutable std::mutex mu_;  // post() may come from any thread
    std::deque<task> queue_;
    std::vector<timer> timers_;
    std::vector<watch> watches_;
};

// ---- registry ----------------------------------------------------------------------------------

class fake_registry final : public registry_v1 {
public:
    // Publishes iface as interface iid of the instance named instance (in call order, which
    // stands for manifest order).
    void provide(std::string iid, std::string instance, void* iface) {
        std::lock_guard lk(mu_);
        entries_.push_back(entry{std::move(iid), std::move(instance), iface});
    }
    template <bound_interface I>
    void provide(std::string instance, I* iface) {
        provide(std::string(iid_v<I>), std::move(instance), static_cast<void*>(iface));
    }
    void clear() {
        std::lock_guard lk(mu_);
        entries_.clear();
    }

    void* find(tern_str iid, tern_str instance) noexcept override {
        std::lock_guard lk(mu_);
        for (const auto& e : entries_)
            if (e.iid == to_sv(iid) && (instance.size == 0 || e.instance == to_sv(instance))) return e.iface;
        return nullptr;
    }
    void list(tern_str iid, void (*sink)(void* ctx, tern_str instance, void* iface), void* ctx) noexcept override {
        std::vector<entry> matching;
        {
            std::lock_guard lk(mu_);
            for (const auto& e : entries_)
                if (e.iid == to_sv(iid)) matching.push_back(e);
        }
        for (const auto& e : matching) sink(ctx, to_str(e.instance), e.iface);
    }

private:
    struct entry {
        std::string iid;
        std::string instance;
        void* iface;
    };
    std::mutex mu_;
    std::vector<entry> entries_;
};

// ---- metrics ----------------------------------------------------------------------------------

class recording_metrics final : public metrics_v1 {
public:
    static constexpr std::size_t capacity = 4096;

    struct series {
        tern_metric_kind kind;
        std::string name;
        std::string help;
        std::string labels;  // as registered
        std::vector<double> bounds;
        std::atomic<int64_t> value{0};          // counters and gauges
        std::atomic<uint64_t> observations{0};  // histograms
        std::atomic<double> sum{0};
        std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // bounds.size() + 1 (+Inf)
    };

    recording_metrics() : table_(new std::atomic<series*>[capacity]) {
        for (std::size_t i = 0; i < capacity; ++i) table_[i].store(nullptr);
    }
    recording_metrics(const recording_metrics&) = delete;
    recording_metrics& operator=(const recording_metrics&) = delete;

    // As the kernel: TERN_EXISTS for a second (name, labels), TERN_INVALID_ARGUMENT for a
    // name registered with another kind or a malformed description. Ids start at 1.
    tern_status add_metric(const tern_metric_desc* d, uint64_t* out) noexcept override {
        if (d == nullptr || out == nullptr || d->name == nullptr || d->name[0] == '\0') return TERN_INVALID_ARGUMENT;
        if (d->kind < TERN_METRIC_COUNTER || d->kind > TERN_METRIC_HISTOGRAM) return TERN_INVALID_ARGUMENT;
        if (d->kind == TERN_METRIC_HISTOGRAM && d->bucket_count != 0 && d->buckets == nullptr) return TERN_INVALID_ARGUMENT;
        std::lock_guard lk(mu_);
        const std::string labels = d->labels != nullptr ? d->labels : "";
        for (const auto& s : all_) {
            if (s->name != d->name) continue;
            if (s->kind != d->kind) return TERN_INVALID_ARGUMENT;
            if (s->labels == labels) return TERN_EXISTS;
        }
        if (all_.size() >= capacity) return TERN_BUSY;
        auto s = std::make_unique<series>();
        s->kind = d->kind;
        s->name = d->name;
        s->help = d->help != nullptr ? d->help : "";
        s->labels = labels;
        if (d->kind == TERN_METRIC_HISTOGRAM) {
            s->bounds.assign(d->buckets, d->buckets + d->bucket_count);
            s->buckets.reset(new std::atomic<uint64_t>[s->bounds.size() + 1]);
            for (std::size_t i = 0; i <= s->bounds.size(); ++i) s->buckets[i].store(0);
        }
        table_[all_.size()].store(s.get(), std::memory_order_release);
        all_.push_back(std::move(s));
        *out = all_.size();
        return TERN_OK;
    }
    void count(uint64_t id, uint64_t delta) noexcept override {
        if (series* s = at(id, TERN_METRIC_COUNTER)) s->value.fetch_add(static_cast<int64_t>(delta));
    }
    void gauge_add(uint64_t id, int64_t delta) noexcept override {
        if (series* s = at(id, TERN_METRIC_GAUGE)) s->value.fetch_add(delta);
    }
    void gauge_set(uint64_t id, int64_t v) noexcept override {
        if (series* s = at(id, TERN_METRIC_GAUGE)) s->value.store(v);
    }
    void observe(uint64_t id, double v) noexcept override {
        series* s = at(id, TERN_METRIC_HISTOGRAM);
        if (s == nullptr) return;
        s->observations.fetch_add(1);
        double seen = s->sum.load();
        while (!s->sum.compare_exchange_weak(seen, seen + v)) {
        }
        std::size_t b = 0;
        while (b < s->bounds.size() && v > s->bounds[b]) ++b;
        s->buckets[b].fetch_add(1);
    }

    // ---- for asserts; labels exactly as registered (null labels: "")
    bool has(std::string_view name, std::string_view labels = {}) const { return lookup(name, labels) != nullptr; }
    // A counter's or gauge's value; throws std::out_of_range naming a metric never registered.
    int64_t value(std::string_view name, std::string_view labels = {}) const { return get(name, labels).value.load(); }
    uint64_t observations(std::string_view name, std::string_view labels = {}) const {
        return get(name, labels).observations.load();
    }
    double sum(std::string_view name, std::string_view labels = {}) const { return get(name, labels).sum.load(); }
    // Observations per bucket (not cumulative), the last one above every bound.
    std::vector<uint64_t> bucket_counts(std::string_view name, std::string_view labels = {}) const {
        const series& s = get(name, labels);
        std::vector<uint64_t> out;
        if (!s.buckets) return out;
        for (std::size_t i = 0; i <= s.bounds.size(); ++i) out.push_back(s.buckets[i].load());
        return out;
    }
    // The description a metric was registered with.
    const series& describe(std::string_view name, std::string_view labels = {}) const { return get(name, labels); }
    // "name" or "name{labels}" of every registered series, in registration order.
    std::vector<std::string> names() const {
        std::lock_guard lk(mu_);
        std::vector<std::string> out;
        for (const auto& s : all_) out.push_back(s->labels.empty() ? s->name : s->name + "{" + s->labels + "}");
        return out;
    }

private:
    series* at(uint64_t id, tern_metric_kind kind) const noexcept {
        if (id == 0 || id > capacity) return nullptr;
        series* s = table_[id - 1].load(std::memory_order_acquire);
        return s != nullptr && s->kind == kind ? s : nullptr;
    }
    const series* lookup(std::string_view name, std::string_view labels) const {
        std::lock_guard lk(mu_);
        for (const auto& s : all_)
            if (s->name == name && s->labels == labels) return s.get();
        return nullptr;
    }
    const series& get(std::string_view name, std::string_view labels) const {
        if (const series* s = lookup(name, labels)) return *s;
        throw std::out_of_range(cat("metric ", name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}",
                                    " is not registered"));
    }

    mutable std::mutex mu_;  // registration and look-ups by name; updates take no lock
    std::vector<std::unique_ptr<series>> all_;
    std::unique_ptr<std::atomic<series*>[]> table_;
};

// ---- config ------------------------------------------------------------------------------------

// The instance's configuration as the kernel hands it over: every key of the schema with its
// default (string arrays parsed), overridden by set(). Set values before the instance is
// created: views handed out earlier end when their key is set again.
class map_config final : public config_v1 {
public:
    using value = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

    map_config() = default;
    explicit map_config(std::span<const tern_config_key> schema) { reset(schema); }

    // Back to the schema's defaults (required keys: no value until set).
    void reset(std::span<const tern_config_key> schema) {
        values_.clear();
        for (const auto& k : schema) {
            const tern_value& d = k.default_value;
            if ((k.flags & TERN_CONFIG_REQUIRED) != 0 || d.type == TERN_VALUE_NULL) continue;
            switch (k.type) {
                case TERN_CONFIG_BOOL: put(k.name, d.u.b != 0, "default"); break;
                case TERN_CONFIG_INT: put(k.name, d.u.i, "default"); break;
                case TERN_CONFIG_DOUBLE:
                    put(k.name, d.type == TERN_VALUE_INT ? static_cast<double>(d.u.i) : d.u.d, "default");
                    break;
                case TERN_CONFIG_STRING: put(k.name, std::string(to_sv(d.u.s)), "default"); break;
                case TERN_CONFIG_STRING_ARRAY: put(k.name, cfg::parse_strings_default(to_sv(d.u.s), k.name), "default"); break;
                default: break;
            }
        }
    }

    void set(std::string_view key, bool v) { put(key, v, "test"); }
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    void set(std::string_view key, T v) {
        put(key, static_cast<int64_t>(v), "test");
    }
    void set(std::string_view key, double v) { put(key, v, "test"); }
    void set(std::string_view key, std::string v) { put(key, std::move(v), "test"); }
    void set(std::string_view key, const char* v) { put(key, std::string(v), "test"); }
    void set_strings(std::string_view key, std::vector<std::string> v) { put(key, std::move(v), "test"); }
    // The key has no value at all (a kernel would not have started the instance).
    void erase(std::string_view key) {
        if (auto it = values_.find(key); it != values_.end()) values_.erase(it);
    }

    tern_status get_bool(tern_str key, int32_t* out) noexcept override {
        const auto* v = get<bool>(key);
        if (v == nullptr || out == nullptr) return status_of(key);
        *out = *v ? 1 : 0;
        return TERN_OK;
    }
    tern_status get_int(tern_str key, int64_t* out) noexcept override {
        const auto* v = get<int64_t>(key);
        if (v == nullptr || out == nullptr) return status_of(key);
        *out = *v;
        return TERN_OK;
    }
    tern_status get_double(tern_str key, double* out) noexcept override {
        if (out == nullptr) return TERN_INVALID_ARGUMENT;
        if (const auto* i = get<int64_t>(key)) {  // an integer reads as a double, as in the kernel
            *out = static_cast<double>(*i);
            return TERN_OK;
        }
        const auto* v = get<double>(key);
        if (v == nullptr) return status_of(key);
        *out = *v;
        return TERN_OK;
    }
    tern_status get_string(tern_str key, tern_str* out) noexcept override {
        const auto* v = get<std::string>(key);
        if (v == nullptr || out == nullptr) return status_of(key);
        *out = to_str(*v);
        return TERN_OK;
    }
    tern_status get_array_size(tern_str key, uint32_t* out) noexcept override {
        const auto* v = get<std::vector<std::string>>(key);
        if (v == nullptr || out == nullptr) return status_of(key);
        *out = static_cast<uint32_t>(v->size());
        return TERN_OK;
    }
    tern_status get_array_string(tern_str key, uint32_t index, tern_str* out) noexcept override {
        const auto* v = get<std::vector<std::string>>(key);
        if (v == nullptr || out == nullptr) return status_of(key);
        if (index >= v->size()) return TERN_NOT_FOUND;
        *out = to_str((*v)[index]);
        return TERN_OK;
    }
    // "default" for the schema's defaults, "test" for values set by the test.
    tern_str origin(tern_str key) noexcept override {
        auto it = values_.find(to_sv(key));
        return it == values_.end() ? tern_str{nullptr, 0} : to_str(it->second.origin);
    }

private:
    struct entry {
        value v;
        std::string origin;
    };
    void put(std::string_view key, value v, std::string_view origin) {
        values_.insert_or_assign(std::string(key), entry{std::move(v), std::string(origin)});
    }
    template <class T>
    const T* get(tern_str key) const noexcept {
        auto it = values_.find(to_sv(key));
        return it == values_.end() ? nullptr : std::get_if<T>(&it->second.v);
    }
    tern_status status_of(tern_str key) const noexcept {
        return values_.find(to_sv(key)) == values_.end() ? TERN_NOT_FOUND : TERN_INVALID_ARGUMENT;
    }

    std::map<std::string, entry, std::less<>> values_;
};

// ---- the host -----------------------------------------------------------------------------------

class fake_host final : public host_v1 {
public:
    explicit fake_host(std::span<const tern_config_key> schema = {}, std::string instance = "test",
                       uint32_t shards = 1)
        : reactor(shards), config(schema), name_(std::move(instance)) {}
    explicit fake_host(const tern_plugin_descriptor& d, std::string instance = "test", uint32_t shards = 1)
        : fake_host(std::span<const tern_config_key>(d.config, d.config_count), std::move(instance), shards) {}
    fake_host(const fake_host&) = delete;
    fake_host& operator=(const fake_host&) = delete;

    recording_log log;
    manual_reactor reactor;
    fake_registry registry;
    recording_metrics metrics;
    map_config config;

    // Serves r as the reactor instead of the manual one (e.g. testing_threads.hpp's).
    void use_reactor(reactor_v1& r) noexcept { reactor_ = &r; }
    // query() answers null for iid, as a kernel without that service would.
    void hide(std::string iid) { hidden_.push_back(std::move(iid)); }
    // The reasons request_stop() was called with.
    std::vector<std::string> stop_requests() const {
        std::lock_guard lk(mu_);
        return stops_;
    }
    // What the kernel hands to a descriptor's create().
    tern_create_args create_args() noexcept {
        tern_create_args a{};
        a.struct_size = sizeof a;
        a.host = this;
        return a;
    }

    void* query(tern_str iid) noexcept override {
        const std::string_view id = to_sv(iid);
        for (const auto& h : hidden_)
            if (h == id) return nullptr;
        if (id == TERN_IID_LOG_V1) return static_cast<log_v1*>(&log);
        if (id == TERN_IID_REACTOR_V1) return reactor_ != nullptr ? reactor_ : static_cast<reactor_v1*>(&reactor);
        if (id == TERN_IID_REGISTRY_V1) return static_cast<registry_v1*>(&registry);
        if (id == TERN_IID_METRICS_V1) return static_cast<metrics_v1*>(&metrics);
        if (id == TERN_IID_CONFIG_V1) return static_cast<config_v1*>(&config);
        return nullptr;
    }
    tern_str instance_name() noexcept override { return to_str(name_); }
    uint32_t abi_major() noexcept override { return TERN_ABI_MAJOR; }
    uint32_t abi_minor() noexcept override { return TERN_ABI_MINOR; }
    void request_stop(tern_str reason) noexcept override {
        std::lock_guard lk(mu_);
        stops_.emplace_back(to_sv(reason));
    }

private:
    std::string name_;
    reactor_v1* reactor_ = nullptr;
    std::vector<std::string> hidden_;
    mutable std::mutex mu_;
    std::vector<std::string> stops_;
};

// ---- making instances ----------------------------------------------------------------------

struct instance_deleter {
    void operator()(tern_instance* p) const noexcept {
        if (p != nullptr) p->destroy();
    }
};
// An instance; destroy() runs when it goes (stop() first, if it was started: see start()).
using instance_ptr = std::unique_ptr<tern_instance, instance_deleter>;

// Calls d.create() with h; the status, and the instance in out or the reason in err.
inline tern_status try_create(const tern_plugin_descriptor& d, fake_host& h, instance_ptr& out, tern_error& err) {
    const tern_create_args args = h.create_args();
    tern_instance* p = nullptr;
    err = tern_error{};
    const tern_status s = d.create(&args, &p, &err);
    out.reset(s == TERN_OK ? p : nullptr);
    return s;
}
// As try_create(), throwing sdk::error with create()'s status and reason when it fails.
inline instance_ptr create(const tern_plugin_descriptor& d, fake_host& h) {
    instance_ptr p;
    tern_error err{};
    if (const tern_status s = try_create(d, h, p, err); s != TERN_OK) throw error(s, std::string(error_text(err)));
    return p;
}
// start(); the reason lands in *reason when given.
inline tern_status start(tern_instance& i, std::string* reason = nullptr) {
    tern_error err{};
    const tern_status s = i.start(&err);
    if (reason != nullptr) *reason = std::string(error_text(err));
    return s;
}
// The interface I the instance provides, or null.
template <bound_interface I>
I* query(tern_instance& i) noexcept {
    return static_cast<I*>(i.query(to_str(iid_v<I>)));
}

// A built plugin library opened as the kernel opens it (RTLD_NOW | RTLD_LOCAL), its
// descriptor read through tern_plugin_entry. Never closed (nor does the kernel close one).
class plugin_library {
public:
    explicit plugin_library(const std::string& path) {
        void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) throw std::runtime_error(cat("cannot open ", path, ": ", ::dlerror()));
        auto entry = reinterpret_cast<tern_plugin_entry_fn>(::dlsym(lib, TERN_PLUGIN_ENTRY_SYMBOL));
        if (entry == nullptr) throw std::runtime_error(cat(path, " exports no ", TERN_PLUGIN_ENTRY_SYMBOL));
        d_ = entry();
        if (d_ == nullptr) throw std::runtime_error(cat(path, ": ", TERN_PLUGIN_ENTRY_SYMBOL, " returned null"));
    }
    const tern_plugin_descriptor& descriptor() const noexcept { return *d_; }
    std::span<const tern_config_key> schema() const noexcept { return {d_->config, d_->config_count}; }

private:
    const tern_plugin_descriptor* d_ = nullptr;
};

}  // namespace tern::sdk::testing

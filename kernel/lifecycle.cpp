#include "kernel/lifecycle.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "kernel/metrics/process_memory.hpp"
#include "kernel/text.hpp"
#include "tern/abi/version.h"
#include "tern/sdk/status.hpp"

namespace tern::kernel {

namespace {

std::string library_key(const std::string& file) {
    std::error_code ec;
    auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(file, ec), ec);
    return ec ? file : p.string();
}

// The text a plugin wrote into a tern_error, read defensively: len may be wrong.
std::string error_text(const tern_error& err) {
    std::size_t n = err.len < sizeof(err.msg) ? err.len : 0;
    if (n == 0) n = ::strnlen(err.msg, sizeof(err.msg) - 1);
    else n = ::strnlen(err.msg, n);
    return std::string(err.msg, n);
}

std::string failure_text(tern_status st, const tern_error& err) {
    std::string msg = error_text(err);
    if (msg.empty()) msg = tern::sdk::status_name(st);
    // The plugin's own words first (tests and operators grep for them), then what kind of
    // failure it was when it is a bug rather than a refusal.
    if (st == TERN_INTERNAL) return msg + " (internal error in the plugin)";
    return msg;
}

struct candidate {
    const instance_decl* decl;
    std::shared_ptr<plugin_library> lib;
    config_values config;
};

// Start order: every instance after the instances providing what it requires (optional
// requirements too, when someone provides them); ties in manifest order.
bool order_instances(const manifest& m, std::vector<candidate>& in, std::vector<candidate>& out,
                     diagnostics& diag) {
    const std::size_t n = in.size();
    std::vector<std::set<std::size_t>> deps(n);
    for (std::size_t i = 0; i < n; ++i)
        for (const auto& r : in[i].lib->requirements)
            for (std::size_t j = 0; j < n; ++j)
                if (j != i && in[j].lib->provides_iid(r.iid)) deps[i].insert(j);
    std::vector<bool> done(n, false);
    std::vector<std::size_t> order;
    while (order.size() < n) {
        std::optional<std::size_t> next;
        for (std::size_t i = 0; i < n && !next; ++i) {
            if (done[i]) continue;
            if (std::all_of(deps[i].begin(), deps[i].end(), [&](std::size_t j) { return done[j]; })) next = i;
        }
        if (!next) {
            // Every remaining instance waits for another remaining one: walk the waits
            // until one repeats to name the cycle.
            std::size_t cur = 0;
            while (done[cur]) ++cur;
            std::vector<std::size_t> path;
            std::vector<int> pos(n, -1);
            while (pos[cur] < 0) {
                pos[cur] = static_cast<int>(path.size());
                path.push_back(cur);
                for (std::size_t j : deps[cur])
                    if (!done[j]) {
                        cur = j;
                        break;
                    }
            }
            std::vector<std::string> names, why;
            for (std::size_t k = static_cast<std::size_t>(pos[cur]); k < path.size(); ++k) {
                const std::size_t a = path[k];
                const std::size_t b = k + 1 < path.size() ? path[k + 1] : cur;
                names.push_back(in[a].decl->name);
                for (const auto& r : in[a].lib->requirements)
                    if (in[b].lib->provides_iid(r.iid)) {
                        why.push_back(in[a].decl->name + " requires '" + r.iid + "' provided by " + in[b].decl->name);
                        break;
                    }
            }
            names.push_back(in[cur].decl->name);
            diag.error(m.path + ": dependency cycle between plugin instances: " + text::join(names, " -> ") + " (" +
                       text::join(why, "; ") + "); disable one of them or make one requirement optional");
            return false;
        }
        done[*next] = true;
        order.push_back(*next);
    }
    for (std::size_t i : order) out.push_back(std::move(in[i]));
    return true;
}

}  // namespace

bool make_plan(std::unique_ptr<manifest> m, plan& out, diagnostics& diag) {
    const auto dirs = plugin_search_dirs(m->kernel.plugin_path);
    std::map<std::string, load_result> loaded;
    std::map<const plugin_library*, std::vector<std::string>> schema_problems;
    std::set<const plugin_library*> schema_reported;
    std::vector<std::string> skip(std::begin(kernel_owned_keys), std::end(kernel_owned_keys));
    std::vector<candidate> enabled;

    for (const auto& d : m->instances) {
        const std::string table = "[plugins." + d.name + "]";
        std::string file;
        if (!d.file.empty()) {
            file = d.file;
            std::error_code ec;
            if (!d.enabled && !std::filesystem::exists(file, ec)) {
                diag.note(TERN_LOG_DEBUG, "instance '" + d.name + "' is disabled and its library " + file +
                                              " does not exist; skipping it");
                continue;
            }
        } else if (auto f = find_plugin_file(d.plugin, dirs)) {
            file = *f;
        } else {
            if (d.enabled)
                diag.error(d.where + ": " + table + " plugin '" + d.plugin + "' not found: no " +
                           plugin_file_name(d.plugin) + " in " + text::join(dirs, ", ") +
                           "; build the plugin, add its directory to kernel.plugin_path, or name its library with 'file'");
            else
                diag.note(TERN_LOG_DEBUG, "instance '" + d.name + "' is disabled and " + plugin_file_name(d.plugin) +
                                              " is not on the plugin path; skipping it");
            continue;
        }

        const std::string key = library_key(file);
        auto it = loaded.find(key);
        if (it == loaded.end()) it = loaded.emplace(key, open_plugin(file)).first;
        const load_result& r = it->second;
        if (!r.library) {
            if (d.enabled) diag.error(d.where + ": " + table + " " + r.error);
            else diag.note(TERN_LOG_WARN, "instance '" + d.name + "' is disabled; its library is not usable: " + r.error);
            continue;
        }
        const auto& lib = r.library;

        auto sp = schema_problems.find(lib.get());
        if (sp == schema_problems.end()) sp = schema_problems.emplace(lib.get(), check_schema(lib->config)).first;
        if (!sp->second.empty()) {
            const std::string msg = lib->path + ": plugin '" + lib->name + "' declares a bad config schema: " +
                                    text::join(sp->second, "; ") + "; fix its tern_config_key table and rebuild it";
            if (!d.enabled) diag.note(TERN_LOG_WARN, "instance '" + d.name + "' is disabled; " + msg);
            else if (schema_reported.insert(lib.get()).second) diag.error(msg);
            continue;
        }

        validation how;
        how.table = "plugins." + d.name;
        how.table_origin = d.where;
        how.origin = [mp = m.get()](const toml::node& n) { return mp->origin(n); };
        how.skip = skip;
        config_values cfg = validate_table(d.table, lib->config, how, diag);
        if (d.enabled) enabled.push_back({&d, lib, std::move(cfg)});
    }

    // Requirements: only now is every enabled instance known.
    std::set<std::string> provided;
    for (const auto& c : enabled) provided.insert(c.lib->provides.begin(), c.lib->provides.end());
    std::set<std::pair<const plugin_library*, std::string>> reported;
    std::set<const plugin_library*> unmet;
    for (const auto& c : enabled) {
        for (const auto& r : c.lib->requirements) {
            if (r.optional || provided.count(r.iid) != 0) continue;
            unmet.insert(c.lib.get());
            if (!reported.insert({c.lib.get(), r.iid}).second) continue;
            diag.error(c.decl->where + ": [plugins." + c.decl->name + "] plugin '" + c.lib->name + "' (" +
                       c.lib->path + ") requires interface '" + r.iid +
                       "', which no enabled plugin provides; enable a plugin that provides it "
                       "('tern plugins list' shows who provides what)");
        }
    }
    std::set<const plugin_library*> noted;
    for (const auto& c : enabled)
        if (c.lib->abi_minor > TERN_ABI_MINOR && unmet.count(c.lib.get()) == 0 && noted.insert(c.lib.get()).second)
            diag.note(TERN_LOG_INFO, newer_minor_note(*c.lib));

    std::vector<candidate> ordered;
    if (diag.ok()) order_instances(*m, enabled, ordered, diag);
    for (auto& c : ordered)
        out.instances.push_back(
            {c.decl, std::move(c.lib), std::move(c.config), c.decl->log_level.value_or(m->kernel.log_level)});
    out.m = std::move(m);
    return diag.ok();
}

std::string instance_names(const plan& p) {
    std::vector<std::string> names;
    for (const auto& i : p.instances) names.push_back(i.decl->name);
    return text::join(names, ", ");
}

// ---- stop_request ------------------------------------------------------------------------

void stop_request::trigger(std::string reason, bool failure) {
    {
        std::lock_guard lock(mu_);
        if (triggered_) return;
        triggered_ = true;
        failure_ = failure;
        reason_ = std::move(reason);
    }
    cv_.notify_all();
}

bool stop_request::wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return triggered_; });
}

void stop_request::wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return triggered_; });
}

bool stop_request::triggered() const {
    std::lock_guard lock(mu_);
    return triggered_;
}

std::string stop_request::reason() const {
    std::lock_guard lock(mu_);
    return reason_;
}

bool stop_request::failure() const {
    std::lock_guard lock(mu_);
    return failure_;
}

// ---- runtime -----------------------------------------------------------------------------

runtime::runtime(plan& p, logging& logs, uint32_t shards)
    : plan_(p), logs_(logs), pool_(shards), store_(pool_.shard_count(), &pool_) {
    shared_.reactor = &pool_;
    shared_.registry = &registry_;
    shared_.metrics = &store_;
    shared_.request_stop = [this](const std::string& instance, const std::string& reason) {
        logs_.kernel().error("{} requested stop: {}", instance, reason);
        stops_.trigger(instance + " requested stop: " + reason, true);
    };
    pool_.set_reporter([this](const std::string& msg) { logs_.kernel().warn("{}", msg); });
    register_kernel_metrics();
}

runtime::~runtime() { stop(); }

void runtime::register_kernel_metrics() {
    auto add = [this](tern_metric_kind kind, const char* name, const char* help, const std::string& labels) {
        std::string err;
        const uint64_t id = store_.add(kind, name, help, labels, err);
        if (id == 0) logs_.kernel().warn("kernel metric not registered: {}", err);
        return id;
    };
    const std::string abi = std::to_string(TERN_ABI_MAJOR) + "." + std::to_string(TERN_ABI_MINOR);
    const uint64_t build = add(TERN_METRIC_GAUGE, "tern_build_info", "Tern version and ABI; always 1",
                               "version=\"" TERN_VERSION "\",abi=\"" + abi + "\"");
    store_.gauge_set(build, 1);
    const uint64_t uptime = add(TERN_METRIC_GAUGE, "tern_uptime_seconds", "Seconds since the kernel started", "");
    store_.add_scrape_hook([this, uptime] {
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - born_);
        store_.gauge_set(uptime, s.count());
    });
    instances_gauge_ = add(TERN_METRIC_GAUGE, "tern_plugin_instances", "Plugin instances started", "");
    const uint64_t shards = add(TERN_METRIC_GAUGE, "tern_reactor_shards", "Reactor shard threads", "");
    store_.gauge_set(shards, pool_.shard_count());
    std::vector<uint64_t> posted;
    for (uint32_t s = 0; s < pool_.shard_count(); ++s)
        posted.push_back(add(TERN_METRIC_COUNTER, "tern_reactor_tasks_posted_total",
                             "Tasks plugins posted to a shard", "shard=\"" + std::to_string(s) + "\""));
    pool_.set_post_counters(&store_, std::move(posted));
    std::string err;
    if (!metrics::register_process_memory(store_, err))
        logs_.kernel().warn("kernel memory metrics not registered: {}", err);
}

void runtime::set_step(std::string step) {
    std::lock_guard lock(step_mu_);
    step_ = std::move(step);
}

std::string runtime::step() const {
    std::lock_guard lock(step_mu_);
    return step_;
}

bool runtime::create_and_publish(const std::function<bool(const planned_instance&)>& pick, std::string& reason) {
    for (auto& pi : plan_.instances) {
        if (!pick(pi)) continue;
        const std::string& name = pi.decl->name;
        set_step("instance '" + name + "' is still being created");
        auto logger = logs_.make_logger(name, pi.log_level);
        auto h = std::make_unique<host::instance_host>(name, shared_, logger, pi.config);
        tern_create_args args{};
        args.struct_size = sizeof args;
        args.host = h.get();
        tern_instance* inst = nullptr;
        tern_error err{};
        const tern_status st = pi.library->create(&args, &inst, &err);
        if (st != TERN_OK || inst == nullptr) {
            reason = "plugin instance '" + name + "' could not be created: " +
                     (st == TERN_OK ? std::string("create() returned no instance") : failure_text(st, err));
            destroy_created();
            return false;
        }
        logs_.kernel().debug("created instance '{}' (plugin {} {} from {})", name, pi.library->name,
                             pi.library->version, pi.library->path);
        live_.push_back({&pi, std::move(h), inst});
    }

    for (auto& l : live_) {
        for (const auto& iid : l.planned->library->provides) {
            void* iface = l.instance->query(tern_str{iid.data(), iid.size()});
            if (iface == nullptr) {
                reason = "plugin instance '" + l.planned->decl->name + "' declares interface '" + iid +
                         "' but query() returned null";
                registry_.clear();
                destroy_created();
                return false;
            }
            registry_.add(iid, l.planned->decl->name, l.planned->decl->index, iface);
        }
    }
    registry_.publish();
    pool_.start();
    shards_running_ = true;
    return true;
}

bool runtime::create_only(const std::function<bool(const planned_instance&)>& pick, std::string& reason) {
    return create_and_publish(pick, reason);
}

std::vector<std::pair<std::string, void*>> runtime::interfaces(std::string_view iid) {
    std::vector<std::pair<std::string, void*>> out;
    registry_.list(tern_str{iid.data(), iid.size()}, [](void* ctx, tern_str instance, void* iface) {
        static_cast<std::vector<std::pair<std::string, void*>>*>(ctx)->emplace_back(
            std::string(instance.data, instance.size), iface);
    }, &out);
    return out;
}

bool runtime::start(std::string& reason) {
    if (!create_and_publish([](const planned_instance&) { return true; }, reason)) return false;
    for (auto& l : live_) {
        const std::string& name = l.planned->decl->name;
        set_step("instance '" + name + "' is still starting");
        tern_error err{};
        const tern_status st = l.instance->start(&err);
        if (st != TERN_OK) {
            reason = "plugin instance '" + name + "' failed to start: " + failure_text(st, err);
            stop(std::chrono::milliseconds::max(), {});
            return false;
        }
        ++started_;
        logs_.kernel().info("started instance '{}' (plugin {} {})", name, l.planned->library->name,
                            l.planned->library->version);
    }
    store_.gauge_set(instances_gauge_, static_cast<int64_t>(started_));
    set_step({});
    return true;
}

void runtime::stop_started(std::size_t count) {
    for (std::size_t i = count; i-- > 0;) {
        const std::string& name = live_[i].planned->decl->name;
        set_step("instance '" + name + "' is still stopping");
        live_[i].instance->stop();
        logs_.kernel().debug("stopped instance '{}'", name);
    }
}

void runtime::destroy_created() {
    for (std::size_t i = live_.size(); i-- > 0;) {
        set_step("instance '" + live_[i].planned->decl->name + "' is still being destroyed");
        live_[i].instance->destroy();
    }
    live_.clear();
}

void runtime::stop(std::chrono::milliseconds limit, std::function<void(const std::string&)> on_overrun) {
    if (live_.empty() && !shards_running_) return;

    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog;
    if (limit != std::chrono::milliseconds::max() && on_overrun) {
        watchdog = std::thread([&] {
            std::unique_lock lock(mu);
            if (!cv.wait_for(lock, limit, [&] { return done; })) {
                lock.unlock();
                on_overrun(step());
            }
        });
    }

    stop_started(started_);
    started_ = 0;
    store_.gauge_set(instances_gauge_, 0);
    if (shards_running_) {
        set_step("the reactor shards are still stopping");
        pool_.stop();
        shards_running_ = false;
    }
    // Interfaces are valid only until their provider stops.
    registry_.clear();
    destroy_created();
    set_step({});

    if (watchdog.joinable()) {
        {
            std::lock_guard lock(mu);
            done = true;
        }
        cv.notify_all();
        watchdog.join();
    }
}

}  // namespace tern::kernel

// The plugin library as the kernel sees it: loaded with dlopen, its descriptor read, an
// instance created and started with a stand-in host (config from the schema's defaults
// plus overrides), its core_v1 and cli_v1 used through the ABI.
#include <dlfcn.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>

#include "admin_api.hpp"
#include "http_client.hpp"
#include "support.hpp"
#include "tern/abi/cli.h"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"

using namespace tern::core_embedded::test;
using tern::sdk::to_str;
using tern::sdk::to_sv;

#ifndef TERN_CORE_EMBEDDED_PLUGIN
#error "TERN_CORE_EMBEDDED_PLUGIN must name the plugin library"
#endif

namespace {

class fake_log final : public tern::log_v1 {
public:
    tern_log_level level() noexcept override { return TERN_LOG_DEBUG; }
    void write(tern_log_level, tern_str msg) noexcept override {
        std::lock_guard lk(m);
        lines.emplace_back(to_sv(msg));
    }
    bool has(const std::string& part) {
        std::lock_guard lk(m);
        for (auto& l : lines)
            if (l.find(part) != std::string::npos) return true;
        return false;
    }
    std::string find(const std::string& part) {
        std::lock_guard lk(m);
        for (auto& l : lines)
            if (l.find(part) != std::string::npos) return l;
        return {};
    }
    std::mutex m;
    std::vector<std::string> lines;
};

// The core needs no reactor; the SDK's host face only wants one to exist.
class no_reactor final : public tern::reactor_v1 {
public:
    uint32_t shard_count() noexcept override { return 1; }
    uint32_t current_shard() noexcept override { return TERN_NO_SHARD; }
    uint64_t now_ns() noexcept override { return 0; }
    tern_status post(uint32_t, tern_task_fn, void*) noexcept override { return TERN_UNSUPPORTED; }
    tern_status watch_fd(uint32_t, int, uint32_t, tern_fd_fn, void*, uint64_t*) noexcept override { return TERN_UNSUPPORTED; }
    void unwatch_fd(uint64_t) noexcept override {}
    tern_status timer_create(uint32_t, tern_task_fn, void*, uint64_t*) noexcept override { return TERN_UNSUPPORTED; }
    void timer_arm(uint64_t, uint64_t) noexcept override {}
    void timer_cancel(uint64_t) noexcept override {}
    void timer_destroy(uint64_t) noexcept override {}
};

class no_registry final : public tern::registry_v1 {
public:
    void* find(tern_str, tern_str) noexcept override { return nullptr; }
    void list(tern_str, void (*)(void*, tern_str, void*), void*) noexcept override {}
};

class fake_metrics final : public tern::metrics_v1 {
public:
    tern_status add_metric(const tern_metric_desc* d, uint64_t* out) noexcept override {
        std::lock_guard lk(m);
        names.emplace_back(std::string(d->name) + (d->labels ? std::string("{") + d->labels + "}" : ""));
        values.push_back(0);
        *out = names.size() - 1;
        return TERN_OK;
    }
    void count(uint64_t id, uint64_t d) noexcept override { add(id, static_cast<int64_t>(d)); }
    void gauge_add(uint64_t id, int64_t d) noexcept override { add(id, d); }
    void gauge_set(uint64_t id, int64_t v) noexcept override {
        std::lock_guard lk(m);
        values[id] = v;
    }
    void observe(uint64_t id, double) noexcept override { add(id, 1); }
    int64_t value_of(const std::string& name) {
        std::lock_guard lk(m);
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return values[i];
        return -1;
    }
    void add(uint64_t id, int64_t d) {
        std::lock_guard lk(m);
        values[id] += d;
    }
    std::mutex m;
    std::vector<std::string> names;
    std::vector<int64_t> values;
};

// Config from the descriptor's schema: defaults, with string overrides by key.
class fake_config final : public tern::config_v1 {
public:
    fake_config(const tern_plugin_descriptor* d, std::map<std::string, std::string> overrides)
        : d_(d), over_(std::move(overrides)) {}
    const tern_config_key* key(tern_str k) {
        for (uint32_t i = 0; i < d_->config_count; ++i)
            if (to_sv(k) == d_->config[i].name) return &d_->config[i];
        return nullptr;
    }
    tern_status get_bool(tern_str k, int32_t* out) noexcept override {
        auto* c = key(k);
        if (!c || c->type != TERN_CONFIG_BOOL) return TERN_NOT_FOUND;
        auto o = over_.find(std::string(to_sv(k)));
        *out = o != over_.end() ? (o->second == "true") : c->default_value.u.b;
        return TERN_OK;
    }
    tern_status get_int(tern_str k, int64_t* out) noexcept override {
        auto* c = key(k);
        if (!c || c->type != TERN_CONFIG_INT) return TERN_NOT_FOUND;
        auto o = over_.find(std::string(to_sv(k)));
        *out = o != over_.end() ? std::stoll(o->second) : c->default_value.u.i;
        return TERN_OK;
    }
    tern_status get_double(tern_str, double*) noexcept override { return TERN_NOT_FOUND; }
    tern_status get_string(tern_str k, tern_str* out) noexcept override {
        auto* c = key(k);
        if (!c || c->type != TERN_CONFIG_STRING) return TERN_NOT_FOUND;
        auto o = over_.find(std::string(to_sv(k)));
        *out = o != over_.end() ? to_str(o->second) : c->default_value.u.s;
        return TERN_OK;
    }
    tern_status get_array_size(tern_str, uint32_t*) noexcept override { return TERN_NOT_FOUND; }
    tern_status get_array_string(tern_str, uint32_t, tern_str*) noexcept override { return TERN_NOT_FOUND; }
    tern_str origin(tern_str) noexcept override { return to_str("test"); }

private:
    const tern_plugin_descriptor* d_;
    std::map<std::string, std::string> over_;
};

class fake_host final : public tern::host_v1 {
public:
    fake_host(const tern_plugin_descriptor* d, std::map<std::string, std::string> cfg) : config(d, std::move(cfg)) {}
    void* query(tern_str iid) noexcept override {
        const auto s = to_sv(iid);
        if (s == TERN_IID_LOG_V1) return static_cast<tern::log_v1*>(&log);
        if (s == TERN_IID_REACTOR_V1) return static_cast<tern::reactor_v1*>(&reactor);
        if (s == TERN_IID_REGISTRY_V1) return static_cast<tern::registry_v1*>(&registry);
        if (s == TERN_IID_METRICS_V1) return static_cast<tern::metrics_v1*>(&metrics);
        if (s == TERN_IID_CONFIG_V1) return static_cast<tern::config_v1*>(&config);
        return nullptr;
    }
    tern_str instance_name() noexcept override { return to_str("core_embedded"); }
    uint32_t abi_major() noexcept override { return TERN_ABI_MAJOR; }
    uint32_t abi_minor() noexcept override { return TERN_ABI_MINOR; }
    void request_stop(tern_str) noexcept override {}

    fake_log log;
    no_reactor reactor;
    no_registry registry;
    fake_metrics metrics;
    fake_config config;
};

struct library {
    void* handle = nullptr;
    const tern_plugin_descriptor* d = nullptr;
    library() {
        handle = dlopen(TERN_CORE_EMBEDDED_PLUGIN, RTLD_NOW | RTLD_LOCAL);
        INFO(dlerror());
        REQUIRE(handle != nullptr);
        auto entry = reinterpret_cast<tern_plugin_entry_fn>(dlsym(handle, TERN_PLUGIN_ENTRY_SYMBOL));
        REQUIRE(entry != nullptr);
        d = entry();
        REQUIRE(d != nullptr);
    }
    ~library() {
        if (handle != nullptr) dlclose(handle);
    }
};

struct instance {
    fake_host host;
    tern::plugin_v1* p = nullptr;
    instance(const library& lib, std::map<std::string, std::string> cfg) : host(lib.d, std::move(cfg)) {
        tern_create_args a{sizeof(tern_create_args), 0, &host};
        tern_error err{};
        REQUIRE(lib.d->create(&a, &p, &err) == TERN_OK);
    }
    ~instance() {
        if (p != nullptr) p->destroy();
    }
    template <class I>
    I* iface(const char* iid) {
        return static_cast<I*>(p->query(to_str(iid)));
    }
};

std::string address_in(const std::string& line) {
    const auto at = line.find("http://");
    REQUIRE(at != std::string::npos);
    return line.substr(at + 7);
}

}  // namespace

TEST_CASE("plugin: the descriptor", "[plugin]") {
    library lib;
    const tern_plugin_descriptor* d = lib.d;
    CHECK(d->magic == TERN_PLUGIN_MAGIC);
    CHECK(d->abi_major == TERN_ABI_MAJOR);
    CHECK(std::string(d->name) == "core_embedded");
    // tern.core/1, the core's capabilities of ABI 1.1 (capabilities_test.cpp), the CLI
    const std::vector<std::string> provides(d->provides, d->provides + d->provides_count);
    CHECK(provides == std::vector<std::string>{TERN_IID_CORE_V1, TERN_IID_CORE_AUTH_V1, TERN_IID_CORE_TELEMETRY_V1,
                                               TERN_IID_CORE_ATTRIBUTES_V1, TERN_IID_CORE_RPC_V1,
                                               TERN_IID_CORE_PROVISIONING_V1, TERN_IID_CORE_OTA_V1,
                                               TERN_IID_CORE_SESSIONS_V1, TERN_IID_CORE_EVENTS_V1, TERN_IID_CLI_V1});
    CHECK(d->requirement_count == 0);
    std::set<std::string> keys;
    for (uint32_t i = 0; i < d->config_count; ++i) {
        const tern_config_key& k = d->config[i];
        CHECK(k.struct_size == sizeof(tern_config_key));
        CHECK(std::string(k.doc).size() > 10);
        keys.insert(k.name);
    }
    for (const char* k : {"database", "admin_bind", "admin_key", "sync", "group_commit_max_batch",
                          "group_commit_max_delay_us", "write_queue_capacity", "claim_duration",
                          "claim_allowed_by_default", "client_rpc_builtin", "client_rpc_queue",
                          "client_rpc_queue_capacity", "rpc_default_timeout", "max_ota_size", "credential_cache_size"})
        CHECK(keys.count(k) == 1);
}

TEST_CASE("plugin: created without starting, then started: admin key, address, core_v1 and cli_v1", "[plugin]") {
    library lib;
    temp_dir dir;
    const std::string db = dir.file("var/tern.db");
    const std::map<std::string, std::string> cfg = {{"database", db}, {"admin_bind", "127.0.0.1:0"},
                                                    {"group_commit_max_delay_us", "200"}};
    std::string key;
    {
        instance server(lib, cfg);
        auto* core = server.iface<tern::core_v1>(TERN_IID_CORE_V1);
        auto* tool = server.iface<tern::cli_v1>(TERN_IID_CLI_V1);
        REQUIRE(core != nullptr);
        REQUIRE(tool != nullptr);
        CHECK(server.iface<void>("tern.other/1") == nullptr);
        // not started: the core refuses politely, the database does not exist yet
        device_wait w;
        core->authenticate(TERN_CREDENTIAL_ACCESS_TOKEN, to_str("x"), &device_wait::fn, &w);
        CHECK(w.get().status == TERN_UNAVAILABLE);
        CHECK_FALSE(std::filesystem::exists(db));

        tern_error err{};
        REQUIRE(server.p->start(&err) == TERN_OK);
        CHECK(server.host.log.has("admin key generated and stored in " + db + ".admin-key (mode 0600"));
        const std::string addr = address_in(server.host.log.find("admin API on http://"));
        key = tern::core_embedded::read_admin_key(db + ".admin-key");
        CHECK(key.size() == 32);
        CHECK_FALSE(server.host.log.has(key));  // never logged
        struct stat st{};
        REQUIRE(::stat((db + ".admin-key").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
        std::ifstream af(db + ".admin-addr");
        std::string written;
        std::getline(af, written);
        CHECK(written == addr);

        // the CLI of a second, never started instance finds the server by its files
        {
            instance cli_only(lib, cfg);
            auto* c = cli_only.iface<tern::cli_v1>(TERN_IID_CLI_V1);
            std::string out, errs;
            std::vector<std::string> args = {"device", "add", "dev-1", "--token", "tok-1"};
            std::vector<tern_str> argv;
            for (auto& a : args) argv.push_back(to_str(a));
            std::pair<std::string*, std::string*> both{&out, &errs};
            const int rc = c->run(static_cast<uint32_t>(argv.size()), argv.data(),
                                  [](void* ctx, tern_str s) { static_cast<std::pair<std::string*, std::string*>*>(ctx)->first->append(s.data, s.size); },
                                  [](void* ctx, tern_str s) { static_cast<std::pair<std::string*, std::string*>*>(ctx)->second->append(s.data, s.size); },
                                  &both);
            INFO(errs);
            CHECK(rc == 0);
            CHECK(out.find("dev-1") != std::string::npos);
        }
        // ... and the device is there for the transport
        device_wait a;
        core->authenticate(TERN_CREDENTIAL_ACCESS_TOKEN, to_str("tok-1"), &device_wait::fn, &a);
        auto found = a.get();
        CHECK(found.status == TERN_OK);
        CHECK(found.name == "dev-1");

        tern_value v{};
        v.type = TERN_VALUE_INT;
        v.u.i = 1;
        tern_kv kv{to_str("x"), v};
        tern_ts_record rec{1000, &kv, 1, 0};
        done_wait d;
        core->post_telemetry(found.id, &rec, 1, &done_wait::fn, &d);
        CHECK(d.get().first == TERN_OK);
        CHECK(server.host.metrics.value_of("core_commits_total") > 0);
        CHECK(server.host.metrics.value_of("core_telemetry_values_total") == 1);
        CHECK(server.host.metrics.value_of("core_rpc_total{status=\"QUEUED\"}") == 0);

        server.p->stop();
        CHECK_FALSE(std::filesystem::exists(db + ".admin-addr"));
    }
    // a second start reads the key file and says nothing about the key
    instance again(lib, cfg);
    tern_error err{};
    REQUIRE(again.p->start(&err) == TERN_OK);
    CHECK_FALSE(again.host.log.has("admin key"));
    const std::string addr = address_in(again.host.log.find("admin API on http://"));
    tern::core_embedded::http_call c;
    c.port = static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    c.target = "/api/devices/dev-1";
    c.bearer = key;
    CHECK(tern::core_embedded::http_request_sync(c).status == 200);
    again.p->stop();
}

TEST_CASE("plugin: a configured key, a disabled admin API, a bad bind", "[plugin]") {
    library lib;
    temp_dir dir;
    const std::string db = dir.file("tern.db");
    {
        instance i(lib, {{"database", db}, {"admin_bind", ""}});
        tern_error err{};
        REQUIRE(i.p->start(&err) == TERN_OK);
        CHECK(i.host.log.has("admin API disabled"));
        CHECK_FALSE(std::filesystem::exists(db + ".admin-key"));
        i.p->stop();
    }
    {
        instance i(lib, {{"database", db}, {"admin_bind", "127.0.0.1:0"}, {"admin_key", "configured-admin-key"}});
        tern_error err{};
        REQUIRE(i.p->start(&err) == TERN_OK);
        CHECK_FALSE(std::filesystem::exists(db + ".admin-key"));
        i.p->stop();
    }
    {
        instance i(lib, {{"database", db}, {"admin_bind", "nonsense"}});
        tern_error err{};
        CHECK(i.p->start(&err) == TERN_CONFIG);
        CHECK(std::string(err.msg).find("admin_bind") != std::string::npos);
    }
    {
        instance i(lib, {{"database", "/proc/forbidden/tern.db"}});
        tern_error err{};
        CHECK(i.p->start(&err) != TERN_OK);
        CHECK(err.len > 0);
    }
}

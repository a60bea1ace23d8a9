// The plugin library as the kernel sees it: loaded with dlopen, its descriptor read, an
// instance created and started on the SDK's fake host (tern/sdk/testing.hpp: config from
// the schema's defaults plus overrides), its core_v1 and cli_v1 used through the ABI.
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
#include "tern/sdk/testing.hpp"

using namespace tern::core_embedded::test;
using tern::sdk::to_str;
using tern::sdk::to_sv;

#ifndef TERN_CORE_EMBEDDED_PLUGIN
#error "TERN_CORE_EMBEDDED_PLUGIN must name the plugin library"
#endif

namespace {

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

// An instance on the SDK's fake host; cfg overrides the schema's defaults (as text, read
// by the key's type).
struct instance {
    tern::sdk::testing::fake_host host;
    tern::plugin_v1* p = nullptr;
    instance(const library& lib, const std::map<std::string, std::string>& cfg) : host(*lib.d, "core_embedded") {
        for (const auto& [k, v] : cfg) {
            const tern_config_key* key = nullptr;
            for (uint32_t i = 0; i < lib.d->config_count; ++i)
                if (k == lib.d->config[i].name) key = &lib.d->config[i];
            REQUIRE(key != nullptr);
            if (key->type == TERN_CONFIG_INT) host.config.set(k, static_cast<int64_t>(std::stoll(v)));
            else if (key->type == TERN_CONFIG_BOOL) host.config.set(k, v == "true");
            else host.config.set(k, v);
        }
        const tern_create_args a = host.create_args();
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
    // Optional: the payload adaptors that check profiles, started before the core.
    REQUIRE(d->requirement_count == 2);
    CHECK(std::string(d->requirements[0].iid) == TERN_IID_PAYLOAD_V1);
    CHECK(std::string(d->requirements[1].iid) == TERN_IID_PAYLOAD_V2);
    CHECK((d->requirements[0].flags & TERN_REQUIRE_OPTIONAL) != 0);
    CHECK((d->requirements[1].flags & TERN_REQUIRE_OPTIONAL) != 0);
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
        CHECK(server.host.metrics.value("core_commits_total") > 0);
        CHECK(server.host.metrics.value("core_telemetry_values_total") == 1);
        CHECK(server.host.metrics.value("core_rpc_total", "status=\"QUEUED\"") == 0);

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

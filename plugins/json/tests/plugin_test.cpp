// The built libtern-json.so as the kernel sees it: its descriptor, its config schema, and an
// instance made by create() with a stand-in host whose configuration the test sets.
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "tern/abi/host.h"
#include "tern/abi/payload.h"
#include "tern/abi/plugin.h"

namespace {

std::string_view sv(tern_str s) { return s.size == 0 ? std::string_view{} : std::string_view{s.data, s.size}; }
tern_str str(std::string_view s) { return tern_str{s.data(), s.size()}; }

// ---- a stand-in host: only configuration answers anything ------------------------------

struct null_log final : tern::log_v1 {
    tern_log_level level() noexcept override { return TERN_LOG_OFF; }
    void write(tern_log_level, tern_str) noexcept override {}
};

struct null_reactor final : tern::reactor_v1 {
    uint32_t shard_count() noexcept override { return 1; }
    uint32_t current_shard() noexcept override { return TERN_NO_SHARD; }
    uint64_t now_ns() noexcept override { return 0; }
    tern_status post(uint32_t, tern_task_fn, void*) noexcept override { return TERN_UNAVAILABLE; }
    tern_status watch_fd(uint32_t, int, uint32_t, tern_fd_fn, void*, uint64_t*) noexcept override {
        return TERN_UNSUPPORTED;
    }
    void unwatch_fd(uint64_t) noexcept override {}
    tern_status timer_create(uint32_t, tern_task_fn, void*, uint64_t*) noexcept override { return TERN_UNSUPPORTED; }
    void timer_arm(uint64_t, uint64_t) noexcept override {}
    void timer_cancel(uint64_t) noexcept override {}
    void timer_destroy(uint64_t) noexcept override {}
};

struct null_registry final : tern::registry_v1 {
    void* find(tern_str, tern_str) noexcept override { return nullptr; }
    void list(tern_str, void (*)(void*, tern_str, void*), void*) noexcept override {}
};

struct null_metrics final : tern::metrics_v1 {
    tern_status add_metric(const tern_metric_desc*, uint64_t* out) noexcept override {
        *out = 0;
        return TERN_OK;
    }
    void count(uint64_t, uint64_t) noexcept override {}
    void gauge_add(uint64_t, int64_t) noexcept override {}
    void gauge_set(uint64_t, int64_t) noexcept override {}
    void observe(uint64_t, double) noexcept override {}
};

// The kernel hands plugins a configuration already checked and defaulted: so does this one,
// from the descriptor's schema, with the test's overrides.
struct schema_config final : tern::config_v1 {
    std::map<std::string, tern_value, std::less<>> values;

    explicit schema_config(const tern_plugin_descriptor& d) {
        for (uint32_t i = 0; i < d.config_count; ++i) values[d.config[i].name] = d.config[i].default_value;
    }
    const tern_value* find(tern_str key, tern_value_type type) const {
        const auto it = values.find(sv(key));
        return it == values.end() || it->second.type != type ? nullptr : &it->second;
    }
    tern_status get_bool(tern_str key, int32_t* out) noexcept override {
        const tern_value* v = find(key, TERN_VALUE_BOOL);
        if (v == nullptr) return TERN_NOT_FOUND;
        *out = v->u.b;
        return TERN_OK;
    }
    tern_status get_int(tern_str key, int64_t* out) noexcept override {
        const tern_value* v = find(key, TERN_VALUE_INT);
        if (v == nullptr) return TERN_NOT_FOUND;
        *out = v->u.i;
        return TERN_OK;
    }
    tern_status get_double(tern_str, double*) noexcept override { return TERN_NOT_FOUND; }
    tern_status get_string(tern_str, tern_str*) noexcept override { return TERN_NOT_FOUND; }
    tern_status get_array_size(tern_str, uint32_t*) noexcept override { return TERN_NOT_FOUND; }
    tern_status get_array_string(tern_str, uint32_t, tern_str*) noexcept override { return TERN_NOT_FOUND; }
    tern_str origin(tern_str) noexcept override { return str("test"); }
};

struct fake_host final : tern::host_v1 {
    null_log log;
    null_reactor reactor;
    null_registry registry;
    null_metrics metrics;
    schema_config config;

    explicit fake_host(const tern_plugin_descriptor& d) : config(d) {}

    void* query(tern_str iid) noexcept override {
        const std::string_view id = sv(iid);
        if (id == TERN_IID_LOG_V1) return static_cast<tern::log_v1*>(&log);
        if (id == TERN_IID_REACTOR_V1) return static_cast<tern::reactor_v1*>(&reactor);
        if (id == TERN_IID_REGISTRY_V1) return static_cast<tern::registry_v1*>(&registry);
        if (id == TERN_IID_METRICS_V1) return static_cast<tern::metrics_v1*>(&metrics);
        if (id == TERN_IID_CONFIG_V1) return static_cast<tern::config_v1*>(&config);
        return nullptr;
    }
    tern_str instance_name() noexcept override { return str("json"); }
    uint32_t abi_major() noexcept override { return TERN_ABI_MAJOR; }
    uint32_t abi_minor() noexcept override { return TERN_ABI_MINOR; }
    void request_stop(tern_str) noexcept override {}
};

const tern_plugin_descriptor& descriptor() {
    static void* lib = dlopen(TERN_JSON_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(lib != nullptr);
    auto entry = reinterpret_cast<tern_plugin_entry_fn>(dlsym(lib, TERN_PLUGIN_ENTRY_SYMBOL));
    REQUIRE(entry != nullptr);
    const tern_plugin_descriptor* d = entry();
    REQUIRE(d != nullptr);
    return *d;
}

// An instance whose adaptor decodes one attribute body: "ok" or the error.
struct instance {
    fake_host host;
    tern_instance* plugin = nullptr;
    tern::payload_v1* payload = nullptr;

    explicit instance(const tern_plugin_descriptor& d) : host(d) {}
    ~instance() {
        if (plugin != nullptr) plugin->destroy();
    }
    tern_status create(tern_error& err) {
        tern_create_args args{};
        args.struct_size = sizeof args;
        args.host = &host;
        const tern_status s = descriptor().create(&args, &plugin, &err);
        if (s == TERN_OK) payload = static_cast<tern::payload_v1*>(plugin->query(str(TERN_IID_PAYLOAD_V1)));
        return s;
    }
    std::string decode(std::string_view body) {
        tern_error err{};
        const tern_status s = payload->decode_attributes(
            nullptr, tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()},
            [](void*, const tern_kv*, uint32_t) {}, nullptr, &err);
        return s == TERN_OK ? "ok" : std::string(err.msg, err.len);
    }
};

}  // namespace

TEST_CASE("descriptor: json provides tern.payload/1 with a documented schema", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    CHECK(d.magic == TERN_PLUGIN_MAGIC);
    CHECK(d.header_size == sizeof(tern_plugin_descriptor));
    CHECK(d.abi_major == TERN_ABI_MAJOR);
    CHECK(std::string(d.name) == "json");
    REQUIRE(d.provides_count == 1);
    CHECK(std::string(d.provides[0]) == TERN_IID_PAYLOAD_V1);
    CHECK(d.requirement_count == 0);

    std::map<std::string, const tern_config_key*> keys;
    for (uint32_t i = 0; i < d.config_count; ++i) keys[d.config[i].name] = &d.config[i];
    REQUIRE(keys.size() == 5);
    REQUIRE(keys.count("type_cast_enabled"));
    CHECK(keys["type_cast_enabled"]->type == TERN_CONFIG_BOOL);
    CHECK(keys["type_cast_enabled"]->default_value.u.b == 1);
    REQUIRE(keys.count("max_string_value_length"));
    CHECK(keys["max_string_value_length"]->type == TERN_CONFIG_INT);
    CHECK(keys["max_string_value_length"]->default_value.u.i == 0);
    CHECK((keys["max_string_value_length"]->flags & TERN_CONFIG_HAS_MIN) != 0);
    REQUIRE(keys.count("lenient"));
    CHECK(keys["lenient"]->type == TERN_CONFIG_BOOL);
    CHECK(keys["lenient"]->default_value.u.b == 1);
    REQUIRE(keys.count("max_number_text_length"));
    CHECK(keys["max_number_text_length"]->type == TERN_CONFIG_INT);
    CHECK(keys["max_number_text_length"]->default_value.u.i == 64);
    REQUIRE(keys.count("max_decoded_size"));
    CHECK(keys["max_decoded_size"]->type == TERN_CONFIG_INT);
    CHECK(keys["max_decoded_size"]->default_value.u.i == 262144);
    for (const auto& [name, key] : keys) {
        INFO(name);
        CHECK(key->struct_size == sizeof(tern_config_key));
        CHECK(key->doc != nullptr);
        CHECK(std::strlen(key->doc) > 20);
    }
}

TEST_CASE("instance: defaults, and the configuration reaches the adaptor", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    {
        instance i(d);
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        REQUIRE(i.payload != nullptr);
        CHECK(i.plugin->query(str("tern.other/1")) == nullptr);
        CHECK(i.payload->content_format() == 50);
        CHECK(sv(i.payload->name()) == "json");
        CHECK(i.decode("{a:1}") == "ok");
        CHECK(i.decode(R"({"s":"0123456789"})") == "ok");
        CHECK(i.decode(R"({"big":12345678901234567890})") == "ok");
        CHECK(i.decode(R"({"k1":1e9999})") ==
              "value of 'k1' (1e9999) would be stored as a string of 10000 characters, more than "
              "max_number_text_length 64");
    }
    {
        instance i(d);
        i.host.config.values["max_number_text_length"].u.i = 0;
        i.host.config.values["max_decoded_size"].u.i = 100;
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        CHECK(i.decode(R"({"k1":1e80})") == "ok");  // 2 + 8 + 81 bytes
        CHECK(i.decode(R"({"k1":1e100})").rfind("the message's keys and values decode to more than max_decoded_size "
                                               "(100 bytes)", 0) == 0);
    }
    {
        instance i(d);
        i.host.config.values["lenient"].u.b = 0;
        i.host.config.values["type_cast_enabled"].u.b = 0;
        i.host.config.values["max_string_value_length"].u.i = 5;
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        CHECK(i.decode("{a:1}").rfind("invalid JSON: ", 0) == 0);
        CHECK(i.decode(R"({"s":"0123456789"})") ==
              "value of 's' is 10 characters long, more than max_string_value_length 5");
        CHECK(i.decode(R"({"big":12345678901234567890})").rfind("value of 'big' is out of range", 0) == 0);
    }
}

TEST_CASE("instance: a configuration without the schema's keys fails create()", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    instance i(d);
    i.host.config.values.erase("lenient");
    tern_error err{};
    CHECK(i.create(err) == TERN_CONFIG);
    CHECK(std::string(err.msg, err.len).find("lenient") != std::string::npos);
    CHECK(i.plugin == nullptr);
}

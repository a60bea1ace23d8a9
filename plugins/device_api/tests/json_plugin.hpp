// The json plugin (libtern-json.so) loaded through the ABI, as the kernel loads it: dlopen,
// its descriptor, create() with a stand-in host whose configuration is the descriptor's
// defaults. Its tern.payload/1 is the real JSON adaptor the tests' requests are decoded and
// their answers encoded with, without reaching into the json plugin's sources.
#pragma once

#include <dlfcn.h>

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tern/abi/host.h"
#include "tern/abi/payload.h"
#include "tern/abi/plugin.h"
#include "tern/sdk/views.hpp"

namespace tern::device_api::test {

class json_plugin {
public:
    json_plugin() : host_(descriptor()) {
        tern_create_args args{};
        args.struct_size = sizeof args;
        args.host = &host_;
        tern_error err{};
        if (descriptor().create(&args, &instance_, &err) != TERN_OK)
            throw std::runtime_error("the json plugin refused to create an instance: " + std::string(err.msg, err.len));
        adaptor_ = static_cast<payload_v1*>(instance_->query(sdk::to_str(TERN_IID_PAYLOAD_V1)));
        if (adaptor_ == nullptr) throw std::runtime_error("the json plugin provides no tern.payload/1");
    }
    ~json_plugin() { instance_->destroy(); }
    json_plugin(const json_plugin&) = delete;
    json_plugin& operator=(const json_plugin&) = delete;

    payload_v1* adaptor() const noexcept { return adaptor_; }

private:
    static const tern_plugin_descriptor& descriptor() {
        static const tern_plugin_descriptor* d = [] {
            void* lib = dlopen(TERN_JSON_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
            if (lib == nullptr) throw std::runtime_error(std::string("cannot load the json plugin: ") + dlerror());
            auto entry = reinterpret_cast<tern_plugin_entry_fn>(dlsym(lib, TERN_PLUGIN_ENTRY_SYMBOL));
            if (entry == nullptr) throw std::runtime_error("the json plugin has no entry point");
            return entry();
        }();
        return *d;
    }

    struct null_log final : log_v1 {
        tern_log_level level() noexcept override { return TERN_LOG_OFF; }
        void write(tern_log_level, tern_str) noexcept override {}
    };
    struct null_reactor final : reactor_v1 {
        uint32_t shard_count() noexcept override { return 1; }
        uint32_t current_shard() noexcept override { return TERN_NO_SHARD; }
        uint64_t now_ns() noexcept override { return 0; }
        tern_status post(uint32_t, tern_task_fn, void*) noexcept override { return TERN_UNAVAILABLE; }
        tern_status watch_fd(uint32_t, int, uint32_t, tern_fd_fn, void*, uint64_t*) noexcept override {
            return TERN_UNSUPPORTED;
        }
        void unwatch_fd(uint64_t) noexcept override {}
        tern_status timer_create(uint32_t, tern_task_fn, void*, uint64_t*) noexcept override {
            return TERN_UNSUPPORTED;
        }
        void timer_arm(uint64_t, uint64_t) noexcept override {}
        void timer_cancel(uint64_t) noexcept override {}
        void timer_destroy(uint64_t) noexcept override {}
    };
    struct null_registry final : registry_v1 {
        void* find(tern_str, tern_str) noexcept override { return nullptr; }
        void list(tern_str, void (*)(void*, tern_str, void*), void*) noexcept override {}
    };
    struct null_metrics final : metrics_v1 {
        tern_status add_metric(const tern_metric_desc*, uint64_t* out) noexcept override {
            *out = 0;
            return TERN_OK;
        }
        void count(uint64_t, uint64_t) noexcept override {}
        void gauge_add(uint64_t, int64_t) noexcept override {}
        void gauge_set(uint64_t, int64_t) noexcept override {}
        void observe(uint64_t, double) noexcept override {}
    };
    // The kernel hands a plugin its configuration checked and defaulted: so does this one,
    // from the descriptor's schema.
    struct defaults_config final : config_v1 {
        std::map<std::string, tern_value, std::less<>> values;
        explicit defaults_config(const tern_plugin_descriptor& d) {
            for (uint32_t i = 0; i < d.config_count; ++i) values[d.config[i].name] = d.config[i].default_value;
        }
        const tern_value* find(tern_str key, tern_value_type type) const {
            const auto it = values.find(sdk::to_sv(key));
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
        tern_status get_double(tern_str key, double* out) noexcept override {
            const tern_value* v = find(key, TERN_VALUE_DOUBLE);
            if (v == nullptr) return TERN_NOT_FOUND;
            *out = v->u.d;
            return TERN_OK;
        }
        tern_status get_string(tern_str key, tern_str* out) noexcept override {
            const tern_value* v = find(key, TERN_VALUE_STR);
            if (v == nullptr) return TERN_NOT_FOUND;
            *out = v->u.s;
            return TERN_OK;
        }
        tern_status get_array_size(tern_str, uint32_t*) noexcept override { return TERN_NOT_FOUND; }
        tern_status get_array_string(tern_str, uint32_t, tern_str*) noexcept override { return TERN_NOT_FOUND; }
        tern_str origin(tern_str) noexcept override { return sdk::to_str("default"); }
    };
    struct stand_in_host final : host_v1 {
        null_log log;
        null_reactor reactor;
        null_registry registry;
        null_metrics metrics;
        defaults_config config;
        explicit stand_in_host(const tern_plugin_descriptor& d) : config(d) {}
        void* query(tern_str iid) noexcept override {
            const std::string_view id = sdk::to_sv(iid);
            if (id == TERN_IID_LOG_V1) return static_cast<log_v1*>(&log);
            if (id == TERN_IID_REACTOR_V1) return static_cast<reactor_v1*>(&reactor);
            if (id == TERN_IID_REGISTRY_V1) return static_cast<registry_v1*>(&registry);
            if (id == TERN_IID_METRICS_V1) return static_cast<metrics_v1*>(&metrics);
            if (id == TERN_IID_CONFIG_V1) return static_cast<config_v1*>(&config);
            return nullptr;
        }
        tern_str instance_name() noexcept override { return sdk::to_str("json"); }
        uint32_t abi_major() noexcept override { return TERN_ABI_MAJOR; }
        uint32_t abi_minor() noexcept override { return TERN_ABI_MINOR; }
        void request_stop(tern_str) noexcept override {}
    };

    stand_in_host host_;
    tern_instance* instance_ = nullptr;
    payload_v1* adaptor_ = nullptr;
};

}  // namespace tern::device_api::test

// Declaring a plugin: the config schema builders, the instance base class and
// TERN_PLUGIN(), which emits the one exported symbol.
//
//     class hello : public tern::sdk::instance {
//     public:
//         explicit hello(const tern_create_args& a) : instance(a) {}
//         void on_start() override { ... }          // may throw tern::sdk::error
//     };
//     constexpr tern_config_key hello_config[] = {
//         tern::sdk::cfg::string("greeting", "hello", "What GET /hello answers"),
//     };
//     TERN_PLUGIN(hello, {.name = "hello_resource", .version = "1.0.0",
//                         .vendor = "Example Inc.", .description = "Answers GET /hello",
//                         .config = hello_config})
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <version>

#include "tern/abi/host.h"
#include "tern/abi/plugin.h"
#include "tern/abi/version.h"
#include "tern/sdk/host.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

#if defined(_WIN32)
#define TERN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define TERN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#define TERN_SDK_STRINGIFY2(x) #x
#define TERN_SDK_STRINGIFY(x) TERN_SDK_STRINGIFY2(x)

#if defined(__clang__)
// (not __clang_version__: it ends in a space and may carry a vendor's git hash)
#define TERN_SDK_COMPILER \
    "clang " TERN_SDK_STRINGIFY(__clang_major__) "." TERN_SDK_STRINGIFY(__clang_minor__) "." \
        TERN_SDK_STRINGIFY(__clang_patchlevel__)
#elif defined(__GNUC__)
#define TERN_SDK_COMPILER "gcc " __VERSION__
#else
#define TERN_SDK_COMPILER "unknown compiler"
#endif

#if defined(_LIBCPP_VERSION)
#define TERN_SDK_STDLIB "libc++ " TERN_SDK_STRINGIFY(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define TERN_SDK_STDLIB "libstdc++ " TERN_SDK_STRINGIFY(__GLIBCXX__)
#else
#define TERN_SDK_STDLIB "unknown C++ library"
#endif

// compiler and C++ library this plugin was built with (descriptor field `build`)
#define TERN_SDK_BUILD TERN_SDK_COMPILER ", " TERN_SDK_STDLIB

namespace tern::sdk {

// ---- config schema builders ------------------------------------------------------------

namespace cfg {

// A schema key under construction; converts to tern_config_key.
struct key {
    tern_config_key k{};

    constexpr key(tern_config_type type, const char* name, const char* doc) {
        k.struct_size = sizeof(tern_config_key);
        k.type = type;
        k.name = name;
        k.doc = doc;
        k.default_value.type = TERN_VALUE_NULL;
    }
    // numbers: inclusive bounds; strings: bounds on the length
    constexpr key range(double lo, double hi) const {
        key c = *this;
        c.k.min = lo;
        c.k.max = hi;
        c.k.flags |= TERN_CONFIG_HAS_MIN | TERN_CONFIG_HAS_MAX;
        return c;
    }
    constexpr key at_least(double lo) const {
        key c = *this;
        c.k.min = lo;
        c.k.flags |= TERN_CONFIG_HAS_MIN;
        return c;
    }
    // '|'-separated allowed values of a string
    constexpr key choices(const char* list) const {
        key c = *this;
        c.k.choices = list;
        return c;
    }
    constexpr key unit(const char* u) const {
        key c = *this;
        c.k.unit = u;
        return c;
    }
    constexpr key path() const {
        key c = *this;
        c.k.flags |= TERN_CONFIG_PATH;
        return c;
    }
    constexpr key required() const {
        key c = *this;
        c.k.flags |= TERN_CONFIG_REQUIRED;
        c.k.default_value.type = TERN_VALUE_NULL;
        return c;
    }
    constexpr operator tern_config_key() const { return k; }
};

constexpr key boolean(const char* name, bool def, const char* doc) {
    key c{TERN_CONFIG_BOOL, name, doc};
    c.k.default_value.type = TERN_VALUE_BOOL;
    c.k.default_value.u.b = def ? 1 : 0;
    return c;
}

constexpr key integer(const char* name, int64_t def, const char* doc) {
    key c{TERN_CONFIG_INT, name, doc};
    c.k.default_value.type = TERN_VALUE_INT;
    c.k.default_value.u.i = def;
    return c;
}

constexpr key number(const char* name, double def, const char* doc) {
    key c{TERN_CONFIG_DOUBLE, name, doc};
    c.k.default_value.type = TERN_VALUE_DOUBLE;
    c.k.default_value.u.d = def;
    return c;
}

constexpr std::size_t cstrlen(const char* s) {
    std::size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

constexpr key string(const char* name, const char* def, const char* doc) {
    key c{TERN_CONFIG_STRING, name, doc};
    c.k.default_value.type = TERN_VALUE_STR;
    c.k.default_value.u.s = tern_str{def, cstrlen(def)};
    return c;
}

// def_json: the default as a JSON array of strings, e.g. R"(["1.2"])"
constexpr key strings(const char* name, const char* def_json, const char* doc) {
    key c{TERN_CONFIG_STRING_ARRAY, name, doc};
    c.k.default_value.type = TERN_VALUE_JSON;
    c.k.default_value.u.s = tern_str{def_json, cstrlen(def_json)};
    return c;
}

}  // namespace cfg

constexpr tern_requirement need(const char* iid) { return tern_requirement{iid, 0, 0}; }
constexpr tern_requirement may_use(const char* iid) {
    return tern_requirement{iid, TERN_REQUIRE_OPTIONAL, 0};
}

// ---- the descriptor ----------------------------------------------------------------------

struct plugin_info {
    const char* name = nullptr;
    const char* version = nullptr;
    const char* vendor = nullptr;
    const char* description = nullptr;
    std::span<const char* const> provides{};
    std::span<const tern_requirement> requirements{};
    std::span<const tern_config_key> config{};
};

// The base of an instance: implements plugin_v1 over overridable C++ hooks that may
// throw (the boundary turns exceptions into statuses).
class instance : public plugin_v1 {
public:
    explicit instance(const tern_create_args& args) : host_(args.host) {}
    instance(const instance&) = delete;
    instance& operator=(const instance&) = delete;
    virtual ~instance() = default;

protected:
    // Interfaces this instance provides, by id; nullptr for others.
    virtual void* provide(std::string_view iid) noexcept {
        (void)iid;
        return nullptr;
    }
    virtual void on_start() {}
    virtual void on_stop() noexcept {}

    const sdk::host& host() const noexcept { return host_; }
    logger log() const noexcept { return host_.log(); }
    sdk::config config() const noexcept { return host_.config(); }

private:
    void* query(tern_str iid) noexcept final { return provide(to_sv(iid)); }
    tern_status start(tern_error* err) noexcept final {
        return guard(err, [this] { on_start(); });
    }
    void stop() noexcept final { on_stop(); }
    void destroy() noexcept final { delete this; }

    sdk::host host_;
};

template <class Impl>
tern_status create_instance(const tern_create_args* args, tern_instance** out,
                            tern_error* err) noexcept {
    return guard(err, [&] {
        if (args == nullptr || args->host == nullptr || out == nullptr)
            throw error(TERN_INVALID_ARGUMENT, "create() called without host");
        Impl* p = new Impl(*args);
        *out = static_cast<plugin_v1*>(p);
    });
}

template <class Impl>
tern_plugin_descriptor describe(const plugin_info& info) noexcept {
    tern_plugin_descriptor d{};
    d.magic = TERN_PLUGIN_MAGIC;
    d.header_size = sizeof(tern_plugin_descriptor);
    d.abi_major = TERN_ABI_MAJOR;
    d.abi_minor = TERN_ABI_MINOR;
    d.name = info.name;
    d.version = info.version;
    d.vendor = info.vendor;
    d.description = info.description;
    d.build = TERN_SDK_BUILD;
    d.provides = info.provides.data();
    d.provides_count = static_cast<uint32_t>(info.provides.size());
    d.requirement_count = static_cast<uint32_t>(info.requirements.size());
    d.requirements = info.requirements.data();
    d.config = info.config.data();
    d.config_count = static_cast<uint32_t>(info.config.size());
    d.create = &create_instance<Impl>;
    return d;
}

}  // namespace tern::sdk

// Declares the plugin: IMPL is the instance class (constructible from
// const tern_create_args&), the rest a braced tern::sdk::plugin_info. The descriptor is
// built on the first call of the entry point, never at load time.
#define TERN_PLUGIN(IMPL, ...)                                                              \
    extern "C" TERN_PLUGIN_EXPORT const tern_plugin_descriptor* tern_plugin_entry(void) {   \
        static const tern_plugin_descriptor tern_descriptor_ =                              \
            ::tern::sdk::describe<IMPL>(::tern::sdk::plugin_info __VA_ARGS__);              \
        return &tern_descriptor_;                                                           \
    }

// Declaring a plugin: the instance base class and TERN_PLUGIN(), which emits the one
// exported symbol (the config schema builders are in config.hpp, included here).
//
//     struct hello_settings { std::string greeting; };
//     constexpr auto hello_schema = tern::sdk::cfg::bind<hello_settings>(
//         tern::sdk::cfg::string("greeting", &hello_settings::greeting, "hello", "What GET /hello answers"));
//     class hello : public tern::sdk::instance {
//     public:
//         explicit hello(const tern_create_args& a)
//             : instance(a), s_(hello_schema.load(config())) {}      // may throw tern::sdk::error
//         void on_start() override { engine_ = &host().require<tern::coap_engine_v1>(); ... }
//         ...
//     };
//     TERN_PLUGIN(hello, {.name = "hello_resource", .version = "1.0.0",
//                         .vendor = "Example Inc.", .description = "Answers GET /hello",
//                         .config = hello_schema.keys()})
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <version>

#include "tern/abi/host.h"
#include "tern/abi/plugin.h"
#include "tern/abi/version.h"
#include "tern/sdk/config.hpp"
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

// Constant: TERN_PLUGIN evaluates it at compile time, so the descriptor is a constant record
// and the entry function only returns its address.
template <class Impl>
constexpr tern_plugin_descriptor describe(const plugin_info& info) noexcept {
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
// const tern_create_args&), the rest a braced tern::sdk::plugin_info whose arrays are
// constexpr (a cfg::bind schema's keys(), constexpr arrays of ids and requirements). The
// descriptor is a constant built by the compiler: no code runs to make it, at load time or
// in the entry function.
#define TERN_PLUGIN(IMPL, ...)                                                              \
    extern "C" TERN_PLUGIN_EXPORT const tern_plugin_descriptor* tern_plugin_entry(void) {   \
        static constexpr tern_plugin_descriptor tern_descriptor_ =                          \
            ::tern::sdk::describe<IMPL>(::tern::sdk::plugin_info __VA_ARGS__);              \
        return &tern_descriptor_;                                                           \
    }

// Payload adaptors as every plugin that uses them finds them: which adaptor serves which
// ThingsBoard payload type, and a catalog of the adaptors running, by the name they give
// themselves. The device API picks a device's adaptor with it; a core checks a profile
// with it before storing the profile.
//
// The convention a vendor adaptor follows: payload_v1::name() is the lower-case name of the
// ThingsBoard payload type it serves, as payload_kinds lists them ("json" for JSON,
// "protobuf" for PROTOBUF). An adaptor that can check a profile's settings (a schema)
// provides tern.payload/2 (payload_v2) as well, with the same object. When two instances
// answer to one name, the first in manifest order serves it.
//
//     tern::sdk::payload_catalog adaptors(host().registry());   // at start, or at save time
//     tern_payload_type t = ...;                                 // the profile's
//     if (std::string why = adaptors.check_profile(t, options, n, profile_id); !why.empty())
//         ... refuse the profile with why ...
//     payload_v1* a = adaptors.for_type(t);                      // null: not loaded
//
// Building a catalog lists the registry and allocates; its look-ups do neither.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/core.h"
#include "tern/abi/host.h"
#include "tern/abi/payload.h"
#include "tern/sdk/host.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::sdk {

// A ThingsBoard payload type and the adaptor that serves it.
struct payload_kind {
    tern_payload_type type;
    std::string_view type_name;  // ThingsBoard's name: "JSON", "PROTOBUF"
    std::string_view adaptor;    // the serving adaptor's payload_v1::name()
};

// Every payload type, in the order provisioning tries the adaptors (a provisioning request
// names no profile): JSON first, then protobuf.
inline constexpr std::array<payload_kind, 2> payload_kinds{{
    {TERN_PAYLOAD_JSON, "JSON", "json"},
    {TERN_PAYLOAD_PROTOBUF, "PROTOBUF", "protobuf"},
}};

// The row of type t, or null for a type this SDK does not know.
constexpr const payload_kind* payload_kind_of(tern_payload_type t) noexcept {
    for (const payload_kind& k : payload_kinds)
        if (k.type == t) return &k;
    return nullptr;
}

// The name of the adaptor serving t ("json", "protobuf"), or empty for an unknown type.
constexpr std::string_view payload_adaptor_name(tern_payload_type t) noexcept {
    const payload_kind* k = payload_kind_of(t);
    return k == nullptr ? std::string_view{} : k->adaptor;
}

// Why a profile of type t cannot be served: its adaptor is not loaded. The one text every
// user of the catalog gives.
inline std::string missing_payload_adaptor(tern_payload_type t) {
    const payload_kind* k = payload_kind_of(t);
    if (k == nullptr) return cat("payload type ", static_cast<int32_t>(t), " is unknown to this server");
    return cat("payload type ", k->type_name, " needs the payload adaptor \"", k->adaptor,
               "\", which is not loaded (add [plugins.", k->adaptor, "] to the manifest)");
}

// The payload adaptors running, by name, as the registry listed them when the catalog was
// built. The pointers live as the registry's do (until their providers stop).
class payload_catalog {
public:
    struct entry {
        std::string name;       // payload_v1::name()
        std::string instance;   // the instance providing it
        payload_v1* adaptor;    // never null
        payload_v2* checker;    // null: the adaptor provides only tern.payload/1
    };

    payload_catalog() = default;
    // Lists tern.payload/1 and tern.payload/2 in manifest order. [any-thread]
    // Throws std::bad_alloc when memory runs out.
    explicit payload_catalog(registry_v1& registry) {
        registry.list(to_str(TERN_IID_PAYLOAD_V1), &take<false>, this);
        registry.list(to_str(TERN_IID_PAYLOAD_V2), &take<true>, this);
        if (out_of_memory_) throw std::bad_alloc();
        for (std::size_t i = 0; i < payload_kinds.size(); ++i) by_kind_[i] = find(payload_kinds[i].adaptor);
    }
    explicit payload_catalog(const host& h) : payload_catalog(h.registry()) {}

    // The adaptor calling itself name, or null.
    payload_v1* find(std::string_view name) const noexcept {
        const entry* e = at(name);
        return e == nullptr ? nullptr : e->adaptor;
    }
    // The same adaptor as tern.payload/2, or null when it has none (or is not loaded).
    payload_v2* checker(std::string_view name) const noexcept {
        const entry* e = at(name);
        return e == nullptr ? nullptr : e->checker;
    }
    // The adaptor of a profile's payload type, null when it is not loaded. A type this SDK
    // does not know is served by JSON's, as profiles of such a type always were.
    payload_v1* for_type(tern_payload_type t) const noexcept {
        for (std::size_t i = 0; i < payload_kinds.size(); ++i)
            if (payload_kinds[i].type == t) return by_kind_[i];
        return by_kind_[0];
    }
    // The adaptors in provisioning order (payload_kinds' order); null where not loaded.
    const std::array<payload_v1*, payload_kinds.size()>& provisioning_order() const noexcept { return by_kind_; }
    const std::vector<entry>& entries() const noexcept { return entries_; }

    // What a core does before it stores a profile of payload type t with these settings
    // (options: the profile options the devices would get; profile_id 0 for a new
    // profile): empty when the profile can be stored, else why not. The adaptor of t must
    // be loaded; when it provides tern.payload/2 its check_profile must accept the
    // settings (its message is the reason). [any-thread]
    std::string check_profile(tern_payload_type t, const tern_kv* options, uint32_t option_count,
                              uint64_t profile_id) const {
        const std::string_view name = payload_adaptor_name(t);
        if (name.empty() || find(name) == nullptr) return missing_payload_adaptor(t);
        payload_v2* c = checker(name);
        if (c == nullptr) return {};
        tern_payload_context ctx{};
        ctx.struct_size = sizeof ctx;
        ctx.profile_id = profile_id;
        ctx.revision = 0;
        ctx.options = option_count == 0 ? nullptr : options;
        ctx.option_count = option_count;
        ctx.content_format = -1;
        tern_error err{};
        const tern_status s = c->check_profile(&ctx, &err);
        if (s == TERN_OK) return {};
        const std::string_view why = error_text(err);
        if (!why.empty()) return std::string(why);
        return cat("the payload adaptor \"", name, "\" refused the profile's settings (", status_name(s), ")");
    }

private:
    const entry* at(std::string_view name) const noexcept {
        for (const entry& e : entries_)
            if (e.name == name) return &e;
        return nullptr;
    }
    // The registry's sink: nothing may leave it by exception.
    template <bool V2>
    static void take(void* self, tern_str instance, void* iface) noexcept {
        auto* c = static_cast<payload_catalog*>(self);
        try {
            if (iface != nullptr) c->add(to_sv(instance), iface, V2);
        } catch (...) {
            c->out_of_memory_ = true;
        }
    }
    void add(std::string_view instance, void* iface, bool v2) {
        // payload_v2 derives from payload_v1 alone: the same object has the same address
        // under both ids.
        auto* p = v2 ? static_cast<payload_v1*>(static_cast<payload_v2*>(iface)) : static_cast<payload_v1*>(iface);
        const std::string_view name = to_sv(p->name());
        for (entry& e : entries_)
            if (e.name == name) {
                // The first in manifest order serves the name; its own tern.payload/2 checks.
                if (v2 && e.checker == nullptr && e.adaptor == p) e.checker = static_cast<payload_v2*>(iface);
                return;
            }
        // An instance listing only tern.payload/2 serves as a payload_v1 too.
        entries_.push_back(entry{std::string(name), std::string(instance), p,
                                 v2 ? static_cast<payload_v2*>(iface) : nullptr});
    }

    std::vector<entry> entries_;
    std::array<payload_v1*, payload_kinds.size()> by_kind_{};
    bool out_of_memory_ = false;
};

}  // namespace tern::sdk

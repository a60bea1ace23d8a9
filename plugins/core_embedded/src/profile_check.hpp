// Whether the payload adaptors running can serve a profile, asked before the profile is
// stored (admin API create and update, so the CLI too): the adaptor its payload type names
// must be loaded, and when it provides tern.payload/2 its check_profile must accept the
// settings the profile's devices would get (the schema texts that are set, then the integer
// options). The adaptors are looked up in the registry at each check, through the SDK's
// catalog (tern/sdk/payload.hpp): plugins may start after the core.
#pragma once

#include <atomic>
#include <string>

#include "model.hpp"
#include "tern/abi/host.h"

namespace tern::core_embedded {

class profile_check {
public:
    // The registry to find adaptors in; null (the store used without a kernel, as in its
    // own tests): every profile is accepted. Set before the admin API serves.
    void use(registry_v1* registry) noexcept { registry_.store(registry, std::memory_order_release); }

    // Empty when p may be stored, else why not. Calls into the adaptor. [any-thread]
    std::string operator()(const profile& p) const;

private:
    std::atomic<registry_v1*> registry_{nullptr};
};

}  // namespace tern::core_embedded

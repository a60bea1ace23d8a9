#include "profile_check.hpp"

#include <vector>

#include "tern/sdk/payload.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

std::string profile_check::operator()(const profile& p) const {
    registry_v1* r = registry_.load(std::memory_order_acquire);
    if (r == nullptr) return {};
    // What auth_cache hands the device API for the profile's devices, the core's own
    // option keys aside: the schema texts that are set, then the integer options.
    std::vector<tern_kv> options;
    options.reserve(4 + p.options.size());
    for (int i = 0; i < 4; ++i) {
        if (p.schemas[i].empty()) continue;
        tern_kv kv{};
        kv.key = sdk::to_str(profile_option_keys[i]);
        kv.value.type = TERN_VALUE_STR;
        kv.value.u.s = sdk::to_str(p.schemas[i]);
        options.push_back(kv);
    }
    for (const profile_option& o : p.options) {
        tern_kv kv{};
        kv.key = sdk::to_str(o.key);
        kv.value.type = TERN_VALUE_INT;
        kv.value.u.i = o.value;
        options.push_back(kv);
    }
    const sdk::payload_catalog adaptors(*r);
    return adaptors.check_profile(p.payload_type, options.data(), static_cast<uint32_t>(options.size()), p.id);
}

}  // namespace tern::core_embedded

// Claiming and provisioning. Provisioning follows ThingsBoard's DeviceProvisionServiceImpl
// step by step (provisioner.cpp names the steps); a claim is completed by an operator
// through the admin API.
#pragma once

#include <cstdint>
#include <string>

#include "core_parts.hpp"

namespace tern::core_embedded {

class provisioner {
public:
    explicit provisioner(core_parts& parts) : p_(parts) {}

    // core_v1 (the caller checked that the core runs).
    void provision(const tern_provision_request* request, tern_core_provision_fn done, void* ctx) noexcept;
    void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms, tern_core_done_fn done,
               void* ctx) noexcept;

    // TERN_NOT_FOUND no claim registered, TERN_TIMEOUT expired, TERN_PERMISSION wrong
    // secret, TERN_EXISTS already claimed.
    void complete_claim(std::string name, std::string secret_key, std::string owner, callback<device> cb);
    void remove_claim(std::string device, callback<none> cb);

private:
    core_parts& p_;
};

}  // namespace tern::core_embedded

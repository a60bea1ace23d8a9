#include "kernel/host/host.hpp"

#include <string_view>

#include "tern/abi/version.h"
#include "tern/sdk/views.hpp"

namespace tern::kernel::host {

using sdk::to_sv;

instance_host::instance_host(std::string name, const shared_services& shared,
                             std::shared_ptr<spdlog::logger> logger, config_values config)
    : name_(std::move(name)),
      shared_(shared),
      log_(logger),
      config_(std::move(config)),
      metrics_(*shared.metrics, name_, logger) {}

void* instance_host::query(tern_str iid) noexcept {
    const std::string_view id = to_sv(iid);
    if (id == TERN_IID_LOG_V1) return static_cast<tern::log_v1*>(&log_);
    if (id == TERN_IID_REACTOR_V1) return shared_.reactor;
    if (id == TERN_IID_REGISTRY_V1) return static_cast<tern::registry_v1*>(shared_.registry);
    if (id == TERN_IID_METRICS_V1) return static_cast<tern::metrics_v1*>(&metrics_);
    if (id == TERN_IID_CONFIG_V1) return static_cast<tern::config_v1*>(&config_);
    return nullptr;
}

tern_str instance_host::instance_name() noexcept { return tern_str{name_.data(), name_.size()}; }
uint32_t instance_host::abi_major() noexcept { return TERN_ABI_MAJOR; }
uint32_t instance_host::abi_minor() noexcept { return TERN_ABI_MINOR; }

void instance_host::request_stop(tern_str reason) noexcept {
    try {
        if (shared_.request_stop) shared_.request_stop(name_, std::string(to_sv(reason)));
    } catch (...) {
    }
}

}  // namespace tern::kernel::host

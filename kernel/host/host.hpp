// host_v1 for one instance: the way to every host service, tagged with the instance.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "kernel/host/config.hpp"
#include "kernel/host/log.hpp"
#include "kernel/host/metrics.hpp"
#include "kernel/registry.hpp"
#include "kernel/schema.hpp"
#include "tern/abi/host.h"

namespace tern::kernel::host {

// What every instance shares.
struct shared_services {
    tern::reactor_v1* reactor = nullptr;
    kernel::registry* registry = nullptr;
    metrics::store* metrics = nullptr;
    // host_v1::request_stop: (instance, reason); any thread.
    std::function<void(const std::string&, const std::string&)> request_stop;
};

class instance_host final : public tern::host_v1 {
public:
    instance_host(std::string name, const shared_services& shared, std::shared_ptr<spdlog::logger> logger,
                  config_values config);
    instance_host(const instance_host&) = delete;
    instance_host& operator=(const instance_host&) = delete;

    void* query(tern_str iid) noexcept override;
    tern_str instance_name() noexcept override;
    uint32_t abi_major() noexcept override;
    uint32_t abi_minor() noexcept override;
    void request_stop(tern_str reason) noexcept override;

    const std::string& name() const noexcept { return name_; }
    log_service& log() noexcept { return log_; }
    config_service& config() noexcept { return config_; }

private:
    const std::string name_;
    const shared_services& shared_;
    log_service log_;
    config_service config_;
    metrics_service metrics_;
};

}  // namespace tern::kernel::host

// metrics_v1 for one instance: registers into the kernel's store with instance="<name>".
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "kernel/metrics/store.hpp"
#include "tern/abi/host.h"

namespace tern::kernel::host {

class metrics_service final : public tern::metrics_v1 {
public:
    // log: where a refused registration is explained (the plugin only sees a status).
    metrics_service(metrics::store& store, std::string instance, std::shared_ptr<spdlog::logger> log)
        : store_(store), instance_(std::move(instance)), log_(std::move(log)) {}

    tern_status add_metric(const tern_metric_desc* desc, uint64_t* out) noexcept override;
    void count(uint64_t metric, uint64_t delta) noexcept override { store_.count(metric, delta); }
    void gauge_add(uint64_t metric, int64_t delta) noexcept override { store_.gauge_add(metric, delta); }
    void gauge_set(uint64_t metric, int64_t value) noexcept override { store_.gauge_set(metric, value); }
    void observe(uint64_t metric, double value) noexcept override { store_.observe(metric, value); }

private:
    metrics::store& store_;
    const std::string instance_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace tern::kernel::host

// log_v1 for one instance: its spdlog logger, tagged with the instance name.
#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "tern/abi/host.h"

namespace tern::kernel::host {

class log_service final : public tern::log_v1 {
public:
    explicit log_service(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

    tern_log_level level() noexcept override;
    void write(tern_log_level level, tern_str msg) noexcept override;

private:
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace tern::kernel::host

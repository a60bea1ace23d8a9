#include "kernel/host/metrics.hpp"

namespace tern::kernel::host {

tern_status metrics_service::add_metric(const tern_metric_desc* desc, uint64_t* out) noexcept {
    if (desc == nullptr || out == nullptr) return TERN_INVALID_ARGUMENT;
    try {
        std::string err;
        uint64_t id = 0;
        const tern_status st = store_.add(*desc, instance_, id, err);
        if (st != TERN_OK) {
            if (log_) log_->warn(spdlog::string_view_t("metric not registered: " + err));
            return st;
        }
        *out = id;
        return TERN_OK;
    } catch (...) {
        return TERN_INTERNAL;
    }
}

}  // namespace tern::kernel::host

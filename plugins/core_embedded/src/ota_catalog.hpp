// OTA packages: uploads checked and stored under <dir of database>/ota, assignment to
// devices and profiles (a device's own wins), the fw_*/sw_* shared attributes that tell
// devices (ota_sync.hpp), and the transport's lookup of a device's package, answered from
// a cache when it can.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core_parts.hpp"

namespace tern::core_embedded {

class ota_catalog {
public:
    explicit ota_catalog(core_parts& parts) : p_(parts) {}

    // Where OTA files live: <dir of database>/ota
    std::string dir() const;

    void create(ota_upload upload, callback<ota_package_row> cb);
    void remove(uint64_t id, callback<none> cb);
    void get(uint64_t id, callback<ota_package_row> cb);
    void list(callback<std::vector<ota_package_row>> cb);
    // package_id 0 unassigns.
    void assign(ota_target target, tern_ota_type type, uint64_t package_id, callback<none> cb);

    // core_v1::ota_package (the caller checked that the core runs).
    void package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done, void* ctx) noexcept;
    // Drops every cached lookup (an assignment, a package, a device or profile changed).
    void forget();

private:
    core_parts& p_;
    std::mutex mutex_;
    std::map<std::pair<uint64_t, tern_ota_type>, std::shared_ptr<const ota_package_row>> cache_;
    uint64_t epoch_ = 0;
};

}  // namespace tern::core_embedded

// Keeping a device's fw_*/sw_* shared attributes and target_* telemetry in step with the
// OTA package assigned to it, as ThingsBoard tells devices about firmware. Runs inside
// writer ops.
#pragma once

#include <string>
#include <vector>

#include "model.hpp"
#include "writer.hpp"

namespace tern::core_embedded {

// The shared attribute changes one device's observers must hear about.
struct attribute_change {
    uint64_t device_id = 0;
    std::vector<kv> updated;
    std::vector<std::string> deleted;
};

// The device's effective package of type changed from old_package to new_package (0:
// none): writes or deletes its <prefix>_* shared attributes and, for a new package, the
// target_<prefix>_* telemetry and <prefix>_state = QUEUED. Appends the change to out.
void ota_sync(write_txn& t, uint64_t device_id, tern_ota_type type, uint64_t old_package,
              uint64_t new_package, std::vector<attribute_change>& out);

}  // namespace tern::core_embedded

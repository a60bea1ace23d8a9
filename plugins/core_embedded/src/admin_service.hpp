// What the admin API (and through it the CLI) does to profiles, devices, attributes and
// telemetry. Writes run on the writer, so they are ordered with devices' own writes; their
// completions drop what the caches hold and tell the listener what changed. Callbacks run
// once, on any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auth_cache.hpp"
#include "core_parts.hpp"
#include "history_purge.hpp"
#include "ota_catalog.hpp"
#include "profile_check.hpp"
#include "rpc_tracker.hpp"
#include "session_book.hpp"

namespace tern::core_embedded {

class admin_service {
public:
    admin_service(core_parts& parts, auth_cache& auth, ota_catalog& ota, rpc_tracker& rpcs, session_book& sessions,
                  history_purge& purge, const profile_check& check)
        : p_(parts), auth_(auth), ota_(ota), rpcs_(rpcs), sessions_(sessions), purge_(purge), check_(check) {}

    // A profile is stored only when check_ accepts it as it would be stored (the update
    // merged into the stored profile), on the writer: TERN_INVALID_ARGUMENT (400) with the
    // reason otherwise.

    void create_profile(profile_spec spec, callback<profile> cb);
    void update_profile(profile_spec spec, callback<profile> cb);
    void delete_profile(std::string name, callback<none> cb);
    void get_profile(std::string name, callback<profile> cb);
    void list_profiles(callback<std::vector<profile>> cb);

    // Without credentials a device gets a generated access token (as ThingsBoard does).
    void create_device(device_spec spec, callback<device> cb);
    void update_device(device_spec spec, callback<device> cb);
    void delete_device(std::string name, callback<none> cb);
    void get_device(std::string name, callback<device> cb);
    void list_devices(std::string profile, int64_t limit, int64_t offset, callback<std::vector<device>> cb);

    // admin_attributes_telemetry.cpp
    void set_attributes(std::string device, tern_attribute_scope scope, std::vector<kv> values, callback<none> cb);
    void delete_attributes(std::string device, tern_attribute_scope scope, std::vector<std::string> keys,
                           callback<none> cb);
    void read_attributes(std::string device, uint32_t scopes, std::vector<std::string> keys,
                         callback<attribute_set> cb);
    void latest_telemetry(std::string device, std::vector<std::string> keys, callback<std::vector<ts_latest>> cb);
    void telemetry_range(std::string device, std::vector<std::string> keys, int64_t start_ts, int64_t end_ts,
                         int64_t limit, bool desc, callback<std::map<std::string, std::vector<ts_point>>> cb);

private:
    core_parts& p_;
    auth_cache& auth_;
    ota_catalog& ota_;
    rpc_tracker& rpcs_;
    session_book& sessions_;
    history_purge& purge_;
    const profile_check& check_;
};

// A profile's or device's name (what: "profile", "device"): not empty, at most 255 bytes, no
// control characters; TERN_INVALID_ARGUMENT with msg set otherwise.
tern_status check_name(const std::string& name, const char* what, std::string& msg);

inline std::string no_device(const std::string& name) { return "no device named '" + name + "'"; }
inline std::string no_profile(const std::string& name) { return "no profile named '" + name + "'"; }

}  // namespace tern::core_embedded

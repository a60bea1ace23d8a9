// SQL shared by the core's reads (reader connections) and writes (the writer's
// connection): row loading and value encoding. Everything throws db::error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db.hpp"
#include "model.hpp"

namespace tern::core_embedded::store {

// Values: `type` column = tern_value_type, `v` column = integer/real/text/blob.
void bind_value(db::statement& s, int type_index, int value_index, const value& v);
value read_value(const db::statement& s, int type_col, int value_col);

// One telemetry point into ts_kv (ts_latest follows through its triggers); a point with
// the same ts replaces the old one. The devices' hot path: binds views, allocates nothing.
void upsert_ts_point(db::connection& c, uint64_t device_id, int64_t key_id, int64_t ts, const tern_value& v);

std::optional<uint64_t> device_id(db::connection& c, std::string_view name);
std::optional<uint64_t> profile_id(db::connection& c, std::string_view name);

// Full rows, with profile name, credential and claim (devices).
std::optional<device> load_device(db::connection& c, uint64_t id);
std::optional<device> load_device(db::connection& c, std::string_view name);
std::vector<device> list_devices(db::connection& c, uint64_t profile_id, int64_t limit,
                                 int64_t offset);
std::optional<profile> load_profile(db::connection& c, uint64_t id);
std::optional<profile> load_profile(db::connection& c, std::string_view name);
std::vector<profile> list_profiles(db::connection& c);
std::vector<uint64_t> devices_of_profile(db::connection& c, uint64_t profile_id);

// The device owning (kind, id), if any.
std::optional<uint64_t> credential_owner(db::connection& c, tern_credential_kind kind,
                                         std::string_view id);

std::optional<attribute> load_attribute(db::connection& c, uint64_t device_id,
                                        tern_attribute_scope scope, std::string_view key);
// All attributes of a scope, or the listed keys (that exist), ordered by key.
std::vector<attribute> load_attributes(db::connection& c, uint64_t device_id,
                                       tern_attribute_scope scope,
                                       const std::vector<std::string>* keys);
void upsert_attribute(db::connection& c, uint64_t device_id, tern_attribute_scope scope,
                      std::string_view key, const value& v, int64_t ts);
// Whether storing these attributes (keys may repeat) leaves the device at most max_keys keys
// in the scope (0: no limit); when not, false with `message` set. Reads only.
bool attribute_keys_fit(db::connection& c, uint64_t device_id, tern_attribute_scope scope,
                        const std::vector<kv>& values, int64_t max_keys, std::string& message);
bool delete_attribute(db::connection& c, uint64_t device_id, tern_attribute_scope scope,
                      std::string_view key);

std::optional<ota_package_row> load_ota(db::connection& c, uint64_t id, const std::string& dir);
std::vector<ota_package_row> list_ota(db::connection& c, const std::string& dir);
// The package assigned to the device for type: device level, else its profile's; 0: none.
uint64_t effective_ota(db::connection& c, uint64_t device_id, tern_ota_type type);

// Telemetry history (ts_kv, keyed by time bucket first; schema.cpp).
//
// The points of one device's key with lo <= ts <= hi, ascending or newest first, at most
// `limit`. Walks the buckets from one end: one B-tree seek per bucket that holds any point
// (of any device) between the first point found and the last one returned; buckets without
// points are skipped by the same seek. `seeks`, when given, counts them. Callers narrow [lo, hi] to the key's own span
// (ts_latest.first_ts .. ts_latest.ts) so a young key does not walk the table's past.
std::vector<ts_point> ts_history(db::connection& c, uint64_t device_id, int64_t key_id, int64_t lo,
                                 int64_t hi, int64_t limit, bool desc, uint64_t* seeks = nullptr);

// Queues the history of a device being deleted for ts_purge_step (its span from ts_latest);
// call before deleting its ts_latest rows. Returns whether it had any.
bool ts_purge_queue(db::connection& c, uint64_t device_id);
struct ts_purge_progress {
    uint64_t points = 0;   // removed by this step
    uint64_t devices = 0;  // still queued after it
};
// Removes queued history, at most about `budget` seeks and deleted points, and records
// how far it got (in the caller's transaction, so it resumes after a restart).
ts_purge_progress ts_purge_step(db::connection& c, uint64_t budget);

std::optional<rpc_record> load_rpc(db::connection& c, uint64_t device_id, int64_t id);

// Inserts a device (name, profile_id, label, power, additional_info of d) and, when set,
// its credential; returns the new id.
uint64_t insert_device(db::connection& c, const device& d, uint64_t revision, int64_t now);
void replace_credential(db::connection& c, uint64_t device_id, const credential& cr);

// Checks a credential input and turns it into what the store keeps; the error text
// says what is wrong (empty when fine). Generates a token when none was given.
std::string make_credential(const credential_input& in, credential& out);

// Profile options as stored (a JSON object of integers); unreadable text reads as none.
std::string options_to_json(const std::vector<profile_option>& options);
std::vector<profile_option> options_from_json(std::string_view text);

}  // namespace tern::core_embedded::store

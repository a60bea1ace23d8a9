#include "store.hpp"

#include <algorithm>
#include <cctype>

#include "rapidjson_config.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "crypto.hpp"
#include "tern/credential_id/credential_id.hpp"
#include "schema.hpp"

namespace tern::core_embedded::store {

std::string options_to_json(const std::vector<profile_option>& options) {
    if (options.empty()) return {};
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    for (const profile_option& o : options) {
        w.Key(o.key.c_str(), static_cast<rapidjson::SizeType>(o.key.size()));
        w.Int64(o.value);
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::vector<profile_option> options_from_json(std::string_view text) {
    std::vector<profile_option> out;
    if (text.empty()) return out;
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    if (d.HasParseError() || !d.IsObject()) return out;
    for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it)
        if (it->value.IsInt64())
            out.push_back(profile_option{std::string(it->name.GetString(), it->name.GetStringLength()),
                                         it->value.GetInt64()});
    return out;
}

void bind_value(db::statement& s, int ti, int vi, const value& v) {
    s.bind(ti, static_cast<int64_t>(v.type));
    switch (v.type) {
        case TERN_VALUE_BOOL:
        case TERN_VALUE_INT: s.bind(vi, v.i); break;
        case TERN_VALUE_DOUBLE: s.bind(vi, v.d); break;
        case TERN_VALUE_STR:
        case TERN_VALUE_JSON: s.bind(vi, std::string_view(v.s)); break;
        case TERN_VALUE_BYTES: s.bind_blob(vi, v.s); break;
        default: s.bind_null(vi); break;
    }
}

void upsert_ts_point(db::connection& c, uint64_t device_id, int64_t key_id, int64_t ts, const tern_value& v) {
    auto q = c.query(
        "INSERT INTO ts_kv(bucket, device_id, key_id, ts, type, v) VALUES (?6, ?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(bucket, device_id, key_id, ts) DO UPDATE SET type = excluded.type, v = excluded.v");
    q->bind_id(1, device_id).bind(2, key_id).bind(3, ts).bind(4, static_cast<int64_t>(v.type));
    q->bind(6, ts_bucket(ts));
    switch (v.type) {
        case TERN_VALUE_BOOL: q->bind(5, static_cast<int64_t>(v.u.b != 0)); break;
        case TERN_VALUE_INT: q->bind(5, v.u.i); break;
        case TERN_VALUE_DOUBLE: q->bind(5, v.u.d); break;
        case TERN_VALUE_BYTES:
            q->bind_blob(5, std::string_view(reinterpret_cast<const char*>(v.u.bytes.data), v.u.bytes.size));
            break;
        default: q->bind(5, std::string_view(v.u.s.data, v.u.s.size)); break;
    }
    q->run();
}

value read_value(const db::statement& s, int tc, int vc) {
    value v;
    v.type = static_cast<tern_value_type>(s.get_int(tc));
    switch (v.type) {
        case TERN_VALUE_BOOL: v.i = s.get_int(vc) != 0 ? 1 : 0; break;
        case TERN_VALUE_INT: v.i = s.get_int(vc); break;
        case TERN_VALUE_DOUBLE: v.d = s.get_double(vc); break;
        case TERN_VALUE_STR:
        case TERN_VALUE_JSON:
        case TERN_VALUE_BYTES: v.s = s.get_string(vc); break;
        default: v.type = TERN_VALUE_NULL; break;
    }
    return v;
}

std::vector<ts_point> ts_history(db::connection& c, uint64_t device_id, int64_t key_id, int64_t lo,
                                 int64_t hi, int64_t limit, bool desc, uint64_t* seeks) {
    std::vector<ts_point> out;
    if (lo > hi || limit <= 0) return out;
    const int64_t dev = static_cast<int64_t>(device_id);
    // Ascending: the first row at or after (bucket, device, key, lo); descending: the last
    // at or before (bucket, device, key, hi). Rows of our key in that bucket follow one
    // another; the first row of anyone else ends the bucket. Its bucket says where to
    // look next: the following bucket when it is still this one, else that row's bucket
    // (everything in between is empty).
    auto q = c.query(desc ? "SELECT bucket, device_id, key_id, ts, type, v FROM ts_kv "
                            "WHERE (bucket, device_id, key_id, ts) <= (?1, ?2, ?3, ?4) AND bucket >= ?5 "
                            "ORDER BY bucket DESC, device_id DESC, key_id DESC, ts DESC"
                          : "SELECT bucket, device_id, key_id, ts, type, v FROM ts_kv "
                            "WHERE (bucket, device_id, key_id, ts) >= (?1, ?2, ?3, ?4) AND bucket <= ?5 "
                            "ORDER BY bucket, device_id, key_id, ts");
    const int64_t end = ts_bucket(desc ? lo : hi);
    int64_t b = ts_bucket(desc ? hi : lo);
    for (;;) {
        if (seeks != nullptr) ++*seeks;
        q->reset();
        q->bind(1, b).bind(2, dev).bind(3, key_id).bind(4, desc ? hi : lo).bind(5, end);
        bool moved = false;
        while (q->step()) {
            const int64_t rb = q->get_int(0);
            if (q->get_int(1) == dev && q->get_int(2) == key_id) {
                const int64_t ts = q->get_int(3);
                if (desc ? ts < lo : ts > hi) return out;
                out.push_back(ts_point{ts, read_value(*q, 4, 5)});
                if (static_cast<int64_t>(out.size()) >= limit) return out;
                b = rb;
                continue;
            }
            b = rb != b ? rb : desc ? b - 1 : b + 1;
            moved = true;
            break;
        }
        if (!moved || (desc ? b < end : b > end)) return out;
    }
}

bool ts_purge_queue(db::connection& c, uint64_t device_id) {
    int64_t first = 0, last = 0;
    {
        auto q = c.query("SELECT min(first_ts), max(ts) FROM ts_latest WHERE device_id = ?");
        q->bind_id(1, device_id);
        if (!q->step() || q->is_null(0)) return false;
        first = q->get_int(0);
        last = q->get_int(1);
    }
    auto q = c.query("INSERT OR REPLACE INTO ts_purge(device_id, next_bucket, last_bucket) VALUES (?, ?, ?)");
    q->bind_id(1, device_id).bind(2, ts_bucket(first)).bind(3, ts_bucket(last));
    q->run();
    return true;
}

ts_purge_progress ts_purge_step(db::connection& c, uint64_t budget) {
    ts_purge_progress p;
    uint64_t spent = 0;
    while (spent < budget) {
        int64_t dev = 0, b = 0, last = 0;
        {
            auto q = c.query("SELECT device_id, next_bucket, last_bucket FROM ts_purge ORDER BY device_id LIMIT 1");
            if (!q->step()) break;
            dev = q->get_int(0);
            b = q->get_int(1);
            last = q->get_int(2);
        }
        while (spent < budget && b <= last) {
            int64_t rb = 0, rd = 0;
            {
                auto q = c.query("SELECT bucket, device_id FROM ts_kv WHERE (bucket, device_id) >= (?1, ?2) "
                                 "AND bucket <= ?3 ORDER BY bucket, device_id LIMIT 1");
                q->bind(1, b).bind(2, dev).bind(3, last);
                ++spent;
                if (!q->step()) {
                    b = last + 1;
                    break;
                }
                rb = q->get_int(0);
                rd = q->get_int(1);
            }
            if (rd == dev) {
                auto d = c.query("DELETE FROM ts_kv WHERE bucket = ? AND device_id = ?");
                d->bind(1, rb).bind(2, dev);
                d->run();
                const auto n = static_cast<uint64_t>(c.changes());
                p.points += n;
                spent += n;
                b = rb + 1;
            } else {
                b = rb != b ? rb : b + 1;
            }
        }
        if (b > last) {
            auto q = c.query("DELETE FROM ts_purge WHERE device_id = ?");
            q->bind(1, dev);
            q->run();
        } else {
            auto q = c.query("UPDATE ts_purge SET next_bucket = ? WHERE device_id = ?");
            q->bind(1, b).bind(2, dev);
            q->run();
        }
    }
    auto q = c.query("SELECT count(*) FROM ts_purge");
    if (q->step()) p.devices = static_cast<uint64_t>(q->get_int(0));
    return p;
}

std::optional<uint64_t> device_id(db::connection& c, std::string_view name) {
    auto q = c.query("SELECT id FROM devices WHERE name = ?");
    q->bind(1, name);
    if (!q->step()) return std::nullopt;
    return q->get_id(0);
}

std::optional<uint64_t> profile_id(db::connection& c, std::string_view name) {
    auto q = c.query("SELECT id FROM profiles WHERE name = ?");
    q->bind(1, name);
    if (!q->step()) return std::nullopt;
    return q->get_id(0);
}

namespace {

#define TERN_DEVICE_COLUMNS                                                                    \
    "d.id, d.name, d.profile_id, p.name, d.label, d.power_mode, d.psm_activity_timer, "       \
    "d.edrx_cycle, d.paging_transmission_window, d.additional_info, d.fw_package_id, "        \
    "d.sw_package_id, d.revision, d.created_ts, c.kind, c.id, c.value, cl.secret_key, "       \
    "cl.expires_ts, cl.registered_ts, cl.claimed_by, cl.claimed_ts, p.power_mode, "           \
    "p.psm_activity_timer, p.edrx_cycle, p.paging_transmission_window "                       \
    "FROM devices d JOIN profiles p ON p.id = d.profile_id "                                  \
    "LEFT JOIN credentials c ON c.device_id = d.id "                                          \
    "LEFT JOIN claims cl ON cl.device_id = d.id "

device read_device(const db::statement& s) {
    device d;
    d.id = s.get_id(0);
    d.name = s.get_string(1);
    d.profile_id = s.get_id(2);
    d.profile_name = s.get_string(3);
    d.label = s.get_string(4);
    d.power.mode = static_cast<tern_power_mode>(s.get_int(5));
    d.power.psm_activity_timer = s.get_int(6);
    d.power.edrx_cycle = s.get_int(7);
    d.power.paging_transmission_window = s.get_int(8);
    d.additional_info = s.get_string(9);
    d.fw_package_id = s.get_id(10);
    d.sw_package_id = s.get_id(11);
    d.revision = s.get_id(12);
    d.created_ts = s.get_int(13);
    if (!s.is_null(14)) {
        credential c;
        c.kind = static_cast<tern_credential_kind>(s.get_int(14));
        c.id = s.get_string(15);
        c.value = s.get_string(16);
        d.cred = std::move(c);
    }
    if (!s.is_null(17)) {
        d.claim.registered = true;
        d.claim.expires_ts = s.get_int(18);
        d.claim.registered_ts = s.get_int(19);
        d.claim.claimed_by = s.get_string(20);
        d.claim.claimed_ts = s.get_int(21);
    }
    d.profile_power.mode = static_cast<tern_power_mode>(s.get_int(22));
    d.profile_power.psm_activity_timer = s.get_int(23);
    d.profile_power.edrx_cycle = s.get_int(24);
    d.profile_power.paging_transmission_window = s.get_int(25);
    return d;
}

#define TERN_PROFILE_COLUMNS                                                                   \
    "id, name, transport_type, coap_device_type, payload_type, provision_strategy, "          \
    "provision_key, provision_secret, power_mode, psm_activity_timer, edrx_cycle, "           \
    "paging_transmission_window, telemetry_schema, attributes_schema, rpc_request_schema, "   \
    "rpc_response_schema, fw_package_id, sw_package_id, revision, created_ts, "               \
    "(SELECT count(*) FROM devices d WHERE d.profile_id = profiles.id), options FROM profiles "

profile read_profile(const db::statement& s) {
    profile p;
    p.id = s.get_id(0);
    p.name = s.get_string(1);
    p.transport_type = static_cast<tern_transport_type>(s.get_int(2));
    p.coap_device_type = static_cast<tern_coap_device_type>(s.get_int(3));
    p.payload_type = static_cast<tern_payload_type>(s.get_int(4));
    p.strategy = static_cast<provision_strategy>(s.get_int(5));
    p.provision_key = s.get_string(6);
    p.provision_secret = s.get_string(7);
    p.power.mode = static_cast<tern_power_mode>(s.get_int(8));
    p.power.psm_activity_timer = s.get_int(9);
    p.power.edrx_cycle = s.get_int(10);
    p.power.paging_transmission_window = s.get_int(11);
    for (int i = 0; i < 4; ++i) p.schemas[i] = s.get_string(12 + i);
    p.fw_package_id = s.get_id(16);
    p.sw_package_id = s.get_id(17);
    p.revision = s.get_id(18);
    p.created_ts = s.get_int(19);
    p.device_count = s.get_int(20);
    p.options = options_from_json(s.get_string(21));
    return p;
}

#define TERN_OTA_COLUMNS                                                                       \
    "id, type, title, version, tag, size, checksum, checksum_algorithm, url, file_name, "     \
    "content_type, created_ts FROM ota_packages "

ota_package_row read_ota(const db::statement& s, const std::string& dir) {
    ota_package_row o;
    o.id = s.get_id(0);
    o.type = static_cast<tern_ota_type>(s.get_int(1));
    o.title = s.get_string(2);
    o.version = s.get_string(3);
    o.tag = s.get_string(4);
    o.size = static_cast<uint64_t>(s.get_int(5));
    o.checksum = s.get_string(6);
    o.checksum_algorithm = s.get_string(7);
    o.url = s.get_string(8);
    o.file_name = s.get_string(9);
    o.content_type = s.get_string(10);
    o.created_ts = s.get_int(11);
    if (o.url.empty() || o.size > 0) o.path = dir + "/" + std::to_string(o.id) + ".bin";
    return o;
}

}  // namespace

std::optional<device> load_device(db::connection& c, uint64_t id) {
    auto q = c.query("SELECT " TERN_DEVICE_COLUMNS "WHERE d.id = ?");
    q->bind_id(1, id);
    if (!q->step()) return std::nullopt;
    return read_device(*q);
}

std::optional<device> load_device(db::connection& c, std::string_view name) {
    auto q = c.query("SELECT " TERN_DEVICE_COLUMNS "WHERE d.name = ?");
    q->bind(1, name);
    if (!q->step()) return std::nullopt;
    return read_device(*q);
}

std::vector<device> list_devices(db::connection& c, uint64_t profile_id, int64_t limit,
                                 int64_t offset) {
    std::vector<device> out;
    auto q = c.query("SELECT " TERN_DEVICE_COLUMNS
                     "WHERE (?1 = 0 OR d.profile_id = ?1) ORDER BY d.name LIMIT ?2 OFFSET ?3");
    q->bind_id(1, profile_id).bind(2, limit <= 0 ? int64_t(-1) : limit).bind(3, offset);
    while (q->step()) out.push_back(read_device(*q));
    return out;
}

std::optional<profile> load_profile(db::connection& c, uint64_t id) {
    auto q = c.query("SELECT " TERN_PROFILE_COLUMNS "WHERE id = ?");
    q->bind_id(1, id);
    if (!q->step()) return std::nullopt;
    return read_profile(*q);
}

std::optional<profile> load_profile(db::connection& c, std::string_view name) {
    auto q = c.query("SELECT " TERN_PROFILE_COLUMNS "WHERE name = ?");
    q->bind(1, name);
    if (!q->step()) return std::nullopt;
    return read_profile(*q);
}

std::vector<profile> list_profiles(db::connection& c) {
    std::vector<profile> out;
    auto q = c.query("SELECT " TERN_PROFILE_COLUMNS "ORDER BY name");
    while (q->step()) out.push_back(read_profile(*q));
    return out;
}

std::vector<uint64_t> devices_of_profile(db::connection& c, uint64_t profile_id) {
    std::vector<uint64_t> out;
    auto q = c.query("SELECT id FROM devices WHERE profile_id = ?");
    q->bind_id(1, profile_id);
    while (q->step()) out.push_back(q->get_id(0));
    return out;
}

std::optional<uint64_t> credential_owner(db::connection& c, tern_credential_kind kind,
                                         std::string_view id) {
    auto q = c.query("SELECT device_id FROM credentials WHERE kind = ? AND id = ?");
    q->bind(1, static_cast<int64_t>(kind)).bind(2, id);
    if (!q->step()) return std::nullopt;
    return q->get_id(0);
}

std::optional<attribute> load_attribute(db::connection& c, uint64_t device_id,
                                        tern_attribute_scope scope, std::string_view key) {
    auto q = c.query(
        "SELECT type, v, last_update_ts FROM attributes WHERE device_id = ? AND scope = ? AND key = ?");
    q->bind_id(1, device_id).bind(2, static_cast<int64_t>(scope)).bind(3, key);
    if (!q->step()) return std::nullopt;
    attribute a;
    a.key = key;
    a.v = read_value(*q, 0, 1);
    a.last_update_ts = q->get_int(2);
    return a;
}

std::vector<attribute> load_attributes(db::connection& c, uint64_t device_id,
                                       tern_attribute_scope scope,
                                       const std::vector<std::string>* keys) {
    std::vector<attribute> out;
    if (keys == nullptr) {
        auto q = c.query(
            "SELECT key, type, v, last_update_ts FROM attributes WHERE device_id = ? AND scope = ? "
            "ORDER BY key");
        q->bind_id(1, device_id).bind(2, static_cast<int64_t>(scope));
        while (q->step()) {
            attribute a;
            a.key = q->get_string(0);
            a.v = read_value(*q, 1, 2);
            a.last_update_ts = q->get_int(3);
            out.push_back(std::move(a));
        }
        return out;
    }
    for (const std::string& k : *keys) {
        if (auto a = load_attribute(c, device_id, scope, k)) out.push_back(std::move(*a));
    }
    std::sort(out.begin(), out.end(), [](const attribute& a, const attribute& b) { return a.key < b.key; });
    out.erase(std::unique(out.begin(), out.end(), [](const attribute& a, const attribute& b) { return a.key == b.key; }),
              out.end());
    return out;
}

bool attribute_keys_fit(db::connection& c, uint64_t device_id, tern_attribute_scope scope,
                        const std::vector<kv>& values, int64_t max_keys, std::string& message) {
    if (max_keys <= 0) return true;
    int64_t has = 0;
    {
        auto q = c.query("SELECT count(*) FROM attributes WHERE device_id = ? AND scope = ?");
        q->bind_id(1, device_id).bind(2, static_cast<int64_t>(scope));
        if (q->step()) has = q->get_int(0);
    }
    if (has + static_cast<int64_t>(values.size()) <= max_keys) return true;  // even if every key were new
    std::vector<std::string_view> fresh;
    for (const kv& x : values) {
        auto q = c.query("SELECT 1 FROM attributes WHERE device_id = ? AND scope = ? AND key = ?");
        q->bind_id(1, device_id).bind(2, static_cast<int64_t>(scope)).bind(3, x.key);
        if (!q->step()) fresh.push_back(x.key);
    }
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    if (has + static_cast<int64_t>(fresh.size()) <= max_keys) return true;
    message = std::to_string(has + static_cast<int64_t>(fresh.size())) + " attribute keys for the device (it has " +
              std::to_string(has) + "), more than max_attributes_per_device " + std::to_string(max_keys) +
              "; nothing stored";
    return false;
}

void upsert_attribute(db::connection& c, uint64_t device_id, tern_attribute_scope scope,
                      std::string_view key, const value& v, int64_t ts) {
    auto q = c.query(
        "INSERT INTO attributes(device_id, scope, key, type, v, last_update_ts) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(device_id, scope, key) DO UPDATE SET "
        "type = excluded.type, v = excluded.v, last_update_ts = excluded.last_update_ts");
    q->bind_id(1, device_id).bind(2, static_cast<int64_t>(scope)).bind(3, key);
    bind_value(*q, 4, 5, v);
    q->bind(6, ts);
    q->run();
}

bool delete_attribute(db::connection& c, uint64_t device_id, tern_attribute_scope scope,
                      std::string_view key) {
    auto q = c.query("DELETE FROM attributes WHERE device_id = ? AND scope = ? AND key = ?");
    q->bind_id(1, device_id).bind(2, static_cast<int64_t>(scope)).bind(3, key);
    q->run();
    return c.changes() > 0;
}

std::optional<ota_package_row> load_ota(db::connection& c, uint64_t id, const std::string& dir) {
    auto q = c.query("SELECT " TERN_OTA_COLUMNS "WHERE id = ?");
    q->bind_id(1, id);
    if (!q->step()) return std::nullopt;
    return read_ota(*q, dir);
}

std::vector<ota_package_row> list_ota(db::connection& c, const std::string& dir) {
    std::vector<ota_package_row> out;
    auto q = c.query("SELECT " TERN_OTA_COLUMNS "ORDER BY id");
    while (q->step()) out.push_back(read_ota(*q, dir));
    return out;
}

uint64_t effective_ota(db::connection& c, uint64_t device_id, tern_ota_type type) {
    auto q = c.query(type == TERN_OTA_SOFTWARE
                         ? "SELECT coalesce(d.sw_package_id, p.sw_package_id, 0) FROM devices d "
                           "JOIN profiles p ON p.id = d.profile_id WHERE d.id = ?"
                         : "SELECT coalesce(d.fw_package_id, p.fw_package_id, 0) FROM devices d "
                           "JOIN profiles p ON p.id = d.profile_id WHERE d.id = ?");
    q->bind_id(1, device_id);
    if (!q->step()) return 0;
    return q->get_id(0);
}

std::optional<rpc_record> load_rpc(db::connection& c, uint64_t device_id, int64_t id) {
    auto q = c.query(
        "SELECT r.method, r.params, r.flags, r.status, r.created_ts, r.updated_ts, "
        "r.expiration_ts, r.result, r.error, r.retries, d.name FROM rpcs r "
        "JOIN devices d ON d.id = r.device_id WHERE r.device_id = ? AND r.id = ?");
    q->bind_id(1, device_id).bind(2, id);
    if (!q->step()) return std::nullopt;
    rpc_record r;
    r.device_id = device_id;
    r.id = id;
    r.method = q->get_string(0);
    r.params = q->get_string(1);
    r.flags = static_cast<uint32_t>(q->get_int(2));
    r.status = static_cast<tern_rpc_status>(q->get_int(3));
    r.created_ts = q->get_int(4);
    r.updated_ts = q->get_int(5);
    r.expiration_ts = q->get_int(6);
    r.result = q->get_string(7);
    r.error = q->get_string(8);
    r.retries = static_cast<int32_t>(q->get_int(9));
    r.device_name = q->get_string(10);
    return r;
}

uint64_t insert_device(db::connection& c, const device& d, uint64_t revision, int64_t now) {
    {
        auto q = c.query(
            "INSERT INTO devices(name, profile_id, label, power_mode, psm_activity_timer, edrx_cycle, "
            "paging_transmission_window, additional_info, revision, created_ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        q->bind(1, std::string_view(d.name)).bind_id(2, d.profile_id).bind_opt(3, d.label);
        q->bind(4, static_cast<int64_t>(d.power.mode)).bind(5, d.power.psm_activity_timer);
        q->bind(6, d.power.edrx_cycle).bind(7, d.power.paging_transmission_window);
        q->bind_opt(8, d.additional_info).bind_id(9, revision).bind(10, now);
        q->run();
    }
    const uint64_t id = static_cast<uint64_t>(c.last_insert_rowid());
    if (d.cred) replace_credential(c, id, *d.cred);
    return id;
}

void replace_credential(db::connection& c, uint64_t device_id, const credential& cr) {
    auto q = c.query(
        "INSERT INTO credentials(device_id, kind, id, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(device_id) DO UPDATE SET kind = excluded.kind, id = excluded.id, "
        "value = excluded.value");
    q->bind_id(1, device_id).bind(2, static_cast<int64_t>(cr.kind)).bind(3, std::string_view(cr.id));
    if (cr.value.empty()) q->bind_null(4);
    else q->bind_blob(4, cr.value);
    q->run();
}

std::string make_credential(const credential_input& in, credential& out) {
    out = credential{};
    out.kind = in.kind;
    switch (in.kind) {
        case TERN_CREDENTIAL_ACCESS_TOKEN:
            out.id = in.token.empty() ? random_alphanumeric(20) : in.token;
            if (out.id.size() > 256) return "the access token is longer than 256 characters";
            for (unsigned char ch : out.id)
                if (ch <= ' ' || ch == '/' || ch == 0x7f)
                    return "the access token must not contain spaces, control characters or '/'";
            return {};
        case TERN_CREDENTIAL_X509:
            out.value = credential_id::certificate_text(in.certificate);
            if (out.value.empty()) return "the X.509 certificate is empty";
            for (unsigned char ch : out.value)
                if (!(std::isalnum(ch) || ch == '+' || ch == '/' || ch == '='))
                    return "the X.509 certificate is not PEM or Base64 text";
            out.id = credential_id::x509_id(out.value);
            return {};
        case TERN_CREDENTIAL_PSK:
            if (in.psk_identity.empty()) return "the PSK identity is empty";
            if (in.psk_key.empty()) return "the PSK key is empty";
            out.id = in.psk_identity;
            out.value = in.psk_key;
            return {};
        default: return "unsupported credentials type";
    }
}

}  // namespace tern::core_embedded::store

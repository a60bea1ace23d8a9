#include "schema.hpp"

#include <string>

#include "model.hpp"

namespace tern::core_embedded {

namespace {

// Version 1: everything the core keeps. Values are stored with a type tag beside a
// dynamically typed column (SQLite keeps integers, reals, text and blobs as given).
const char* const v1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('revision', 1);

CREATE TABLE profiles(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  transport_type INTEGER NOT NULL DEFAULT 0,
  coap_device_type INTEGER NOT NULL DEFAULT 0,
  payload_type INTEGER NOT NULL DEFAULT 0,
  provision_strategy INTEGER NOT NULL DEFAULT 0,
  provision_key TEXT UNIQUE,
  provision_secret TEXT,
  power_mode INTEGER NOT NULL DEFAULT 0,
  psm_activity_timer INTEGER NOT NULL DEFAULT 0,
  edrx_cycle INTEGER NOT NULL DEFAULT 0,
  paging_transmission_window INTEGER NOT NULL DEFAULT 0,
  telemetry_schema TEXT,
  attributes_schema TEXT,
  rpc_request_schema TEXT,
  rpc_response_schema TEXT,
  fw_package_id INTEGER,
  sw_package_id INTEGER,
  revision INTEGER NOT NULL,
  created_ts INTEGER NOT NULL
);
INSERT INTO profiles(name, revision, created_ts)
  VALUES ('default', 1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

CREATE TABLE devices(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  profile_id INTEGER NOT NULL,
  label TEXT,
  power_mode INTEGER NOT NULL DEFAULT 0,
  psm_activity_timer INTEGER NOT NULL DEFAULT 0,
  edrx_cycle INTEGER NOT NULL DEFAULT 0,
  paging_transmission_window INTEGER NOT NULL DEFAULT 0,
  additional_info TEXT,
  fw_package_id INTEGER,
  sw_package_id INTEGER,
  rpc_seq INTEGER NOT NULL DEFAULT 0,
  revision INTEGER NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX devices_by_profile ON devices(profile_id);

-- One credential per device (as ThingsBoard keeps it); (kind, id) is what devices present.
CREATE TABLE credentials(
  device_id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  id TEXT NOT NULL,
  value BLOB,
  UNIQUE(kind, id)
);

CREATE TABLE attributes(
  device_id INTEGER NOT NULL,
  scope INTEGER NOT NULL,
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  v,
  last_update_ts INTEGER NOT NULL,
  PRIMARY KEY(device_id, scope, key)
) WITHOUT ROWID;

CREATE TABLE ts_keys(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE ts_kv(
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  type INTEGER NOT NULL,
  v,
  PRIMARY KEY(device_id, key_id, ts)
) WITHOUT ROWID;
CREATE TABLE ts_latest(
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  type INTEGER NOT NULL,
  v,
  PRIMARY KEY(device_id, key_id)
) WITHOUT ROWID;

-- The latest value per key follows every stored point; triggers keep it in the same
-- statement as the insert (one step per value on the hot path, not two).
CREATE TRIGGER ts_kv_latest_insert AFTER INSERT ON ts_kv BEGIN
  INSERT INTO ts_latest(device_id, key_id, ts, type, v)
    VALUES (NEW.device_id, NEW.key_id, NEW.ts, NEW.type, NEW.v)
    ON CONFLICT(device_id, key_id) DO UPDATE SET ts = excluded.ts, type = excluded.type,
      v = excluded.v WHERE excluded.ts >= ts_latest.ts;
END;
CREATE TRIGGER ts_kv_latest_update AFTER UPDATE ON ts_kv BEGIN
  INSERT INTO ts_latest(device_id, key_id, ts, type, v)
    VALUES (NEW.device_id, NEW.key_id, NEW.ts, NEW.type, NEW.v)
    ON CONFLICT(device_id, key_id) DO UPDATE SET ts = excluded.ts, type = excluded.type,
      v = excluded.v WHERE excluded.ts >= ts_latest.ts;
END;

CREATE TABLE rpcs(
  device_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  method TEXT NOT NULL,
  params TEXT,
  flags INTEGER NOT NULL,
  status INTEGER NOT NULL,
  created_ts INTEGER NOT NULL,
  updated_ts INTEGER NOT NULL,
  expiration_ts INTEGER NOT NULL,
  result TEXT,
  error TEXT,
  retries INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(device_id, id)
) WITHOUT ROWID;
CREATE INDEX rpcs_open ON rpcs(status) WHERE status < 3;

CREATE TABLE claims(
  device_id INTEGER PRIMARY KEY,
  secret_key TEXT NOT NULL,
  expires_ts INTEGER NOT NULL,
  registered_ts INTEGER NOT NULL,
  claimed_by TEXT,
  claimed_ts INTEGER
);

CREATE TABLE ota_packages(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type INTEGER NOT NULL,
  title TEXT NOT NULL,
  version TEXT NOT NULL,
  tag TEXT,
  size INTEGER NOT NULL,
  checksum TEXT,
  checksum_algorithm TEXT,
  url TEXT,
  file_name TEXT,
  content_type TEXT,
  created_ts INTEGER NOT NULL,
  UNIQUE(type, title, version)
);
)sql";

struct migration {
    int to;
    const char* sql;
};
const migration migrations[] = {{1, v1}};

int user_version(db::connection& c) {
    auto q = c.query("PRAGMA user_version");
    return q->step() ? static_cast<int>(q->get_int(0)) : 0;
}

}  // namespace

int migrate(db::connection& c) {
    db::transaction t(c);
    const int found = user_version(c);
    if (found > schema_version)
        throw db::error(0, "the database has schema version " + std::to_string(found) +
                               ", newer than this build's " + std::to_string(schema_version) +
                               "; use a newer tern");
    for (const migration& m : migrations) {
        if (m.to <= found) continue;
        c.exec(m.sql);
        c.exec(("PRAGMA user_version = " + std::to_string(m.to)).c_str());
    }
    t.commit();
    return found;
}

}  // namespace tern::core_embedded

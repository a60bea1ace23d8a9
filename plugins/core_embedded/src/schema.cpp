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

// Version 2: telemetry history keyed by time first. Version 1's ts_kv was ordered by
// (device, key, ts): every batch of messages from thousands of devices inserted at as many
// random places of one ever-growing B-tree, so each value dirtied a page of its own and, once
// the table outgrew the page cache, read one from the OS; the durable rate fell as the
// table grew. Keyed by (bucket = ts / ts_bucket_ms, device, key, ts), inserts of current
// data land in the newest bucket, a small region that stays cached and gets many values
// per dirty page. A device's history is then one run per bucket (reads walk the buckets,
// store::ts_history). ts_latest learns the oldest ts of each key (first_ts) so that walks
// start where the key's data starts, and ts_purge lists deleted devices whose history is
// removed in the background (the device, and with it every read of its history, is gone
// at once). Existing points are moved.
const char* const v2 = R"sql(
CREATE TABLE ts_kv_v2(
  bucket INTEGER NOT NULL,
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  type INTEGER NOT NULL,
  v,
  PRIMARY KEY(bucket, device_id, key_id, ts)
) WITHOUT ROWID;
INSERT INTO ts_kv_v2(bucket, device_id, key_id, ts, type, v)
  SELECT ts / @BUCKET_MS@, device_id, key_id, ts, type, v FROM ts_kv ORDER BY 1, 2, 3, 4;

ALTER TABLE ts_latest ADD COLUMN first_ts INTEGER NOT NULL DEFAULT 0;
UPDATE ts_latest SET first_ts = coalesce(
  (SELECT min(k.ts) FROM ts_kv k WHERE k.device_id = ts_latest.device_id AND k.key_id = ts_latest.key_id),
  ts);

DROP TRIGGER ts_kv_latest_insert;
DROP TRIGGER ts_kv_latest_update;
DROP TABLE ts_kv;
ALTER TABLE ts_kv_v2 RENAME TO ts_kv;

-- ts_latest keeps the newest point of each key (a late point does not replace it) and the
-- oldest ts the key has.
CREATE TRIGGER ts_kv_latest_insert AFTER INSERT ON ts_kv BEGIN
  INSERT INTO ts_latest(device_id, key_id, ts, type, v, first_ts)
    VALUES (NEW.device_id, NEW.key_id, NEW.ts, NEW.type, NEW.v, NEW.ts)
    ON CONFLICT(device_id, key_id) DO UPDATE SET ts = max(ts, excluded.ts),
      type = iif(excluded.ts >= ts, excluded.type, type), v = iif(excluded.ts >= ts, excluded.v, v),
      first_ts = min(first_ts, excluded.ts)
    WHERE excluded.ts >= ts_latest.ts OR excluded.ts < ts_latest.first_ts;
END;
CREATE TRIGGER ts_kv_latest_update AFTER UPDATE ON ts_kv BEGIN
  UPDATE ts_latest SET type = NEW.type, v = NEW.v
    WHERE device_id = NEW.device_id AND key_id = NEW.key_id AND ts = NEW.ts;
END;

-- Deleted devices whose history is still being removed: buckets next_bucket..last_bucket.
CREATE TABLE ts_purge(
  device_id INTEGER PRIMARY KEY,
  next_bucket INTEGER NOT NULL,
  last_bucket INTEGER NOT NULL
);
)sql";

std::string sql_of(const char* text) {
    std::string s(text);
    const std::string mark = "@BUCKET_MS@";
    for (size_t at = s.find(mark); at != std::string::npos; at = s.find(mark, at))
        s.replace(at, mark.size(), std::to_string(ts_bucket_ms));
    return s;
}

// Version 3: integer profile options (a JSON object) delivered to transports beside the
// schema texts.
const char* const v3 = R"sql(
ALTER TABLE profiles ADD COLUMN options TEXT;
)sql";

struct migration {
    int to;
    const char* sql;
};
const migration migrations[] = {{1, v1}, {2, v2}, {3, v3}};

}  // namespace

int stored_schema_version(db::connection& c) {
    auto q = c.query("PRAGMA user_version");
    return q->step() ? static_cast<int>(q->get_int(0)) : 0;
}

int migrate(db::connection& c, int target) {
    db::transaction t(c);
    const int found = stored_schema_version(c);
    if (found > schema_version)
        throw db::error(0, "the database has schema version " + std::to_string(found) +
                               ", newer than this build's " + std::to_string(schema_version) +
                               "; use a newer tern");
    for (const migration& m : migrations) {
        if (m.to <= found || m.to > target) continue;
        c.exec(sql_of(m.sql).c_str());
        c.exec(("PRAGMA user_version = " + std::to_string(m.to)).c_str());
    }
    t.commit();
    return found;
}

}  // namespace tern::core_embedded

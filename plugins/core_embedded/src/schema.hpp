// The database schema and its migrations, versioned with PRAGMA user_version.
#pragma once

#include <cstdint>

#include "db.hpp"

namespace tern::core_embedded {

// The schema version this build writes.
inline constexpr int schema_version = 3;

// Telemetry history (ts_kv) is keyed by (bucket, device, key, ts) with bucket = ts /
// ts_bucket_ms, so current data goes to one small, cached region (see README, "Telemetry
// layout"). Chosen by measuring ingest against history reads; it is part of the stored
// layout: changing it needs a migration that rewrites ts_kv.
inline constexpr int64_t ts_bucket_ms = 1000;
// Truncates toward zero like SQLite's integer division (the migration computes it in
// SQL); what matters is that it never decreases as ts grows.
constexpr int64_t ts_bucket(int64_t ts) noexcept { return ts / ts_bucket_ms; }

// PRAGMA user_version: 0 for a new file.
int stored_schema_version(db::connection& c);

// Brings the database up to `target` (this build's version unless a test asks for an older
// one) in one transaction; refuses a database made by a newer build. Returns the version
// found before migrating.
int migrate(db::connection& c, int target = schema_version);

// Value type tags as stored in the `type` columns (equal to tern_value_type).
}  // namespace tern::core_embedded

// The database schema and its migrations, versioned with PRAGMA user_version.
#pragma once

#include "db.hpp"

namespace tern::core_embedded {

// The schema version this build writes.
inline constexpr int schema_version = 1;

// Brings the database up to schema_version in one transaction; refuses a database made
// by a newer build. Returns the version found before migrating.
int migrate(db::connection& c);

// Value type tags as stored in the `type` columns (equal to tern_value_type).
}  // namespace tern::core_embedded

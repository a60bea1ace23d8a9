// The types the core's components and its admin callers share: settings, the outcome of
// an admin operation (result<T>), and the specs admin operations take.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model.hpp"
#include "tern/abi/core.h"
#include "writer.hpp"

namespace tern::core_embedded {

struct core_settings {
    std::string database = "var/tern.db";
    std::string sync = "full";  // full | normal
    writer_settings writer;
    int64_t checkpoint_interval_ms = 200;  // 0: SQLite's automatic checkpoints in the commit
    int64_t wal_limit_pages = 65536;
    unsigned read_threads = 2;
    size_t read_queue_capacity = 4096;
    uint64_t read_queue_bytes = 64ull << 20;  // request text held by waiting reads (provisioning)
    size_t credential_cache_size = 10000;  // the transports cache too: this serves their misses
    int64_t claim_duration_ms = 86400000;
    bool claim_allowed_by_default = true;
    bool client_rpc_builtin = true;
    bool client_rpc_queue = true;
    size_t client_rpc_queue_capacity = 1000;
    int64_t client_rpc_default_timeout_ms = 10000;
    int64_t rpc_default_timeout_ms = 10000;
    int32_t rpc_max_retries = 3;
    int64_t activity_flush_interval_ms = 5000;
    uint64_t max_ota_size = 268435456;
    bool quick_check = false;  // PRAGMA quick_check at start; a damaged database refuses to start
};

// The outcome of an admin operation: a status, a message when it failed, and a value.
template <class T>
struct result {
    tern_status status = TERN_OK;
    std::string message;
    T value{};
    bool ok() const noexcept { return status == TERN_OK; }
};
struct none {};
template <class T>
using callback = std::function<void(result<T>)>;

struct attribute_set {
    std::vector<attribute> client, shared, server;
};

struct ota_upload {
    tern_ota_type type = TERN_OTA_FIRMWARE;
    std::string title;
    std::string version;
    std::string tag;
    std::string checksum_algorithm = "SHA256";
    std::string checksum;  // expected; empty: not checked
    std::string url;       // URL-only package when there is no file
    std::string file_name;
    std::string content_type;
    std::string temp_path;  // the uploaded bytes; moved into the OTA folder
};

// Where an OTA package is assigned.
struct ota_target {
    std::string device;   // device name, or
    std::string profile;  // profile name
};

struct rpc_request_spec {
    std::string device;
    std::string method;
    std::string params;  // JSON text; empty: null
    bool oneway = false;
    bool persistent = false;
    int64_t timeout_ms = 0;  // expiration = now + timeout (<= 0: rpc_default_timeout)
    bool wait = true;        // answer once final or expired (non-persistent requests)
};

struct client_rpc_config {
    bool builtin = true;
    bool queue = true;
};

struct core_stats {
    writer_stats writer;
    size_t auth_cache_entries = 0;
    uint64_t auth_cache_hits = 0;
    uint64_t auth_cache_misses = 0;
    size_t sessions = 0;
    size_t devices_asleep = 0;
    size_t pending_rpcs = 0;
    size_t client_rpc_queue = 0;
    uint64_t purge_devices = 0;  // deleted devices whose history is still being removed
    uint64_t purged_points = 0;  // history points of deleted devices removed since start
};

}  // namespace tern::core_embedded

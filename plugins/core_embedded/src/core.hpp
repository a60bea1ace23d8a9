// The embedded core: core_v1 over SQLite, plus the operations the admin API offers. A thin
// owner: it starts and stops the threads and the database, and hands each call to the
// component that does it:
//   auth_cache         authentication and its LRU cache
//   device_data        telemetry and attributes from devices (the hot path)
//   session_book       sessions and the activity times they produce
//   rpc_tracker        server-side RPC states
//   client_rpc_broker  client-side RPC: built-in answers and the operator's queue
//   provisioner        claims and provisioning
//   ota_catalog        OTA packages, their assignment and the transport's lookups
//   history_purge      removing deleted devices' history in steps
//   admin_service      profiles, devices, attributes and telemetry for the admin API
// They share core_parts (writer, readers, timers, listener, metrics, settings).
//
// Threads: one writer (group commit, writer.hpp), a few readers (reader.hpp), one timer
// thread (timers.hpp). Every completion runs exactly once, on one of those threads or
// synchronously on the caller's (cache hits, refusals), and never under a lock of ours.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>  // (tests and callers relied on core.hpp bringing these)
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "admin_service.hpp"
#include "auth_cache.hpp"
#include "checkpointer.hpp"
#include "client_rpc_broker.hpp"
#include "core_parts.hpp"
#include "core_types.hpp"
#include "db.hpp"
#include "device_data.hpp"
#include "device_import.hpp"
#include "history_purge.hpp"
#include "ota_catalog.hpp"
#include "provisioner.hpp"
#include "rpc_tracker.hpp"
#include "session_book.hpp"
#include "tern/abi/core.h"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

class embedded_core final : public tern::core_v1 {
public:
    embedded_core(core_metrics& metrics, sdk::logger log);
    ~embedded_core();
    embedded_core(const embedded_core&) = delete;
    embedded_core& operator=(const embedded_core&) = delete;

    // Opens (creating) the database, migrates, starts the threads. Throws sdk::error.
    void start(const core_settings& s);
    // Completes everything pending (client RPCs and RPC waits get their current state),
    // commits what is queued and joins the threads. Idempotent.
    void stop();
    bool running() const noexcept { return parts_.running.load(); }
    const core_settings& settings() const noexcept { return parts_.settings; }
    // Where profiles are checked against the payload adaptors before they are stored
    // (profile_check.hpp); null, as without a call: not checked.
    void use_payload_adaptors(registry_v1* registry) noexcept { profile_check_.use(registry); }

    // ---- core_v1 --------------------------------------------------------------------
    tern_status set_listener(core_listener_v1* listener) noexcept override;
    void authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done,
                      void* ctx) noexcept override;
    void post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                        tern_core_done_fn done, void* ctx) noexcept override;
    void post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                         uint32_t count, tern_core_done_fn done, void* ctx) noexcept override;
    void get_attributes(uint64_t device_id, const tern_key_filter* client,
                        const tern_key_filter* shared, tern_core_attributes_fn done,
                        void* ctx) noexcept override;
    void subscribe(uint64_t device_id, uint32_t flags) noexcept override;
    void unsubscribe(uint64_t device_id, uint32_t flags) noexcept override;
    void session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                       tern_str address) noexcept override;
    void rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                    tern_str error) noexcept override;
    void rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                   void* ctx) noexcept override;
    void resend_pending_rpcs(uint64_t device_id) noexcept override;
    void client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                    tern_core_text_fn done, void* ctx) noexcept override;
    void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
               tern_core_done_fn done, void* ctx) noexcept override;
    void provision(const tern_provision_request* request, tern_core_provision_fn done,
                   void* ctx) noexcept override;
    void ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                     void* ctx) noexcept override;

    // ---- admin operations (callbacks run once, on any thread) ---------------------------
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
    void list_devices(std::string profile, int64_t limit, int64_t offset,
                      callback<std::vector<device>> cb);
    // Up to max_import_rows devices with access tokens in one transaction (device_import.hpp).
    void import_devices(device_import batch, callback<import_outcome> cb);

    // scope: TERN_SCOPE_SHARED or TERN_SCOPE_SERVER (CLIENT too, for completeness).
    void set_attributes(std::string device, tern_attribute_scope scope, std::vector<kv> values,
                        callback<none> cb);
    void delete_attributes(std::string device, tern_attribute_scope scope,
                           std::vector<std::string> keys, callback<none> cb);
    // scopes: bit (1 << scope) for each wanted scope; keys empty: all.
    void read_attributes(std::string device, uint32_t scopes, std::vector<std::string> keys,
                         callback<attribute_set> cb);

    void latest_telemetry(std::string device, std::vector<std::string> keys,
                          callback<std::vector<ts_latest>> cb);
    // Points with start_ts <= ts <= end_ts, newest first when desc, at most limit per key.
    void telemetry_range(std::string device, std::vector<std::string> keys, int64_t start_ts,
                         int64_t end_ts, int64_t limit, bool desc,
                         callback<std::map<std::string, std::vector<ts_point>>> cb);

    // The callback gets the record when queued (persistent, or wait == false) or when it
    // reached a final state or its expiration (wait == true).
    void send_rpc(rpc_request_spec spec, callback<rpc_record> cb);
    void get_rpc(std::string device, int64_t id, callback<rpc_record> cb);
    void list_rpcs(std::string device, int64_t limit, callback<std::vector<rpc_record>> cb);

    // Waiting client-side RPCs, oldest first, with device names.
    void list_client_rpcs(callback<std::vector<client_rpc_entry>> cb);
    // TERN_NOT_FOUND when the call is unknown or already answered / timed out.
    tern_status reply_client_rpc(uint64_t id, std::string_view json);
    client_rpc_config get_client_rpc_config();
    void set_client_rpc_config(client_rpc_config c);

    // Completes a device's claim: TERN_NOT_FOUND no claim registered, TERN_TIMEOUT
    // expired, TERN_PERMISSION wrong secret, TERN_EXISTS already claimed.
    void complete_claim(std::string name, std::string secret_key, std::string owner,
                        callback<device> cb);
    void remove_claim(std::string device, callback<none> cb);

    void create_ota_package(ota_upload upload, callback<ota_package_row> cb);
    void delete_ota_package(uint64_t id, callback<none> cb);
    void get_ota_package(uint64_t id, callback<ota_package_row> cb);
    void list_ota_packages(callback<std::vector<ota_package_row>> cb);
    // package_id 0 unassigns.
    void assign_ota_package(ota_target target, tern_ota_type type, uint64_t package_id,
                            callback<none> cb);

    // At most limit sessions (session_book::list).
    void list_sessions(size_t limit, callback<std::vector<session_info>> cb);
    core_stats stats();
    // What each table that grows with devices holds now (metrics.hpp). Reported every second
    // to core_memory_bytes / core_entries while the core runs. extra adds the tables of
    // whoever stands in front of the core (the event fan-out); set before start().
    memory_figures memory();
    void set_memory_extra(std::function<void(memory_figures&)> extra) { memory_extra_ = std::move(extra); }
    // Where OTA files live: <dir of database>/ota
    std::string ota_dir() const;

    // Runs cb after everything submitted before it is committed (tests, benchmarks).
    void flush(std::function<void()> cb);

private:
    // start-up
    void open_private();
    void check_integrity(db::connection& w);
    void stop_threads();
    void report_memory();  // sets the memory gauges and re-arms itself while running

    core_parts parts_;
    std::function<void(memory_figures&)> memory_extra_;
    std::mutex lifecycle_;
    db::file_lock db_lock_;  // <database>.lock: one process per database
    checkpointer checkpointer_;

    auth_cache auth_{parts_};
    device_data data_{parts_};
    session_book sessions_{parts_};
    rpc_tracker rpcs_{parts_};
    client_rpc_broker client_rpcs_{parts_};
    provisioner provisioner_{parts_};
    ota_catalog ota_{parts_};
    history_purge purge_{parts_};
    profile_check profile_check_;  // before admin_, which keeps a reference
    admin_service admin_{parts_, auth_, ota_, rpcs_, sessions_, purge_, profile_check_};
};

}  // namespace tern::core_embedded

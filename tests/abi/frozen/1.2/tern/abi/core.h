// The core connector of ABI 1.0: where what devices send goes, and where downlinks come
// from, as one interface (tern.core/1). The embedded core (SQLite) and the remote core (NATS)
// provide it. Since ABI 1.1 the same services come as small capability interfaces
// (core_capabilities.h: tern.core.auth/1, tern.core.events/1, ...), which new plugins use;
// this header keeps tern.core/1 for plugins built against 1.0 and holds the records and
// enums both share. tern_device_info is ThingsBoard's device model and carries its CoAP
// profile fields (transport type, CoAP device type, power-saving timers); the capabilities'
// tern_device_record does not. See host.h for the interface rules and thread tags.
//
// Asynchronous calls take a completion function and a ctx. The completion runs exactly once,
// on any thread -- possibly before the call returns (a cache hit) -- so callers must not
// hold locks across a call. LIFETIME: ctx must stay valid until the completion has run.
// Views passed to a completion are borrowed for that call only.
#ifndef TERN_ABI_CORE_H
#define TERN_ABI_CORE_H

#ifndef __cplusplus
#error "tern/abi/core.h declares C++ interfaces; include it from C++"
#endif

#include <stdint.h>

#include "status.h"
#include "types.h"

#define TERN_IID_CORE_V1 "tern.core/1"

extern "C" {

typedef int32_t tern_credential_kind;
enum {
    TERN_CREDENTIAL_ACCESS_TOKEN = 0,
    TERN_CREDENTIAL_X509 = 1,  // value: SHA3-256 hex of the certificate's Base64 DER text
    TERN_CREDENTIAL_PSK = 2,   // value: the PSK identity
    TERN_CREDENTIAL_MQTT_BASIC = 3,
    TERN_CREDENTIAL_LWM2M = 4
};

typedef int32_t tern_transport_type; // of a device profile
enum {
    TERN_TRANSPORT_DEFAULT = 0,
    TERN_TRANSPORT_COAP = 1,
    TERN_TRANSPORT_MQTT = 2,
    TERN_TRANSPORT_LWM2M = 3,
    TERN_TRANSPORT_SNMP = 4
};

typedef int32_t tern_coap_device_type;
enum {
    TERN_COAP_DEVICE_DEFAULT = 0,
    TERN_COAP_DEVICE_EFENTO = 1
};

typedef int32_t tern_payload_type;
enum {
    TERN_PAYLOAD_JSON = 0,
    TERN_PAYLOAD_PROTOBUF = 1
};

typedef int32_t tern_power_mode;
enum {
    TERN_POWER_NONE = 0, // no power-saving setting: like DRX
    TERN_POWER_DRX = 1,
    TERN_POWER_PSM = 2,
    TERN_POWER_EDRX = 3
};

// A device as the CoAP transport of ABI 1.0 needs it, with its profile's settings already
// resolved (device value, else profile value, else the core's defaults). Returned
// by core_v1::authenticate; core_auth_v1 returns the transport-neutral tern_device_record.
typedef struct tern_device_info {
    uint32_t struct_size;
    uint32_t reserved; // zero
    uint64_t device_id;
    tern_str device_name;
    uint64_t profile_id;      // 0: the device has no profile
    tern_str profile_name;
    uint64_t revision;        // changes whenever device, profile or credentials change
    tern_transport_type transport_type;
    tern_coap_device_type coap_device_type;
    tern_payload_type payload_type;
    tern_power_mode power_mode;
    int64_t psm_activity_timer_ms;
    int64_t edrx_cycle_ms;
    int64_t paging_transmission_window_ms;
    // The credential that matched, as stored: for X.509 the Base64 DER text of the
    // certificate (the caller compares it with the peer's); for PSK the key bytes.
    tern_bytes credential_value;
    // Profile settings for payload adaptors, e.g. protobuf schema texts under the keys
    // telemetry_schema, attributes_schema, rpc_request_schema, rpc_response_schema.
    const tern_kv* profile_options;
    uint32_t profile_option_count;
    uint32_t reserved2; // zero
} tern_device_info;

// One telemetry record: values at one timestamp.
typedef struct tern_ts_record {
    int64_t ts; // ms since the epoch
    const tern_kv* values;
    uint32_t count;
    uint32_t reserved; // zero
} tern_ts_record;

typedef int32_t tern_attribute_scope;
enum {
    TERN_SCOPE_CLIENT = 1,
    TERN_SCOPE_SHARED = 2,
    TERN_SCOPE_SERVER = 3
};

// Which keys of a scope to read: all of them, none, or the listed ones.
typedef int32_t tern_key_selection;
enum {
    TERN_KEYS_NONE = 0,
    TERN_KEYS_ALL = 1,
    TERN_KEYS_LISTED = 2
};

typedef struct tern_key_filter {
    tern_key_selection selection;
    uint32_t count;
    const tern_str* keys;
} tern_key_filter;

// flags of tern_rpc_request
enum {
    TERN_RPC_ONEWAY = 1u << 0,    // no reply expected
    TERN_RPC_PERSISTENT = 1u << 1 // kept and re-sent until delivered or expired
};

// A server-side RPC on its way to a device.
typedef struct tern_rpc_request {
    uint32_t struct_size;
    uint32_t flags;
    int64_t id;             // unique per device; what the device echoes in POST .../rpc/{id}
    tern_str method;
    tern_str params;        // JSON text; empty means null
    int64_t expiration_ms;  // ms since the epoch
} tern_rpc_request;

typedef int32_t tern_rpc_status;
enum {
    TERN_RPC_QUEUED = 0,
    TERN_RPC_SENT = 1,
    TERN_RPC_DELIVERED = 2,
    TERN_RPC_SUCCESSFUL = 3,
    TERN_RPC_TIMEOUT = 4,
    TERN_RPC_FAILED = 5,
    TERN_RPC_EXPIRED = 6
};

typedef int32_t tern_provision_status;
enum {
    TERN_PROVISION_UNKNOWN = 0,
    TERN_PROVISION_SUCCESS = 1,
    TERN_PROVISION_NOT_FOUND = 2,
    TERN_PROVISION_FAILURE = 3
};

// A device's provisioning request, already decoded from JSON or protobuf. Empty views
// are absent fields.
typedef struct tern_provision_request {
    uint32_t struct_size;
    tern_credential_kind credentials_type;
    tern_str device_name;
    tern_str provision_key;
    tern_str provision_secret;
    tern_str token;
    tern_str client_id;
    tern_str username;
    tern_str password;
    tern_str hash; // X.509: the certificate text (ThingsBoard's name for it)
    int32_t gateway; // 0 or 1
    uint32_t reserved; // zero
} tern_provision_request;

typedef struct tern_provision_result {
    uint32_t struct_size;
    tern_provision_status status;
    tern_credential_kind credentials_type;
    uint32_t reserved; // zero
    // ACCESS_TOKEN: the token; X509: the certificate text; MQTT_BASIC: the
    // credentials' fields below; LWM2M: empty.
    tern_str credentials_value;
    tern_str client_id;
    tern_str username;
    tern_str password;
} tern_provision_result;

typedef int32_t tern_ota_type;
enum {
    TERN_OTA_FIRMWARE = 0,
    TERN_OTA_SOFTWARE = 1
};

// An OTA package assigned to a device. Its bytes are in the local file path (the
// connector makes them available locally, caching remote ones); URL-only packages have
// an empty path and a url.
typedef struct tern_ota_package {
    uint32_t struct_size;
    tern_ota_type type;
    uint64_t package_id;
    tern_str title;
    tern_str version;
    tern_str tag;
    uint64_t size;
    tern_str checksum;
    tern_str checksum_algorithm; // MD5, SHA256, SHA384, SHA512, CRC32, MURMUR3_32, MURMUR3_128
    tern_str path;
    tern_str url;
} tern_ota_package;

typedef int32_t tern_session_event;
enum {
    TERN_SESSION_OPEN = 1,     // first observation of the device
    TERN_SESSION_CLOSE = 2,    // its last observation went
    TERN_SESSION_ACTIVITY = 3, // real traffic: an uplink, or an ACK of a notification
    TERN_SESSION_ASLEEP = 4    // (ABI 1.2) a power-saving device fell asleep: downlinks wait
                               // for its next ACTIVITY (tern/abi/power.h)
};

// flags of core_v1::subscribe and core_events_v1::subscribe_device
enum {
    TERN_SUBSCRIBE_ATTRIBUTES = 1u << 0, // shared attribute updates
    TERN_SUBSCRIBE_RPC = 1u << 1         // server-side RPC requests
};

// What became of a device (core_listener_v1::on_device_event)
typedef int32_t tern_device_event;
enum {
    TERN_DEVICE_UPDATED = 1,             // name, profile, profile settings changed: re-resolve
    TERN_DEVICE_CREDENTIALS_CHANGED = 2, // cached authentication is stale
    TERN_DEVICE_DELETED = 3
};

typedef void (*tern_core_done_fn)(void* ctx, tern_status status, tern_str message);
typedef void (*tern_core_device_fn)(void* ctx, tern_status status, const tern_device_info* device);
typedef void (*tern_core_attributes_fn)(void* ctx, tern_status status, const tern_kv* client,
                                        uint32_t client_count, const tern_kv* shared,
                                        uint32_t shared_count);
typedef void (*tern_core_text_fn)(void* ctx, tern_status status, tern_str text);
typedef void (*tern_core_provision_fn)(void* ctx, tern_status status,
                                       const tern_provision_result* result);
typedef void (*tern_core_ota_fn)(void* ctx, tern_status status, const tern_ota_package* package);

}  // extern "C"

namespace tern {

// Downlinks and device events, delivered by the core to the transport that subscribed
// (core_v1::set_listener, or core_events_v1::subscribe for one subscriber among many).
// [any-thread]: calls may come from the core's own threads (its writer, its admin server),
// so a listener must not wait inside a call for a completion of the same core (that would
// deadlock); post the work instead. Views are borrowed for the call.
struct core_listener_v1 {
    // Shared attributes of a subscribed device changed (updated values, deleted keys).
    virtual void on_attributes_updated(uint64_t device_id, const tern_kv* updated,
                                       uint32_t updated_count, const tern_str* deleted,
                                       uint32_t deleted_count) noexcept = 0;
    // A server-side RPC for a subscribed device.
    virtual void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept = 0;
    // TERN_DEVICE_UPDATED, _CREDENTIALS_CHANGED or _DELETED.
    virtual void on_device_event(uint64_t device_id, tern_device_event event) noexcept = 0;

protected:
    ~core_listener_v1() = default;
};

struct core_v1 {
    // Where downlinks go; null disconnects (waits until no listener call is running).
    // The one listener of tern.core/1: a core that also provides tern.core.events/1 makes it
    // one subscriber among those (its subscriptions are subscribe/unsubscribe below).
    // OWNERSHIP: the caller keeps listener. LIFETIME: listener until set_listener(nullptr)
    // returns. [start-stop]
    virtual tern_status set_listener(core_listener_v1* listener) noexcept = 0;

    // The device owning a credential. TERN_NOT_FOUND: no such credential (4.01);
    // TERN_UNAVAILABLE/TERN_TIMEOUT/TERN_INTERNAL: backend trouble (5.00). [any-thread]
    virtual void authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done,
                              void* ctx) noexcept = 0;

    // Stores telemetry; done runs once it is durable. [any-thread]
    virtual void post_telemetry(uint64_t device_id, const tern_ts_record* records,
                                uint32_t count, tern_core_done_fn done, void* ctx) noexcept = 0;
    // Stores attributes of a scope (devices write TERN_SCOPE_CLIENT); done once durable.
    // [any-thread]
    virtual void post_attributes(uint64_t device_id, tern_attribute_scope scope,
                                 const tern_kv* values, uint32_t count, tern_core_done_fn done,
                                 void* ctx) noexcept = 0;
    // Reads client and shared attributes. A null filter reads nothing of that scope.
    // [any-thread]
    virtual void get_attributes(uint64_t device_id, const tern_key_filter* client,
                                const tern_key_filter* shared, tern_core_attributes_fn done,
                                void* ctx) noexcept = 0;

    // Starts or stops the flow of downlinks for a device to the listener. [any-thread]
    virtual void subscribe(uint64_t device_id, uint32_t flags) noexcept = 0;
    virtual void unsubscribe(uint64_t device_id, uint32_t flags) noexcept = 0;
    // Session open/close and activity, for liveness and the list of live sessions.
    // transport: the transport instance name; address: text form of the peer. [any-thread]
    virtual void session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                               tern_str address) noexcept = 0;

    // Progress of a server-side RPC as the transport sees it (SENT, DELIVERED, TIMEOUT,
    // FAILED). [any-thread]
    virtual void rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                            tern_str error) noexcept = 0;
    // The device's reply to a server-side RPC (JSON text); done once stored. TERN_NOT_FOUND:
    // no such RPC; a late or repeated reply completes with TERN_OK. [any-thread]
    virtual void rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result,
                           tern_core_done_fn done, void* ctx) noexcept = 0;
    // Re-sends the device's pending persistent RPCs through on_rpc_request (a device woke
    // up, or re-subscribed). [any-thread]
    virtual void resend_pending_rpcs(uint64_t device_id) noexcept = 0;
    // A client-side RPC from the device; done gets the reply's JSON text, or TERN_TIMEOUT
    // after timeout_ms, TERN_NOT_FOUND when nobody will answer it, TERN_BUSY when the
    // core's queue of calls is full. [any-thread]
    virtual void client_rpc(uint64_t device_id, tern_str method, tern_str params,
                            int64_t timeout_ms, tern_core_text_fn done, void* ctx) noexcept = 0;

    // Claiming: duration_ms <= 0 means the core's default. TERN_PERMISSION:
    // claiming is not allowed for the device; TERN_EXISTS: already claimed; TERN_NOT_FOUND:
    // no such device. [any-thread]
    virtual void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
                       tern_core_done_fn done, void* ctx) noexcept = 0;
    // Provisioning. done gets the result (status SUCCESS, NOT_FOUND, FAILURE);
    // a non-OK tern_status means backend trouble. [any-thread]
    virtual void provision(const tern_provision_request* request, tern_core_provision_fn done,
                           void* ctx) noexcept = 0;
    // The OTA package assigned to the device (device level over profile level); TERN_NOT_FOUND
    // when none. [any-thread]
    virtual void ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                             void* ctx) noexcept = 0;

protected:
    ~core_v1() = default;
};

}  // namespace tern

#endif

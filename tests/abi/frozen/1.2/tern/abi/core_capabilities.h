// The core connector in capabilities (ABI 1.1): small interfaces, each with its own id, that
// one core object provides side by side, in the style of CLAP's extensions. A plugin asks
// for the ones it uses: the DTLS transport needs tern.core.auth/1 for PSK keys and nothing
// else; a power-policy plugin needs tern.core.events/1 and tern.core.sessions/1.
//
//   tern.core.auth/1          core_auth_v1          credential -> device record; PSK keys
//   tern.core.telemetry/1     core_telemetry_v1     store telemetry
//   tern.core.attributes/1    core_attributes_v1    store and read attributes
//   tern.core.rpc/1           core_rpc_v1           server-side RPC progress and replies,
//                                                   client-side calls
//   tern.core.provisioning/1  core_provisioning_v1  claiming and provisioning
//   tern.core.ota/1           core_ota_v1           the OTA package assigned to a device
//   tern.core.sessions/1      core_sessions_v1      session open/close/activity
//   tern.core.events/1        core_events_v1        downlinks and device events, for any
//                                                   number of subscribers, each by handle
//
// tern.core/1 (core.h) stays for plugins built against ABI 1.0; a core that provides these
// capabilities serves both, and a tern.core/1 listener is one subscriber among others.
//
// Nothing here knows a transport: the device record carries no CoAP or power-saving
// fields. Transport profile settings travel in the record's profile options under the keys
// below, which the transports that need them read (an absent key means the default).
//
// Records, enums and completion types shared with tern.core/1 (tern_ts_record,
// tern_key_filter, tern_rpc_request, tern_provision_request, tern_ota_package, ...) are in
// core.h. See host.h for the interface rules and thread tags.
//
// Asynchronous calls take a completion function and a ctx. The completion runs exactly once,
// on any thread -- possibly before the call returns (a cache hit, a refusal) -- so callers
// must not hold locks across a call. LIFETIME: ctx must stay valid until the completion has
// run. Views passed to a completion are borrowed for that call only.
#ifndef TERN_ABI_CORE_CAPABILITIES_H
#define TERN_ABI_CORE_CAPABILITIES_H

#ifndef __cplusplus
#error "tern/abi/core_capabilities.h declares C++ interfaces; include it from C++"
#endif

#include <stdint.h>

#include "core.h"
#include "status.h"
#include "types.h"

#define TERN_IID_CORE_AUTH_V1 "tern.core.auth/1"
#define TERN_IID_CORE_TELEMETRY_V1 "tern.core.telemetry/1"
#define TERN_IID_CORE_ATTRIBUTES_V1 "tern.core.attributes/1"
#define TERN_IID_CORE_RPC_V1 "tern.core.rpc/1"
#define TERN_IID_CORE_PROVISIONING_V1 "tern.core.provisioning/1"
#define TERN_IID_CORE_OTA_V1 "tern.core.ota/1"
#define TERN_IID_CORE_SESSIONS_V1 "tern.core.sessions/1"
#define TERN_IID_CORE_EVENTS_V1 "tern.core.events/1"

// ---- profile option keys a core fills in from a transport profile ---------------------------
//
// Text values use ThingsBoard's names; times are TERN_VALUE_INT milliseconds, present only
// when set (> 0: the device's value, else its profile's). A core puts these before the
// profile's own options; a reader takes the first occurrence of a key.

// TERN_VALUE_STR: "COAP", "MQTT", "LWM2M" or "SNMP"; absent: DEFAULT (any transport).
#define TERN_OPTION_TRANSPORT_TYPE "transport.type"
// TERN_VALUE_STR: "EFENTO"; absent: DEFAULT (ThingsBoard's own CoAP device API).
#define TERN_OPTION_COAP_DEVICE_TYPE "coap.device_type"
// TERN_VALUE_STR: "DRX", "PSM" or "E_DRX"; absent: no power-saving setting (like DRX).
#define TERN_OPTION_POWER_MODE "power.mode"
// TERN_VALUE_INT, ms: how long a PSM device stays reachable after it sent something.
#define TERN_OPTION_PSM_ACTIVITY_TIMER_MS "power.psm_activity_timer_ms"
// TERN_VALUE_INT, ms: the eDRX cycle.
#define TERN_OPTION_EDRX_CYCLE_MS "power.edrx_cycle_ms"
// TERN_VALUE_INT, ms: the eDRX paging transmission window.
#define TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS "power.paging_transmission_window_ms"
// TERN_VALUE_INT (ABI 1.2): the profile's own revision, which changes only when the profile
// changes (the record's revision also moves with the device and its credentials). Payload
// adaptors key what they compile from the profile's settings by profile_id and this.
#define TERN_OPTION_PROFILE_REVISION "profile.revision"

extern "C" {

// A device as any transport needs it: who it is, which profile resolves its settings, and
// the credential that matched. Growable (struct_size): read it with min(struct_size, sizeof).
typedef struct tern_device_record {
    uint32_t struct_size;
    tern_payload_type payload_type; // which payload adaptor decodes its messages
    uint64_t device_id;
    tern_str device_name;
    uint64_t profile_id;      // 0: the device has no profile
    tern_str profile_name;
    uint64_t revision;        // changes whenever device, profile or credentials change
    // The credential that matched, as stored: for X.509 the Base64 DER text of the
    // certificate (the caller compares it with what the peer presented); for PSK the key
    // bytes; empty for an access token (the token itself is what matched).
    tern_bytes credential_value;
    // The profile's settings: the TERN_OPTION_* keys above first, then the profile's own
    // (e.g. the protobuf schema texts under telemetry_schema, attributes_schema,
    // rpc_request_schema, rpc_response_schema, and the integer limits transports read).
    const tern_kv* profile_options;
    uint32_t profile_option_count;
    uint32_t reserved; // zero
} tern_device_record;

typedef void (*tern_core_record_fn)(void* ctx, tern_status status,
                                    const tern_device_record* device);
// The PSK key of an identity and the device owning it; key is empty unless status is TERN_OK.
typedef void (*tern_core_psk_key_fn)(void* ctx, tern_status status, uint64_t device_id,
                                     tern_bytes key);

}  // extern "C"

namespace tern {

// tern.core.auth/1
struct core_auth_v1 {
    // The device owning a credential. TERN_NOT_FOUND: no such credential (a device gets
    // 4.01); TERN_UNAVAILABLE/TERN_TIMEOUT/TERN_INTERNAL: backend trouble (5.00). The record
    // is borrowed for the completion's call. [any-thread]
    virtual void authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done,
                              void* ctx) noexcept = 0;
    // The key of a PSK identity, for a DTLS handshake. Same statuses as authenticate; the
    // key is borrowed for the completion's call. [any-thread]
    virtual void psk_key(tern_str identity, tern_core_psk_key_fn done, void* ctx) noexcept = 0;

protected:
    ~core_auth_v1() = default;
};

// tern.core.telemetry/1
struct core_telemetry_v1 {
    // Stores telemetry; done runs once it is durable. TERN_INVALID_ARGUMENT: a key or value
    // the core refuses (message says which); TERN_BUSY: the write queue is full. [any-thread]
    virtual void post_telemetry(uint64_t device_id, const tern_ts_record* records,
                                uint32_t count, tern_core_done_fn done, void* ctx) noexcept = 0;

protected:
    ~core_telemetry_v1() = default;
};

// tern.core.attributes/1
struct core_attributes_v1 {
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

protected:
    ~core_attributes_v1() = default;
};

// tern.core.rpc/1
struct core_rpc_v1 {
    // Progress of a server-side RPC as the transport sees it (SENT, DELIVERED, TIMEOUT,
    // FAILED). [any-thread]
    virtual void rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                            tern_str error) noexcept = 0;
    // The device's reply to a server-side RPC (JSON text); done once stored. TERN_NOT_FOUND:
    // no such RPC; a late or repeated reply completes with TERN_OK. [any-thread]
    virtual void rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result,
                           tern_core_done_fn done, void* ctx) noexcept = 0;
    // Re-sends the device's pending persistent RPCs to the subscribers of its RPCs (a device
    // woke up, or re-subscribed). [any-thread]
    virtual void resend_pending_rpcs(uint64_t device_id) noexcept = 0;
    // A client-side RPC from the device; done gets the reply's JSON text, or TERN_TIMEOUT
    // after timeout_ms, TERN_NOT_FOUND when nobody will answer it, TERN_BUSY when the
    // core's queue of calls is full. [any-thread]
    virtual void client_rpc(uint64_t device_id, tern_str method, tern_str params,
                            int64_t timeout_ms, tern_core_text_fn done, void* ctx) noexcept = 0;

protected:
    ~core_rpc_v1() = default;
};

// tern.core.provisioning/1
struct core_provisioning_v1 {
    // Claiming: duration_ms <= 0 means the core's default. TERN_PERMISSION: claiming is not
    // allowed for the device; TERN_EXISTS: already claimed; TERN_NOT_FOUND: no such device.
    // [any-thread]
    virtual void claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
                       tern_core_done_fn done, void* ctx) noexcept = 0;
    // Provisioning: done gets the result (status SUCCESS, NOT_FOUND, FAILURE); a non-OK
    // tern_status means backend trouble. [any-thread]
    virtual void provision(const tern_provision_request* request, tern_core_provision_fn done,
                           void* ctx) noexcept = 0;

protected:
    ~core_provisioning_v1() = default;
};

// tern.core.ota/1
struct core_ota_v1 {
    // The OTA package assigned to the device (device level over profile level);
    // TERN_NOT_FOUND when none. [any-thread]
    virtual void ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                             void* ctx) noexcept = 0;

protected:
    ~core_ota_v1() = default;
};

// tern.core.sessions/1
struct core_sessions_v1 {
    // Session open/close and activity, for liveness and the list of live sessions.
    // transport: the transport instance name; address: text form of the peer. [any-thread]
    virtual void session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                               tern_str address) noexcept = 0;

protected:
    ~core_sessions_v1() = default;
};

// tern.core.events/1: downlinks (shared attribute updates, server-side RPCs) and device
// events, for any number of subscribers. Each subscriber holds its own handle and its own
// per-device subscriptions: one subscriber never takes downlinks away from another. A
// downlink for a device reaches every subscriber that subscribed that device for it (with
// TERN_SUBSCRIBE_ATTRIBUTES or TERN_SUBSCRIBE_RPC); device events reach every subscriber.
// The listener's calls follow core_listener_v1's rules (core.h): from any thread, never
// waiting inside a call for a completion of the same core.
struct core_events_v1 {
    // Adds a subscriber and stores its handle (never 0) in *out_handle. TERN_BUSY: the core's
    // bound on subscribers is reached. OWNERSHIP: the caller keeps listener.
    // LIFETIME: listener until close(handle) returns. [any-thread]
    virtual tern_status subscribe(core_listener_v1* listener, uint64_t* out_handle) noexcept = 0;
    // Starts the flow of downlinks of a device (flags: TERN_SUBSCRIBE_*) to the handle's
    // listener. TERN_NOT_FOUND: no such handle; TERN_UNAVAILABLE: the core is not running.
    // [any-thread]
    virtual tern_status subscribe_device(uint64_t handle, uint64_t device_id,
                                         uint32_t flags) noexcept = 0;
    // Stops it for these flags. [any-thread]
    virtual void unsubscribe_device(uint64_t handle, uint64_t device_id, uint32_t flags) noexcept = 0;
    // Removes the subscriber and its device subscriptions. When it returns, no call to its
    // listener runs or will run. [any-thread], but never from inside a call to that
    // listener (it would wait for itself).
    virtual void close(uint64_t handle) noexcept = 0;

protected:
    ~core_events_v1() = default;
};

}  // namespace tern

#endif

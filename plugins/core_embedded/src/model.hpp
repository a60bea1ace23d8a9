// The embedded core's data model: owned values and the rows the store keeps. Plain C++;
// ABI views are made from these only at the core_v1 boundary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/core.h"

namespace tern::core_embedded {

// An owned tern_value. NULL values never reach the store (devices' nulls are dropped).
struct value {
    tern_value_type type = TERN_VALUE_NULL;
    int64_t i = 0;  // BOOL (0/1) and INT
    double d = 0;   // DOUBLE
    std::string s;  // STR, JSON (compact text), BYTES

    static value of_bool(bool b) { value v; v.type = TERN_VALUE_BOOL; v.i = b ? 1 : 0; return v; }
    static value of_int(int64_t x) { value v; v.type = TERN_VALUE_INT; v.i = x; return v; }
    static value of_double(double x) { value v; v.type = TERN_VALUE_DOUBLE; v.d = x; return v; }
    static value of_str(std::string_view x) {
        value v; v.type = TERN_VALUE_STR; v.s = x; return v;
    }
    static value of_json(std::string_view x) {
        value v; v.type = TERN_VALUE_JSON; v.s = x; return v;
    }
    static value from(const tern_value& t);
    // A view borrowing this value's text.
    tern_value view() const noexcept;
    bool operator==(const value& o) const {
        return type == o.type && i == o.i && d == o.d && s == o.s;
    }
};

struct kv {
    std::string key;
    value v;
};

struct attribute {
    std::string key;
    value v;
    int64_t last_update_ts = 0;
};

struct ts_point {
    int64_t ts = 0;
    value v;
};

struct ts_latest {
    std::string key;
    int64_t ts = 0;
    value v;
};

struct power_settings {
    tern_power_mode mode = TERN_POWER_NONE;
    int64_t psm_activity_timer = 0;
    int64_t edrx_cycle = 0;
    int64_t paging_transmission_window = 0;
};

// What the core knows of a device's pending server-side RPCs (tracked, not final).
struct rpc_pending_summary {
    uint32_t queued = 0, sent = 0, delivered = 0;  // DELIVERED: two-way, waiting for the reply
    uint32_t persistent = 0;                       // of them, persistent ones
    int64_t oldest_expiration_ts = 0;              // the earliest expiration among them; 0: none
};

// A device's traffic as the transports reported it (session events) and what waits for it in
// the core: filled only when one device is read (GET /api/devices/{name}, `tern device show`).
struct device_power_status {
    // Since when the transport reports the device asleep (TERN_SESSION_ASLEEP); 0: not asleep.
    int64_t asleep_since_ts = 0;
    // The last uplink or acknowledged notification (ACTIVITY), in memory or stored as the
    // server attribute lastActivityTime; 0: none known.
    int64_t last_activity_ts = 0;
    // Whether the device had traffic since the core started (before that, its state is unknown:
    // the transports keep theirs in memory too).
    bool seen_since_start = false;
    rpc_pending_summary rpcs;
};

enum class provision_strategy : int32_t { disabled = 0, allow_create = 1, pre_provisioned = 2 };

// The protobuf schema texts of a profile, in the order of profile_option_keys.
inline constexpr const char* profile_option_keys[4] = {
    "telemetry_schema", "attributes_schema", "rpc_request_schema", "rpc_response_schema"};

// An integer setting a transport reads from tern_device_info::profile_options beside the
// schema texts (the device API's rate limits: device_message_rate, ...).
struct profile_option {
    std::string key;
    int64_t value = 0;
    bool operator==(const profile_option&) const = default;
};
inline constexpr std::size_t max_profile_options = 32;
inline constexpr std::size_t max_profile_option_key = 64;

struct profile {
    uint64_t id = 0;
    std::string name;
    tern_transport_type transport_type = TERN_TRANSPORT_DEFAULT;
    tern_coap_device_type coap_device_type = TERN_COAP_DEVICE_DEFAULT;
    tern_payload_type payload_type = TERN_PAYLOAD_JSON;
    provision_strategy strategy = provision_strategy::disabled;
    std::string provision_key;
    std::string provision_secret;
    power_settings power;
    std::string schemas[4];
    std::vector<profile_option> options;
    uint64_t fw_package_id = 0;
    uint64_t sw_package_id = 0;
    uint64_t revision = 0;
    int64_t created_ts = 0;
    int64_t device_count = 0;  // filled by reads that ask for it
};

// What to create or change in a profile; unset fields keep their value (or the default).
struct profile_spec {
    std::string name;
    std::optional<std::string> new_name;
    std::optional<tern_transport_type> transport_type;
    std::optional<tern_coap_device_type> coap_device_type;
    std::optional<tern_payload_type> payload_type;
    std::optional<provision_strategy> strategy;
    std::optional<std::string> provision_key;
    std::optional<std::string> provision_secret;
    std::optional<tern_power_mode> power_mode;
    std::optional<int64_t> psm_activity_timer;
    std::optional<int64_t> edrx_cycle;
    std::optional<int64_t> paging_transmission_window;
    std::optional<std::string> schemas[4];
    std::optional<std::vector<profile_option>> options;  // replaces them all
};

struct credential {
    tern_credential_kind kind = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string id;     // token, SHA3-256 hex of the certificate, PSK identity, MQTT id hash
    std::string value;  // X509: Base64 certificate text; PSK: key bytes; MQTT: JSON
};

// Credentials as an operator gives them.
struct credential_input {
    tern_credential_kind kind = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string token;          // ACCESS_TOKEN; empty: generate one
    std::string certificate;    // X509: PEM or Base64 text
    std::string psk_identity;   // PSK
    std::string psk_key;        // PSK key bytes
};

struct claim_info {
    bool registered = false;
    int64_t expires_ts = 0;
    int64_t registered_ts = 0;
    std::string claimed_by;  // empty: not claimed
    int64_t claimed_ts = 0;
};

struct device {
    uint64_t id = 0;
    std::string name;
    uint64_t profile_id = 0;
    std::string profile_name;
    std::string label;
    power_settings power;          // the device's own (0 / NONE: not set)
    power_settings profile_power;  // its profile's: a field the device does not set comes from here
    std::string additional_info;  // JSON object text, or empty
    uint64_t fw_package_id = 0;
    uint64_t sw_package_id = 0;
    uint64_t revision = 0;
    int64_t created_ts = 0;
    std::optional<credential> cred;
    claim_info claim;
    std::optional<device_power_status> power_status;
};

struct device_spec {
    std::string name;
    std::optional<std::string> new_name;
    std::optional<std::string> profile;  // name; create: "default" when unset
    std::optional<std::string> label;
    std::optional<tern_power_mode> power_mode;
    std::optional<int64_t> psm_activity_timer;
    std::optional<int64_t> edrx_cycle;
    std::optional<int64_t> paging_transmission_window;
    std::optional<credential_input> cred;
};

struct rpc_record {
    uint64_t device_id = 0;
    std::string device_name;
    int64_t id = 0;
    std::string method;
    std::string params;  // JSON text; empty: null
    uint32_t flags = 0;
    tern_rpc_status status = TERN_RPC_QUEUED;
    int64_t created_ts = 0;
    int64_t updated_ts = 0;
    int64_t expiration_ts = 0;
    std::string result;  // JSON text
    std::string error;
    int32_t retries = 0;
};

struct ota_package_row {
    uint64_t id = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
    std::string title;
    std::string version;
    std::string tag;
    uint64_t size = 0;
    std::string checksum;
    std::string checksum_algorithm;
    std::string url;
    std::string file_name;
    std::string content_type;
    int64_t created_ts = 0;
    std::string path;  // local file holding the bytes
};

struct session_info {
    uint64_t device_id = 0;
    std::string device_name;
    std::string transport;
    std::string address;
    int64_t opened_ts = 0;
    int64_t last_activity_ts = 0;
};

struct client_rpc_entry {
    uint64_t id = 0;
    uint64_t device_id = 0;
    std::string device_name;
    std::string method;
    std::string params;
    int64_t received_ts = 0;
    int64_t deadline_ts = 0;
};

const char* rpc_status_name(tern_rpc_status s) noexcept;
const char* credential_kind_name(tern_credential_kind k) noexcept;
const char* power_mode_name(tern_power_mode m) noexcept;
std::optional<tern_power_mode> power_mode_from(std::string_view s) noexcept;
const char* strategy_name(provision_strategy s) noexcept;
std::optional<provision_strategy> strategy_from(std::string_view s) noexcept;
const char* transport_name(tern_transport_type t) noexcept;
std::optional<tern_transport_type> transport_from(std::string_view s) noexcept;
const char* payload_name(tern_payload_type t) noexcept;
std::optional<tern_payload_type> payload_from(std::string_view s) noexcept;
const char* coap_device_type_name(tern_coap_device_type t) noexcept;
std::optional<tern_coap_device_type> coap_device_type_from(std::string_view s) noexcept;
const char* ota_type_name(tern_ota_type t) noexcept;  // "firmware" / "software"
std::optional<tern_ota_type> ota_type_from(std::string_view s) noexcept;
const char* ota_prefix(tern_ota_type t) noexcept;  // "fw" / "sw"

// Characters (code points) of a key: what max_key_length counts (ThingsBoard keeps keys in
// varchar(255) columns, which count characters). A byte that is not UTF-8 counts one.
size_t key_characters(std::string_view key) noexcept;
// Whether a device's key is longer than max_chars characters (0: no limit); then `message`
// says so, naming the key (cut to 32 bytes) and what it is ("telemetry key").
bool key_too_long(std::string_view key, int64_t max_chars, const char* what, std::string& message);

// Milliseconds since the epoch, and a monotonic clock in ms.
int64_t now_ms() noexcept;
int64_t steady_ms() noexcept;

}  // namespace tern::core_embedded

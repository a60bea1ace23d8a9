// tern::core_wire: the codec between the core capability calls (tern/abi/core_capabilities.h)
// and the bytes that carry them over NATS (proto/core_wire_v1.proto, package tern.wire.v1).
// No sockets, no threads: core_nats (transport node) and nats_bridge (core node) share it.
//
// Encoding: encoder::encode(view, out) writes into a caller-owned std::string. The encoder keeps
// one protobuf message object per kind and reuses it: once the strings and repeated fields have
// grown to the sizes seen, and `out` has the capacity, an encode allocates nothing.
//
// Decoding: decoder::decode(bytes, view) parses into the decoder's own message object of that
// kind (reused the same way) and fills the view. The view's pointers (texts, key/value arrays,
// records) point into the decoder: they stay valid until the next decode of the same kind on
// that decoder, or its destruction. Bad bytes, or a message past a bound, give an error result
// and leave the view zeroed; nothing throws.
//
// The codec checks structure and bounds only; the meaning of the numbers (credential kinds,
// scopes, statuses) is checked by whoever makes the call, as for a local caller.
//
// Neither class is thread-safe: one per thread (or per connection callback) that uses it.
#ifndef TERN_CORE_WIRE_CODEC_HPP
#define TERN_CORE_WIRE_CODEC_HPP

#include <tern/abi/core_capabilities.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tern::core_wire {

// ---- bounds (documented in README.md) -------------------------------------------------------
inline constexpr std::size_t max_message_bytes = 4u << 20;  // one encoded message
inline constexpr std::uint32_t max_records = 4096;          // tern_ts_record per telemetry call
inline constexpr std::uint32_t max_key_values = 65536;      // tern_kv in one message, in total
inline constexpr std::uint32_t max_keys = 4096;             // keys of one filter, deleted keys
inline constexpr std::uint32_t max_ota_chunk_bytes = 512u << 10;  // OTA bytes in one chunk

enum class wire_error : std::int32_t {
    ok = 0,
    too_large = 1,   // the bytes, or the encoding, exceed max_message_bytes
    malformed = 2,   // not a valid message of that kind
    too_many = 3,    // a count past max_records / max_key_values / max_keys / max_ota_chunk_bytes
    bad_value = 4,   // a tern_value of an unknown type (encode), or a null view with a size
};

struct result {
    wire_error error = wire_error::ok;
    const char* detail = "";  // a static text saying what was wrong
    explicit operator bool() const noexcept { return error == wire_error::ok; }
};

// ---- operations (views; field by field the arguments of the ABI call) -----------------------
struct authenticate_request {
    tern_credential_kind kind = TERN_CREDENTIAL_ACCESS_TOKEN;
    tern_str value{};
};
struct authenticate_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    const tern_device_record* device = nullptr;  // null: no record (any non-OK status)
};

struct psk_key_request {
    tern_str identity{};
};
struct psk_key_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    std::uint64_t device_id = 0;
    tern_bytes key{};
};

struct post_telemetry_request {
    std::uint64_t device_id = 0;
    const tern_ts_record* records = nullptr;
    std::uint32_t count = 0;
};
struct post_attributes_request {
    std::uint64_t device_id = 0;
    tern_attribute_scope scope = TERN_SCOPE_CLIENT;
    const tern_kv* values = nullptr;
    std::uint32_t count = 0;
};
struct get_attributes_request {
    std::uint64_t device_id = 0;
    const tern_key_filter* client = nullptr;  // null: read nothing of that scope
    const tern_key_filter* shared = nullptr;
};
struct get_attributes_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    const tern_kv* client = nullptr;
    std::uint32_t client_count = 0;
    const tern_kv* shared = nullptr;
    std::uint32_t shared_count = 0;
};

struct rpc_status_request {
    std::uint64_t device_id = 0;
    std::int64_t rpc_id = 0;
    tern_rpc_status status = TERN_RPC_QUEUED;
    tern_str error{};
};
struct rpc_reply_request {
    std::uint64_t device_id = 0;
    std::int64_t rpc_id = 0;
    tern_str result{};
};
struct resend_pending_rpcs_request {
    std::uint64_t device_id = 0;
};
struct client_rpc_request {
    std::uint64_t device_id = 0;
    tern_str method{};
    tern_str params{};
    std::int64_t timeout_ms = 0;
};
struct client_rpc_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    tern_str text{};
};
struct session_event_request {
    std::uint64_t device_id = 0;
    tern_session_event event = TERN_SESSION_OPEN;
    tern_str transport{};
    tern_str address{};
};

// The reply of an operation that returns only a status (post_telemetry, post_attributes,
// rpc_status, rpc_reply, resend_pending_rpcs, session_event, claim, subscribe_device). Each has
// its own message type on the wire; `op` says which one is meant.
enum class status_op : std::int32_t {
    post_telemetry,
    post_attributes,
    rpc_status,
    rpc_reply,
    resend_pending_rpcs,
    session_event,
    claim,
    subscribe_device,
};
struct status_reply {
    status_op op = status_op::post_telemetry;
    tern_status status = TERN_OK;
    tern_str message{};
};

// core node -> transport node (core_listener_v1's calls)
struct device_event {
    std::uint64_t device_id = 0;
    tern_device_event event = TERN_DEVICE_UPDATED;
};
struct attributes_updated_event {
    std::uint64_t device_id = 0;
    const tern_kv* updated = nullptr;
    std::uint32_t updated_count = 0;
    const tern_str* deleted = nullptr;
    std::uint32_t deleted_count = 0;
};
struct rpc_request_event {
    std::uint64_t device_id = 0;
    const tern_rpc_request* rpc = nullptr;
};

struct claim_request {
    std::uint64_t device_id = 0;
    tern_str secret_key{};
    std::int64_t duration_ms = 0;
};
struct provision_request {
    const tern_provision_request* request = nullptr;
};
struct provision_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    const tern_provision_result* result = nullptr;  // null: no result (any non-OK status)
};
struct ota_package_request {
    std::uint64_t device_id = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
};
struct ota_package_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    const tern_ota_package* package = nullptr;  // null: no package (any non-OK status)
};
// The bytes [offset, offset + length) of the package file the core node holds for the device
// (its reply to ota_package named the path); length <= max_ota_chunk_bytes.
struct ota_chunk_request {
    std::uint64_t device_id = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
    std::uint64_t package_id = 0;
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
};
struct ota_chunk_reply {
    tern_status status = TERN_OK;
    tern_str message{};
    std::uint64_t total_size = 0;  // the whole file
    tern_bytes data{};             // <= max_ota_chunk_bytes; shorter at the end of the file
};

// A transport node's union of TERN_SUBSCRIBE_* flags for a device (0: no longer wanted);
// the reply is a status_reply with op subscribe_device.
struct subscribe_device_request {
    std::uint64_t device_id = 0;
    std::uint32_t flags = 0;
    tern_str node_id{};
};

class encoder {
public:
    encoder();
    ~encoder();
    encoder(const encoder&) = delete;
    encoder& operator=(const encoder&) = delete;

    result encode(const authenticate_request& in, std::string& out);
    // in.device may be null (no record); struct_size is honoured (growable record).
    result encode(const authenticate_reply& in, std::string& out);
    result encode(const psk_key_request& in, std::string& out);
    result encode(const psk_key_reply& in, std::string& out);
    result encode(const post_telemetry_request& in, std::string& out);
    result encode(const post_attributes_request& in, std::string& out);
    result encode(const get_attributes_request& in, std::string& out);
    result encode(const get_attributes_reply& in, std::string& out);
    result encode(const rpc_status_request& in, std::string& out);
    result encode(const rpc_reply_request& in, std::string& out);
    result encode(const resend_pending_rpcs_request& in, std::string& out);
    result encode(const client_rpc_request& in, std::string& out);
    result encode(const client_rpc_reply& in, std::string& out);
    result encode(const session_event_request& in, std::string& out);
    result encode(const status_reply& in, std::string& out);
    result encode(const device_event& in, std::string& out);
    result encode(const attributes_updated_event& in, std::string& out);
    result encode(const rpc_request_event& in, std::string& out);
    result encode(const claim_request& in, std::string& out);
    result encode(const provision_request& in, std::string& out);
    result encode(const provision_reply& in, std::string& out);
    result encode(const ota_package_request& in, std::string& out);
    result encode(const ota_package_reply& in, std::string& out);
    // A length or data past max_ota_chunk_bytes is refused (too_many).
    result encode(const ota_chunk_request& in, std::string& out);
    result encode(const ota_chunk_reply& in, std::string& out);
    result encode(const subscribe_device_request& in, std::string& out);

    struct state;

private:
    std::unique_ptr<state> state_;
};

class decoder {
public:
    decoder();
    ~decoder();
    decoder(const decoder&) = delete;
    decoder& operator=(const decoder&) = delete;

    result decode(tern_bytes in, authenticate_request& out);
    result decode(tern_bytes in, authenticate_reply& out);
    result decode(tern_bytes in, psk_key_request& out);
    result decode(tern_bytes in, psk_key_reply& out);
    result decode(tern_bytes in, post_telemetry_request& out);
    result decode(tern_bytes in, post_attributes_request& out);
    result decode(tern_bytes in, get_attributes_request& out);
    result decode(tern_bytes in, get_attributes_reply& out);
    result decode(tern_bytes in, rpc_status_request& out);
    result decode(tern_bytes in, rpc_reply_request& out);
    result decode(tern_bytes in, resend_pending_rpcs_request& out);
    result decode(tern_bytes in, client_rpc_request& out);
    result decode(tern_bytes in, client_rpc_reply& out);
    result decode(tern_bytes in, session_event_request& out);
    // out.op selects the message type to parse; the rest is filled.
    result decode(tern_bytes in, status_reply& out);
    result decode(tern_bytes in, device_event& out);
    result decode(tern_bytes in, attributes_updated_event& out);
    result decode(tern_bytes in, rpc_request_event& out);
    result decode(tern_bytes in, claim_request& out);
    result decode(tern_bytes in, provision_request& out);
    result decode(tern_bytes in, provision_reply& out);
    result decode(tern_bytes in, ota_package_request& out);
    result decode(tern_bytes in, ota_package_reply& out);
    result decode(tern_bytes in, ota_chunk_request& out);
    result decode(tern_bytes in, ota_chunk_reply& out);
    result decode(tern_bytes in, subscribe_device_request& out);

    struct state;

private:
    std::unique_ptr<state> state_;
};

// A short name of an error, for log lines and metrics labels.
const char* to_string(wire_error error) noexcept;

}  // namespace tern::core_wire

#endif

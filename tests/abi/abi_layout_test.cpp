// The frozen layout of ABI 1.0 and of what 1.1 and 1.2 added, on x86_64 Linux (LP64,
// Itanium C++ ABI), which is what every plugin binary in the field was compiled against.
// Each number here is a promise: if one of these asserts fires, a header change has
// broken every plugin built before it. Do not "fix" the number -- undo the change, and
// grow the record at its end (with struct_size) or add a new interface instead
// (docs/abi.md, "What may change").
//
// Checked: size and alignment of every record, offset and size of every field (and that
// no record has hidden padding: every byte is a named field or a reserved one), the value
// of every constant, that every interface is one vtable pointer and nothing else, and the
// vtable slot of every interface method, called through the slot.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <string_view>
#include <type_traits>

#include <catch2/catch.hpp>

#include "tern/abi/cli.h"
#include "tern/abi/coap.h"
#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"
#include "tern/abi/payload.h"
#include "tern/abi/plugin.h"
#include "tern/abi/power.h"
#include "tern/abi/status.h"
#include "tern/abi/transport.h"
#include "tern/abi/types.h"
#include "tern/abi/version.h"

#if !defined(__x86_64__) || !defined(__LP64__)
#error "these numbers are the x86_64 LP64 layout; add a table for another target"
#endif

// RECORD(type, sizeof, alignof) followed by FIELD(type, member, offsetof, sizeof) for
// each member, in declaration order.
#define TERN_ABI_1_0_LAYOUT(RECORD, FIELD) \
    RECORD(tern_str, 16, 8) \
    FIELD(tern_str, data, 0, 8) \
    FIELD(tern_str, size, 8, 8) \
    RECORD(tern_bytes, 16, 8) \
    FIELD(tern_bytes, data, 0, 8) \
    FIELD(tern_bytes, size, 8, 8) \
    RECORD(tern_value, 24, 8) \
    FIELD(tern_value, type, 0, 4) \
    FIELD(tern_value, reserved, 4, 4) \
    FIELD(tern_value, u, 8, 16) \
    RECORD(tern_kv, 40, 8) \
    FIELD(tern_kv, key, 0, 16) \
    FIELD(tern_kv, value, 16, 24) \
    RECORD(tern_endpoint, 24, 4) \
    FIELD(tern_endpoint, family, 0, 2) \
    FIELD(tern_endpoint, port, 2, 2) \
    FIELD(tern_endpoint, scope_id, 4, 4) \
    FIELD(tern_endpoint, addr, 8, 16) \
    RECORD(tern_peer, 32, 8) \
    FIELD(tern_peer, endpoint, 0, 24) \
    FIELD(tern_peer, session, 24, 8) \
    RECORD(tern_error, 260, 4) \
    FIELD(tern_error, msg, 0, 256) \
    FIELD(tern_error, len, 256, 4) \
    RECORD(tern_config_key, 88, 8) \
    FIELD(tern_config_key, struct_size, 0, 4) \
    FIELD(tern_config_key, type, 4, 4) \
    FIELD(tern_config_key, name, 8, 8) \
    FIELD(tern_config_key, default_value, 16, 24) \
    FIELD(tern_config_key, flags, 40, 4) \
    FIELD(tern_config_key, reserved, 44, 4) \
    FIELD(tern_config_key, min, 48, 8) \
    FIELD(tern_config_key, max, 56, 8) \
    FIELD(tern_config_key, choices, 64, 8) \
    FIELD(tern_config_key, unit, 72, 8) \
    FIELD(tern_config_key, doc, 80, 8) \
    RECORD(tern_requirement, 16, 8) \
    FIELD(tern_requirement, iid, 0, 8) \
    FIELD(tern_requirement, flags, 8, 4) \
    FIELD(tern_requirement, reserved, 12, 4) \
    RECORD(tern_create_args, 16, 8) \
    FIELD(tern_create_args, struct_size, 0, 4) \
    FIELD(tern_create_args, reserved, 4, 4) \
    FIELD(tern_create_args, host, 8, 8) \
    RECORD(tern_plugin_descriptor, 104, 8) \
    FIELD(tern_plugin_descriptor, magic, 0, 4) \
    FIELD(tern_plugin_descriptor, header_size, 4, 4) \
    FIELD(tern_plugin_descriptor, abi_major, 8, 4) \
    FIELD(tern_plugin_descriptor, abi_minor, 12, 4) \
    FIELD(tern_plugin_descriptor, name, 16, 8) \
    FIELD(tern_plugin_descriptor, version, 24, 8) \
    FIELD(tern_plugin_descriptor, vendor, 32, 8) \
    FIELD(tern_plugin_descriptor, description, 40, 8) \
    FIELD(tern_plugin_descriptor, build, 48, 8) \
    FIELD(tern_plugin_descriptor, provides, 56, 8) \
    FIELD(tern_plugin_descriptor, provides_count, 64, 4) \
    FIELD(tern_plugin_descriptor, requirement_count, 68, 4) \
    FIELD(tern_plugin_descriptor, requirements, 72, 8) \
    FIELD(tern_plugin_descriptor, config, 80, 8) \
    FIELD(tern_plugin_descriptor, config_count, 88, 4) \
    FIELD(tern_plugin_descriptor, reserved, 92, 4) \
    FIELD(tern_plugin_descriptor, create, 96, 8) \
    RECORD(tern_metric_desc, 48, 8) \
    FIELD(tern_metric_desc, struct_size, 0, 4) \
    FIELD(tern_metric_desc, kind, 4, 4) \
    FIELD(tern_metric_desc, name, 8, 8) \
    FIELD(tern_metric_desc, help, 16, 8) \
    FIELD(tern_metric_desc, labels, 24, 8) \
    FIELD(tern_metric_desc, buckets, 32, 8) \
    FIELD(tern_metric_desc, bucket_count, 40, 4) \
    FIELD(tern_metric_desc, reserved, 44, 4) \
    RECORD(tern_datagram, 48, 8) \
    FIELD(tern_datagram, peer, 0, 32) \
    FIELD(tern_datagram, data, 32, 16) \
    RECORD(tern_peer_auth, 40, 8) \
    FIELD(tern_peer_auth, struct_size, 0, 4) \
    FIELD(tern_peer_auth, kind, 4, 4) \
    FIELD(tern_peer_auth, chain, 8, 8) \
    FIELD(tern_peer_auth, chain_count, 16, 4) \
    FIELD(tern_peer_auth, reserved, 20, 4) \
    FIELD(tern_peer_auth, psk_identity, 24, 16) \
    RECORD(tern_coap_option, 24, 8) \
    FIELD(tern_coap_option, number, 0, 2) \
    FIELD(tern_coap_option, reserved0, 2, 2) \
    FIELD(tern_coap_option, reserved1, 4, 4) \
    FIELD(tern_coap_option, value, 8, 16) \
    RECORD(tern_coap_resource, 32, 8) \
    FIELD(tern_coap_resource, struct_size, 0, 4) \
    FIELD(tern_coap_resource, methods, 4, 4) \
    FIELD(tern_coap_resource, pattern, 8, 8) \
    FIELD(tern_coap_resource, link_attrs, 16, 8) \
    FIELD(tern_coap_resource, flags, 24, 4) \
    FIELD(tern_coap_resource, reserved, 28, 4) \
    RECORD(tern_coap_request, 160, 8) \
    FIELD(tern_coap_request, struct_size, 0, 4) \
    FIELD(tern_coap_request, type, 4, 1) \
    FIELD(tern_coap_request, code, 5, 1) \
    FIELD(tern_coap_request, message_id, 6, 2) \
    FIELD(tern_coap_request, exchange, 8, 8) \
    FIELD(tern_coap_request, shard, 16, 4) \
    FIELD(tern_coap_request, observe, 20, 4) \
    FIELD(tern_coap_request, content_format, 24, 4) \
    FIELD(tern_coap_request, accept, 28, 4) \
    FIELD(tern_coap_request, token, 32, 16) \
    FIELD(tern_coap_request, peer, 48, 32) \
    FIELD(tern_coap_request, transport, 80, 16) \
    FIELD(tern_coap_request, path, 96, 8) \
    FIELD(tern_coap_request, path_count, 104, 4) \
    FIELD(tern_coap_request, query_count, 108, 4) \
    FIELD(tern_coap_request, query, 112, 8) \
    FIELD(tern_coap_request, options, 120, 8) \
    FIELD(tern_coap_request, option_count, 128, 4) \
    FIELD(tern_coap_request, capture_count, 132, 4) \
    FIELD(tern_coap_request, captures, 136, 8) \
    FIELD(tern_coap_request, payload, 144, 16) \
    RECORD(tern_coap_response, 64, 8) \
    FIELD(tern_coap_response, struct_size, 0, 4) \
    FIELD(tern_coap_response, code, 4, 1) \
    FIELD(tern_coap_response, reserved0, 5, 1) \
    FIELD(tern_coap_response, reserved1, 6, 2) \
    FIELD(tern_coap_response, flags, 8, 4) \
    FIELD(tern_coap_response, content_format, 12, 4) \
    FIELD(tern_coap_response, max_age, 16, 8) \
    FIELD(tern_coap_response, options, 24, 8) \
    FIELD(tern_coap_response, option_count, 32, 4) \
    FIELD(tern_coap_response, reserved2, 36, 4) \
    FIELD(tern_coap_response, payload, 40, 16) \
    FIELD(tern_coap_response, body, 56, 8) \
    RECORD(tern_device_info, 136, 8) \
    FIELD(tern_device_info, struct_size, 0, 4) \
    FIELD(tern_device_info, reserved, 4, 4) \
    FIELD(tern_device_info, device_id, 8, 8) \
    FIELD(tern_device_info, device_name, 16, 16) \
    FIELD(tern_device_info, profile_id, 32, 8) \
    FIELD(tern_device_info, profile_name, 40, 16) \
    FIELD(tern_device_info, revision, 56, 8) \
    FIELD(tern_device_info, transport_type, 64, 4) \
    FIELD(tern_device_info, coap_device_type, 68, 4) \
    FIELD(tern_device_info, payload_type, 72, 4) \
    FIELD(tern_device_info, power_mode, 76, 4) \
    FIELD(tern_device_info, psm_activity_timer_ms, 80, 8) \
    FIELD(tern_device_info, edrx_cycle_ms, 88, 8) \
    FIELD(tern_device_info, paging_transmission_window_ms, 96, 8) \
    FIELD(tern_device_info, credential_value, 104, 16) \
    FIELD(tern_device_info, profile_options, 120, 8) \
    FIELD(tern_device_info, profile_option_count, 128, 4) \
    FIELD(tern_device_info, reserved2, 132, 4) \
    RECORD(tern_ts_record, 24, 8) \
    FIELD(tern_ts_record, ts, 0, 8) \
    FIELD(tern_ts_record, values, 8, 8) \
    FIELD(tern_ts_record, count, 16, 4) \
    FIELD(tern_ts_record, reserved, 20, 4) \
    RECORD(tern_key_filter, 16, 8) \
    FIELD(tern_key_filter, selection, 0, 4) \
    FIELD(tern_key_filter, count, 4, 4) \
    FIELD(tern_key_filter, keys, 8, 8) \
    RECORD(tern_rpc_request, 56, 8) \
    FIELD(tern_rpc_request, struct_size, 0, 4) \
    FIELD(tern_rpc_request, flags, 4, 4) \
    FIELD(tern_rpc_request, id, 8, 8) \
    FIELD(tern_rpc_request, method, 16, 16) \
    FIELD(tern_rpc_request, params, 32, 16) \
    FIELD(tern_rpc_request, expiration_ms, 48, 8) \
    RECORD(tern_provision_request, 144, 8) \
    FIELD(tern_provision_request, struct_size, 0, 4) \
    FIELD(tern_provision_request, credentials_type, 4, 4) \
    FIELD(tern_provision_request, device_name, 8, 16) \
    FIELD(tern_provision_request, provision_key, 24, 16) \
    FIELD(tern_provision_request, provision_secret, 40, 16) \
    FIELD(tern_provision_request, token, 56, 16) \
    FIELD(tern_provision_request, client_id, 72, 16) \
    FIELD(tern_provision_request, username, 88, 16) \
    FIELD(tern_provision_request, password, 104, 16) \
    FIELD(tern_provision_request, hash, 120, 16) \
    FIELD(tern_provision_request, gateway, 136, 4) \
    FIELD(tern_provision_request, reserved, 140, 4) \
    RECORD(tern_provision_result, 80, 8) \
    FIELD(tern_provision_result, struct_size, 0, 4) \
    FIELD(tern_provision_result, status, 4, 4) \
    FIELD(tern_provision_result, credentials_type, 8, 4) \
    FIELD(tern_provision_result, reserved, 12, 4) \
    FIELD(tern_provision_result, credentials_value, 16, 16) \
    FIELD(tern_provision_result, client_id, 32, 16) \
    FIELD(tern_provision_result, username, 48, 16) \
    FIELD(tern_provision_result, password, 64, 16) \
    RECORD(tern_ota_package, 136, 8) \
    FIELD(tern_ota_package, struct_size, 0, 4) \
    FIELD(tern_ota_package, type, 4, 4) \
    FIELD(tern_ota_package, package_id, 8, 8) \
    FIELD(tern_ota_package, title, 16, 16) \
    FIELD(tern_ota_package, version, 32, 16) \
    FIELD(tern_ota_package, tag, 48, 16) \
    FIELD(tern_ota_package, size, 64, 8) \
    FIELD(tern_ota_package, checksum, 72, 16) \
    FIELD(tern_ota_package, checksum_algorithm, 88, 16) \
    FIELD(tern_ota_package, path, 104, 16) \
    FIELD(tern_ota_package, url, 120, 16) \
    RECORD(tern_payload_context, 40, 8) \
    FIELD(tern_payload_context, struct_size, 0, 4) \
    FIELD(tern_payload_context, reserved, 4, 4) \
    FIELD(tern_payload_context, profile_id, 8, 8) \
    FIELD(tern_payload_context, revision, 16, 8) \
    FIELD(tern_payload_context, options, 24, 8) \
    FIELD(tern_payload_context, option_count, 32, 4) \
    FIELD(tern_payload_context, content_format, 36, 4)

// What ABI 1.1 added (core_capabilities.h).
#define TERN_ABI_1_1_LAYOUT(RECORD, FIELD) \
    RECORD(tern_device_record, 96, 8) \
    FIELD(tern_device_record, struct_size, 0, 4) \
    FIELD(tern_device_record, payload_type, 4, 4) \
    FIELD(tern_device_record, device_id, 8, 8) \
    FIELD(tern_device_record, device_name, 16, 16) \
    FIELD(tern_device_record, profile_id, 32, 8) \
    FIELD(tern_device_record, profile_name, 40, 16) \
    FIELD(tern_device_record, revision, 56, 8) \
    FIELD(tern_device_record, credential_value, 64, 16) \
    FIELD(tern_device_record, profile_options, 80, 8) \
    FIELD(tern_device_record, profile_option_count, 88, 4) \
    FIELD(tern_device_record, reserved, 92, 4)

// What ABI 1.2 added: power.h's records.
#define TERN_ABI_1_2_LAYOUT(RECORD, FIELD) \
    RECORD(tern_power_settings, 64, 8) \
    FIELD(tern_power_settings, struct_size, 0, 4) \
    FIELD(tern_power_settings, reserved, 4, 4) \
    FIELD(tern_power_settings, mode, 8, 16) \
    FIELD(tern_power_settings, psm_activity_timer_ms, 24, 8) \
    FIELD(tern_power_settings, edrx_cycle_ms, 32, 8) \
    FIELD(tern_power_settings, paging_transmission_window_ms, 40, 8) \
    FIELD(tern_power_settings, options, 48, 8) \
    FIELD(tern_power_settings, option_count, 56, 4) \
    FIELD(tern_power_settings, reserved2, 60, 4) \
    RECORD(tern_power_state, 32, 8) \
    FIELD(tern_power_state, last_activity_ms, 0, 8) \
    FIELD(tern_power_state, wake_check_ms, 8, 8) \
    FIELD(tern_power_state, flags, 16, 4) \
    FIELD(tern_power_state, policy_word, 20, 4) \
    FIELD(tern_power_state, policy_data, 24, 8)

#define TERN_ASSERT_RECORD(T, size, align)                                                  \
    static_assert(sizeof(T) == (size), #T ": size changed (the ABI says " #size ")");        \
    static_assert(alignof(T) == (align), #T ": alignment changed (the ABI says " #align ")"); \
    static_assert(std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>,          \
                  #T ": records are plain C data");
#define TERN_ASSERT_FIELD(T, f, offset, size)                                                \
    static_assert(offsetof(T, f) == (offset), #T "::" #f " moved (the ABI says " #offset ")"); \
    static_assert(sizeof(T::f) == (size), #T "::" #f " changed size (the ABI says " #size ")");
TERN_ABI_1_0_LAYOUT(TERN_ASSERT_RECORD, TERN_ASSERT_FIELD)
TERN_ABI_1_1_LAYOUT(TERN_ASSERT_RECORD, TERN_ASSERT_FIELD)
TERN_ABI_1_2_LAYOUT(TERN_ASSERT_RECORD, TERN_ASSERT_FIELD)
// The transport keeps one state record per device: the ABI promises it costs 32 bytes.
static_assert(sizeof(tern_power_state) == 32, "tern_power_state is fixed at 32 bytes (not growable)");

// ---- scalar typedefs and constants --------------------------------------------------------

static_assert(std::is_same_v<tern_status, int32_t>);
static_assert(std::is_same_v<tern_value_type, int32_t>);
static_assert(std::is_same_v<tern_config_type, int32_t>);
static_assert(std::is_same_v<tern_log_level, int32_t>);
static_assert(std::is_same_v<tern_metric_kind, int32_t>);
static_assert(std::is_same_v<tern_auth_kind, int32_t>);
static_assert(std::is_same_v<tern_credential_kind, int32_t>);
static_assert(std::is_same_v<tern_transport_type, int32_t>);
static_assert(std::is_same_v<tern_coap_device_type, int32_t>);
static_assert(std::is_same_v<tern_payload_type, int32_t>);
static_assert(std::is_same_v<tern_power_mode, int32_t>);
static_assert(std::is_same_v<tern_attribute_scope, int32_t>);
static_assert(std::is_same_v<tern_key_selection, int32_t>);
static_assert(std::is_same_v<tern_rpc_status, int32_t>);
static_assert(std::is_same_v<tern_provision_status, int32_t>);
static_assert(std::is_same_v<tern_ota_type, int32_t>);
static_assert(std::is_same_v<tern_session_event, int32_t>);
static_assert(std::is_same_v<tern_power_event, int32_t>);    // ABI 1.2
static_assert(std::is_same_v<tern_power_verdict, int32_t>);  // ABI 1.2
// Named in 1.1 for parameters and fields that were bare int32_t in 1.0: a typedef is the
// same type, so the layout, the mangled names and the 1.0 signatures (the recorders below
// still override with int32_t) are unchanged.
static_assert(std::is_same_v<tern_device_event, int32_t>);
static_assert(std::is_same_v<tern_coap_type, int32_t>);
static_assert(std::is_same_v<tern_coap_method, int32_t>);
static_assert(std::is_same_v<tern_coap_option_number, int32_t>);
static_assert(std::is_same_v<tern_coap_content_format, int32_t>);
static_assert(std::is_same_v<tern_coap_end_reason, int32_t>);
static_assert(std::is_same_v<tern_coap_notify_result, int32_t>);
static_assert(std::is_same_v<decltype(&tern::core_listener_v1::on_device_event),
                             void (tern::core_listener_v1::*)(uint64_t, int32_t) noexcept>);
static_assert(std::is_same_v<decltype(&tern::coap_handler_v1::on_observation_end),
                             void (tern::coap_handler_v1::*)(uint64_t, int32_t) noexcept>);
static_assert(std::is_same_v<decltype(&tern::coap_handler_v1::on_notification_result),
                             void (tern::coap_handler_v1::*)(uint64_t, uint64_t, int32_t) noexcept>);
static_assert(std::is_same_v<tern_core_record_fn, void (*)(void*, tern_status, const tern_device_record*)>);
static_assert(std::is_same_v<tern_core_psk_key_fn, void (*)(void*, tern_status, uint64_t, tern_bytes)>);
static_assert(std::is_same_v<tern_plugin_entry_fn, const tern_plugin_descriptor* (*)()>);
static_assert(std::is_same_v<tern_create_fn,
                             tern_status (*)(const tern_create_args*, tern_instance**, tern_error*)>);
static_assert(std::is_same_v<tern_task_fn, void (*)(void*)>);
static_assert(std::is_same_v<tern_fd_fn, void (*)(void*, int, uint32_t)>);
static_assert(std::is_same_v<tern_peer_auth_sink, void (*)(void*, const tern_peer_auth*)>);

static_assert(TERN_ABI_MAJOR == 1);
static_assert(TERN_ABI_MINOR >= 2, "these headers hold what ABI 1.1 and 1.2 added");
static_assert(TERN_PLUGIN_MAGIC == 0x4E524554u);
static_assert(std::string_view{TERN_PLUGIN_ENTRY_SYMBOL} == "tern_plugin_entry");

// Enum values are frozen; new ones are appended with new numbers.
static_assert(TERN_OK == 0 && TERN_INVALID_ARGUMENT == 1 && TERN_NOT_FOUND == 2 &&
              TERN_UNSUPPORTED == 3 && TERN_BUSY == 4 && TERN_IO == 5 && TERN_TIMEOUT == 6 &&
              TERN_INTERNAL == 7 && TERN_PERMISSION == 8 && TERN_EXISTS == 9 &&
              TERN_UNAVAILABLE == 10 && TERN_CONFIG == 11);
static_assert(TERN_VALUE_NULL == 0 && TERN_VALUE_BOOL == 1 && TERN_VALUE_INT == 2 &&
              TERN_VALUE_DOUBLE == 3 && TERN_VALUE_STR == 4 && TERN_VALUE_BYTES == 5 &&
              TERN_VALUE_JSON == 6);
static_assert(TERN_CONFIG_BOOL == 1 && TERN_CONFIG_INT == 2 && TERN_CONFIG_DOUBLE == 3 &&
              TERN_CONFIG_STRING == 4 && TERN_CONFIG_STRING_ARRAY == 5);
static_assert(TERN_CONFIG_REQUIRED == 1 && TERN_CONFIG_HAS_MIN == 2 && TERN_CONFIG_HAS_MAX == 4 &&
              TERN_CONFIG_PATH == 8);
static_assert(TERN_REQUIRE_OPTIONAL == 1);
static_assert(TERN_LOG_TRACE == 0 && TERN_LOG_DEBUG == 1 && TERN_LOG_INFO == 2 &&
              TERN_LOG_WARN == 3 && TERN_LOG_ERROR == 4 && TERN_LOG_CRITICAL == 5 &&
              TERN_LOG_OFF == 6);
static_assert(TERN_FD_READ == 1 && TERN_FD_WRITE == 2);
static_assert(TERN_NO_SHARD == 0xFFFFFFFFu);
static_assert(TERN_METRIC_COUNTER == 1 && TERN_METRIC_GAUGE == 2 && TERN_METRIC_HISTOGRAM == 3);
static_assert(TERN_AUTH_NONE == 0 && TERN_AUTH_X509 == 1 && TERN_AUTH_PSK == 2);
static_assert(TERN_COAP_CON == 0 && TERN_COAP_NON == 1 && TERN_COAP_ACK == 2 && TERN_COAP_RST == 3);
static_assert(TERN_COAP_CODE(2, 5) == 69 && TERN_COAP_CODE(4, 4) == 132);
static_assert(TERN_COAP_GET == 1 && TERN_COAP_POST == 2 && TERN_COAP_PUT == 3 &&
              TERN_COAP_DELETE == 4 && TERN_COAP_FETCH == 5 && TERN_COAP_PATCH == 6 &&
              TERN_COAP_IPATCH == 7);
static_assert(TERN_COAP_METHOD_BIT(TERN_COAP_GET) == 2u);
static_assert(TERN_COAP_OPT_IF_MATCH == 1 && TERN_COAP_OPT_URI_HOST == 3 && TERN_COAP_OPT_ETAG == 4 &&
              TERN_COAP_OPT_IF_NONE_MATCH == 5 && TERN_COAP_OPT_OBSERVE == 6 &&
              TERN_COAP_OPT_URI_PORT == 7 && TERN_COAP_OPT_LOCATION_PATH == 8 &&
              TERN_COAP_OPT_URI_PATH == 11 && TERN_COAP_OPT_CONTENT_FORMAT == 12 &&
              TERN_COAP_OPT_MAX_AGE == 14 && TERN_COAP_OPT_URI_QUERY == 15 &&
              TERN_COAP_OPT_ACCEPT == 17 && TERN_COAP_OPT_LOCATION_QUERY == 20 &&
              TERN_COAP_OPT_BLOCK2 == 23 && TERN_COAP_OPT_BLOCK1 == 27 && TERN_COAP_OPT_SIZE2 == 28 &&
              TERN_COAP_OPT_PROXY_URI == 35 && TERN_COAP_OPT_PROXY_SCHEME == 39 &&
              TERN_COAP_OPT_SIZE1 == 60 && TERN_COAP_OPT_NO_RESPONSE == 258);
static_assert(TERN_COAP_FORMAT_TEXT == 0 && TERN_COAP_FORMAT_LINK == 40 && TERN_COAP_FORMAT_XML == 41 &&
              TERN_COAP_FORMAT_OCTET_STREAM == 42 && TERN_COAP_FORMAT_EXI == 47 &&
              TERN_COAP_FORMAT_JSON == 50 && TERN_COAP_FORMAT_CBOR == 60);
static_assert(TERN_COAP_RESOURCE_HIDDEN == 1 && TERN_COAP_RESOURCE_OBSERVABLE == 2);
static_assert(TERN_COAP_RESPONSE_OBSERVE == 1 && TERN_COAP_RESPONSE_SILENT == 2);
static_assert(TERN_COAP_NOTIFY_MERGEABLE == 1);
static_assert(TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT == 2);  // ABI 1.2
static_assert(TERN_COAP_END_DEREGISTERED == 1 && TERN_COAP_END_RESET == 2 &&
              TERN_COAP_END_TIMEOUT == 3 && TERN_COAP_END_REPLACED == 4 &&
              TERN_COAP_END_SESSION == 5 && TERN_COAP_END_SHUTDOWN == 6 && TERN_COAP_END_ERROR == 7);
static_assert(TERN_COAP_NOTIFY_DELIVERED == 1 && TERN_COAP_NOTIFY_TIMEOUT == 2 &&
              TERN_COAP_NOTIFY_RESET == 3 && TERN_COAP_NOTIFY_MERGED == 4 &&
              TERN_COAP_NOTIFY_DROPPED == 5);

static_assert(TERN_CREDENTIAL_ACCESS_TOKEN == 0 && TERN_CREDENTIAL_X509 == 1 && TERN_CREDENTIAL_PSK == 2 &&
              TERN_CREDENTIAL_MQTT_BASIC == 3 && TERN_CREDENTIAL_LWM2M == 4);
static_assert(TERN_TRANSPORT_DEFAULT == 0 && TERN_TRANSPORT_COAP == 1 && TERN_TRANSPORT_MQTT == 2 &&
              TERN_TRANSPORT_LWM2M == 3 && TERN_TRANSPORT_SNMP == 4);
static_assert(TERN_COAP_DEVICE_DEFAULT == 0 && TERN_COAP_DEVICE_EFENTO == 1);
static_assert(TERN_PAYLOAD_JSON == 0 && TERN_PAYLOAD_PROTOBUF == 1);
static_assert(TERN_POWER_NONE == 0 && TERN_POWER_DRX == 1 && TERN_POWER_PSM == 2 && TERN_POWER_EDRX == 3);
static_assert(TERN_SCOPE_CLIENT == 1 && TERN_SCOPE_SHARED == 2 && TERN_SCOPE_SERVER == 3);
static_assert(TERN_KEYS_NONE == 0 && TERN_KEYS_ALL == 1 && TERN_KEYS_LISTED == 2);
static_assert(TERN_RPC_ONEWAY == 1 && TERN_RPC_PERSISTENT == 2);
static_assert(TERN_RPC_QUEUED == 0 && TERN_RPC_SENT == 1 && TERN_RPC_DELIVERED == 2 &&
              TERN_RPC_SUCCESSFUL == 3 && TERN_RPC_TIMEOUT == 4 && TERN_RPC_FAILED == 5 &&
              TERN_RPC_EXPIRED == 6);
static_assert(TERN_PROVISION_UNKNOWN == 0 && TERN_PROVISION_SUCCESS == 1 &&
              TERN_PROVISION_NOT_FOUND == 2 && TERN_PROVISION_FAILURE == 3);
static_assert(TERN_OTA_FIRMWARE == 0 && TERN_OTA_SOFTWARE == 1);
static_assert(TERN_SESSION_OPEN == 1 && TERN_SESSION_CLOSE == 2 && TERN_SESSION_ACTIVITY == 3);
static_assert(TERN_SESSION_ASLEEP == 4);  // ABI 1.2
// ABI 1.2: power.h
static_assert(TERN_POWER_ASLEEP == 1);
static_assert(TERN_POWER_EVENT_UPLINK == 1 && TERN_POWER_EVENT_ACK == 2 && TERN_POWER_EVENT_UNREACHABLE == 3 &&
              TERN_POWER_EVENT_TIMER == 4);
static_assert(TERN_POWER_SEND == 1 && TERN_POWER_HOLD == 2);
static_assert(TERN_POWER_MODE_SLEEPS == 1);
static_assert(TERN_SUBSCRIBE_ATTRIBUTES == 1 && TERN_SUBSCRIBE_RPC == 2);
static_assert(TERN_DEVICE_UPDATED == 1 && TERN_DEVICE_CREDENTIALS_CHANGED == 2 && TERN_DEVICE_DELETED == 3);

// Interface ids are looked up by these exact strings, by plugins built years apart.
static_assert(std::string_view{TERN_IID_LOG_V1} == "tern.log/1");
static_assert(std::string_view{TERN_IID_REACTOR_V1} == "tern.reactor/1");
static_assert(std::string_view{TERN_IID_REGISTRY_V1} == "tern.registry/1");
static_assert(std::string_view{TERN_IID_METRICS_V1} == "tern.metrics/1");
static_assert(std::string_view{TERN_IID_CONFIG_V1} == "tern.config/1");
static_assert(std::string_view{TERN_IID_TRANSPORT_V1} == "tern.transport/1");
static_assert(std::string_view{TERN_IID_COAP_ENGINE_V1} == "tern.coap.engine/1");
static_assert(std::string_view{TERN_IID_CORE_V1} == "tern.core/1");
static_assert(std::string_view{TERN_IID_PAYLOAD_V1} == "tern.payload/1");
static_assert(std::string_view{TERN_IID_CLI_V1} == "tern.cli/1");
static_assert(std::string_view{TERN_IID_CORE_AUTH_V1} == "tern.core.auth/1");
static_assert(std::string_view{TERN_IID_CORE_TELEMETRY_V1} == "tern.core.telemetry/1");
static_assert(std::string_view{TERN_IID_CORE_ATTRIBUTES_V1} == "tern.core.attributes/1");
static_assert(std::string_view{TERN_IID_CORE_RPC_V1} == "tern.core.rpc/1");
static_assert(std::string_view{TERN_IID_CORE_PROVISIONING_V1} == "tern.core.provisioning/1");
static_assert(std::string_view{TERN_IID_CORE_OTA_V1} == "tern.core.ota/1");
static_assert(std::string_view{TERN_IID_CORE_SESSIONS_V1} == "tern.core.sessions/1");
static_assert(std::string_view{TERN_IID_CORE_EVENTS_V1} == "tern.core.events/1");
// ABI 1.2
static_assert(std::string_view{TERN_IID_PAYLOAD_V2} == "tern.payload/2");
static_assert(std::string_view{TERN_IID_POWER_POLICY_V1} == "tern.power.policy/1");

// Profile option keys are read by name by transports built years apart, too.
static_assert(std::string_view{TERN_OPTION_TRANSPORT_TYPE} == "transport.type");
static_assert(std::string_view{TERN_OPTION_COAP_DEVICE_TYPE} == "coap.device_type");
static_assert(std::string_view{TERN_OPTION_POWER_MODE} == "power.mode");
static_assert(std::string_view{TERN_OPTION_PSM_ACTIVITY_TIMER_MS} == "power.psm_activity_timer_ms");
static_assert(std::string_view{TERN_OPTION_EDRX_CYCLE_MS} == "power.edrx_cycle_ms");
static_assert(std::string_view{TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS} ==
              "power.paging_transmission_window_ms");
static_assert(std::string_view{TERN_OPTION_PROFILE_REVISION} == "profile.revision");  // ABI 1.2

// ---- interfaces: one vtable pointer, no data, no virtual destructor ----------------------

template <class I>
constexpr bool is_abi_interface = std::is_polymorphic_v<I> && std::is_abstract_v<I> &&
                                  !std::has_virtual_destructor_v<I> &&
                                  sizeof(I) == sizeof(void*) && alignof(I) == alignof(void*);

static_assert(is_abi_interface<tern::log_v1>);
static_assert(is_abi_interface<tern::reactor_v1>);
static_assert(is_abi_interface<tern::registry_v1>);
static_assert(is_abi_interface<tern::metrics_v1>);
static_assert(is_abi_interface<tern::config_v1>);
static_assert(is_abi_interface<tern::host_v1>);
static_assert(is_abi_interface<tern::plugin_v1>);
static_assert(is_abi_interface<tern::datagram_sink_v1>);
static_assert(is_abi_interface<tern::transport_v1>);
static_assert(is_abi_interface<tern::coap_body_v1>);
static_assert(is_abi_interface<tern::coap_handler_v1>);
static_assert(is_abi_interface<tern::coap_engine_v1>);
static_assert(is_abi_interface<tern::core_listener_v1>);
static_assert(is_abi_interface<tern::core_v1>);
static_assert(is_abi_interface<tern::payload_v1>);
static_assert(is_abi_interface<tern::payload_v2>);
static_assert(std::is_base_of_v<tern::payload_v1, tern::payload_v2>);
static_assert(is_abi_interface<tern::cli_v1>);
static_assert(is_abi_interface<tern::power_policy_v1>);  // ABI 1.2
static_assert(is_abi_interface<tern::core_auth_v1>);
static_assert(is_abi_interface<tern::core_telemetry_v1>);
static_assert(is_abi_interface<tern::core_attributes_v1>);
static_assert(is_abi_interface<tern::core_rpc_v1>);
static_assert(is_abi_interface<tern::core_provisioning_v1>);
static_assert(is_abi_interface<tern::core_ota_v1>);
static_assert(is_abi_interface<tern::core_sessions_v1>);
static_assert(is_abi_interface<tern::core_events_v1>);

namespace {

struct layout_row {
    const char* record;
    const char* field; // null for the record's own row
    std::size_t offset;
    std::size_t size;
    std::size_t align;
};

#define TERN_ROW_RECORD(T, size, align) layout_row{#T, nullptr, 0, sizeof(T), alignof(T)},
#define TERN_ROW_FIELD(T, f, offset, size) layout_row{#T, #f, offsetof(T, f), sizeof(T::f), 0},
constexpr layout_row layout_rows[] = {TERN_ABI_1_0_LAYOUT(TERN_ROW_RECORD, TERN_ROW_FIELD)
                                           TERN_ABI_1_1_LAYOUT(TERN_ROW_RECORD, TERN_ROW_FIELD)
                                           TERN_ABI_1_2_LAYOUT(TERN_ROW_RECORD, TERN_ROW_FIELD)};

}  // namespace

TEST_CASE("every byte of every ABI record is a named field", "[abi][layout]") {
    // Hidden padding is where compilers and languages may disagree, and where a record
    // cannot grow safely; the headers spell out reserved fields instead.
    std::cout << "ABI 1.0 + 1.1 + 1.2 layout (x86_64 LP64):\n";
    const layout_row* record = nullptr;
    std::size_t end = 0;
    auto close = [&] {
        if (record == nullptr) return;
        INFO(record->record << " ends at " << end);
        CHECK(end == record->size);
    };
    for (const layout_row& r : layout_rows) {
        if (r.field == nullptr) {
            close();
            record = &r;
            end = 0;
            std::cout << "  " << r.record << "  size " << r.size << "  align " << r.align << '\n';
            continue;
        }
        std::cout << "    +" << std::setw(3) << r.offset << "  " << std::setw(3) << r.size << "  "
                  << r.field << '\n';
        INFO(r.record << "::" << r.field);
        CHECK(r.offset == end);
        end = r.offset + r.size;
    }
    close();
}

// ---- vtable slots ---------------------------------------------------------------------------
//
// Under the Itanium C++ ABI a pointer to a virtual member function holds 1 + the slot's
// byte offset in the vtable, so the slot of every method can be read from &I::method.
// Each method is then also called through its raw slot, on a recorder that implements
// the whole interface: the call must land in the method of that name. The recorders are
// `final` and implement every method, so adding a method to a released interface fails
// to compile here, and renaming or reordering fails the checks.

namespace {

template <class PMF>
std::size_t slot_of(PMF pmf) {
    struct itanium_pmf {
        std::uintptr_t ptr;
        std::ptrdiff_t adj;
    };
    static_assert(sizeof(PMF) == sizeof(itanium_pmf));
    itanium_pmf rep;
    std::memcpy(&rep, &pmf, sizeof rep);
    REQUIRE((rep.ptr & 1) == 1); // virtual
    REQUIRE(rep.adj == 0);       // single inheritance: no this-adjustment
    return (rep.ptr - 1) / sizeof(void*);
}

// Calls slot `slot` of obj's vtable with the signature of pmf and value-initialised
// arguments (the recorders never look at them).
template <class I, class R, class... A>
R call_slot(I* obj, std::size_t slot, R (I::*)(A...) noexcept) {
    using raw_fn = R (*)(I*, A...);
    void* const* vtable = *reinterpret_cast<void* const* const*>(obj);
    return reinterpret_cast<raw_fn>(vtable[slot])(obj, A{}...);
}

struct recorder {
    const char* last = "";
};

#define TERN_RECORD(name) last = #name

struct log_recorder final : tern::log_v1, recorder {
    tern_log_level level() noexcept override { TERN_RECORD(level); return 0; }
    void write(tern_log_level, tern_str) noexcept override { TERN_RECORD(write); }
};

struct reactor_recorder final : tern::reactor_v1, recorder {
    uint32_t shard_count() noexcept override { TERN_RECORD(shard_count); return 0; }
    uint32_t current_shard() noexcept override { TERN_RECORD(current_shard); return 0; }
    uint64_t now_ns() noexcept override { TERN_RECORD(now_ns); return 0; }
    tern_status post(uint32_t, tern_task_fn, void*) noexcept override { TERN_RECORD(post); return 0; }
    tern_status watch_fd(uint32_t, int, uint32_t, tern_fd_fn, void*, uint64_t*) noexcept override {
        TERN_RECORD(watch_fd);
        return 0;
    }
    void unwatch_fd(uint64_t) noexcept override { TERN_RECORD(unwatch_fd); }
    tern_status timer_create(uint32_t, tern_task_fn, void*, uint64_t*) noexcept override {
        TERN_RECORD(timer_create);
        return 0;
    }
    void timer_arm(uint64_t, uint64_t) noexcept override { TERN_RECORD(timer_arm); }
    void timer_cancel(uint64_t) noexcept override { TERN_RECORD(timer_cancel); }
    void timer_destroy(uint64_t) noexcept override { TERN_RECORD(timer_destroy); }
};

struct registry_recorder final : tern::registry_v1, recorder {
    void* find(tern_str, tern_str) noexcept override { TERN_RECORD(find); return nullptr; }
    void list(tern_str, void (*)(void*, tern_str, void*), void*) noexcept override { TERN_RECORD(list); }
};

struct metrics_recorder final : tern::metrics_v1, recorder {
    tern_status add_metric(const tern_metric_desc*, uint64_t*) noexcept override {
        TERN_RECORD(add_metric);
        return 0;
    }
    void count(uint64_t, uint64_t) noexcept override { TERN_RECORD(count); }
    void gauge_add(uint64_t, int64_t) noexcept override { TERN_RECORD(gauge_add); }
    void gauge_set(uint64_t, int64_t) noexcept override { TERN_RECORD(gauge_set); }
    void observe(uint64_t, double) noexcept override { TERN_RECORD(observe); }
};

struct config_recorder final : tern::config_v1, recorder {
    tern_status get_bool(tern_str, int32_t*) noexcept override { TERN_RECORD(get_bool); return 0; }
    tern_status get_int(tern_str, int64_t*) noexcept override { TERN_RECORD(get_int); return 0; }
    tern_status get_double(tern_str, double*) noexcept override { TERN_RECORD(get_double); return 0; }
    tern_status get_string(tern_str, tern_str*) noexcept override { TERN_RECORD(get_string); return 0; }
    tern_status get_array_size(tern_str, uint32_t*) noexcept override {
        TERN_RECORD(get_array_size);
        return 0;
    }
    tern_status get_array_string(tern_str, uint32_t, tern_str*) noexcept override {
        TERN_RECORD(get_array_string);
        return 0;
    }
    tern_str origin(tern_str) noexcept override { TERN_RECORD(origin); return {}; }
};

struct host_recorder final : tern::host_v1, recorder {
    void* query(tern_str) noexcept override { TERN_RECORD(query); return nullptr; }
    tern_str instance_name() noexcept override { TERN_RECORD(instance_name); return {}; }
    uint32_t abi_major() noexcept override { TERN_RECORD(abi_major); return 0; }
    uint32_t abi_minor() noexcept override { TERN_RECORD(abi_minor); return 0; }
    void request_stop(tern_str) noexcept override { TERN_RECORD(request_stop); }
};

struct plugin_recorder final : tern::plugin_v1, recorder {
    void* query(tern_str) noexcept override { TERN_RECORD(query); return nullptr; }
    tern_status start(tern_error*) noexcept override { TERN_RECORD(start); return 0; }
    void stop() noexcept override { TERN_RECORD(stop); }
    void destroy() noexcept override { TERN_RECORD(destroy); }
};

struct datagram_sink_recorder final : tern::datagram_sink_v1, recorder {
    void on_datagrams(uint32_t, const tern_datagram*, uint32_t) noexcept override {
        TERN_RECORD(on_datagrams);
    }
    void on_session_end(uint32_t, const tern_peer*) noexcept override { TERN_RECORD(on_session_end); }
};

struct transport_recorder final : tern::transport_v1, recorder {
    tern_str scheme() noexcept override { TERN_RECORD(scheme); return {}; }
    uint32_t max_datagram_size() noexcept override { TERN_RECORD(max_datagram_size); return 0; }
    tern_status attach(tern::datagram_sink_v1*) noexcept override { TERN_RECORD(attach); return 0; }
    tern_status send(uint32_t, const tern_datagram*, uint32_t) noexcept override {
        TERN_RECORD(send);
        return 0;
    }
    tern_status peer_auth(const tern_peer*, tern_peer_auth_sink, void*) noexcept override {
        TERN_RECORD(peer_auth);
        return 0;
    }
};

struct coap_body_recorder final : tern::coap_body_v1, recorder {
    uint64_t size() noexcept override { TERN_RECORD(size); return 0; }
    tern_status read(uint64_t, uint8_t*, size_t, size_t*) noexcept override { TERN_RECORD(read); return 0; }
    void release() noexcept override { TERN_RECORD(release); }
};

struct coap_handler_recorder final : tern::coap_handler_v1, recorder {
    void on_request(const tern_coap_request*) noexcept override { TERN_RECORD(on_request); }
    void on_observation_end(uint64_t, int32_t) noexcept override { TERN_RECORD(on_observation_end); }
    void on_notification_result(uint64_t, uint64_t, int32_t) noexcept override {
        TERN_RECORD(on_notification_result);
    }
};

struct coap_engine_recorder final : tern::coap_engine_v1, recorder {
    tern_status add_resource(const tern_coap_resource*, tern::coap_handler_v1*, uint64_t*) noexcept override {
        TERN_RECORD(add_resource);
        return 0;
    }
    void remove_resource(uint64_t) noexcept override { TERN_RECORD(remove_resource); }
    tern_status respond(uint64_t, const tern_coap_response*, uint64_t*) noexcept override {
        TERN_RECORD(respond);
        return 0;
    }
    tern_status notify(uint64_t, const tern_coap_response*, uint64_t, uint32_t) noexcept override {
        TERN_RECORD(notify);
        return 0;
    }
    tern_status end_observation(uint64_t, const tern_coap_response*) noexcept override {
        TERN_RECORD(end_observation);
        return 0;
    }
};

struct core_listener_recorder final : tern::core_listener_v1, recorder {
    void on_attributes_updated(uint64_t, const tern_kv*, uint32_t, const tern_str*, uint32_t) noexcept override {
        TERN_RECORD(on_attributes_updated);
    }
    void on_rpc_request(uint64_t, const tern_rpc_request*) noexcept override { TERN_RECORD(on_rpc_request); }
    void on_device_event(uint64_t, int32_t) noexcept override { TERN_RECORD(on_device_event); }
};

struct core_recorder final : tern::core_v1, recorder {
    tern_status set_listener(tern::core_listener_v1*) noexcept override { TERN_RECORD(set_listener); return 0; }
    void authenticate(tern_credential_kind, tern_str, tern_core_device_fn, void*) noexcept override {
        TERN_RECORD(authenticate);
    }
    void post_telemetry(uint64_t, const tern_ts_record*, uint32_t, tern_core_done_fn, void*) noexcept override {
        TERN_RECORD(post_telemetry);
    }
    void post_attributes(uint64_t, tern_attribute_scope, const tern_kv*, uint32_t, tern_core_done_fn,
                         void*) noexcept override {
        TERN_RECORD(post_attributes);
    }
    void get_attributes(uint64_t, const tern_key_filter*, const tern_key_filter*, tern_core_attributes_fn,
                        void*) noexcept override {
        TERN_RECORD(get_attributes);
    }
    void subscribe(uint64_t, uint32_t) noexcept override { TERN_RECORD(subscribe); }
    void unsubscribe(uint64_t, uint32_t) noexcept override { TERN_RECORD(unsubscribe); }
    void session_event(uint64_t, tern_session_event, tern_str, tern_str) noexcept override {
        TERN_RECORD(session_event);
    }
    void rpc_status(uint64_t, int64_t, tern_rpc_status, tern_str) noexcept override { TERN_RECORD(rpc_status); }
    void rpc_reply(uint64_t, int64_t, tern_str, tern_core_done_fn, void*) noexcept override {
        TERN_RECORD(rpc_reply);
    }
    void resend_pending_rpcs(uint64_t) noexcept override { TERN_RECORD(resend_pending_rpcs); }
    void client_rpc(uint64_t, tern_str, tern_str, int64_t, tern_core_text_fn, void*) noexcept override {
        TERN_RECORD(client_rpc);
    }
    void claim(uint64_t, tern_str, int64_t, tern_core_done_fn, void*) noexcept override { TERN_RECORD(claim); }
    void provision(const tern_provision_request*, tern_core_provision_fn, void*) noexcept override {
        TERN_RECORD(provision);
    }
    void ota_package(uint64_t, tern_ota_type, tern_core_ota_fn, void*) noexcept override {
        TERN_RECORD(ota_package);
    }
};

// Every method of payload_v1, over Base (payload_v1 itself, or payload_v2 which appends to it).
template <class Base>
struct payload_methods : Base, recorder {
    using ctx_t = const tern_payload_context*;
    tern_str name() noexcept override { TERN_RECORD(name); return {}; }
    int32_t content_format() noexcept override { TERN_RECORD(content_format); return 0; }
    tern_status decode_telemetry(ctx_t, tern_bytes, int64_t, tern_records_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(decode_telemetry);
        return 0;
    }
    tern_status decode_attributes(ctx_t, tern_bytes, tern_kv_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(decode_attributes);
        return 0;
    }
    tern_status decode_rpc_reply(ctx_t, tern_bytes, tern_bytes_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(decode_rpc_reply);
        return 0;
    }
    tern_status decode_rpc_call(ctx_t, tern_bytes, tern_rpc_call_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(decode_rpc_call);
        return 0;
    }
    tern_status decode_claim(ctx_t, tern_bytes, tern_claim_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(decode_claim);
        return 0;
    }
    tern_status decode_provision(ctx_t, tern_bytes, tern_provision_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(decode_provision);
        return 0;
    }
    tern_status encode_attribute_update(ctx_t, const tern_kv*, uint32_t, const tern_str*, uint32_t,
                                        tern_bytes_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(encode_attribute_update);
        return 0;
    }
    tern_status encode_attributes(ctx_t, const tern_kv*, uint32_t, const tern_kv*, uint32_t, tern_bytes_sink,
                                  void*, tern_error*) noexcept override {
        TERN_RECORD(encode_attributes);
        return 0;
    }
    tern_status encode_rpc_request(ctx_t, const tern_rpc_request*, tern_bytes_sink, void*,
                                   tern_error*) noexcept override {
        TERN_RECORD(encode_rpc_request);
        return 0;
    }
    tern_status encode_rpc_response(ctx_t, tern_str, tern_str, tern_bytes_sink, void*, tern_error*) noexcept override {
        TERN_RECORD(encode_rpc_response);
        return 0;
    }
    tern_status encode_provision_response(ctx_t, const tern_provision_result*, tern_bytes_sink, void*,
                                          tern_error*) noexcept override {
        TERN_RECORD(encode_provision_response);
        return 0;
    }
};

struct payload_recorder final : payload_methods<tern::payload_v1> {};

// ABI 1.2: payload_v2 appends check_profile after payload_v1's thirteen slots.
struct payload_v2_recorder final : payload_methods<tern::payload_v2> {
    tern_status check_profile(ctx_t, tern_error*) noexcept override {
        TERN_RECORD(check_profile);
        return 0;
    }
};

// ABI 1.2: power.h
struct power_policy_recorder final : tern::power_policy_v1, recorder {
    bool describe(tern_str, uint32_t*) noexcept override { TERN_RECORD(describe); return false; }
    bool on_event(const tern_power_settings*, tern_power_state*, tern_power_event, int64_t) noexcept override {
        TERN_RECORD(on_event);
        return false;
    }
    tern_power_verdict may_send(const tern_power_settings*, tern_power_state*, int64_t) noexcept override {
        TERN_RECORD(may_send);
        return 0;
    }
};

struct cli_recorder final : tern::cli_v1, recorder {
    tern_str commands() noexcept override { TERN_RECORD(commands); return {}; }
    tern_str summaries() noexcept override { TERN_RECORD(summaries); return {}; }
    int32_t run(uint32_t, const tern_str*, tern_text_sink, tern_text_sink, void*) noexcept override {
        TERN_RECORD(run);
        return 0;
    }
};

// ---- ABI 1.1: the core's capabilities ----

struct core_auth_recorder final : tern::core_auth_v1, recorder {
    void authenticate(tern_credential_kind, tern_str, tern_core_record_fn, void*) noexcept override {
        TERN_RECORD(authenticate);
    }
    void psk_key(tern_str, tern_core_psk_key_fn, void*) noexcept override { TERN_RECORD(psk_key); }
};

struct core_telemetry_recorder final : tern::core_telemetry_v1, recorder {
    void post_telemetry(uint64_t, const tern_ts_record*, uint32_t, tern_core_done_fn, void*) noexcept override {
        TERN_RECORD(post_telemetry);
    }
};

struct core_attributes_recorder final : tern::core_attributes_v1, recorder {
    void post_attributes(uint64_t, tern_attribute_scope, const tern_kv*, uint32_t, tern_core_done_fn,
                         void*) noexcept override {
        TERN_RECORD(post_attributes);
    }
    void get_attributes(uint64_t, const tern_key_filter*, const tern_key_filter*, tern_core_attributes_fn,
                        void*) noexcept override {
        TERN_RECORD(get_attributes);
    }
};

struct core_rpc_recorder final : tern::core_rpc_v1, recorder {
    void rpc_status(uint64_t, int64_t, tern_rpc_status, tern_str) noexcept override { TERN_RECORD(rpc_status); }
    void rpc_reply(uint64_t, int64_t, tern_str, tern_core_done_fn, void*) noexcept override {
        TERN_RECORD(rpc_reply);
    }
    void resend_pending_rpcs(uint64_t) noexcept override { TERN_RECORD(resend_pending_rpcs); }
    void client_rpc(uint64_t, tern_str, tern_str, int64_t, tern_core_text_fn, void*) noexcept override {
        TERN_RECORD(client_rpc);
    }
};

struct core_provisioning_recorder final : tern::core_provisioning_v1, recorder {
    void claim(uint64_t, tern_str, int64_t, tern_core_done_fn, void*) noexcept override { TERN_RECORD(claim); }
    void provision(const tern_provision_request*, tern_core_provision_fn, void*) noexcept override {
        TERN_RECORD(provision);
    }
};

struct core_ota_recorder final : tern::core_ota_v1, recorder {
    void ota_package(uint64_t, tern_ota_type, tern_core_ota_fn, void*) noexcept override {
        TERN_RECORD(ota_package);
    }
};

struct core_sessions_recorder final : tern::core_sessions_v1, recorder {
    void session_event(uint64_t, tern_session_event, tern_str, tern_str) noexcept override {
        TERN_RECORD(session_event);
    }
};

struct core_events_recorder final : tern::core_events_v1, recorder {
    tern_status subscribe(tern::core_listener_v1*, uint64_t*) noexcept override {
        TERN_RECORD(subscribe);
        return 0;
    }
    tern_status subscribe_device(uint64_t, uint64_t, uint32_t) noexcept override {
        TERN_RECORD(subscribe_device);
        return 0;
    }
    void unsubscribe_device(uint64_t, uint64_t, uint32_t) noexcept override { TERN_RECORD(unsubscribe_device); }
    void close(uint64_t) noexcept override { TERN_RECORD(close); }
};

}  // namespace

// slot `index` of interface I is `method`: by its member pointer, and by a call through it
#define TERN_CHECK_SLOT(I, rec, index, method)                                     \
    do {                                                                           \
        INFO(#I "::" #method);                                                     \
        CHECK(slot_of(&I::method) == (index));                                     \
        rec.last = "";                                                             \
        call_slot<I>(&rec, (index), &I::method);                                   \
        CHECK(std::string_view{rec.last} == #method);                              \
    } while (false)

TEST_CASE("plugin_v1: a plugin's instance answers through the slots of ABI 1.0", "[abi][vtable]") {
    plugin_recorder p;
    TERN_CHECK_SLOT(tern::plugin_v1, p, 0, query);
    TERN_CHECK_SLOT(tern::plugin_v1, p, 1, start);
    TERN_CHECK_SLOT(tern::plugin_v1, p, 2, stop);
    TERN_CHECK_SLOT(tern::plugin_v1, p, 3, destroy);

    // And the ordinary virtual call a kernel makes lands in the same place.
    tern::plugin_v1& iface = p;
    tern_error err{};
    iface.start(&err);
    CHECK(std::string_view{p.last} == "start");
}

TEST_CASE("host services keep the slots of ABI 1.0", "[abi][vtable]") {
    host_recorder h;
    TERN_CHECK_SLOT(tern::host_v1, h, 0, query);
    TERN_CHECK_SLOT(tern::host_v1, h, 1, instance_name);
    TERN_CHECK_SLOT(tern::host_v1, h, 2, abi_major);
    TERN_CHECK_SLOT(tern::host_v1, h, 3, abi_minor);
    TERN_CHECK_SLOT(tern::host_v1, h, 4, request_stop);

    log_recorder l;
    TERN_CHECK_SLOT(tern::log_v1, l, 0, level);
    TERN_CHECK_SLOT(tern::log_v1, l, 1, write);

    reactor_recorder r;
    TERN_CHECK_SLOT(tern::reactor_v1, r, 0, shard_count);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 1, current_shard);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 2, now_ns);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 3, post);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 4, watch_fd);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 5, unwatch_fd);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 6, timer_create);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 7, timer_arm);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 8, timer_cancel);
    TERN_CHECK_SLOT(tern::reactor_v1, r, 9, timer_destroy);

    registry_recorder g;
    TERN_CHECK_SLOT(tern::registry_v1, g, 0, find);
    TERN_CHECK_SLOT(tern::registry_v1, g, 1, list);

    metrics_recorder m;
    TERN_CHECK_SLOT(tern::metrics_v1, m, 0, add_metric);
    TERN_CHECK_SLOT(tern::metrics_v1, m, 1, count);
    TERN_CHECK_SLOT(tern::metrics_v1, m, 2, gauge_add);
    TERN_CHECK_SLOT(tern::metrics_v1, m, 3, gauge_set);
    TERN_CHECK_SLOT(tern::metrics_v1, m, 4, observe);

    config_recorder c;
    TERN_CHECK_SLOT(tern::config_v1, c, 0, get_bool);
    TERN_CHECK_SLOT(tern::config_v1, c, 1, get_int);
    TERN_CHECK_SLOT(tern::config_v1, c, 2, get_double);
    TERN_CHECK_SLOT(tern::config_v1, c, 3, get_string);
    TERN_CHECK_SLOT(tern::config_v1, c, 4, get_array_size);
    TERN_CHECK_SLOT(tern::config_v1, c, 5, get_array_string);
    TERN_CHECK_SLOT(tern::config_v1, c, 6, origin);
}

TEST_CASE("transport interfaces keep the slots of ABI 1.0", "[abi][vtable]") {
    datagram_sink_recorder s;
    TERN_CHECK_SLOT(tern::datagram_sink_v1, s, 0, on_datagrams);
    TERN_CHECK_SLOT(tern::datagram_sink_v1, s, 1, on_session_end);

    transport_recorder t;
    TERN_CHECK_SLOT(tern::transport_v1, t, 0, scheme);
    TERN_CHECK_SLOT(tern::transport_v1, t, 1, max_datagram_size);
    TERN_CHECK_SLOT(tern::transport_v1, t, 2, attach);
    TERN_CHECK_SLOT(tern::transport_v1, t, 3, send);
    TERN_CHECK_SLOT(tern::transport_v1, t, 4, peer_auth);
}

TEST_CASE("CoAP interfaces keep the slots of ABI 1.0", "[abi][vtable]") {
    coap_body_recorder b;
    TERN_CHECK_SLOT(tern::coap_body_v1, b, 0, size);
    TERN_CHECK_SLOT(tern::coap_body_v1, b, 1, read);
    TERN_CHECK_SLOT(tern::coap_body_v1, b, 2, release);

    coap_handler_recorder h;
    TERN_CHECK_SLOT(tern::coap_handler_v1, h, 0, on_request);
    TERN_CHECK_SLOT(tern::coap_handler_v1, h, 1, on_observation_end);
    TERN_CHECK_SLOT(tern::coap_handler_v1, h, 2, on_notification_result);

    coap_engine_recorder e;
    TERN_CHECK_SLOT(tern::coap_engine_v1, e, 0, add_resource);
    TERN_CHECK_SLOT(tern::coap_engine_v1, e, 1, remove_resource);
    TERN_CHECK_SLOT(tern::coap_engine_v1, e, 2, respond);
    TERN_CHECK_SLOT(tern::coap_engine_v1, e, 3, notify);
    TERN_CHECK_SLOT(tern::coap_engine_v1, e, 4, end_observation);
}

TEST_CASE("core connector interfaces keep the slots of ABI 1.0", "[abi][vtable]") {
    core_listener_recorder l;
    TERN_CHECK_SLOT(tern::core_listener_v1, l, 0, on_attributes_updated);
    TERN_CHECK_SLOT(tern::core_listener_v1, l, 1, on_rpc_request);
    TERN_CHECK_SLOT(tern::core_listener_v1, l, 2, on_device_event);

    core_recorder c;
    TERN_CHECK_SLOT(tern::core_v1, c, 0, set_listener);
    TERN_CHECK_SLOT(tern::core_v1, c, 1, authenticate);
    TERN_CHECK_SLOT(tern::core_v1, c, 2, post_telemetry);
    TERN_CHECK_SLOT(tern::core_v1, c, 3, post_attributes);
    TERN_CHECK_SLOT(tern::core_v1, c, 4, get_attributes);
    TERN_CHECK_SLOT(tern::core_v1, c, 5, subscribe);
    TERN_CHECK_SLOT(tern::core_v1, c, 6, unsubscribe);
    TERN_CHECK_SLOT(tern::core_v1, c, 7, session_event);
    TERN_CHECK_SLOT(tern::core_v1, c, 8, rpc_status);
    TERN_CHECK_SLOT(tern::core_v1, c, 9, rpc_reply);
    TERN_CHECK_SLOT(tern::core_v1, c, 10, resend_pending_rpcs);
    TERN_CHECK_SLOT(tern::core_v1, c, 11, client_rpc);
    TERN_CHECK_SLOT(tern::core_v1, c, 12, claim);
    TERN_CHECK_SLOT(tern::core_v1, c, 13, provision);
    TERN_CHECK_SLOT(tern::core_v1, c, 14, ota_package);
}

TEST_CASE("payload adaptor and CLI interfaces keep the slots of ABI 1.0", "[abi][vtable]") {
    payload_recorder p;
    TERN_CHECK_SLOT(tern::payload_v1, p, 0, name);
    TERN_CHECK_SLOT(tern::payload_v1, p, 1, content_format);
    TERN_CHECK_SLOT(tern::payload_v1, p, 2, decode_telemetry);
    TERN_CHECK_SLOT(tern::payload_v1, p, 3, decode_attributes);
    TERN_CHECK_SLOT(tern::payload_v1, p, 4, decode_rpc_reply);
    TERN_CHECK_SLOT(tern::payload_v1, p, 5, decode_rpc_call);
    TERN_CHECK_SLOT(tern::payload_v1, p, 6, decode_claim);
    TERN_CHECK_SLOT(tern::payload_v1, p, 7, decode_provision);
    TERN_CHECK_SLOT(tern::payload_v1, p, 8, encode_attribute_update);
    TERN_CHECK_SLOT(tern::payload_v1, p, 9, encode_attributes);
    TERN_CHECK_SLOT(tern::payload_v1, p, 10, encode_rpc_request);
    TERN_CHECK_SLOT(tern::payload_v1, p, 11, encode_rpc_response);
    TERN_CHECK_SLOT(tern::payload_v1, p, 12, encode_provision_response);

    cli_recorder c;
    TERN_CHECK_SLOT(tern::cli_v1, c, 0, commands);
    TERN_CHECK_SLOT(tern::cli_v1, c, 1, summaries);
    TERN_CHECK_SLOT(tern::cli_v1, c, 2, run);
}

TEST_CASE("payload_v2 (ABI 1.2) keeps payload_v1's slots and appends check_profile", "[abi][vtable]") {
    payload_v2_recorder p;
    // An object answering tern.payload/2 is used as a payload_v1 too: the same pointer,
    // the same first thirteen slots.
    tern::payload_v2* v2 = &p;
    CHECK(static_cast<void*>(static_cast<tern::payload_v1*>(v2)) == static_cast<void*>(v2));
    TERN_CHECK_SLOT(tern::payload_v1, p, 0, name);
    TERN_CHECK_SLOT(tern::payload_v1, p, 1, content_format);
    TERN_CHECK_SLOT(tern::payload_v1, p, 2, decode_telemetry);
    TERN_CHECK_SLOT(tern::payload_v1, p, 3, decode_attributes);
    TERN_CHECK_SLOT(tern::payload_v1, p, 4, decode_rpc_reply);
    TERN_CHECK_SLOT(tern::payload_v1, p, 5, decode_rpc_call);
    TERN_CHECK_SLOT(tern::payload_v1, p, 6, decode_claim);
    TERN_CHECK_SLOT(tern::payload_v1, p, 7, decode_provision);
    TERN_CHECK_SLOT(tern::payload_v1, p, 8, encode_attribute_update);
    TERN_CHECK_SLOT(tern::payload_v1, p, 9, encode_attributes);
    TERN_CHECK_SLOT(tern::payload_v1, p, 10, encode_rpc_request);
    TERN_CHECK_SLOT(tern::payload_v1, p, 11, encode_rpc_response);
    TERN_CHECK_SLOT(tern::payload_v1, p, 12, encode_provision_response);
    TERN_CHECK_SLOT(tern::payload_v2, p, 13, check_profile);
}

TEST_CASE("power_policy_v1 (ABI 1.2): describe, on_event, may_send in that order", "[abi][vtable]") {
    power_policy_recorder p;
    TERN_CHECK_SLOT(tern::power_policy_v1, p, 0, describe);
    TERN_CHECK_SLOT(tern::power_policy_v1, p, 1, on_event);
    TERN_CHECK_SLOT(tern::power_policy_v1, p, 2, may_send);
}

TEST_CASE("the core's capability interfaces (ABI 1.1) keep their slots", "[abi][vtable]") {
    core_auth_recorder a;
    TERN_CHECK_SLOT(tern::core_auth_v1, a, 0, authenticate);
    TERN_CHECK_SLOT(tern::core_auth_v1, a, 1, psk_key);

    core_telemetry_recorder t;
    TERN_CHECK_SLOT(tern::core_telemetry_v1, t, 0, post_telemetry);

    core_attributes_recorder at;
    TERN_CHECK_SLOT(tern::core_attributes_v1, at, 0, post_attributes);
    TERN_CHECK_SLOT(tern::core_attributes_v1, at, 1, get_attributes);

    core_rpc_recorder r;
    TERN_CHECK_SLOT(tern::core_rpc_v1, r, 0, rpc_status);
    TERN_CHECK_SLOT(tern::core_rpc_v1, r, 1, rpc_reply);
    TERN_CHECK_SLOT(tern::core_rpc_v1, r, 2, resend_pending_rpcs);
    TERN_CHECK_SLOT(tern::core_rpc_v1, r, 3, client_rpc);

    core_provisioning_recorder p;
    TERN_CHECK_SLOT(tern::core_provisioning_v1, p, 0, claim);
    TERN_CHECK_SLOT(tern::core_provisioning_v1, p, 1, provision);

    core_ota_recorder o;
    TERN_CHECK_SLOT(tern::core_ota_v1, o, 0, ota_package);

    core_sessions_recorder s;
    TERN_CHECK_SLOT(tern::core_sessions_v1, s, 0, session_event);

    core_events_recorder e;
    TERN_CHECK_SLOT(tern::core_events_v1, e, 0, subscribe);
    TERN_CHECK_SLOT(tern::core_events_v1, e, 1, subscribe_device);
    TERN_CHECK_SLOT(tern::core_events_v1, e, 2, unsubscribe_device);
    TERN_CHECK_SLOT(tern::core_events_v1, e, 3, close);
}

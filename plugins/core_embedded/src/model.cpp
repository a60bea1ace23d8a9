#include "model.hpp"

#include <algorithm>
#include <chrono>
#include <strings.h>

namespace tern::core_embedded {

size_t key_characters(std::string_view key) noexcept {
    size_t n = 0;
    for (const char c : key) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool key_too_long(std::string_view key, int64_t max_chars, const char* what, std::string& message) {
    if (max_chars <= 0 || key.size() <= static_cast<uint64_t>(max_chars)) return false;  // chars <= bytes
    const size_t chars = key_characters(key);
    if (chars <= static_cast<uint64_t>(max_chars)) return false;
    size_t cut = std::min<size_t>(key.size(), 32);
    while (cut > 0 && cut < key.size() && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
    message = std::string(what) + " '" + std::string(key.substr(0, cut)) + (cut < key.size() ? "..." : "") + "' is " +
              std::to_string(chars) + " characters, more than max_key_length " + std::to_string(max_chars) +
              "; nothing stored";
    return true;
}

value value::from(const tern_value& t) {
    value v;
    v.type = t.type;
    switch (t.type) {
        case TERN_VALUE_BOOL: v.i = t.u.b != 0 ? 1 : 0; break;
        case TERN_VALUE_INT: v.i = t.u.i; break;
        case TERN_VALUE_DOUBLE: v.d = t.u.d; break;
        case TERN_VALUE_STR:
        case TERN_VALUE_JSON:
            if (t.u.s.size != 0) v.s.assign(t.u.s.data, t.u.s.size);
            break;
        case TERN_VALUE_BYTES:
            if (t.u.bytes.size != 0)
                v.s.assign(reinterpret_cast<const char*>(t.u.bytes.data), t.u.bytes.size);
            break;
        default: v.type = TERN_VALUE_NULL; break;
    }
    return v;
}

tern_value value::view() const noexcept {
    tern_value t{};
    t.type = type;
    switch (type) {
        case TERN_VALUE_BOOL: t.u.b = i != 0 ? 1 : 0; break;
        case TERN_VALUE_INT: t.u.i = i; break;
        case TERN_VALUE_DOUBLE: t.u.d = d; break;
        case TERN_VALUE_STR:
        case TERN_VALUE_JSON: t.u.s = tern_str{s.data(), s.size()}; break;
        case TERN_VALUE_BYTES:
            t.u.bytes = tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
            break;
        default: break;
    }
    return t;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
template <class T, size_t N>
std::optional<T> lookup(const std::pair<T, const char*> (&table)[N], std::string_view s) {
    for (const auto& [v, name] : table)
        if (iequals(s, name)) return v;
    return std::nullopt;
}
template <class T, size_t N>
const char* name_of(const std::pair<T, const char*> (&table)[N], T v) {
    for (const auto& [x, name] : table)
        if (x == v) return name;
    return "UNKNOWN";
}

const std::pair<tern_rpc_status, const char*> rpc_statuses[] = {
    {TERN_RPC_QUEUED, "QUEUED"},       {TERN_RPC_SENT, "SENT"},
    {TERN_RPC_DELIVERED, "DELIVERED"}, {TERN_RPC_SUCCESSFUL, "SUCCESSFUL"},
    {TERN_RPC_TIMEOUT, "TIMEOUT"},     {TERN_RPC_FAILED, "FAILED"},
    {TERN_RPC_EXPIRED, "EXPIRED"}};
const std::pair<tern_credential_kind, const char*> credential_kinds[] = {
    {TERN_CREDENTIAL_ACCESS_TOKEN, "ACCESS_TOKEN"},
    {TERN_CREDENTIAL_X509, "X509_CERTIFICATE"},
    {TERN_CREDENTIAL_PSK, "PSK"},
    {TERN_CREDENTIAL_MQTT_BASIC, "MQTT_BASIC"},
    {TERN_CREDENTIAL_LWM2M, "LWM2M_CREDENTIALS"}};
const std::pair<tern_power_mode, const char*> power_modes[] = {
    {TERN_POWER_NONE, "NONE"}, {TERN_POWER_DRX, "DRX"}, {TERN_POWER_PSM, "PSM"},
    {TERN_POWER_EDRX, "E_DRX"}};
const std::pair<provision_strategy, const char*> strategies[] = {
    {provision_strategy::disabled, "disabled"},
    {provision_strategy::allow_create, "allow-create"},
    {provision_strategy::pre_provisioned, "pre-provisioned"}};
const std::pair<tern_transport_type, const char*> transports[] = {
    {TERN_TRANSPORT_DEFAULT, "DEFAULT"}, {TERN_TRANSPORT_COAP, "COAP"},
    {TERN_TRANSPORT_MQTT, "MQTT"},       {TERN_TRANSPORT_LWM2M, "LWM2M"},
    {TERN_TRANSPORT_SNMP, "SNMP"}};
const std::pair<tern_payload_type, const char*> payloads[] = {{TERN_PAYLOAD_JSON, "JSON"},
                                                              {TERN_PAYLOAD_PROTOBUF, "PROTOBUF"}};
const std::pair<tern_coap_device_type, const char*> coap_types[] = {
    {TERN_COAP_DEVICE_DEFAULT, "DEFAULT"}, {TERN_COAP_DEVICE_EFENTO, "EFENTO"}};
const std::pair<tern_ota_type, const char*> ota_types[] = {{TERN_OTA_FIRMWARE, "firmware"},
                                                           {TERN_OTA_SOFTWARE, "software"}};
}  // namespace

const char* rpc_status_name(tern_rpc_status s) noexcept { return name_of(rpc_statuses, s); }
const char* credential_kind_name(tern_credential_kind k) noexcept {
    return name_of(credential_kinds, k);
}
const char* power_mode_name(tern_power_mode m) noexcept { return name_of(power_modes, m); }
std::optional<tern_power_mode> power_mode_from(std::string_view s) noexcept {
    if (iequals(s, "EDRX")) return TERN_POWER_EDRX;
    return lookup(power_modes, s);
}
const char* strategy_name(provision_strategy s) noexcept { return name_of(strategies, s); }
std::optional<provision_strategy> strategy_from(std::string_view s) noexcept {
    // ThingsBoard's names are accepted too
    if (iequals(s, "ALLOW_CREATE_NEW_DEVICES")) return provision_strategy::allow_create;
    if (iequals(s, "CHECK_PRE_PROVISIONED_DEVICES")) return provision_strategy::pre_provisioned;
    return lookup(strategies, s);
}
const char* transport_name(tern_transport_type t) noexcept { return name_of(transports, t); }
std::optional<tern_transport_type> transport_from(std::string_view s) noexcept {
    return lookup(transports, s);
}
const char* payload_name(tern_payload_type t) noexcept { return name_of(payloads, t); }
std::optional<tern_payload_type> payload_from(std::string_view s) noexcept {
    return lookup(payloads, s);
}
const char* coap_device_type_name(tern_coap_device_type t) noexcept {
    return name_of(coap_types, t);
}
std::optional<tern_coap_device_type> coap_device_type_from(std::string_view s) noexcept {
    return lookup(coap_types, s);
}
const char* ota_type_name(tern_ota_type t) noexcept { return name_of(ota_types, t); }
std::optional<tern_ota_type> ota_type_from(std::string_view s) noexcept {
    if (iequals(s, "fw")) return TERN_OTA_FIRMWARE;
    if (iequals(s, "sw")) return TERN_OTA_SOFTWARE;
    return lookup(ota_types, s);
}
const char* ota_prefix(tern_ota_type t) noexcept { return t == TERN_OTA_SOFTWARE ? "sw" : "fw"; }

int64_t now_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}
int64_t steady_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace tern::core_embedded

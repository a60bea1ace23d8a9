// The core's interfaces over its tern.core/1 implementation (capabilities.hpp).
#include "capabilities.hpp"

#include <memory>
#include <new>

#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_str;

namespace {

// ThingsBoard's names for the profile enums (absent: the default, which gets no option).
const char* transport_text(tern_transport_type t) noexcept {
    switch (t) {
        case TERN_TRANSPORT_COAP: return "COAP";
        case TERN_TRANSPORT_MQTT: return "MQTT";
        case TERN_TRANSPORT_LWM2M: return "LWM2M";
        case TERN_TRANSPORT_SNMP: return "SNMP";
        default: return nullptr;
    }
}

const char* coap_device_text(tern_coap_device_type t) noexcept {
    return t == TERN_COAP_DEVICE_EFENTO ? "EFENTO" : nullptr;
}

const char* power_text(tern_power_mode m) noexcept {
    switch (m) {
        case TERN_POWER_DRX: return "DRX";
        case TERN_POWER_PSM: return "PSM";
        case TERN_POWER_EDRX: return "E_DRX";
        default: return nullptr;
    }
}

tern_kv text_option(const char* key, const char* text) noexcept {
    tern_kv kv{};
    kv.key = to_str(key);
    kv.value.type = TERN_VALUE_STR;
    kv.value.u.s = to_str(text);
    return kv;
}

tern_kv int_option(const char* key, int64_t v) noexcept {
    tern_kv kv{};
    kv.key = to_str(key);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = v;
    return kv;
}

// The caller's completion and ctx while the core authenticates.
template <class Fn>
struct pending {
    Fn done;
    void* ctx;
};

}  // namespace

// ---- the device record -------------------------------------------------------------------

device_record_view::device_record_view(const tern_device_info& info) {
    record_.struct_size = sizeof record_;
    record_.payload_type = info.payload_type;
    record_.device_id = info.device_id;
    record_.device_name = info.device_name;
    record_.profile_id = info.profile_id;
    record_.profile_name = info.profile_name;
    record_.revision = info.revision;
    record_.credential_value = info.credential_value;

    if (const char* t = transport_text(info.transport_type)) add(text_option(TERN_OPTION_TRANSPORT_TYPE, t));
    if (const char* t = coap_device_text(info.coap_device_type)) add(text_option(TERN_OPTION_COAP_DEVICE_TYPE, t));
    if (const char* t = power_text(info.power_mode)) add(text_option(TERN_OPTION_POWER_MODE, t));
    if (info.psm_activity_timer_ms > 0)
        add(int_option(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, info.psm_activity_timer_ms));
    if (info.edrx_cycle_ms > 0) add(int_option(TERN_OPTION_EDRX_CYCLE_MS, info.edrx_cycle_ms));
    if (info.paging_transmission_window_ms > 0)
        add(int_option(TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS, info.paging_transmission_window_ms));
    for (uint32_t i = 0; i < info.profile_option_count; ++i) add(info.profile_options[i]);

    record_.profile_options = count_ == 0 ? nullptr : more_.empty() ? inline_.data() : more_.data();
    record_.profile_option_count = count_;
}

void device_record_view::add(const tern_kv& kv) {
    if (count_ < inline_options && more_.empty()) {
        inline_[count_++] = kv;
        return;
    }
    if (more_.empty()) more_.assign(inline_.begin(), inline_.begin() + count_);  // may throw bad_alloc
    more_.push_back(kv);
    ++count_;
}

// ---- tern.core.auth/1 ------------------------------------------------------------------------

void core_front::authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done,
                                     void* ctx) noexcept {
    using call = pending<tern_core_record_fn>;
    auto* c = new (std::nothrow) call{done, ctx};
    if (c == nullptr) {
        done(ctx, TERN_INTERNAL, nullptr);
        return;
    }
    core_.authenticate(
        kind, value,
        [](void* p, tern_status s, const tern_device_info* info) {
            const std::unique_ptr<call> c(static_cast<call*>(p));
            if (s != TERN_OK || info == nullptr) {
                c->done(c->ctx, s == TERN_OK ? TERN_INTERNAL : s, nullptr);
                return;
            }
            try {
                const device_record_view v(*info);
                c->done(c->ctx, TERN_OK, &v.record());
            } catch (const std::bad_alloc&) {  // only a profile of more than 48 options allocates
                c->done(c->ctx, TERN_INTERNAL, nullptr);
            }
        },
        c);
}

void core_front::psk_key(tern_str identity, tern_core_psk_key_fn done, void* ctx) noexcept {
    using call = pending<tern_core_psk_key_fn>;
    auto* c = new (std::nothrow) call{done, ctx};
    if (c == nullptr) {
        done(ctx, TERN_INTERNAL, 0, tern_bytes{});
        return;
    }
    core_.authenticate(
        TERN_CREDENTIAL_PSK, identity,
        [](void* p, tern_status s, const tern_device_info* info) {
            const std::unique_ptr<call> c(static_cast<call*>(p));
            if (s != TERN_OK || info == nullptr)
                c->done(c->ctx, s == TERN_OK ? TERN_INTERNAL : s, 0, tern_bytes{});
            else
                c->done(c->ctx, TERN_OK, info->device_id, info->credential_value);
        },
        c);
}

// ---- both generations: forwarded as they are ---------------------------------------------------------

void core_front::post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                                       tern_core_done_fn done, void* ctx) noexcept {
    core_.post_telemetry(device_id, records, count, done, ctx);
}

void core_front::post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                                        uint32_t count, tern_core_done_fn done, void* ctx) noexcept {
    core_.post_attributes(device_id, scope, values, count, done, ctx);
}

void core_front::get_attributes(uint64_t device_id, const tern_key_filter* client,
                                       const tern_key_filter* shared, tern_core_attributes_fn done,
                                       void* ctx) noexcept {
    core_.get_attributes(device_id, client, shared, done, ctx);
}

void core_front::rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                                   tern_str error) noexcept {
    core_.rpc_status(device_id, rpc_id, status, error);
}

void core_front::rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                                  void* ctx) noexcept {
    core_.rpc_reply(device_id, rpc_id, result, done, ctx);
}

void core_front::resend_pending_rpcs(uint64_t device_id) noexcept { core_.resend_pending_rpcs(device_id); }

void core_front::client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                                   tern_core_text_fn done, void* ctx) noexcept {
    core_.client_rpc(device_id, method, params, timeout_ms, done, ctx);
}

void core_front::claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms,
                              tern_core_done_fn done, void* ctx) noexcept {
    core_.claim(device_id, secret_key, duration_ms, done, ctx);
}

void core_front::provision(const tern_provision_request* request, tern_core_provision_fn done,
                                  void* ctx) noexcept {
    core_.provision(request, done, ctx);
}

void core_front::ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done,
                                    void* ctx) noexcept {
    core_.ota_package(device_id, type, done, ctx);
}

void core_front::session_event(uint64_t device_id, tern_session_event event, tern_str transport,
                                      tern_str address) noexcept {
    core_.session_event(device_id, event, transport, address);
}

// ---- tern.core/1 -----------------------------------------------------------------------------

tern_status core_front::set_listener(core_listener_v1* listener) noexcept {
    events_.set_legacy_listener(listener);
    return TERN_OK;
}

void core_front::subscribe(uint64_t device_id, uint32_t flags) noexcept {
    events_.subscribe_device(events_.legacy_handle(), device_id, flags);
}

void core_front::unsubscribe(uint64_t device_id, uint32_t flags) noexcept {
    events_.unsubscribe_device(events_.legacy_handle(), device_id, flags);
}

void core_front::authenticate(tern_credential_kind kind, tern_str value, tern_core_device_fn done,
                              void* ctx) noexcept {
    core_.authenticate(kind, value, done, ctx);
}

void* core_services::query(std::string_view iid) noexcept {
    if (iid == TERN_IID_CORE_V1) return static_cast<core_v1*>(&front_);
    if (iid == TERN_IID_CORE_AUTH_V1) return static_cast<core_auth_v1*>(&front_);
    if (iid == TERN_IID_CORE_TELEMETRY_V1) return static_cast<core_telemetry_v1*>(&front_);
    if (iid == TERN_IID_CORE_ATTRIBUTES_V1) return static_cast<core_attributes_v1*>(&front_);
    if (iid == TERN_IID_CORE_RPC_V1) return static_cast<core_rpc_v1*>(&front_);
    if (iid == TERN_IID_CORE_PROVISIONING_V1) return static_cast<core_provisioning_v1*>(&front_);
    if (iid == TERN_IID_CORE_OTA_V1) return static_cast<core_ota_v1*>(&front_);
    if (iid == TERN_IID_CORE_SESSIONS_V1) return static_cast<core_sessions_v1*>(&front_);
    if (iid == TERN_IID_CORE_EVENTS_V1) return static_cast<core_events_v1*>(&events_);
    return nullptr;
}

}  // namespace tern::core_embedded

#include "device.hpp"

#include <cstring>

#include "tern/abi/coap.h"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

std::shared_ptr<const profile_options> profile_options::copy(const tern_kv* kv, uint32_t n) {
    auto p = std::make_shared<profile_options>();
    p->keys.reserve(n);
    p->values.reserve(n);
    p->kvs.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        p->keys.emplace_back(sdk::to_sv(kv[i].key));
        p->values.emplace_back(kv[i].value);
    }
    // Views only once the vectors stop growing.
    for (uint32_t i = 0; i < n; ++i) p->kvs.push_back(tern_kv{sdk::to_str(p->keys[i]), p->values[i].view()});
    return p;
}

bool profile_options::same_as(const tern_kv* kv, uint32_t n) const noexcept {
    if (n != kvs.size()) return false;
    for (uint32_t i = 0; i < n; ++i) {
        if (sdk::to_sv(kv[i].key) != keys[i]) return false;
        if (!(owned_value(kv[i].value) == values[i])) return false;
    }
    return true;
}

device_limits device_limits::from_options(const tern_kv* kv, uint32_t n) noexcept {
    device_limits l;
    if (kv == nullptr) return l;
    for (uint32_t i = 0; i < n; ++i) {
        const std::string_view key = sdk::to_sv(kv[i].key);
        int64_t* out = key == "device_message_rate"      ? &l.message_rate
                       : key == "device_message_burst"   ? &l.message_burst
                       : key == "device_datapoint_rate"  ? &l.datapoint_rate
                       : key == "device_datapoint_burst" ? &l.datapoint_burst
                                                         : nullptr;
        if (out == nullptr) continue;
        const tern_value& v = kv[i].value;
        int64_t x = -1;
        if (v.type == TERN_VALUE_INT) {
            x = v.u.i;
        } else if (v.type == TERN_VALUE_DOUBLE && v.u.d >= 0 && v.u.d <= 1e6) {
            x = static_cast<int64_t>(v.u.d);
        } else if (v.type == TERN_VALUE_STR) {
            const std::string_view t = sdk::to_sv(v.u.s);
            if (t.empty() || t.size() > 9) continue;
            x = 0;
            for (char c : t) {
                if (c < '0' || c > '9') {
                    x = -1;
                    break;
                }
                x = x * 10 + (c - '0');
            }
        }
        // The same bounds as the settings; anything else keeps the setting.
        if (x < 0 || x > 1000000) continue;
        if (x == 0 && out != &l.message_rate && out != &l.datapoint_rate) continue;  // bursts are >= 1
        *out = x;
    }
    return l;
}

std::shared_ptr<device_entry> copy_device(const tern_device_info& info, credential cred,
                                          payload_v1* adaptor,
                                          const std::shared_ptr<const profile_options>& same_profile) {
    // The core may be older or newer than this plugin: read only what both know.
    tern_device_info d{};
    std::memcpy(&d, &info, info.struct_size < sizeof d ? info.struct_size : sizeof d);
    auto e = std::make_shared<device_entry>();
    e->device_id = d.device_id;
    e->name.assign(sdk::to_sv(d.device_name));
    e->profile_id = d.profile_id;
    e->profile_name.assign(sdk::to_sv(d.profile_name));
    e->revision = d.revision;
    e->transport_type = d.transport_type;
    e->coap_device_type = d.coap_device_type;
    e->payload_type = d.payload_type;
    e->power_mode = d.power_mode;
    e->psm_activity_timer_ms = d.psm_activity_timer_ms;
    e->edrx_cycle_ms = d.edrx_cycle_ms;
    e->paging_transmission_window_ms = d.paging_transmission_window_ms;
    if (d.profile_option_count != 0 && d.profile_options != nullptr) {
        if (same_profile && same_profile->same_as(d.profile_options, d.profile_option_count))
            e->options = same_profile;
        else
            e->options = profile_options::copy(d.profile_options, d.profile_option_count);
        e->limits = device_limits::from_options(d.profile_options, d.profile_option_count);
    }
    e->adaptor = adaptor;
    e->cred = std::move(cred);
    return e;
}

std::shared_ptr<device_entry> device_found(tern_status& status, const tern_device_info* info, const credential& cred,
                                           const payload_adaptors& adaptors) {
    if (status != TERN_OK) return nullptr;
    if (info == nullptr) {
        status = TERN_INTERNAL;
        return nullptr;
    }
    tern_device_info d{};
    std::memcpy(&d, info, info->struct_size < sizeof d ? info->struct_size : sizeof d);
    if (cred.kind == TERN_CREDENTIAL_X509 && sdk::as_text(d.credential_value) != cred.expected) {
        status = TERN_NOT_FOUND;
        return nullptr;
    }
    return copy_device(*info, cred, adaptors.for_type(d.payload_type), nullptr);
}

uint8_t profile_refusal(const device_entry& dev, bool on_api, std::string_view& why) noexcept {
    if (dev.profile_id == 0) {
        why = "the device has no profile";
        return TERN_COAP_CODE(4, 1);
    }
    if (dev.transport_type != TERN_TRANSPORT_DEFAULT && dev.transport_type != TERN_TRANSPORT_COAP) {
        why = "the device profile's transport is not CoAP";
        return TERN_COAP_CODE(5, 0);
    }
    if (on_api && dev.coap_device_type != TERN_COAP_DEVICE_DEFAULT) {
        why = "the device profile's CoAP device type is not DEFAULT";
        return TERN_COAP_CODE(4, 0);
    }
    return 0;
}

}  // namespace tern::device_api

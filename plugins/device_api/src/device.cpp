#include "device.hpp"

#include <cstring>

#include "tern/abi/coap.h"
#include "tern/sdk/power.hpp"
#include "tern/sdk/record.hpp"
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
        int32_t* out = key == "device_message_rate"      ? &l.message_rate
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
        *out = static_cast<int32_t>(x);
    }
    return l;
}

namespace {

// The transport profile fields a core puts first among a device's profile options, and the
// profile's revision (the first occurrence of a key counts); every other option is the
// profile's own.
struct profile_fields {
    tern_transport_type transport = TERN_TRANSPORT_DEFAULT;
    tern_coap_device_type coap_device = TERN_COAP_DEVICE_DEFAULT;
    tern_power_mode power = TERN_POWER_NONE;
    bool has_profile_revision = false;
    uint64_t profile_revision = 0;
    std::vector<tern_kv> own;  // the profile's own options

    profile_fields(const tern_kv* kv, uint32_t n) {
        bool seen[7] = {};
        for (uint32_t i = 0; kv != nullptr && i < n; ++i)
            if (!take(kv[i], seen)) own.push_back(kv[i]);
    }

private:
    static std::string_view text(const tern_value& v) noexcept {
        return v.type == TERN_VALUE_STR ? sdk::to_sv(v.u.s) : std::string_view{};
    }

    bool take(const tern_kv& kv, bool (&seen)[7]) noexcept {
        static constexpr std::string_view keys[7] = {
            TERN_OPTION_TRANSPORT_TYPE,        TERN_OPTION_COAP_DEVICE_TYPE, TERN_OPTION_POWER_MODE,
            TERN_OPTION_PSM_ACTIVITY_TIMER_MS, TERN_OPTION_EDRX_CYCLE_MS,    TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS,
            TERN_OPTION_PROFILE_REVISION};
        const std::string_view key = sdk::to_sv(kv.key);
        std::size_t k = 0;
        while (k < 7 && keys[k] != key) ++k;
        if (k == 7 || seen[k]) return false;
        if (k == 6 && kv.value.type != TERN_VALUE_INT) return false;  // not the core's: the profile's own
        seen[k] = true;
        const std::string_view t = text(kv.value);
        switch (k) {
            case 0:
                // Any transport other than CoAP refuses the device; an unknown name too.
                transport = t == "DEFAULT" ? TERN_TRANSPORT_DEFAULT
                            : t == "COAP"  ? TERN_TRANSPORT_COAP
                            : t == "LWM2M" ? TERN_TRANSPORT_LWM2M
                            : t == "SNMP"  ? TERN_TRANSPORT_SNMP
                                           : TERN_TRANSPORT_MQTT;
                break;
            case 1:  // any other than ThingsBoard's own API is not served under /api/v1
                coap_device = t == "DEFAULT" ? TERN_COAP_DEVICE_DEFAULT : TERN_COAP_DEVICE_EFENTO;
                break;
            case 2:
                power = t == "PSM" ? TERN_POWER_PSM : t == "E_DRX" ? TERN_POWER_EDRX : t == "DRX" ? TERN_POWER_DRX
                                                                                       : TERN_POWER_NONE;
                break;
            case 3:
            case 4:
            case 5: break;  // the timers: read by sdk::power_settings_of
            default:
                has_profile_revision = true;
                profile_revision = static_cast<uint64_t>(kv.value.u.i);
                break;
        }
        return true;
    }
};

}  // namespace

device_entry::~device_entry() {
    if (profile && profile->counted_in != nullptr)
        profile->counted_in->memory(mem::device_records, -static_cast<int64_t>(footprint()), -1);
}

std::size_t device_entry::footprint() const noexcept {
    // make_shared's block: the control block (its vtable pointer and two counts) and the entry.
    return heap_chunk(2 * sizeof(void*) + sizeof(device_entry)) + string_heap(cred.value.capacity()) +
           (cred.expected ? heap_chunk(sizeof(std::string)) + string_heap(cred.expected->capacity()) : 0);
}

device_profile::~device_profile() {
    if (counted_in != nullptr) counted_in->memory(mem::device_records, -static_cast<int64_t>(footprint()), 0);
}

std::size_t device_profile::footprint() const noexcept {
    // Its options are shared with other profiles' blocks of the same content and not counted.
    return heap_chunk(2 * sizeof(void*) + sizeof(device_profile)) + string_heap(power_mode_name.capacity());
}

bool device_profile::same_as(const device_profile& o) const noexcept {
    if (profile_id != o.profile_id || psm_activity_timer_ms != o.psm_activity_timer_ms ||
        edrx_cycle_ms != o.edrx_cycle_ms || paging_transmission_window_ms != o.paging_transmission_window_ms ||
        power_mode_name != o.power_mode_name || power_policy != o.power_policy || adaptor != o.adaptor ||
        power_flags != o.power_flags || transport_type != o.transport_type ||
        coap_device_type != o.coap_device_type || payload_type != o.payload_type || power_mode != o.power_mode ||
        limits.message_rate != o.limits.message_rate || limits.message_burst != o.limits.message_burst ||
        limits.datapoint_rate != o.limits.datapoint_rate || limits.datapoint_burst != o.limits.datapoint_burst)
        return false;
    if (options == o.options) return true;
    if (!options || !o.options) return false;
    return options->same_as(o.options->kvs.data(), static_cast<uint32_t>(o.options->kvs.size()));
}

std::shared_ptr<device_entry> copy_device(const tern_device_record& record, credential cred, payload_v1* adaptor,
                                          const std::shared_ptr<const profile_options>& same_profile,
                                          const metrics* counted_in) {
    // The core may be older or newer than this plugin: read only what both know.
    const tern_device_record d = sdk::read_record(&record);
    auto e = std::make_shared<device_entry>();
    device_profile& pf = *e->profile;
    e->device_id = d.device_id;
    pf.profile_id = d.profile_id;
    e->revision = d.revision;
    pf.payload_type = d.payload_type;
    const profile_fields f(d.profile_options, d.profile_option_count);
    pf.transport_type = f.transport;
    pf.coap_device_type = f.coap_device;
    pf.power_mode = f.power;
    // The power-saving settings as every transport reads them (tern/sdk/power.hpp); the
    // runtime finds the policy of the mode.
    const tern_power_settings ps = sdk::power_settings_of(d.profile_options, d.profile_option_count);
    pf.power_mode_name.assign(sdk::to_sv(ps.mode));
    pf.psm_activity_timer_ms = ps.psm_activity_timer_ms;
    pf.edrx_cycle_ms = ps.edrx_cycle_ms;
    pf.paging_transmission_window_ms = ps.paging_transmission_window_ms;
    e->payload_revision = f.has_profile_revision ? f.profile_revision : d.revision;
    if (!f.own.empty()) {
        const auto n = static_cast<uint32_t>(f.own.size());
        if (same_profile && same_profile->same_as(f.own.data(), n)) pf.options = same_profile;
        else pf.options = profile_options::copy(f.own.data(), n);
        pf.limits = device_limits::from_options(f.own.data(), n);
    }
    pf.adaptor = adaptor;
    e->cred = std::move(cred);
    if (counted_in != nullptr) {
        pf.counted_in = counted_in;
        counted_in->memory(mem::device_records, static_cast<int64_t>(e->footprint()), 1);
        counted_in->memory(mem::device_records, static_cast<int64_t>(pf.footprint()), 0);
    }
    return e;
}

std::shared_ptr<device_entry> device_found(tern_status& status, const tern_device_record* record,
                                           const credential& cred, const sdk::payload_catalog& adaptors,
                                           const metrics* counted_in) {
    if (status != TERN_OK) return nullptr;
    const tern_device_record d = sdk::read_record(record);
    if (d.struct_size == 0) {
        status = TERN_INTERNAL;
        return nullptr;
    }
    if (cred.kind == TERN_CREDENTIAL_X509 && (!cred.expected || sdk::as_text(d.credential_value) != *cred.expected)) {
        status = TERN_NOT_FOUND;
        return nullptr;
    }
    return copy_device(d, cred, adaptors.for_type(d.payload_type), nullptr, counted_in);
}

uint8_t profile_refusal(const device_entry& entry, bool on_api, std::string_view& why) noexcept {
    const device_profile& dev = *entry.profile;
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

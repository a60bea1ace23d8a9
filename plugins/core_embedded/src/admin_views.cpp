// The model as the admin API shows it (JSON); admin_request.hpp declares these.
#include "admin_request.hpp"

#include "crypto.hpp"

namespace tern::core_embedded {

namespace {

const char* const schema_json_keys[4] = {"telemetry", "attributes", "rpcRequest", "rpcResponse"};

void write_power_fields(json::out& o, const power_settings& p) {
    o.kv("mode", power_mode_name(p.mode));
    o.kv("psmActivityTimer", p.psm_activity_timer);
    o.kv("edrxCycle", p.edrx_cycle);
    o.kv("pagingTransmissionWindow", p.paging_transmission_window);
}

void write_power(json::out& o, const power_settings& p) {
    o.key("power").begin_object();
    write_power_fields(o, p);
    o.end_object();
}

// A time or duration in ms; 0 (none) is null.
void ms_or_null(json::out& o, int64_t ms) {
    if (ms == 0) o.null();
    else o.i64(ms);
}

// One resolved setting: the device's value when set, else the profile's, else the power
// plugin's default (a timer) or none (the mode: downlinks are never held).
void write_resolved_timer(json::out& o, const char* name, int64_t device_ms, int64_t profile_ms) {
    o.key(name).begin_object().key("value");
    ms_or_null(o, device_ms != 0 ? device_ms : profile_ms);
    o.kv("from", device_ms != 0 ? "device" : profile_ms != 0 ? "profile" : "default").end_object();
}

// A device's "power": its own settings (what PATCH takes), how each resolves, and, when one
// device was read, its state and the RPCs waiting for it.
void write_device_power(json::out& o, const device& d) {
    o.key("power").begin_object();
    write_power_fields(o, d.power);
    o.key("resolved").begin_object();
    const tern_power_mode mode = d.power.mode != TERN_POWER_NONE ? d.power.mode : d.profile_power.mode;
    o.key("mode").begin_object().key("value");
    mode == TERN_POWER_NONE ? o.null() : o.str(power_mode_name(mode));
    o.kv("from", d.power.mode != TERN_POWER_NONE ? "device" : mode != TERN_POWER_NONE ? "profile" : "none").end_object();
    write_resolved_timer(o, "psmActivityTimer", d.power.psm_activity_timer, d.profile_power.psm_activity_timer);
    write_resolved_timer(o, "edrxCycle", d.power.edrx_cycle, d.profile_power.edrx_cycle);
    write_resolved_timer(o, "pagingTransmissionWindow", d.power.paging_transmission_window,
                         d.profile_power.paging_transmission_window);
    o.end_object();
    if (const auto& ps = d.power_status) {
        o.kv("state", ps->asleep_since_ts != 0 ? "asleep" : ps->seen_since_start ? "awake" : "unknown");
        o.key("asleepSince");
        ms_or_null(o, ps->asleep_since_ts);
        o.key("lastActivityTime");
        ms_or_null(o, ps->last_activity_ts);
        const rpc_pending_summary& r = ps->rpcs;
        o.key("pendingRpcs").begin_object();
        o.kv("count", static_cast<uint64_t>(r.queued + r.sent + r.delivered)).kv("queued", static_cast<uint64_t>(r.queued));
        o.kv("sent", static_cast<uint64_t>(r.sent)).kv("delivered", static_cast<uint64_t>(r.delivered));
        o.kv("persistent", static_cast<uint64_t>(r.persistent)).key("oldestExpiration");
        ms_or_null(o, r.oldest_expiration_ts);
        o.end_object();
    }
    o.end_object();
}

}  // namespace

void write_device(json::out& o, const device& d) {
    o.begin_object();
    o.kv("id", d.id).kv("name", d.name).kv("profile", d.profile_name).kv("label", d.label);
    o.key("credentials");
    if (!d.cred) {
        o.null();
    } else {
        o.begin_object().kv("type", credential_kind_name(d.cred->kind));
        switch (d.cred->kind) {
            case TERN_CREDENTIAL_ACCESS_TOKEN: o.kv("token", d.cred->id); break;
            case TERN_CREDENTIAL_X509: o.kv("sha3", d.cred->id).kv("certificate", d.cred->value); break;
            case TERN_CREDENTIAL_PSK: o.kv("identity", d.cred->id).kv("key", to_hex(d.cred->value)); break;
            case TERN_CREDENTIAL_MQTT_BASIC: o.kv("id", d.cred->id).key("value").json_or_string(d.cred->value); break;
            default: o.kv("id", d.cred->id); break;
        }
        o.end_object();
    }
    write_device_power(o, d);
    o.key("additionalInfo");
    if (d.additional_info.empty()) o.null();
    else o.json_or_string(d.additional_info);
    o.kv_id("firmware", d.fw_package_id).kv_id("software", d.sw_package_id);
    o.key("claim");
    if (!d.claim.registered) {
        o.null();
    } else {
        o.begin_object().kv("expirationTime", d.claim.expires_ts).kv("registeredTime", d.claim.registered_ts);
        o.key("claimedBy");
        d.claim.claimed_by.empty() ? o.null() : o.str(d.claim.claimed_by);
        o.key("claimedTime");
        d.claim.claimed_by.empty() ? o.null() : o.i64(d.claim.claimed_ts);
        o.end_object();
    }
    o.kv("revision", d.revision).kv("createdTime", d.created_ts);
    o.end_object();
}


void write_profile(json::out& o, const profile& p) {
    o.begin_object();
    o.kv("id", p.id).kv("name", p.name).kv("transport", transport_name(p.transport_type));
    o.kv("coapDeviceType", coap_device_type_name(p.coap_device_type)).kv("payload", payload_name(p.payload_type));
    o.key("provision").begin_object().kv("strategy", strategy_name(p.strategy));
    o.key("key");
    p.provision_key.empty() ? o.null() : o.str(p.provision_key);
    o.key("secret");
    p.provision_secret.empty() ? o.null() : o.str(p.provision_secret);
    o.end_object();
    write_power(o, p.power);
    o.key("schemas").begin_object();
    for (int i = 0; i < 4; ++i)
        if (!p.schemas[i].empty()) o.kv(schema_json_keys[i], p.schemas[i]);
    o.end_object();
    o.key("options").begin_object();
    for (const profile_option& x : p.options) o.kv(x.key, x.value);
    o.end_object();
    o.kv_id("firmware", p.fw_package_id).kv_id("software", p.sw_package_id);
    o.kv("devices", p.device_count).kv("revision", p.revision).kv("createdTime", p.created_ts);
    o.end_object();
}

void write_rpc(json::out& o, const rpc_record& r) {
    o.begin_object();
    o.kv("id", r.id).kv("device", r.device_name).kv("method", r.method);
    o.key("params").json_or_string(r.params);
    o.kv("oneway", (r.flags & TERN_RPC_ONEWAY) != 0).kv("persistent", (r.flags & TERN_RPC_PERSISTENT) != 0);
    o.kv("status", rpc_status_name(r.status));
    o.key("result");
    r.result.empty() ? o.null() : o.json_or_string(r.result);
    o.key("error");
    r.error.empty() ? o.null() : o.str(r.error);
    o.kv("createdTime", r.created_ts).kv("updatedTime", r.updated_ts).kv("expirationTime", r.expiration_ts);
    o.kv("retries", static_cast<int64_t>(r.retries));
    o.end_object();
}

void write_ota(json::out& o, const ota_package_row& p) {
    o.begin_object();
    o.kv("id", p.id).kv("type", ota_type_name(p.type)).kv("title", p.title).kv("version", p.version);
    o.key("tag");
    p.tag.empty() ? o.null() : o.str(p.tag);
    o.kv("size", p.size);
    o.key("checksum");
    p.checksum.empty() ? o.null() : o.str(p.checksum);
    o.key("checksumAlgorithm");
    p.checksum_algorithm.empty() ? o.null() : o.str(p.checksum_algorithm);
    o.key("url");
    p.url.empty() ? o.null() : o.str(p.url);
    o.key("fileName");
    p.file_name.empty() ? o.null() : o.str(p.file_name);
    o.key("contentType");
    p.content_type.empty() ? o.null() : o.str(p.content_type);
    o.kv("createdTime", p.created_ts);
    o.end_object();
}

void write_attributes(json::out& o, const char* name, const std::vector<attribute>& list) {
    o.key(name).begin_array();
    for (const attribute& a : list)
        o.begin_object().kv("key", a.key).key("value").val(a.v).kv("lastUpdateTs", a.last_update_ts).end_object();
    o.end_array();
}

}  // namespace tern::core_embedded

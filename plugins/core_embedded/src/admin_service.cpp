#include "admin_service.hpp"

#include <algorithm>

#include "ota_sync.hpp"
#include "store.hpp"
#include "tern/abi/core_capabilities.h"

namespace tern::core_embedded {

tern_status check_name(const std::string& name, const char* what, std::string& msg) {
    if (name.empty()) {
        msg = std::string(what) + " name must not be empty";
        return TERN_INVALID_ARGUMENT;
    }
    if (name.size() > 255) {
        msg = std::string(what) + " name is longer than 255 bytes";
        return TERN_INVALID_ARGUMENT;
    }
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) {
            msg = std::string(what) + " name must not contain control characters";
            return TERN_INVALID_ARGUMENT;
        }
    return TERN_OK;
}

namespace {

tern_status check_power(const power_settings& p, std::string& msg) {
    if (p.mode < TERN_POWER_NONE || p.mode > TERN_POWER_EDRX) {
        msg = "unknown power mode";
        return TERN_INVALID_ARGUMENT;
    }
    if (p.psm_activity_timer < 0 || p.edrx_cycle < 0 || p.paging_transmission_window < 0) {
        msg = "power-saving timers must not be negative";
        return TERN_INVALID_ARGUMENT;
    }
    return TERN_OK;
}

// Credentials free for device (or taken by it)?
tern_status check_credential_free(db::connection& c, const credential& cr, uint64_t device,
                                  std::string& msg) {
    auto owner = store::credential_owner(c, cr.kind, cr.id);
    if (owner && *owner != device) {
        auto q = c.query("SELECT name FROM devices WHERE id = ?");
        q->bind_id(1, *owner);
        msg = std::string("these ") + credential_kind_name(cr.kind) + " credentials belong to device '" +
              (q->step() ? q->get_string(0) : std::string("?")) + "'";
        return TERN_EXISTS;
    }
    return TERN_OK;
}

void write_profile(db::connection& c, const profile& p, bool insert) {
    auto q = c.query(insert
        ? "INSERT INTO profiles(name, transport_type, coap_device_type, payload_type, provision_strategy, "
          "provision_key, provision_secret, power_mode, psm_activity_timer, edrx_cycle, "
          "paging_transmission_window, telemetry_schema, attributes_schema, rpc_request_schema, "
          "rpc_response_schema, revision, created_ts, options, id) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, NULL)"
        : "UPDATE profiles SET name = ?1, transport_type = ?2, coap_device_type = ?3, payload_type = ?4, "
          "provision_strategy = ?5, provision_key = ?6, provision_secret = ?7, power_mode = ?8, "
          "psm_activity_timer = ?9, edrx_cycle = ?10, paging_transmission_window = ?11, "
          "telemetry_schema = ?12, attributes_schema = ?13, rpc_request_schema = ?14, "
          "rpc_response_schema = ?15, revision = ?16, created_ts = ?17, options = ?18 WHERE id = ?19");
    q->bind(1, std::string_view(p.name)).bind(2, static_cast<int64_t>(p.transport_type));
    q->bind(3, static_cast<int64_t>(p.coap_device_type)).bind(4, static_cast<int64_t>(p.payload_type));
    q->bind(5, static_cast<int64_t>(p.strategy)).bind_opt(6, p.provision_key).bind_opt(7, p.provision_secret);
    q->bind(8, static_cast<int64_t>(p.power.mode)).bind(9, p.power.psm_activity_timer);
    q->bind(10, p.power.edrx_cycle).bind(11, p.power.paging_transmission_window);
    for (int i = 0; i < 4; ++i) q->bind_opt(12 + i, p.schemas[i]);
    q->bind_id(16, p.revision).bind(17, p.created_ts);
    const std::string options = store::options_to_json(p.options);
    if (options.empty()) q->bind_null(18);
    else q->bind(18, std::string_view(options));
    if (!insert) q->bind_id(19, p.id);
    q->run();
}

// Applies a spec's set fields to a profile and checks the result.
tern_status apply_profile_spec(db::connection& c, const profile_spec& s, profile& p, std::string& msg) {
    if (s.new_name) p.name = *s.new_name;
    if (auto st = check_name(p.name, "profile", msg); st != TERN_OK) return st;
    if (s.transport_type) p.transport_type = *s.transport_type;
    if (s.coap_device_type) p.coap_device_type = *s.coap_device_type;
    if (s.payload_type) p.payload_type = *s.payload_type;
    if (s.strategy) p.strategy = *s.strategy;
    if (s.provision_key) p.provision_key = *s.provision_key;
    if (s.provision_secret) p.provision_secret = *s.provision_secret;
    if (s.power_mode) p.power.mode = *s.power_mode;
    if (s.psm_activity_timer) p.power.psm_activity_timer = *s.psm_activity_timer;
    if (s.edrx_cycle) p.power.edrx_cycle = *s.edrx_cycle;
    if (s.paging_transmission_window) p.power.paging_transmission_window = *s.paging_transmission_window;
    for (int i = 0; i < 4; ++i)
        if (s.schemas[i]) p.schemas[i] = *s.schemas[i];
    if (s.options) {
        if (s.options->size() > max_profile_options) {
            msg = "at most " + std::to_string(max_profile_options) + " profile options";
            return TERN_INVALID_ARGUMENT;
        }
        for (const profile_option& o : *s.options) {
            if (o.key.empty() || o.key.size() > max_profile_option_key ||
                std::count_if(s.options->begin(), s.options->end(), [&](const profile_option& x) { return x.key == o.key; }) != 1) {
                msg = "a profile option needs a unique name of 1 to " + std::to_string(max_profile_option_key) + " characters";
                return TERN_INVALID_ARGUMENT;
            }
            for (const char* k : profile_option_keys)
                if (o.key == k) {
                    msg = "'" + o.key + "' is set through schemas, not options";
                    return TERN_INVALID_ARGUMENT;
                }
            if (o.key == TERN_OPTION_PROFILE_REVISION) {
                msg = "'" + o.key + "' is the profile's revision, which the core sets";
                return TERN_INVALID_ARGUMENT;
            }
        }
        p.options = *s.options;
    }
    if (auto st = check_power(p.power, msg); st != TERN_OK) return st;
    if (p.transport_type < TERN_TRANSPORT_DEFAULT || p.transport_type > TERN_TRANSPORT_SNMP ||
        p.payload_type < TERN_PAYLOAD_JSON || p.payload_type > TERN_PAYLOAD_PROTOBUF ||
        p.coap_device_type < TERN_COAP_DEVICE_DEFAULT || p.coap_device_type > TERN_COAP_DEVICE_EFENTO) {
        msg = "unknown transport, payload or CoAP device type";
        return TERN_INVALID_ARGUMENT;
    }
    if (p.strategy != provision_strategy::disabled &&
        (p.provision_key.empty() || p.provision_secret.empty())) {
        msg = "a provisioning strategy needs a provision key and secret";
        return TERN_INVALID_ARGUMENT;
    }
    {
        auto q = c.query("SELECT id FROM profiles WHERE name = ?");
        q->bind(1, std::string_view(p.name));
        if (q->step() && q->get_id(0) != p.id) {
            msg = "a profile named '" + p.name + "' exists";
            return TERN_EXISTS;
        }
    }
    if (!p.provision_key.empty()) {
        auto q = c.query("SELECT name FROM profiles WHERE provision_key = ? AND id != ?");
        q->bind(1, std::string_view(p.provision_key)).bind_id(2, p.id);
        if (q->step()) {
            msg = "the provision key is used by profile '" + q->get_string(0) + "'";
            return TERN_EXISTS;
        }
    }
    return TERN_OK;
}

}  // namespace

// ---- profiles --------------------------------------------------------------------------------

void admin_service::create_profile(profile_spec spec, callback<profile> cb) {
    auto out = std::make_shared<profile>();
    p_.submit(
        [this, spec = std::move(spec), out](write_txn& t, std::string& msg) -> tern_status {
            profile p;
            p.name = spec.name;
            if (auto st = apply_profile_spec(t.conn(), spec, p, msg); st != TERN_OK) return st;
            if (msg = check_(p); !msg.empty()) return TERN_INVALID_ARGUMENT;
            p.revision = t.next_revision();
            p.created_ts = t.now();
            write_profile(t.conn(), p, true);
            *out = *store::load_profile(t.conn(), static_cast<uint64_t>(t.conn().last_insert_rowid()));
            return TERN_OK;
        },
        [out, cb](tern_status s, const std::string& msg) { cb({s, msg, s == TERN_OK ? *out : profile{}}); });
}

void admin_service::update_profile(profile_spec spec, callback<profile> cb) {
    auto out = std::make_shared<profile>();
    auto devices = std::make_shared<std::vector<uint64_t>>();
    p_.submit(
        [this, spec = std::move(spec), out, devices](write_txn& t, std::string& msg) -> tern_status {
            auto p = store::load_profile(t.conn(), std::string_view(spec.name));
            if (!p) {
                msg = no_profile(spec.name);
                return TERN_NOT_FOUND;
            }
            if (spec.new_name && p->name == "default" && *spec.new_name != "default") {
                msg = "the default profile cannot be renamed";
                return TERN_INVALID_ARGUMENT;
            }
            if (auto st = apply_profile_spec(t.conn(), spec, *p, msg); st != TERN_OK) return st;
            if (msg = check_(*p); !msg.empty()) return TERN_INVALID_ARGUMENT;
            p->revision = t.next_revision();
            write_profile(t.conn(), *p, false);
            *out = *store::load_profile(t.conn(), p->id);
            *devices = store::devices_of_profile(t.conn(), p->id);
            return TERN_OK;
        },
        [this, out, devices, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK) {
                auth_.clear();
                for (uint64_t d : *devices) p_.listener.device_event(d, TERN_DEVICE_UPDATED);
            }
            cb({s, msg, s == TERN_OK ? *out : profile{}});
        });
}

void admin_service::delete_profile(std::string name, callback<none> cb) {
    p_.submit(
        [name](write_txn& t, std::string& msg) -> tern_status {
            auto p = store::load_profile(t.conn(), std::string_view(name));
            if (!p) {
                msg = no_profile(name);
                return TERN_NOT_FOUND;
            }
            if (p->name == "default") {
                msg = "the default profile cannot be deleted";
                return TERN_EXISTS;
            }
            if (p->device_count > 0) {
                msg = "profile '" + name + "' is used by " + std::to_string(p->device_count) + " device(s)";
                return TERN_EXISTS;
            }
            auto q = t.query("DELETE FROM profiles WHERE id = ?");
            q->bind_id(1, p->id);
            q->run();
            return TERN_OK;
        },
        [cb](tern_status s, const std::string& msg) { cb({s, msg, {}}); });
}

void admin_service::get_profile(std::string name, callback<profile> cb) {
    p_.read<profile>(
        [name = std::move(name), cb](db::connection& c) {
            result<profile> r;
            try {
                auto p = store::load_profile(c, std::string_view(name));
                if (p) r.value = std::move(*p);
                else r = {TERN_NOT_FOUND, no_profile(name), {}};
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

void admin_service::list_profiles(callback<std::vector<profile>> cb) {
    p_.read<std::vector<profile>>(
        [cb](db::connection& c) {
            result<std::vector<profile>> r;
            try {
                r.value = store::list_profiles(c);
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

// ---- devices ----------------------------------------------------------------------------------

void admin_service::create_device(device_spec spec, callback<device> cb) {
    auto out = std::make_shared<device>();
    p_.submit(
        [spec = std::move(spec), out](write_txn& t, std::string& msg) -> tern_status {
            if (auto st = check_name(spec.name, "device", msg); st != TERN_OK) return st;
            if (store::device_id(t.conn(), spec.name)) {
                msg = "a device named '" + spec.name + "' exists";
                return TERN_EXISTS;
            }
            device d;
            d.name = spec.name;
            const std::string pname = spec.profile.value_or("default");
            auto pid = store::profile_id(t.conn(), pname);
            if (!pid) {
                msg = no_profile(pname);
                return TERN_NOT_FOUND;
            }
            d.profile_id = *pid;
            d.label = spec.label.value_or("");
            d.power.mode = spec.power_mode.value_or(TERN_POWER_NONE);
            d.power.psm_activity_timer = spec.psm_activity_timer.value_or(0);
            d.power.edrx_cycle = spec.edrx_cycle.value_or(0);
            d.power.paging_transmission_window = spec.paging_transmission_window.value_or(0);
            if (auto st = check_power(d.power, msg); st != TERN_OK) return st;
            credential cr;
            msg = store::make_credential(spec.cred.value_or(credential_input{}), cr);
            if (!msg.empty()) return TERN_INVALID_ARGUMENT;
            if (auto st = check_credential_free(t.conn(), cr, 0, msg); st != TERN_OK) return st;
            d.cred = std::move(cr);
            const uint64_t id = store::insert_device(t.conn(), d, t.next_revision(), t.now());
            *out = *store::load_device(t.conn(), id);
            return TERN_OK;
        },
        [this, out, cb](tern_status s, const std::string& msg) {
            // New credentials: a transport that remembers unknown ones forgets them.
            if (s == TERN_OK) p_.listener.device_event(out->id, TERN_DEVICE_CREDENTIALS_CHANGED);
            cb({s, msg, s == TERN_OK ? *out : device{}});
        });
}

void admin_service::update_device(device_spec spec, callback<device> cb) {
    struct outcome {
        device d;
        bool updated = false, credentials = false;
        std::vector<attribute_change> ota;
    };
    auto out = std::make_shared<outcome>();
    p_.submit(
        [spec = std::move(spec), out](write_txn& t, std::string& msg) -> tern_status {
            *out = outcome{};
            auto d = store::load_device(t.conn(), std::string_view(spec.name));
            if (!d) {
                msg = no_device(spec.name);
                return TERN_NOT_FOUND;
            }
            device n = *d;
            if (spec.new_name && *spec.new_name != d->name) {
                if (auto st = check_name(*spec.new_name, "device", msg); st != TERN_OK) return st;
                if (store::device_id(t.conn(), *spec.new_name)) {
                    msg = "a device named '" + *spec.new_name + "' exists";
                    return TERN_EXISTS;
                }
                n.name = *spec.new_name;
            }
            if (spec.profile) {
                auto pid = store::profile_id(t.conn(), *spec.profile);
                if (!pid) {
                    msg = no_profile(*spec.profile);
                    return TERN_NOT_FOUND;
                }
                n.profile_id = *pid;
            }
            if (spec.label) n.label = *spec.label;
            if (spec.power_mode) n.power.mode = *spec.power_mode;
            if (spec.psm_activity_timer) n.power.psm_activity_timer = *spec.psm_activity_timer;
            if (spec.edrx_cycle) n.power.edrx_cycle = *spec.edrx_cycle;
            if (spec.paging_transmission_window) n.power.paging_transmission_window = *spec.paging_transmission_window;
            if (auto st = check_power(n.power, msg); st != TERN_OK) return st;
            if (spec.cred) {
                credential cr;
                msg = store::make_credential(*spec.cred, cr);
                if (!msg.empty()) return TERN_INVALID_ARGUMENT;
                if (auto st = check_credential_free(t.conn(), cr, d->id, msg); st != TERN_OK) return st;
                store::replace_credential(t.conn(), d->id, cr);
                out->credentials = true;
            }
            out->updated = n.name != d->name || n.profile_id != d->profile_id ||
                           n.power.mode != d->power.mode ||
                           n.power.psm_activity_timer != d->power.psm_activity_timer ||
                           n.power.edrx_cycle != d->power.edrx_cycle ||
                           n.power.paging_transmission_window != d->power.paging_transmission_window;
            uint64_t before[2] = {};
            if (n.profile_id != d->profile_id)
                for (int k = 0; k < 2; ++k)
                    before[k] = store::effective_ota(t.conn(), d->id, static_cast<tern_ota_type>(k));
            auto q = t.query(
                "UPDATE devices SET name = ?, profile_id = ?, label = ?, power_mode = ?, "
                "psm_activity_timer = ?, edrx_cycle = ?, paging_transmission_window = ?, revision = ? "
                "WHERE id = ?");
            q->bind(1, std::string_view(n.name)).bind_id(2, n.profile_id).bind_opt(3, n.label);
            q->bind(4, static_cast<int64_t>(n.power.mode)).bind(5, n.power.psm_activity_timer);
            q->bind(6, n.power.edrx_cycle).bind(7, n.power.paging_transmission_window);
            q->bind_id(8, t.next_revision()).bind_id(9, d->id);
            q->run();
            if (n.profile_id != d->profile_id)
                for (int k = 0; k < 2; ++k) {
                    const auto type = static_cast<tern_ota_type>(k);
                    ota_sync(t, d->id, type, before[k], store::effective_ota(t.conn(), d->id, type), out->ota);
                }
            out->d = *store::load_device(t.conn(), d->id);
            return TERN_OK;
        },
        [this, out, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK) {
                auth_.forget_device(out->d.id);
                ota_.forget();
                if (out->credentials) p_.listener.device_event(out->d.id, TERN_DEVICE_CREDENTIALS_CHANGED);
                if (out->updated) p_.listener.device_event(out->d.id, TERN_DEVICE_UPDATED);
                for (const attribute_change& c : out->ota) p_.listener.notify_attributes(c.device_id, c.updated, c.deleted);
            }
            cb({s, msg, s == TERN_OK ? out->d : device{}});
        });
}

void admin_service::delete_device(std::string name, callback<none> cb) {
    auto id = std::make_shared<uint64_t>(0);
    auto purge = std::make_shared<bool>(false);
    p_.submit(
        [name, id, purge](write_txn& t, std::string& msg) -> tern_status {
            auto d = store::device_id(t.conn(), name);
            if (!d) {
                msg = no_device(name);
                return TERN_NOT_FOUND;
            }
            *id = *d;
            // Its history is removed in the background (ts_purge_step): ts_kv is keyed by
            // time first, so finding a device's points means walking its buckets. Nothing
            // reads them meanwhile (the device is gone, ids are never reused).
            *purge = store::ts_purge_queue(t.conn(), *d);
            for (const char* sql : {"DELETE FROM credentials WHERE device_id = ?",
                                    "DELETE FROM attributes WHERE device_id = ?",
                                    "DELETE FROM ts_latest WHERE device_id = ?",
                                    "DELETE FROM rpcs WHERE device_id = ?",
                                    "DELETE FROM claims WHERE device_id = ?",
                                    "DELETE FROM devices WHERE id = ?"}) {
                auto q = t.query(sql);
                q->bind_id(1, *d);
                q->run();
            }
            t.mark_deleted(*d);
            return TERN_OK;
        },
        [this, id, purge, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK) {
                const uint64_t d = *id;
                if (*purge) purge_.device_queued();
                auth_.forget_device(d);
                ota_.forget();
                p_.listener.forget(d);
                // Its RPCs end with it; whoever waits hears so.
                rpcs_.device_deleted(d);
                sessions_.forget(d);
                p_.listener.device_event(d, TERN_DEVICE_DELETED);
            }
            cb({s, msg, {}});
        });
}

void admin_service::get_device(std::string name, callback<device> cb) {
    p_.read<device>(
        [name = std::move(name), cb](db::connection& c) {
            result<device> r;
            try {
                auto d = store::load_device(c, std::string_view(name));
                if (d) {
                    // The stored last activity; the core adds what only its memory knows.
                    device_power_status& ps = d->power_status.emplace();
                    auto a = store::load_attribute(c, d->id, TERN_SCOPE_SERVER, "lastActivityTime");
                    if (a && a->v.type == TERN_VALUE_INT) ps.last_activity_ts = a->v.i;
                    r.value = std::move(*d);
                } else {
                    r = {TERN_NOT_FOUND, no_device(name), {}};
                }
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

void admin_service::list_devices(std::string profile_name, int64_t limit, int64_t offset,
                                 callback<std::vector<device>> cb) {
    p_.read<std::vector<device>>(
        [profile_name = std::move(profile_name), limit, offset, cb](db::connection& c) {
            result<std::vector<device>> r;
            try {
                uint64_t pid = 0;
                if (!profile_name.empty()) {
                    auto p = store::profile_id(c, profile_name);
                    if (!p) {
                        cb({TERN_NOT_FOUND, no_profile(profile_name), {}});
                        return;
                    }
                    pid = *p;
                }
                r.value = store::list_devices(c, pid, limit, offset);
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

}  // namespace tern::core_embedded

// The admin API's route table: {method, pattern, handler}, one function per route. A
// pattern's "{name}" segment matches any one path segment and is handed to the handler in
// order (call::arg). The first route whose method and pattern match runs; none: 404.
#include <charconv>
#include <filesystem>

#include "admin_api.hpp"
#include "admin_request.hpp"

namespace tern::core_embedded {

// One request on its way through a route.
struct route_call {
    admin_api& api;
    embedded_core& core;
    http_request& req;
    const request_view& v;
    std::vector<std::string> arg;  // the {…} segments, in order
    respond_fn respond;

    const std::string& method() const { return req.method; }
};
using call = route_call;

namespace {

int64_t integer_segment(const std::string& s, const char* what) {
    int64_t id = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec != std::errc() || p != s.data() + s.size()) throw api_error{400, what};
    return id;
}

// {"deleted": name} and the like: one key, one value.
template <class V>
void answer_one(const respond_fn& respond, const char* key, const V& value) {
    json::out o;
    send(respond, 200, o.begin_object().kv(key, value).end_object().take());
}

auto answer_profile(const respond_fn& respond, int status) {
    return [respond, status](result<profile> r) {
        if (failed(respond, r)) return;
        json::out o;
        write_profile(o, r.value);
        send(respond, status, o.take());
    };
}

// The device, with "warning" added when its credential is weak.
auto answer_device(const respond_fn& respond, int status, std::string warning = {}) {
    return [respond, status, warning](result<device> r) {
        if (failed(respond, r)) return;
        json::out o;
        write_device(o, r.value);
        std::string body = o.take();
        if (!warning.empty() && !body.empty() && body.back() == '}') {
            json::out w;
            body.pop_back();
            body += ",\"warning\":" + w.str(warning).take() + "}";
        }
        send(respond, status, std::move(body));
    };
}

// PUT|DELETE …/ota/{type} of a device or a profile: the same for both owners.
void assign_ota(call& c, ota_target target, const std::string& type_name) {
    auto type = ota_type_from(type_name);
    if (!type) throw api_error{404, "unknown OTA type '" + type_name + "' (firmware, software)"};
    uint64_t package = 0;
    if (c.method() == "PUT") {
        auto b = body_object(c.req);
        auto p = opt_int(b, "package");
        if (!p || *p <= 0) throw api_error{400, "package (an OTA package id) is required"};
        package = static_cast<uint64_t>(*p);
    }
    c.core.assign_ota_package(std::move(target), *type, package, [respond = c.respond, package](result<none> r) {
        if (failed(respond, r)) return;
        json::out o;
        send(respond, 200, o.begin_object().kv_id("package", package).end_object().take());
    });
}

// POST /api/devices, PATCH /api/devices/{name}: the fields both take.
void read_device_fields(const rapidjson::Value& b, device_spec& spec) {
    spec.profile = opt_string(b, "profile");
    spec.label = opt_string(b, "label");
    read_power(b, spec.power_mode, spec.psm_activity_timer, spec.edrx_cycle, spec.paging_transmission_window);
}

}  // namespace

struct admin_api::routes {
    using handler = void (*)(call&);
    struct route {
        const char* method;  // "*": any method
        const char* pattern;
        handler fn;
    };
    static const route table[];

    // ---- info and sessions

    static void info(call& c) {
        const core_stats st = c.core.stats();
        json::out o;
        o.begin_object().kv("plugin", "core_embedded").kv("database", c.core.settings().database);
        o.key("writer").begin_object().kv("commits", st.writer.commits).kv("ops", st.writer.ops);
        o.kv("maxBatch", st.writer.max_batch).kv("rejected", st.writer.rejected).end_object();
        o.key("authCache").begin_object().kv("entries", static_cast<uint64_t>(st.auth_cache_entries));
        o.kv("hits", st.auth_cache_hits).kv("misses", st.auth_cache_misses).end_object();
        o.kv("sessions", static_cast<uint64_t>(st.sessions)).kv("pendingRpcs", static_cast<uint64_t>(st.pending_rpcs));
        o.kv("devicesAsleep", static_cast<uint64_t>(st.devices_asleep));
        o.kv("clientRpcQueue", static_cast<uint64_t>(st.client_rpc_queue));
        o.key("telemetryPurge").begin_object().kv("devices", st.purge_devices);
        o.kv("points", st.purged_points).end_object().end_object();
        send(c.respond, 200, o.take());
    }

    // At most ?limit (1..100000, default 1000): each listed session costs a name lookup on a reader.
    static void list_sessions(call& c) {
        const int64_t limit = c.v.q_int("limit", 1000);
        if (limit < 1 || limit > 100000) throw api_error{400, "limit must be 1..100000"};
        const uint64_t total = c.core.stats().sessions;
        c.core.list_sessions(static_cast<size_t>(limit), [respond = c.respond, total](result<std::vector<session_info>> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object().kv("total", total).key("sessions").begin_array();
            for (const session_info& x : r.value)
                o.begin_object().kv("device", x.device_name).kv("deviceId", x.device_id).kv("transport", x.transport)
                    .kv("address", x.address).kv("openedTime", x.opened_ts).kv("lastActivityTime", x.last_activity_ts)
                    .end_object();
            o.end_array().end_object();
            send(respond, 200, o.take());
        });
    }

    // ---- profiles

    static void list_profiles(call& c) {
        c.core.list_profiles([respond = c.respond](result<std::vector<profile>> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object().key("profiles").begin_array();
            for (const profile& p : r.value) write_profile(o, p);
            o.end_array().end_object();
            send(respond, 200, o.take());
        });
    }

    static void create_profile(call& c) {
        auto b = body_object(c.req);
        profile_spec spec = read_profile_spec(b);
        auto name = opt_string(b, "name");
        if (!name) throw api_error{400, "name is required"};
        spec.name = *name;
        c.core.create_profile(std::move(spec), answer_profile(c.respond, 201));
    }

    static void get_profile(call& c) { c.core.get_profile(c.arg[0], answer_profile(c.respond, 200)); }

    static void update_profile(call& c) {
        auto b = body_object(c.req);
        profile_spec spec = read_profile_spec(b);
        spec.name = c.arg[0];
        spec.new_name = opt_string(b, "name");
        c.core.update_profile(std::move(spec), answer_profile(c.respond, 200));
    }

    static void delete_profile(call& c) {
        c.core.delete_profile(c.arg[0], [respond = c.respond, name = c.arg[0]](result<none> r) {
            if (!failed(respond, r)) answer_one(respond, "deleted", name);
        });
    }

    static void assign_profile_ota(call& c) {
        ota_target t;
        t.profile = c.arg[0];
        assign_ota(c, std::move(t), c.arg[1]);
    }

    // ---- devices

    static void list_devices(call& c) {
        c.core.list_devices(c.v.q("profile").value_or(""), c.v.q_int("limit", 0), c.v.q_int("offset", 0),
                            [respond = c.respond](result<std::vector<device>> r) {
                                if (failed(respond, r)) return;
                                json::out o;
                                o.begin_object().key("devices").begin_array();
                                for (const device& d : r.value) write_device(o, d);
                                o.end_array().end_object();
                                send(respond, 200, o.take());
                            });
    }

    static void create_device(call& c) {
        auto b = body_object(c.req);
        device_spec spec;
        auto name = opt_string(b, "name");
        if (!name) throw api_error{400, "name is required"};
        spec.name = *name;
        read_device_fields(b, spec);
        spec.cred = read_credentials(b, true);
        std::string warning = c.api.check_credential(spec.cred, spec.name);
        c.core.create_device(std::move(spec), answer_device(c.respond, 201, std::move(warning)));
    }

    static void import_devices(call& c) { c.api.import_devices(c.req, c.v, c.respond); }

    static void devices_method_not_allowed(call&) { throw api_error{405, "method not allowed"}; }

    static void get_device(call& c) { c.core.get_device(c.arg[0], answer_device(c.respond, 200)); }

    static void update_device(call& c) {
        const std::string& name = c.arg[0];
        auto b = body_object(c.req);
        device_spec spec;
        spec.name = name;
        spec.new_name = opt_string(b, "name");
        read_device_fields(b, spec);
        spec.cred = read_credentials(b, false);
        std::string warning = c.api.check_credential(spec.cred, name);
        c.core.update_device(std::move(spec), answer_device(c.respond, 200, std::move(warning)));
    }

    static void delete_device(call& c) {
        c.core.delete_device(c.arg[0], [respond = c.respond, name = c.arg[0]](result<none> r) {
            if (!failed(respond, r)) answer_one(respond, "deleted", name);
        });
    }

    static void set_credentials(call& c) {
        const std::string& name = c.arg[0];
        auto b = body_object(c.req, true);
        device_spec spec;
        spec.name = name;
        spec.cred = read_credentials(b, true);
        std::string warning = c.api.check_credential(spec.cred, name);
        c.core.update_device(std::move(spec), answer_device(c.respond, 200, std::move(warning)));
    }

    // ---- attributes and telemetry

    static void read_attributes(call& c) {
        uint32_t scopes = 0;
        for (const std::string& sc : c.v.q_list("scope")) scopes |= 1u << scope_from(sc);
        if (scopes == 0) scopes = (1u << TERN_SCOPE_CLIENT) | (1u << TERN_SCOPE_SHARED) | (1u << TERN_SCOPE_SERVER);
        c.core.read_attributes(c.arg[0], scopes, c.v.q_list("keys"), [respond = c.respond, scopes](result<attribute_set> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object();
            if (scopes & (1u << TERN_SCOPE_CLIENT)) write_attributes(o, "client", r.value.client);
            if (scopes & (1u << TERN_SCOPE_SHARED)) write_attributes(o, "shared", r.value.shared);
            if (scopes & (1u << TERN_SCOPE_SERVER)) write_attributes(o, "server", r.value.server);
            o.end_object();
            send(respond, 200, o.take());
        });
    }

    // The operator's scopes only: client attributes are the device's.
    static tern_attribute_scope operator_scope(const std::string& name) {
        const tern_attribute_scope scope = scope_from(name);
        if (scope == TERN_SCOPE_CLIENT) throw api_error{400, "client attributes are the device's to set"};
        return scope;
    }

    static void set_attributes(call& c) {
        const tern_attribute_scope scope = operator_scope(c.arg[1]);
        auto b = body_object(c.req);
        std::vector<kv> values;
        for (auto it = b.MemberBegin(); it != b.MemberEnd(); ++it) {
            auto val = json::to_value(it->value);
            if (!val) throw api_error{400, "attribute values must not be null (use DELETE)"};
            values.push_back(kv{std::string(it->name.GetString(), it->name.GetStringLength()), std::move(*val)});
        }
        if (values.empty()) throw api_error{400, "no attributes given"};
        const uint64_t count = values.size();
        c.core.set_attributes(c.arg[0], scope, std::move(values), [respond = c.respond, count](result<none> r) {
            if (!failed(respond, r)) answer_one(respond, "updated", count);
        });
    }

    static void delete_attributes(call& c) {
        const tern_attribute_scope scope = operator_scope(c.arg[1]);
        auto keys = c.v.q_list("keys");
        if (keys.empty()) throw api_error{400, "keys (comma separated) is required"};
        c.core.delete_attributes(c.arg[0], scope, keys, [respond = c.respond, keys](result<none> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object().key("deleted").begin_array();
            for (const std::string& k : keys) o.str(k);
            o.end_array().end_object();
            send(respond, 200, o.take());
        });
    }

    static void latest_telemetry(call& c) {
        c.core.latest_telemetry(c.arg[0], c.v.q_list("keys"), [respond = c.respond](result<std::vector<ts_latest>> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object();
            for (const ts_latest& t : r.value) o.key(t.key).begin_object().kv("ts", t.ts).key("value").val(t.v).end_object();
            o.end_object();
            send(respond, 200, o.take());
        });
    }

    static void telemetry_range(call& c) {
        const int64_t start = c.v.q_int("startTs", 0);
        const int64_t end = c.v.q_int("endTs", INT64_MAX);
        const int64_t limit = c.v.q_int("limit", 100);
        if (limit <= 0 || limit > 100000) throw api_error{400, "limit must be 1..100000"};
        const std::string order = c.v.q("order").value_or("desc");
        if (order != "asc" && order != "desc") throw api_error{400, "order must be asc or desc"};
        c.core.telemetry_range(c.arg[0], c.v.q_list("keys"), start, end, limit, order == "desc",
                               [respond = c.respond](result<std::map<std::string, std::vector<ts_point>>> r) {
                                   if (failed(respond, r)) return;
                                   json::out o;
                                   o.begin_object();
                                   for (const auto& [k, points] : r.value) {
                                       o.key(k).begin_array();
                                       for (const ts_point& p : points)
                                           o.begin_object().kv("ts", p.ts).key("value").val(p.v).end_object();
                                       o.end_array();
                                   }
                                   o.end_object();
                                   send(respond, 200, o.take());
                               });
    }

    // ---- server-side RPC

    static void send_rpc(call& c) {
        auto b = body_object(c.req);
        rpc_request_spec spec;
        spec.device = c.arg[0];
        auto method = opt_string(b, "method");
        if (!method || method->empty()) throw api_error{400, "method is required"};
        spec.method = *method;
        if (const rapidjson::Value* p = json::member(b, "params"); p != nullptr && !p->IsNull())
            spec.params = json::compact(*p);
        spec.oneway = opt_bool(b, "oneway").value_or(false);
        spec.persistent = opt_bool(b, "persistent").value_or(false);
        spec.timeout_ms = opt_int(b, "timeout").value_or(0);
        if (spec.timeout_ms < 0 || spec.timeout_ms > 7LL * 24 * 3600 * 1000)
            throw api_error{400, "timeout must be 0..604800000 ms"};
        const bool wait = !spec.persistent && opt_bool(b, "wait").value_or(true);
        spec.wait = wait;
        c.core.send_rpc(std::move(spec), [respond = c.respond, wait](result<rpc_record> r) {
            if (failed(respond, r)) return;
            json::out o;
            write_rpc(o, r.value);
            int status = 202;
            if (wait) {
                switch (r.value.status) {
                    case TERN_RPC_SUCCESSFUL: status = 200; break;
                    case TERN_RPC_FAILED: status = 502; break;
                    default: status = 504; break;
                }
            }
            send(respond, status, o.take());
        });
    }

    static void list_rpcs(call& c) {
        c.core.list_rpcs(c.arg[0], c.v.q_int("limit", 100), [respond = c.respond](result<std::vector<rpc_record>> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object().key("rpcs").begin_array();
            for (const rpc_record& x : r.value) write_rpc(o, x);
            o.end_array().end_object();
            send(respond, 200, o.take());
        });
    }

    static void get_rpc(call& c) {
        const int64_t id = integer_segment(c.arg[1], "the RPC id must be an integer");
        c.core.get_rpc(c.arg[0], id, [respond = c.respond](result<rpc_record> r) {
            if (failed(respond, r)) return;
            json::out o;
            write_rpc(o, r.value);
            send(respond, 200, o.take());
        });
    }

    // ---- claims and a device's OTA

    static void complete_claim(call& c) {
        auto b = body_object(c.req, true);
        auto secret = opt_string(b, "secretKey").value_or("");
        auto owner = opt_string(b, "owner").value_or("admin");
        c.core.complete_claim(c.arg[0], secret, owner, [respond = c.respond](result<device> r) {
            if (!r.ok()) {
                int status = http_status(r.status);
                if (r.status == TERN_PERMISSION) status = 400;  // wrong secret key
                if (r.status == TERN_TIMEOUT) status = 410;     // the claim expired
                respond(error(status, r.message));
                return;
            }
            json::out o;
            write_device(o, r.value);
            send(respond, 200, o.take());
        });
    }

    static void remove_claim(call& c) {
        c.core.remove_claim(c.arg[0], [respond = c.respond, name = c.arg[0]](result<none> r) {
            if (!failed(respond, r)) answer_one(respond, "unclaimed", name);
        });
    }

    static void assign_device_ota(call& c) {
        ota_target t;
        t.device = c.arg[0];
        assign_ota(c, std::move(t), c.arg[1]);
    }

    // ---- OTA packages

    static void list_ota_packages(call& c) {
        c.core.list_ota_packages([respond = c.respond](result<std::vector<ota_package_row>> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object().key("packages").begin_array();
            for (const ota_package_row& p : r.value) write_ota(o, p);
            o.end_array().end_object();
            send(respond, 200, o.take());
        });
    }

    static void upload_ota_package(call& c) {
        const request_view& v = c.v;
        ota_upload up;
        auto type = ota_type_from(v.q("type").value_or("firmware"));
        if (!type) throw api_error{400, "type must be firmware or software"};
        up.type = *type;
        up.title = v.q("title").value_or("");
        up.version = v.q("version").value_or("");
        up.tag = v.q("tag").value_or("");
        up.checksum_algorithm = v.q("checksumAlgorithm").value_or("SHA256");
        up.checksum = v.q("checksum").value_or("");
        up.url = v.q("url").value_or("");
        up.file_name = v.q("fileName").value_or("");
        up.content_type = c.req.content_type;
        // A URL-only package comes with no body; the server still spooled an empty file
        // for the POST, which is not a package.
        std::error_code size_ec;
        const bool empty_body = !c.req.body_file.empty() &&
                                std::filesystem::file_size(c.req.body_file, size_ec) == 0 && !size_ec;
        if (!(empty_body && !up.url.empty())) {
            up.temp_path = c.req.body_file;
            c.req.body_file.clear();  // the core owns the file now
        }
        if (up.temp_path.empty() && up.url.empty()) throw api_error{400, "upload the package bytes or give url"};
        c.core.create_ota_package(std::move(up), [respond = c.respond](result<ota_package_row> r) {
            if (failed(respond, r)) return;
            json::out o;
            write_ota(o, r.value);
            send(respond, 201, o.take());
        });
    }

    static uint64_t package_id(const std::string& s) {
        const int64_t id = integer_segment(s, "the OTA package id must be a positive integer");
        if (id <= 0) throw api_error{400, "the OTA package id must be a positive integer"};
        return static_cast<uint64_t>(id);
    }

    static void get_ota_package(call& c) {
        c.core.get_ota_package(package_id(c.arg[0]), [respond = c.respond](result<ota_package_row> r) {
            if (failed(respond, r)) return;
            json::out o;
            write_ota(o, r.value);
            send(respond, 200, o.take());
        });
    }

    static void delete_ota_package(call& c) {
        const uint64_t id = package_id(c.arg[0]);
        c.core.delete_ota_package(id, [respond = c.respond, id](result<none> r) {
            if (!failed(respond, r)) answer_one(respond, "deleted", static_cast<int64_t>(id));
        });
    }

    // ---- client-side RPC

    static void list_client_rpcs(call& c) {
        c.core.list_client_rpcs([respond = c.respond](result<std::vector<client_rpc_entry>> r) {
            if (failed(respond, r)) return;
            json::out o;
            o.begin_object().key("calls").begin_array();
            for (const client_rpc_entry& e : r.value) {
                o.begin_object().kv("id", e.id).kv("device", e.device_name).kv("deviceId", e.device_id);
                o.kv("method", e.method).key("params").json_or_string(e.params);
                o.kv("receivedTime", e.received_ts).kv("deadline", e.deadline_ts).end_object();
            }
            o.end_array().end_object();
            send(respond, 200, o.take());
        });
    }

    // GET shows, PUT changes (fields left out keep their value) and shows.
    static void show_client_rpc_config(call& c) {
        client_rpc_config cfg = c.core.get_client_rpc_config();
        if (c.method() == "PUT") {
            auto b = body_object(c.req);
            cfg.builtin = opt_bool(b, "builtin").value_or(cfg.builtin);
            cfg.queue = opt_bool(b, "queue").value_or(cfg.queue);
            c.core.set_client_rpc_config(cfg);
        }
        json::out o;
        o.begin_object().kv("builtin", cfg.builtin).kv("queue", cfg.queue);
        o.key("builtinMethods").begin_array().str("getCurrentTime").str("ping").str("getDeviceInfo").end_array();
        o.end_object();
        send(c.respond, 200, o.take());
    }

    static void reply_client_rpc(call& c) {
        uint64_t id = 0;
        const std::string& s = c.arg[0];
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
        if (ec != std::errc() || p != s.data() + s.size()) throw api_error{400, "the call id must be an integer"};
        rapidjson::Document d;
        if (std::string err = json::parse(c.req.body, d); !err.empty()) throw api_error{400, err};
        const std::string reply = json::compact(d);
        if (c.core.reply_client_rpc(id, reply) != TERN_OK)
            throw api_error{404, "no waiting client RPC " + std::to_string(id) + " (answered or timed out)"};
        json::out o;
        send(c.respond, 200, o.begin_object().kv("id", id).kv("delivered", true).end_object().take());
    }
};

// Order matters only where two patterns match the same path: a method-specific route
// before the "*" one.
const admin_api::routes::route admin_api::routes::table[] = {
    {"GET", "/api/info", info},
    {"GET", "/api/sessions", list_sessions},

    {"GET", "/api/profiles", list_profiles},
    {"POST", "/api/profiles", create_profile},
    {"GET", "/api/profiles/{name}", get_profile},
    {"PATCH", "/api/profiles/{name}", update_profile},
    {"PUT", "/api/profiles/{name}", update_profile},  // the same: fields left out keep their value
    {"DELETE", "/api/profiles/{name}", delete_profile},
    {"PUT", "/api/profiles/{name}/ota/{type}", assign_profile_ota},
    {"DELETE", "/api/profiles/{name}/ota/{type}", assign_profile_ota},

    {"GET", "/api/devices", list_devices},
    {"POST", "/api/devices", create_device},
    {"*", "/api/devices", devices_method_not_allowed},
    {"POST", "/api/devices/import", import_devices},
    {"GET", "/api/devices/{name}", get_device},
    {"PATCH", "/api/devices/{name}", update_device},
    {"DELETE", "/api/devices/{name}", delete_device},
    {"PUT", "/api/devices/{name}/credentials", set_credentials},
    {"GET", "/api/devices/{name}/attributes", read_attributes},
    {"POST", "/api/devices/{name}/attributes/{scope}", set_attributes},
    {"PUT", "/api/devices/{name}/attributes/{scope}", set_attributes},
    {"DELETE", "/api/devices/{name}/attributes/{scope}", delete_attributes},
    {"GET", "/api/devices/{name}/telemetry/latest", latest_telemetry},
    {"GET", "/api/devices/{name}/telemetry", telemetry_range},
    {"POST", "/api/devices/{name}/rpc", send_rpc},
    {"GET", "/api/devices/{name}/rpc", list_rpcs},
    {"GET", "/api/devices/{name}/rpc/{id}", get_rpc},
    {"POST", "/api/devices/{name}/claim", complete_claim},
    {"DELETE", "/api/devices/{name}/claim", remove_claim},
    {"PUT", "/api/devices/{name}/ota/{type}", assign_device_ota},
    {"DELETE", "/api/devices/{name}/ota/{type}", assign_device_ota},

    {"GET", "/api/ota", list_ota_packages},
    {"POST", "/api/ota", upload_ota_package},
    {"GET", "/api/ota/{id}", get_ota_package},
    {"DELETE", "/api/ota/{id}", delete_ota_package},

    {"GET", "/api/client-rpc", list_client_rpcs},
    {"GET", "/api/client-rpc/config", show_client_rpc_config},
    {"PUT", "/api/client-rpc/config", show_client_rpc_config},
    {"POST", "/api/client-rpc/{id}/reply", reply_client_rpc},
};

bool admin_api::dispatch(http_request& req, const request_view& v, const respond_fn& respond) {
    route_call c{*this, core_, req, v, {}, respond};
    for (const routes::route& r : routes::table) {
        if (std::string_view(r.method) != "*" && req.method != r.method) continue;
        if (!pattern_matches(r.pattern, v.seg, c.arg)) continue;
        r.fn(c);
        return true;
    }
    return false;
}

}  // namespace tern::core_embedded

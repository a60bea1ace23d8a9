#include "admin_api.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "crypto.hpp"
#include "json.hpp"
#include "tern/sdk/status.hpp"

namespace tern::core_embedded {

namespace {

struct api_error {
    int status;
    std::string message;
};

int http_status(tern_status s) {
    switch (s) {
        case TERN_OK: return 200;
        case TERN_INVALID_ARGUMENT: return 400;
        case TERN_NOT_FOUND: return 404;
        case TERN_EXISTS: return 409;
        case TERN_PERMISSION: return 403;
        case TERN_BUSY:
        case TERN_UNAVAILABLE: return 503;
        case TERN_TIMEOUT: return 504;
        default: return 500;
    }
}

void send(const respond_fn& respond, int status, std::string body) {
    respond(http_response{status, std::move(body)});
}

template <class T>
bool failed(const respond_fn& respond, const result<T>& r) {
    if (r.ok()) return false;
    respond(admin_api::error(http_status(r.status), r.message.empty() ? sdk::status_name(r.status) : r.message));
    return true;
}

// ---- request parsing ----------------------------------------------------------------------

struct request_view {
    std::vector<std::string> seg;  // decoded path segments after /api
    std::multimap<std::string, std::string> query;

    std::optional<std::string> q(const std::string& name) const {
        auto it = query.find(name);
        if (it == query.end()) return std::nullopt;
        return it->second;
    }
    int64_t q_int(const std::string& name, int64_t def) const {
        auto v = q(name);
        if (!v || v->empty()) return def;
        int64_t x = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
        if (ec != std::errc() || p != v->data() + v->size())
            throw api_error{400, "query parameter " + name + " must be an integer"};
        return x;
    }
    bool q_bool(const std::string& name, bool def) const {
        auto v = q(name);
        if (!v || v->empty()) return def;
        if (*v == "true" || *v == "1") return true;
        if (*v == "false" || *v == "0") return false;
        throw api_error{400, "query parameter " + name + " must be true or false"};
    }
    std::vector<std::string> q_list(const std::string& name) const {
        std::vector<std::string> out;
        for (auto [it, end] = query.equal_range(name); it != end; ++it) {
            std::string_view s = it->second;
            while (!s.empty()) {
                const auto comma = s.find(',');
                std::string_view part = s.substr(0, comma);
                if (!part.empty()) out.emplace_back(part);
                if (comma == std::string_view::npos) break;
                s.remove_prefix(comma + 1);
            }
        }
        return out;
    }
};

request_view split_target(std::string_view target) {
    request_view v;
    std::string_view path = target, query;
    if (auto qm = target.find('?'); qm != std::string_view::npos) {
        path = target.substr(0, qm);
        query = target.substr(qm + 1);
    }
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        const auto slash = path.find('/');
        v.seg.push_back(url_decode(path.substr(0, slash), false));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash);
    }
    while (!query.empty()) {
        const auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        if (!part.empty()) {
            const auto eq = part.find('=');
            v.query.emplace(url_decode(part.substr(0, eq), true),
                            eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1), true));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return v;
}

rapidjson::Document body_object(const http_request& req, bool allow_empty = false) {
    rapidjson::Document d;
    if (req.body.empty() && allow_empty) {
        d.SetObject();
        return d;
    }
    if (std::string err = json::parse(req.body, d); !err.empty()) throw api_error{400, err};
    if (!d.IsObject()) throw api_error{400, "the body must be a JSON object"};
    return d;
}

std::optional<std::string> opt_string(const rapidjson::Value& o, const char* name) {
    const rapidjson::Value* v = json::member(o, name);
    if (v == nullptr || v->IsNull()) return std::nullopt;
    if (!v->IsString()) throw api_error{400, std::string(name) + " must be a string"};
    return std::string(v->GetString(), v->GetStringLength());
}
std::optional<int64_t> opt_int(const rapidjson::Value& o, const char* name) {
    const rapidjson::Value* v = json::member(o, name);
    if (v == nullptr || v->IsNull()) return std::nullopt;
    if (!v->IsInt64()) throw api_error{400, std::string(name) + " must be an integer"};
    return v->GetInt64();
}
std::optional<bool> opt_bool(const rapidjson::Value& o, const char* name) {
    const rapidjson::Value* v = json::member(o, name);
    if (v == nullptr || v->IsNull()) return std::nullopt;
    if (!v->IsBool()) throw api_error{400, std::string(name) + " must be true or false"};
    return v->GetBool();
}
const rapidjson::Value* opt_object(const rapidjson::Value& o, const char* name) {
    const rapidjson::Value* v = json::member(o, name);
    if (v == nullptr || v->IsNull()) return nullptr;
    if (!v->IsObject()) throw api_error{400, std::string(name) + " must be an object"};
    return v;
}

template <class T>
T parse_enum(const std::optional<std::string>& s, std::optional<T> (*from)(std::string_view), const char* what) {
    auto v = from(*s);
    if (!v) throw api_error{400, "unknown " + std::string(what) + " '" + *s + "'"};
    return *v;
}

void read_power(const rapidjson::Value& body, std::optional<tern_power_mode>& mode, std::optional<int64_t>& psm,
                std::optional<int64_t>& edrx, std::optional<int64_t>& paging) {
    const rapidjson::Value* p = opt_object(body, "power");
    if (p == nullptr) return;
    if (auto m = opt_string(*p, "mode")) mode = parse_enum<tern_power_mode>(m, power_mode_from, "power mode");
    psm = opt_int(*p, "psmActivityTimer");
    edrx = opt_int(*p, "edrxCycle");
    paging = opt_int(*p, "pagingTransmissionWindow");
}

std::optional<credential_input> read_credentials(const rapidjson::Value& body, bool empty_means_token) {
    auto token = opt_string(body, "token");
    auto x509 = opt_string(body, "x509");
    auto psk_id = opt_string(body, "pskIdentity");
    auto psk_key = opt_string(body, "pskKey");
    const int given = (token ? 1 : 0) + (x509 ? 1 : 0) + ((psk_id || psk_key) ? 1 : 0);
    if (given > 1) throw api_error{400, "give one of token, x509, pskIdentity+pskKey"};
    credential_input c;
    if (token) {
        c.kind = TERN_CREDENTIAL_ACCESS_TOKEN;
        c.token = *token;
        if (c.token.empty()) throw api_error{400, "token must not be empty"};
    } else if (x509) {
        c.kind = TERN_CREDENTIAL_X509;
        c.certificate = *x509;
    } else if (psk_id || psk_key) {
        if (!psk_id || !psk_key) throw api_error{400, "PSK credentials need pskIdentity and pskKey"};
        c.kind = TERN_CREDENTIAL_PSK;
        c.psk_identity = *psk_id;
        if (!from_hex(*psk_key, c.psk_key)) throw api_error{400, "pskKey must be hex"};
    } else if (!empty_means_token) {
        return std::nullopt;
    }
    return c;
}

// ---- JSON views of the model -----------------------------------------------------------

void write_power(json::out& o, const power_settings& p) {
    o.key("power").begin_object();
    o.kv("mode", power_mode_name(p.mode));
    o.kv("psmActivityTimer", p.psm_activity_timer);
    o.kv("edrxCycle", p.edrx_cycle);
    o.kv("pagingTransmissionWindow", p.paging_transmission_window);
    o.end_object();
}

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
    write_power(o, d.power);
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

const char* schema_json_keys[4] = {"telemetry", "attributes", "rpcRequest", "rpcResponse"};

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

tern_attribute_scope scope_from(const std::string& s) {
    if (s == "client") return TERN_SCOPE_CLIENT;
    if (s == "shared") return TERN_SCOPE_SHARED;
    if (s == "server") return TERN_SCOPE_SERVER;
    throw api_error{404, "unknown attribute scope '" + s + "' (client, shared, server)"};
}

profile_spec read_profile_spec(const rapidjson::Value& b) {
    profile_spec s;
    if (auto v = opt_string(b, "transport")) s.transport_type = parse_enum<tern_transport_type>(v, transport_from, "transport");
    if (auto v = opt_string(b, "coapDeviceType"))
        s.coap_device_type = parse_enum<tern_coap_device_type>(v, coap_device_type_from, "CoAP device type");
    if (auto v = opt_string(b, "payload")) s.payload_type = parse_enum<tern_payload_type>(v, payload_from, "payload type");
    if (const rapidjson::Value* p = opt_object(b, "provision")) {
        if (auto v = opt_string(*p, "strategy"))
            s.strategy = parse_enum<provision_strategy>(v, strategy_from, "provisioning strategy");
        s.provision_key = opt_string(*p, "key");
        s.provision_secret = opt_string(*p, "secret");
    }
    read_power(b, s.power_mode, s.psm_activity_timer, s.edrx_cycle, s.paging_transmission_window);
    if (const rapidjson::Value* sc = opt_object(b, "schemas"))
        for (int i = 0; i < 4; ++i) s.schemas[i] = opt_string(*sc, schema_json_keys[i]);
    // Integer options for transports (the device API's rate limits); the object replaces
    // every option, null or {} removes them.
    if (auto it = b.FindMember("options"); it != b.MemberEnd()) {
        std::vector<profile_option> opts;
        if (!it->value.IsNull()) {
            if (!it->value.IsObject()) throw api_error{400, "options must be an object of integers"};
            for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
                if (!m->value.IsInt64()) throw api_error{400, "option '" + std::string(m->name.GetString()) + "' must be an integer"};
                opts.push_back(profile_option{std::string(m->name.GetString(), m->name.GetStringLength()), m->value.GetInt64()});
            }
        }
        s.options = std::move(opts);
    }
    return s;
}

}  // namespace

// ---- key and address files ------------------------------------------------------------------

std::string admin_key_path(const std::string& database) { return database + ".admin-key"; }
std::string admin_addr_path(const std::string& database) { return database + ".admin-addr"; }

std::string read_admin_key(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        if (errno == ENOENT) return {};
        throw sdk::error(TERN_IO, "cannot read " + path + ": " + std::strerror(errno));
    }
    std::string key;
    std::getline(f, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
    return key;
}

std::string load_or_create_admin_key(const std::string& path, bool& created) {
    created = false;
    if (std::string k = read_admin_key(path); !k.empty()) return k;
    const std::string key = random_hex(16);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return read_admin_key(path);  // another process was quicker
        throw sdk::error(TERN_IO, "cannot create " + path + ": " + std::strerror(errno));
    }
    const std::string line = key + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw sdk::error(TERN_IO, "cannot write " + path);
    created = true;
    return key;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            std::string byte;
            if (from_hex(s.substr(i + 1, 2), byte)) {
                out += byte;
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

// ---- the API --------------------------------------------------------------------------------

http_response admin_api::error(int status, std::string_view message) {
    json::out o;
    o.begin_object().kv("error", message).end_object();
    return http_response{status, o.take()};
}

bool admin_api::is_upload(std::string_view method, std::string_view target) {
    const auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    return method == "POST" && path == "/api/ota";
}

bool admin_api::authorized(std::string_view h) const {
    constexpr std::string_view bearer = "Bearer ";
    if (h.size() <= bearer.size()) return false;
    for (size_t i = 0; i < bearer.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(h[i])) != std::tolower(static_cast<unsigned char>(bearer[i])))
            return false;
    h.remove_prefix(bearer.size());
    while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
    return !key_.empty() && equal_secret(h, key_);
}

std::string admin_api::check_credential(const std::optional<credential_input>& c, const std::string& device) const {
    if (!c) return {};
    std::string warning;
    if (c->kind == TERN_CREDENTIAL_ACCESS_TOKEN && !c->token.empty()) {
        const size_t n = c->token.size();
        if (n < rules_.min_token_length)
            throw api_error{400, "token must be at least " + std::to_string(rules_.min_token_length) +
                                     " characters (min_token_length); leave it out and a random 20-character "
                                     "token is generated"};
        if (n < rules_.recommended_token_length)
            warning = "the access token has " + std::to_string(n) + " characters: a short token can be guessed; " +
                      std::to_string(rules_.recommended_token_length) + " or more are recommended (or leave it "
                      "out for a generated one)";
    } else if (c->kind == TERN_CREDENTIAL_PSK) {
        const size_t n = c->psk_key.size();
        if (n < rules_.min_psk_key_length)
            throw api_error{400, "pskKey must be at least " + std::to_string(rules_.min_psk_key_length) +
                                     " bytes (min_psk_key_length)"};
        if (n < rules_.recommended_psk_key_length)
            warning = "the PSK key has " + std::to_string(n) + " bytes: a short key can be found offline from one "
                      "recorded handshake; " + std::to_string(rules_.recommended_psk_key_length) +
                      " random bytes or more are recommended";
    }
    if (!warning.empty()) {
        rules_.weak.inc();
        log_.warn("device '", device, "': ", warning);
    }
    return warning;
}

void admin_api::handle(http_request req, respond_fn respond) {
    // An uploaded file not handed to the core is removed when the request is done with.
    struct file_guard {
        std::string& path;
        ~file_guard() {
            if (!path.empty()) std::remove(path.c_str());
        }
    } guard{req.body_file};
    if (!authorized(req.authorization)) {
        respond(error(401, "missing or wrong bearer key (Authorization: Bearer KEY)"));
        return;
    }
    const request_view v = split_target(req.target);
    const std::string& m = req.method;
    const auto& s = v.seg;
    const size_t n = s.size();
    try {
        if (n == 0 || s[0] != "api") throw api_error{404, "no such route: " + req.target};

        // ---- info and sessions
        if (n == 2 && s[1] == "info" && m == "GET") {
            const core_stats st = core_.stats();
            json::out o;
            o.begin_object().kv("plugin", "core_embedded").kv("database", core_.settings().database);
            o.key("writer").begin_object().kv("commits", st.writer.commits).kv("ops", st.writer.ops);
            o.kv("maxBatch", st.writer.max_batch).kv("rejected", st.writer.rejected).end_object();
            o.key("authCache").begin_object().kv("entries", static_cast<uint64_t>(st.auth_cache_entries));
            o.kv("hits", st.auth_cache_hits).kv("misses", st.auth_cache_misses).end_object();
            o.kv("sessions", static_cast<uint64_t>(st.sessions)).kv("pendingRpcs", static_cast<uint64_t>(st.pending_rpcs));
            o.kv("clientRpcQueue", static_cast<uint64_t>(st.client_rpc_queue));
            o.key("telemetryPurge").begin_object().kv("devices", st.purge_devices);
            o.kv("points", st.purged_points).end_object().end_object();
            return send(respond, 200, o.take());
        }
        if (n == 2 && s[1] == "sessions" && m == "GET") {
            core_.list_sessions([respond](result<std::vector<session_info>> r) {
                if (failed(respond, r)) return;
                json::out o;
                o.begin_object().key("sessions").begin_array();
                for (const session_info& x : r.value)
                    o.begin_object().kv("device", x.device_name).kv("deviceId", x.device_id).kv("transport", x.transport)
                        .kv("address", x.address).kv("openedTime", x.opened_ts).kv("lastActivityTime", x.last_activity_ts)
                        .end_object();
                o.end_array().end_object();
                send(respond, 200, o.take());
            });
            return;
        }

        // ---- profiles
        if (n >= 2 && s[1] == "profiles") {
            if (n == 2 && m == "GET") {
                core_.list_profiles([respond](result<std::vector<profile>> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    o.begin_object().key("profiles").begin_array();
                    for (const profile& p : r.value) write_profile(o, p);
                    o.end_array().end_object();
                    send(respond, 200, o.take());
                });
                return;
            }
            auto answer_profile = [respond](int status) {
                return [respond, status](result<profile> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    write_profile(o, r.value);
                    send(respond, status, o.take());
                };
            };
            if (n == 2 && m == "POST") {
                auto b = body_object(req);
                profile_spec spec = read_profile_spec(b);
                auto name = opt_string(b, "name");
                if (!name) throw api_error{400, "name is required"};
                spec.name = *name;
                core_.create_profile(std::move(spec), answer_profile(201));
                return;
            }
            if (n == 3 && m == "GET") return core_.get_profile(s[2], answer_profile(200));
            if (n == 3 && m == "PATCH") {
                auto b = body_object(req);
                profile_spec spec = read_profile_spec(b);
                spec.name = s[2];
                spec.new_name = opt_string(b, "name");
                core_.update_profile(std::move(spec), answer_profile(200));
                return;
            }
            if (n == 3 && m == "DELETE") {
                core_.delete_profile(s[2], [respond, name = s[2]](result<none> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    send(respond, 200, o.begin_object().kv("deleted", name).end_object().take());
                });
                return;
            }
            if (n == 5 && s[3] == "ota" && (m == "PUT" || m == "DELETE")) {
                auto type = ota_type_from(s[4]);
                if (!type) throw api_error{404, "unknown OTA type '" + s[4] + "' (firmware, software)"};
                uint64_t package = 0;
                if (m == "PUT") {
                    auto b = body_object(req);
                    auto p = opt_int(b, "package");
                    if (!p || *p <= 0) throw api_error{400, "package (an OTA package id) is required"};
                    package = static_cast<uint64_t>(*p);
                }
                ota_target t;
                t.profile = s[2];
                core_.assign_ota_package(t, *type, package, [respond, package](result<none> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    send(respond, 200, o.begin_object().kv_id("package", package).end_object().take());
                });
                return;
            }
        }

        // ---- devices
        if (n >= 2 && s[1] == "devices") {
            auto answer_device = [respond](int status, std::string warning = {}) {
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
            };
            if (n == 2 && m == "GET") {
                core_.list_devices(v.q("profile").value_or(""), v.q_int("limit", 0), v.q_int("offset", 0),
                                   [respond](result<std::vector<device>> r) {
                                       if (failed(respond, r)) return;
                                       json::out o;
                                       o.begin_object().key("devices").begin_array();
                                       for (const device& d : r.value) write_device(o, d);
                                       o.end_array().end_object();
                                       send(respond, 200, o.take());
                                   });
                return;
            }
            if (n == 2 && m == "POST") {
                auto b = body_object(req);
                device_spec spec;
                auto name = opt_string(b, "name");
                if (!name) throw api_error{400, "name is required"};
                spec.name = *name;
                spec.profile = opt_string(b, "profile");
                spec.label = opt_string(b, "label");
                read_power(b, spec.power_mode, spec.psm_activity_timer, spec.edrx_cycle, spec.paging_transmission_window);
                spec.cred = read_credentials(b, true);
                std::string warning = check_credential(spec.cred, spec.name);
                core_.create_device(std::move(spec), answer_device(201, std::move(warning)));
                return;
            }
            if (n < 3) throw api_error{405, "method not allowed"};
            const std::string& name = s[2];
            if (n == 3 && m == "GET") return core_.get_device(name, answer_device(200));
            if (n == 3 && m == "PATCH") {
                auto b = body_object(req);
                device_spec spec;
                spec.name = name;
                spec.new_name = opt_string(b, "name");
                spec.profile = opt_string(b, "profile");
                spec.label = opt_string(b, "label");
                read_power(b, spec.power_mode, spec.psm_activity_timer, spec.edrx_cycle, spec.paging_transmission_window);
                spec.cred = read_credentials(b, false);
                std::string warning = check_credential(spec.cred, name);
                core_.update_device(std::move(spec), answer_device(200, std::move(warning)));
                return;
            }
            if (n == 3 && m == "DELETE") {
                core_.delete_device(name, [respond, name](result<none> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    send(respond, 200, o.begin_object().kv("deleted", name).end_object().take());
                });
                return;
            }
            if (n == 4 && s[3] == "credentials" && m == "PUT") {
                auto b = body_object(req, true);
                device_spec spec;
                spec.name = name;
                spec.cred = read_credentials(b, true);
                std::string warning = check_credential(spec.cred, name);
                core_.update_device(std::move(spec), answer_device(200, std::move(warning)));
                return;
            }
            if (s[3] == "attributes") {
                if (n == 4 && m == "GET") {
                    uint32_t scopes = 0;
                    for (const std::string& sc : v.q_list("scope")) scopes |= 1u << scope_from(sc);
                    if (scopes == 0)
                        scopes = (1u << TERN_SCOPE_CLIENT) | (1u << TERN_SCOPE_SHARED) | (1u << TERN_SCOPE_SERVER);
                    core_.read_attributes(name, scopes, v.q_list("keys"), [respond, scopes](result<attribute_set> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        o.begin_object();
                        if (scopes & (1u << TERN_SCOPE_CLIENT)) write_attributes(o, "client", r.value.client);
                        if (scopes & (1u << TERN_SCOPE_SHARED)) write_attributes(o, "shared", r.value.shared);
                        if (scopes & (1u << TERN_SCOPE_SERVER)) write_attributes(o, "server", r.value.server);
                        o.end_object();
                        send(respond, 200, o.take());
                    });
                    return;
                }
                if (n == 5 && (m == "POST" || m == "PUT")) {
                    const tern_attribute_scope scope = scope_from(s[4]);
                    if (scope == TERN_SCOPE_CLIENT) throw api_error{400, "client attributes are the device's to set"};
                    auto b = body_object(req);
                    std::vector<kv> values;
                    for (auto it = b.MemberBegin(); it != b.MemberEnd(); ++it) {
                        auto val = json::to_value(it->value);
                        if (!val) throw api_error{400, "attribute values must not be null (use DELETE)"};
                        values.push_back(kv{std::string(it->name.GetString(), it->name.GetStringLength()), std::move(*val)});
                    }
                    if (values.empty()) throw api_error{400, "no attributes given"};
                    const size_t count = values.size();
                    core_.set_attributes(name, scope, std::move(values), [respond, count](result<none> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        send(respond, 200, o.begin_object().kv("updated", static_cast<uint64_t>(count)).end_object().take());
                    });
                    return;
                }
                if (n == 5 && m == "DELETE") {
                    const tern_attribute_scope scope = scope_from(s[4]);
                    if (scope == TERN_SCOPE_CLIENT) throw api_error{400, "client attributes are the device's to set"};
                    auto keys = v.q_list("keys");
                    if (keys.empty()) throw api_error{400, "keys (comma separated) is required"};
                    core_.delete_attributes(name, scope, keys, [respond, keys](result<none> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        o.begin_object().key("deleted").begin_array();
                        for (const std::string& k : keys) o.str(k);
                        o.end_array().end_object();
                        send(respond, 200, o.take());
                    });
                    return;
                }
            }
            if (s[3] == "telemetry" && m == "GET") {
                if (n == 5 && s[4] == "latest") {
                    core_.latest_telemetry(name, v.q_list("keys"), [respond](result<std::vector<ts_latest>> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        o.begin_object();
                        for (const ts_latest& t : r.value)
                            o.key(t.key).begin_object().kv("ts", t.ts).key("value").val(t.v).end_object();
                        o.end_object();
                        send(respond, 200, o.take());
                    });
                    return;
                }
                if (n == 4) {
                    const int64_t start = v.q_int("startTs", 0);
                    const int64_t end = v.q_int("endTs", INT64_MAX);
                    const int64_t limit = v.q_int("limit", 100);
                    if (limit <= 0 || limit > 100000) throw api_error{400, "limit must be 1..100000"};
                    const std::string order = v.q("order").value_or("desc");
                    if (order != "asc" && order != "desc") throw api_error{400, "order must be asc or desc"};
                    core_.telemetry_range(name, v.q_list("keys"), start, end, limit, order == "desc",
                                          [respond](result<std::map<std::string, std::vector<ts_point>>> r) {
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
                    return;
                }
            }
            if (s[3] == "rpc") {
                if (n == 4 && m == "POST") {
                    auto b = body_object(req);
                    rpc_request_spec spec;
                    spec.device = name;
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
                    core_.send_rpc(std::move(spec), [respond, wait](result<rpc_record> r) {
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
                    return;
                }
                if (n == 4 && m == "GET") {
                    core_.list_rpcs(name, v.q_int("limit", 100), [respond](result<std::vector<rpc_record>> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        o.begin_object().key("rpcs").begin_array();
                        for (const rpc_record& x : r.value) write_rpc(o, x);
                        o.end_array().end_object();
                        send(respond, 200, o.take());
                    });
                    return;
                }
                if (n == 5 && m == "GET") {
                    int64_t id = 0;
                    auto [p, ec] = std::from_chars(s[4].data(), s[4].data() + s[4].size(), id);
                    if (ec != std::errc() || p != s[4].data() + s[4].size()) throw api_error{400, "the RPC id must be an integer"};
                    core_.get_rpc(name, id, [respond](result<rpc_record> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        write_rpc(o, r.value);
                        send(respond, 200, o.take());
                    });
                    return;
                }
            }
            if (n == 4 && s[3] == "claim") {
                if (m == "POST") {
                    auto b = body_object(req, true);
                    auto secret = opt_string(b, "secretKey").value_or("");
                    auto owner = opt_string(b, "owner").value_or("admin");
                    core_.complete_claim(name, secret, owner, [respond](result<device> r) {
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
                    return;
                }
                if (m == "DELETE") {
                    core_.remove_claim(name, [respond, name](result<none> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        send(respond, 200, o.begin_object().kv("unclaimed", name).end_object().take());
                    });
                    return;
                }
            }
            if (n == 5 && s[3] == "ota" && (m == "PUT" || m == "DELETE")) {
                auto type = ota_type_from(s[4]);
                if (!type) throw api_error{404, "unknown OTA type '" + s[4] + "' (firmware, software)"};
                uint64_t package = 0;
                if (m == "PUT") {
                    auto b = body_object(req);
                    auto p = opt_int(b, "package");
                    if (!p || *p <= 0) throw api_error{400, "package (an OTA package id) is required"};
                    package = static_cast<uint64_t>(*p);
                }
                ota_target t;
                t.device = name;
                core_.assign_ota_package(t, *type, package, [respond, package](result<none> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    send(respond, 200, o.begin_object().kv_id("package", package).end_object().take());
                });
                return;
            }
        }

        // ---- OTA packages
        if (n >= 2 && s[1] == "ota") {
            if (n == 2 && m == "GET") {
                core_.list_ota_packages([respond](result<std::vector<ota_package_row>> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    o.begin_object().key("packages").begin_array();
                    for (const ota_package_row& p : r.value) write_ota(o, p);
                    o.end_array().end_object();
                    send(respond, 200, o.take());
                });
                return;
            }
            if (n == 2 && m == "POST") {
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
                up.content_type = req.content_type;
                // A URL-only package comes with no body; the server still spooled an empty
                // file for the POST, which is not a package.
                std::error_code size_ec;
                const bool empty_body = !req.body_file.empty() &&
                                        std::filesystem::file_size(req.body_file, size_ec) == 0 && !size_ec;
                if (!(empty_body && !up.url.empty())) {
                    up.temp_path = req.body_file;
                    req.body_file.clear();  // the core owns the file now
                }
                if (up.temp_path.empty() && up.url.empty()) throw api_error{400, "upload the package bytes or give url"};
                core_.create_ota_package(std::move(up), [respond](result<ota_package_row> r) {
                    if (failed(respond, r)) return;
                    json::out o;
                    write_ota(o, r.value);
                    send(respond, 201, o.take());
                });
                return;
            }
            if (n == 3) {
                int64_t id = 0;
                auto [p, ec] = std::from_chars(s[2].data(), s[2].data() + s[2].size(), id);
                if (ec != std::errc() || p != s[2].data() + s[2].size() || id <= 0)
                    throw api_error{400, "the OTA package id must be a positive integer"};
                if (m == "GET") {
                    core_.get_ota_package(static_cast<uint64_t>(id), [respond](result<ota_package_row> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        write_ota(o, r.value);
                        send(respond, 200, o.take());
                    });
                    return;
                }
                if (m == "DELETE") {
                    core_.delete_ota_package(static_cast<uint64_t>(id), [respond, id](result<none> r) {
                        if (failed(respond, r)) return;
                        json::out o;
                        send(respond, 200, o.begin_object().kv("deleted", id).end_object().take());
                    });
                    return;
                }
            }
        }

        // ---- client-side RPC
        if (n >= 2 && s[1] == "client-rpc") {
            if (n == 2 && m == "GET") {
                core_.list_client_rpcs([respond](result<std::vector<client_rpc_entry>> r) {
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
                return;
            }
            if (n == 3 && s[2] == "config") {
                if (m == "GET" || m == "PUT") {
                    client_rpc_config c = core_.get_client_rpc_config();
                    if (m == "PUT") {
                        auto b = body_object(req);
                        c.builtin = opt_bool(b, "builtin").value_or(c.builtin);
                        c.queue = opt_bool(b, "queue").value_or(c.queue);
                        core_.set_client_rpc_config(c);
                    }
                    json::out o;
                    o.begin_object().kv("builtin", c.builtin).kv("queue", c.queue);
                    o.key("builtinMethods").begin_array().str("getCurrentTime").str("ping").str("getDeviceInfo").end_array();
                    o.end_object();
                    return send(respond, 200, o.take());
                }
            }
            if (n == 4 && s[3] == "reply" && m == "POST") {
                uint64_t id = 0;
                auto [p, ec] = std::from_chars(s[2].data(), s[2].data() + s[2].size(), id);
                if (ec != std::errc() || p != s[2].data() + s[2].size()) throw api_error{400, "the call id must be an integer"};
                rapidjson::Document d;
                if (std::string err = json::parse(req.body, d); !err.empty()) throw api_error{400, err};
                const std::string reply = json::compact(d);
                if (core_.reply_client_rpc(id, reply) != TERN_OK)
                    throw api_error{404, "no waiting client RPC " + std::to_string(id) + " (answered or timed out)"};
                json::out o;
                return send(respond, 200, o.begin_object().kv("id", id).kv("delivered", true).end_object().take());
            }
        }
        throw api_error{404, "no such route: " + m + " " + req.target};
    } catch (const api_error& e) {
        respond(error(e.status, e.message));
    } catch (const std::exception& e) {
        log_.error("admin request ", m, " ", req.target, " failed: ", e.what());
        respond(error(500, e.what()));
    }
}

}  // namespace tern::core_embedded

#include "admin_request.hpp"

#include "crypto.hpp"

namespace tern::core_embedded {

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

rapidjson::Document body_object(const http_request& req, bool allow_empty) {
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

namespace {

template <class T>
T parse_enum(const std::optional<std::string>& s, std::optional<T> (*from)(std::string_view), const char* what) {
    auto v = from(*s);
    if (!v) throw api_error{400, "unknown " + std::string(what) + " '" + *s + "'"};
    return *v;
}

}  // namespace

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


tern_attribute_scope scope_from(const std::string& s) {
    if (s == "client") return TERN_SCOPE_CLIENT;
    if (s == "shared") return TERN_SCOPE_SHARED;
    if (s == "server") return TERN_SCOPE_SERVER;
    throw api_error{404, "unknown attribute scope '" + s + "' (client, shared, server)"};
}

namespace {
const char* const schema_json_keys[4] = {"telemetry", "attributes", "rpcRequest", "rpcResponse"};
}  // namespace

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

bool pattern_matches(std::string_view pattern, const std::vector<std::string>& seg, std::vector<std::string>& arg) {
    arg.clear();
    size_t i = 0;
    while (!pattern.empty()) {
        if (pattern.front() == '/') {
            pattern.remove_prefix(1);
            continue;
        }
        const auto slash = pattern.find('/');
        const std::string_view part = pattern.substr(0, slash);
        pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash);
        if (i >= seg.size()) return false;
        if (part.size() >= 2 && part.front() == '{' && part.back() == '}') arg.push_back(seg[i]);
        else if (part != seg[i]) return false;
        ++i;
    }
    return i == seg.size();
}

}  // namespace tern::core_embedded

// What the admin API's routes share: reading a request (path segments, query, JSON body
// fields, the specs the core takes) and writing the model as JSON. Bad input throws
// api_error, which the router turns into a JSON error answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin_api.hpp"
#include "json.hpp"
#include "tern/sdk/status.hpp"

namespace tern::core_embedded {

// An HTTP status and message for the client; thrown by parsing and routes.
struct api_error {
    int status;
    std::string message;
};

int http_status(tern_status s);
void send(const respond_fn& respond, int status, std::string body);

// Answers r's failure (status mapped by http_status) and returns true; false when r is ok.
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

// Splits "/api/a/b?x=1&y=2" into decoded segments and query parameters.
request_view split_target(std::string_view target);
// Whether the path segments match a route pattern such as "/api/devices/{name}/ota/{type}"
// ({…} matches any one segment); the matched segments go to arg, in order.
bool pattern_matches(std::string_view pattern, const std::vector<std::string>& seg,
                     std::vector<std::string>& arg);
// The body as a JSON object (allow_empty: an empty body reads as {}).
rapidjson::Document body_object(const http_request& req, bool allow_empty = false);
std::optional<std::string> opt_string(const rapidjson::Value& o, const char* name);
std::optional<int64_t> opt_int(const rapidjson::Value& o, const char* name);
std::optional<bool> opt_bool(const rapidjson::Value& o, const char* name);
const rapidjson::Value* opt_object(const rapidjson::Value& o, const char* name);
// body.power.{mode, psmActivityTimer, edrxCycle, pagingTransmissionWindow}
void read_power(const rapidjson::Value& body, std::optional<tern_power_mode>& mode, std::optional<int64_t>& psm,
                std::optional<int64_t>& edrx, std::optional<int64_t>& paging);
// One of token, x509, pskIdentity+pskKey; none given: an (empty) access token when
// empty_means_token (the core generates one), else nothing.
std::optional<credential_input> read_credentials(const rapidjson::Value& body, bool empty_means_token);
profile_spec read_profile_spec(const rapidjson::Value& b);
// "client", "shared", "server"; anything else is a 404.
tern_attribute_scope scope_from(const std::string& s);

// ---- JSON views of the model -----------------------------------------------------------

void write_device(json::out& o, const device& d);
void write_profile(json::out& o, const profile& p);
void write_rpc(json::out& o, const rpc_record& r);
void write_ota(json::out& o, const ota_package_row& p);
void write_attributes(json::out& o, const char* name, const std::vector<attribute>& list);

}  // namespace tern::core_embedded

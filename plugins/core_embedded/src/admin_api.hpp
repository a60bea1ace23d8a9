// The admin API: requests in, JSON out. No HTTP plumbing here (admin_server.cpp does that
// with Beast); the routes are a table (admin_routes.cpp) that reads like the README's.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core.hpp"
#include "tern/sdk/host.hpp"

namespace tern::core_embedded {

struct request_view;  // admin_request.hpp

struct http_request {
    std::string method;  // "GET", ...
    std::string target;  // path and query, as sent
    std::string authorization;
    std::string content_type;
    std::string body;       // JSON requests
    std::string body_file;  // uploads: the file the body was streamed to (owned by the handler)
};

struct http_response {
    int status = 200;
    std::string body;  // JSON
};

// Runs exactly once, on any thread.
using respond_fn = std::function<void(http_response)>;

// Credentials an operator chooses (POST/PATCH /api/devices, PUT .../credentials; the
// `tern device` commands). Shorter than the minimum: 400. Shorter than recommended: stored,
// with a warning in the log and in the answer ("warning"), and counted.
struct credential_rules {
    size_t min_token_length = 4;       // characters
    size_t min_psk_key_length = 1;     // bytes
    size_t recommended_token_length = 16;
    size_t recommended_psk_key_length = 16;
    sdk::metric weak;                  // counter: credentials stored below the recommendation
};

class admin_api {
public:
    admin_api(embedded_core& core, std::string key, sdk::logger log, credential_rules rules = {})
        : core_(core), key_(std::move(key)), log_(log), rules_(rules) {}

    // Uploads stream their body to a file instead of memory (POST /api/ota).
    static bool is_upload(std::string_view method, std::string_view target);
    bool authorized(std::string_view authorization_header) const;
    // Authorisation is checked here too; bad requests get JSON errors.
    void handle(http_request req, respond_fn respond);

    static http_response error(int status, std::string_view message);

    // POST /api/devices/import (admin_import.cpp): CSV rows in the body, one transaction.
    void import_devices(const http_request& req, const request_view& v, const respond_fn& respond);

private:
    struct routes;  // admin_routes.cpp: the route table, one function per route
    friend struct routes;
    // Runs the first route that matches; false when none does.
    bool dispatch(http_request& req, const request_view& v, const respond_fn& respond);

    // Throws a 400 below the minimum; returns a warning (empty: none) below the recommendation.
    std::string check_credential(const std::optional<credential_input>& c, const std::string& device) const;

    embedded_core& core_;
    std::string key_;
    sdk::logger log_;
    credential_rules rules_;
};

// The admin key file beside the database ("<database>.admin-key").
std::string admin_key_path(const std::string& database);
// Reads the key file; empty when it does not exist. Throws sdk::error when unreadable.
std::string read_admin_key(const std::string& path);
// Reads the key file or creates it (mode 0600) with 32 random hex characters; created
// tells which. Throws sdk::error.
std::string load_or_create_admin_key(const std::string& path, bool& created);
// Where a running server writes the address it listens on ("<database>.admin-addr").
std::string admin_addr_path(const std::string& database);

// Percent-decoding of a path segment or query value ('+' stays '+' in paths).
std::string url_decode(std::string_view s, bool plus_is_space);
std::string url_encode(std::string_view s);

}  // namespace tern::core_embedded

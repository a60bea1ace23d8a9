// The admin API's front door: the bearer key, the credential rules, and dispatch through
// the route table (admin_routes.cpp). Bad requests get JSON errors.
#include "admin_api.hpp"

#include <cctype>
#include <cstdio>

#include "admin_request.hpp"
#include "crypto.hpp"

namespace tern::core_embedded {

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
    try {
        if (v.seg.empty() || v.seg[0] != "api") throw api_error{404, "no such route: " + req.target};
        if (!dispatch(req, v, respond))
            throw api_error{404, "no such route: " + req.method + " " + req.target};
    } catch (const api_error& e) {
        respond(error(e.status, e.message));
    } catch (const std::exception& e) {
        log_.error("admin request ", req.method, " ", req.target, " failed: ", e.what());
        respond(error(500, e.what()));
    }
}

}  // namespace tern::core_embedded

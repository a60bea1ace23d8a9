// A running core with its admin API on 127.0.0.1:<ephemeral>, for the admin and CLI tests.
#pragma once

#include "admin_api.hpp"
#include "admin_server.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "support.hpp"

namespace tern::core_embedded::test {

inline core_metrics admin_metrics;

struct admin_fixture {
    static constexpr const char* key = "0123456789abcdef0123456789abcdef";
    temp_dir dir;
    core_settings settings;
    embedded_core core{admin_metrics, {}};
    std::unique_ptr<admin_api> api;
    std::unique_ptr<admin_server> server;
    recording_listener listener;

    explicit admin_fixture(uint64_t max_upload = 1 << 20, uint64_t max_body = 64 * 1024) {
        settings = settings_for(dir);
        core.start(settings);
        core.set_listener(&listener);
        api = std::make_unique<admin_api>(core, key, sdk::logger{});
        server = std::make_unique<admin_server>(*api, sdk::logger{});
        admin_server_settings s;
        s.bind = "127.0.0.1:0";
        s.max_upload = max_upload;
        s.max_body = max_body;
        s.upload_dir = core.ota_dir();
        server->start(s);
    }
    ~admin_fixture() {
        server->stop();
        core.set_listener(nullptr);
        core.stop();
    }

    struct reply {
        int status = 0;
        std::string body;
        rapidjson::Document json;
    };

    reply call(const std::string& method, const std::string& target, const std::string& body = {},
               const std::string& bearer = key, const std::string& body_file = {}, int64_t timeout_ms = 10000) {
        http_call c;
        c.port = server->port();
        c.method = method;
        c.target = target;
        c.bearer = bearer;
        c.body = body;
        c.body_file = body_file;
        c.content_type = body_file.empty() ? "application/json" : "application/octet-stream";
        c.timeout_ms = timeout_ms;
        http_result r = http_request_sync(c);
        INFO(method << " " << target << ": " << r.error);
        REQUIRE(r.status != 0);
        reply out;
        out.status = r.status;
        out.body = r.body;
        INFO(r.body);
        REQUIRE(json::parse(r.body, out.json).empty());  // every answer is JSON, errors too
        if (r.status >= 400) {
            REQUIRE(out.json.IsObject());
            REQUIRE(out.json.HasMember("error"));
            REQUIRE(out.json["error"].IsString());
        }
        return out;
    }
};

}  // namespace tern::core_embedded::test

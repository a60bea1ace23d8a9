// A small synchronous HTTP/1.1 client for the CLI and the tests (Beast, one request per
// connection, with a deadline). Beast stays inside http_client.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tern::core_embedded {

struct http_result {
    int status = 0;  // 0: no answer (error says why)
    std::string body;
    std::string error;
};

struct http_call {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;
    std::string method = "GET";
    std::string target = "/";
    std::string bearer;  // Authorization: Bearer ...
    std::string content_type;
    std::string body;
    std::string body_file;  // send this file as the body instead
    int64_t timeout_ms = 30000;
    std::vector<std::pair<std::string, std::string>> headers;
};

http_result http_request_sync(const http_call& call);

}  // namespace tern::core_embedded

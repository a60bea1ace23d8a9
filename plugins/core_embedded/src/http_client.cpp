#include "http_client.hpp"

#include <chrono>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tern::core_embedded {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

template <class Body>
http_result exchange(beast::tcp_stream& stream, http::request<Body>& req, std::chrono::milliseconds timeout) {
    http_result out;
    beast::error_code ec;
    stream.expires_after(timeout);
    http::write(stream, req, ec);
    if (ec) {
        out.error = "cannot send the request: " + ec.message();
        return out;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256ull << 20);
    http::read(stream, buf, parser, ec);
    if (ec) {
        out.error = ec == beast::error::timeout ? "no answer in time" : "cannot read the answer: " + ec.message();
        return out;
    }
    out.status = static_cast<int>(parser.get().result_int());
    out.body = std::move(parser.get().body());
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
}

}  // namespace

http_result http_request_sync(const http_call& call) {
    http_result out;
    try {
        net::io_context ioc;
        tcp::resolver resolver(ioc);
        beast::tcp_stream stream(ioc);
        beast::error_code ec;
        auto results = resolver.resolve(call.host, std::to_string(call.port), ec);
        if (ec) {
            out.error = "cannot resolve " + call.host + ": " + ec.message();
            return out;
        }
        stream.expires_after(std::chrono::milliseconds(std::min<int64_t>(call.timeout_ms, 10000)));
        stream.connect(results, ec);
        if (ec) {
            out.error = "cannot connect to " + call.host + ":" + std::to_string(call.port) + ": " + ec.message();
            return out;
        }
        const auto verb = http::string_to_verb(call.method);
        if (verb == http::verb::unknown) {
            out.error = "unknown method " + call.method;
            return out;
        }
        auto prepare = [&](auto& req) {
            req.set(http::field::host, call.host);
            req.set(http::field::user_agent, "tern-cli");
            if (!call.bearer.empty()) req.set(http::field::authorization, "Bearer " + call.bearer);
            if (!call.content_type.empty()) req.set(http::field::content_type, call.content_type);
            for (const auto& [k, v] : call.headers) req.set(k, v);
        };
        const auto timeout = std::chrono::milliseconds(call.timeout_ms);
        if (!call.body_file.empty()) {
            http::request<http::file_body> req{verb, call.target, 11};
            prepare(req);
            req.body().open(call.body_file.c_str(), beast::file_mode::scan, ec);
            if (ec) {
                out.error = "cannot open " + call.body_file + ": " + ec.message();
                return out;
            }
            req.prepare_payload();
            return exchange(stream, req, timeout);
        }
        http::request<http::string_body> req{verb, call.target, 11};
        prepare(req);
        req.body() = call.body;
        req.prepare_payload();
        return exchange(stream, req, timeout);
    } catch (const std::exception& e) {
        out.error = e.what();
        return out;
    }
}

}  // namespace tern::core_embedded

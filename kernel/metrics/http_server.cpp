#include "kernel/metrics/http_server.hpp"

#include <pthread.h>

#include <chrono>
#include <list>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "kernel/metrics/prometheus.hpp"

namespace tern::kernel::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr std::size_t max_request = 8 * 1024;
constexpr auto idle_timeout = std::chrono::seconds(5);
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

struct http_server::impl {
    explicit impl(std::function<std::string()> b) : body(std::move(b)) {}

    std::function<std::string()> body;
    // Open connections, oldest first (only the io thread touches it). Declared before io:
    // coroutine frames that io destroys still deregister here.
    struct connection {
        beast::tcp_stream* stream = nullptr;
        bool listed = true;
    };
    std::list<std::shared_ptr<connection>> connections;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::thread thread;
    std::string host;

    http::response<http::string_body> respond(const http::request<http::string_body>& req) {
        http::response<http::string_body> res;
        res.version(req.version());
        res.keep_alive(req.keep_alive());
        res.set(http::field::server, "tern");
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view path = target.substr(0, target.find('?'));
        if (path != "/metrics") {
            res.result(http::status::not_found);
            res.set(http::field::content_type, "text/plain");
            res.body() = "not found; metrics are at /metrics\n";
        } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.set(http::field::content_type, "text/plain");
            res.body() = "only GET /metrics\n";
        } else {
            res.result(http::status::ok);
            res.set(http::field::content_type, content_type);
            res.body() = body();
        }
        res.prepare_payload();
        if (req.method() == http::verb::head) res.body().clear();
        return res;
    }

    asio::awaitable<void> refuse(beast::tcp_stream& stream, http::status status, std::string text) {
        http::response<http::string_body> res{status, 11};
        res.set(http::field::server, "tern");
        res.set(http::field::content_type, "text/plain");
        res.keep_alive(false);
        res.body() = std::move(text);
        res.prepare_payload();
        stream.expires_after(idle_timeout);
        co_await http::async_write(stream, res, use_tuple);
    }

    // Registers a connection for its lifetime; closing the oldest makes room.
    struct registration {
        impl& server;
        std::shared_ptr<connection> c;
        std::list<std::shared_ptr<connection>>::iterator it;
        registration(impl& s, beast::tcp_stream& stream) : server(s), c(std::make_shared<connection>()) {
            c->stream = &stream;
            it = server.connections.insert(server.connections.end(), c);
        }
        ~registration() {
            if (c->listed) server.connections.erase(it);
        }
    };

    void make_room() {
        while (connections.size() >= http_server::max_connections) {
            std::shared_ptr<connection> oldest = connections.front();
            connections.pop_front();
            oldest->listed = false;
            beast::error_code ignored;
            oldest->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
            oldest->stream->socket().close(ignored);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        registration reg(*this, stream);
        beast::flat_buffer buffer(max_request);
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(max_request);
            parser.body_limit(max_request);
            stream.expires_after(idle_timeout);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
            (void)n;
            if (ec == http::error::header_limit || ec == http::error::body_limit ||
                ec == http::error::buffer_overflow) {
                co_await refuse(stream, http::status::payload_too_large, "request over 8 KB\n");
                break;
            }
            if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
                ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
                break;
            }
            if (ec) {
                co_await refuse(stream, http::status::bad_request, "bad request\n");
                break;
            }
            auto res = respond(parser.get());
            stream.expires_after(idle_timeout);
            auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
            (void)wn;
            if (wec || !res.keep_alive()) break;
        }
        beast::error_code ignored;
        if (stream.socket().is_open()) {
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            stream.socket().close(ignored);
        }
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) {
                // Out of descriptors or similar: back off instead of spinning.
                asio::steady_timer pause(io, std::chrono::milliseconds(100));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            // Each connection on its own coroutine: a client that sends nothing or reads
            // slowly holds only its own connection. An exception (out of memory while
            // rendering) ends that connection only.
            make_room();
            asio::co_spawn(io, serve(std::move(socket)), [](std::exception_ptr) {});
        }
    }

    // An exception escaping the accept loop (out of memory) must not end the endpoint:
    // accept again.
    void spawn() {
        asio::co_spawn(io, accept_loop(), [this](std::exception_ptr e) {
            if (e && acceptor.is_open()) spawn();
        });
    }
};

http_server::http_server(std::function<std::string()> body) : impl_(std::make_unique<impl>(std::move(body))) {}

http_server::~http_server() { stop(); }

bool http_server::listen(const std::string& host, uint16_t port, std::string& err) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        err = "bad address '" + host + "': " + ec.message();
        return false;
    }
    const tcp::endpoint ep(address, port);
    auto& a = impl_->acceptor;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(16, ec);
    if (ec) {
        err = "cannot listen on " + (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port) +
              ": " + ec.message();
        a.close(ec);
        return false;
    }
    impl_->host = address.is_v6() ? "[" + host + "]" : host;
    return true;
}

uint16_t http_server::port() const {
    boost::system::error_code ec;
    const auto ep = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
}

std::string http_server::url() const { return "http://" + impl_->host + ":" + std::to_string(port()) + "/metrics"; }

void http_server::start() {
    if (impl_->thread.joinable() || !impl_->acceptor.is_open()) return;
    impl_->spawn();
    impl_->thread = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "tern-metrics");
        for (;;) {
            try {
                impl_->io.run();
                break;
            } catch (const std::exception&) {
                // A failed response must not take the endpoint down; keep serving.
            }
        }
    });
}

void http_server::stop() {
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
}

}  // namespace tern::kernel::metrics

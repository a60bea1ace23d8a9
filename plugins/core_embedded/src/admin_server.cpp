#include "admin_server.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "crypto.hpp"
#include "tern/sdk/status.hpp"

namespace tern::core_embedded {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

bool loopback_only(const std::string& bound_address) {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(bound_address, host, port)) return false;
    beast::error_code ec;
    const auto a = net::ip::make_address(host, ec);
    if (ec) return false;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return a.to_v6().to_v4().is_loopback();
    return a.is_loopback();
}

bool split_host_port(const std::string& s, std::string& host, uint16_t& port) {
    std::string_view v = s, p;
    if (!v.empty() && v.front() == '[') {
        const auto close = v.find(']');
        if (close == std::string_view::npos || close + 1 >= v.size() || v[close + 1] != ':') return false;
        host = std::string(v.substr(1, close - 1));
        p = v.substr(close + 2);
    } else {
        const auto colon = v.rfind(':');
        if (colon == std::string_view::npos) return false;
        host = std::string(v.substr(0, colon));
        p = v.substr(colon + 1);
    }
    unsigned x = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), x);
    if (ec != std::errc() || end != p.data() + p.size() || x > 65535 || host.empty()) return false;
    port = static_cast<uint16_t>(x);
    return true;
}

class session;

struct admin_server::impl : std::enable_shared_from_this<admin_server::impl> {
    impl(admin_api& a, sdk::logger l) : api(a), log(l), acceptor(ioc) {}

    admin_api& api;
    sdk::logger log;
    admin_server_settings settings;
    net::io_context ioc;
    tcp::acceptor acceptor;
    std::thread thread;
    std::string address;
    uint16_t port = 0;
    std::atomic<bool> stopped{false};
    std::mutex sessions_mutex;
    std::list<std::weak_ptr<session>> sessions;
    size_t active = 0;

    void accept();
};

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket s, std::shared_ptr<admin_server::impl> server)
        : stream_(std::move(s)), server_(std::move(server)) {}

    ~session() {
        remove_upload();
        std::lock_guard lk(server_->sessions_mutex);
        --server_->active;
    }

    void start() { read_header(); }
    bool evicted = false;  // accept thread only

    // Not yet shown the key: may be closed to make room for a newcomer.
    bool evictable() const noexcept { return !authenticated_.load(std::memory_order_relaxed); }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.socket().close(ec);
    }

private:
    void read_header() {
        header_.emplace();
        header_->header_limit(16 * 1024);
        // Beast checks a Content-Length against the limit when the header ends; the limit
        // depends on the route, so it is checked by hand in on_header.
        header_->body_limit(boost::none);
        stream_.expires_after(std::chrono::milliseconds(authenticated_ ? server_->settings.idle_timeout_ms
                                                                        : server_->settings.header_timeout_ms));
        http::async_read_header(stream_, buffer_, *header_,
                                [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
    }

    void on_header(beast::error_code ec) {
        if (ec) return close();  // end of stream, timeout, garbage
        auto& h = header_->get();
        keep_alive_ = h.keep_alive();
        version_ = h.version();
        request_ = http_request{};
        request_.method = std::string(h.method_string());
        request_.target = std::string(h.target());
        request_.authorization = std::string(h[http::field::authorization]);
        request_.content_type = std::string(h[http::field::content_type]);
        if (!server_->api.authorized(request_.authorization)) {
            // Never read the body of a stranger: answer and hang up.
            keep_alive_ = false;
            return write(admin_api::error(401, "missing or wrong bearer key (Authorization: Bearer KEY)"));
        }
        authenticated_ = true;
        const bool expect_continue = beast::iequals(h[http::field::expect], "100-continue");
        const bool upload = admin_api::is_upload(request_.method, request_.target);
        const uint64_t limit = upload ? server_->settings.max_upload : server_->settings.max_body;
        if (auto length = header_->content_length(); length && *length > limit) {
            keep_alive_ = false;
            return write(admin_api::error(413, "the request body is larger than " + std::to_string(limit) + " bytes"));
        }
        if (upload) {
            upload_path_ = server_->settings.upload_dir + "/upload-" + random_hex(8) + ".part";
            file_parser_.emplace(std::move(*header_));
            file_parser_->body_limit(server_->settings.max_upload);
            beast::error_code fec;
            file_parser_->get().body().open(upload_path_.c_str(), beast::file_mode::write, fec);
            if (fec) {
                keep_alive_ = false;
                return write(admin_api::error(500, "cannot store the upload: " + fec.message()));
            }
            stream_.expires_after(std::chrono::minutes(10));
            return continue_then([self = shared_from_this()] {
                http::async_read(self->stream_, self->buffer_, *self->file_parser_,
                                 [self](beast::error_code ec, size_t) { self->on_body(ec); });
            }, expect_continue);
        }
        string_parser_.emplace(std::move(*header_));
        string_parser_->body_limit(server_->settings.max_body);
        continue_then([self = shared_from_this()] {
            http::async_read(self->stream_, self->buffer_, *self->string_parser_,
                             [self](beast::error_code ec, size_t) { self->on_body(ec); });
        }, expect_continue);
    }

    // Answers "Expect: 100-continue" (curl sends it for big uploads) before the body.
    template <class F>
    void continue_then(F next, bool expect) {
        if (!expect) return next();
        auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
        http::async_write(stream_, *res, [self = shared_from_this(), res, next](beast::error_code ec, size_t) {
            if (ec) return self->close();
            next();
        });
    }

    void on_body(beast::error_code ec) {
        if (ec == http::error::body_limit) {
            keep_alive_ = false;
            remove_upload();
            return write(admin_api::error(413, "the request body is too large"));
        }
        if (ec) {
            remove_upload();
            return close();
        }
        if (file_parser_) {
            file_parser_->get().body().close();
            request_.body_file = upload_path_;
            upload_path_.clear();  // the API owns it now
            file_parser_.reset();
        } else {
            request_.body = std::move(string_parser_->get().body());
            string_parser_.reset();
        }
        stream_.expires_never();  // the answer may take a while (an RPC); no thread waits
        std::weak_ptr<admin_server::impl> server = server_;
        server_->api.handle(std::move(request_), [self = shared_from_this()](http_response r) {
            net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
                if (!self->server_->stopped) self->write(std::move(r));
            });
        });
    }

    void write(http_response r) {
        auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
        res->set(http::field::content_type, "application/json");
        res->set(http::field::cache_control, "no-store");
        if (r.status == 401) res->set(http::field::www_authenticate, "Bearer");
        res->keep_alive(keep_alive_);
        res->body() = std::move(r.body);
        res->body().push_back('\n');
        res->prepare_payload();
        stream_.expires_after(std::chrono::milliseconds(server_->settings.idle_timeout_ms));
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
            if (ec) return self->close();
            if (!self->keep_alive_) return self->linger_close();
            self->read_header();
        });
    }

    // Closing with unread request bytes in the socket makes the kernel send a reset, which
    // can destroy the answer before the client reads it (401 or 413 before the body).
    // So: stop sending, read and drop what still comes for a bounded time, then close.
    void linger_close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.expires_after(std::chrono::seconds(2));
        drain_.resize(64 * 1024);
        drain_more();
    }
    void drain_more() {
        stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t n) {
            self->drained_ += n;
            if (ec || self->drained_ > (16u << 20)) return self->close();
            self->drain_more();
        });
    }

    void remove_upload() {
        if (file_parser_) {
            beast::error_code ec;
            file_parser_->get().body().close();
        }
        if (!upload_path_.empty()) {
            std::remove(upload_path_.c_str());
            upload_path_.clear();
        }
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::shared_ptr<admin_server::impl> server_;
    std::optional<http::request_parser<http::empty_body>> header_;
    std::optional<http::request_parser<http::string_body>> string_parser_;
    std::optional<http::request_parser<http::file_body>> file_parser_;
    http_request request_;
    std::string upload_path_;
    std::vector<char> drain_;
    size_t drained_ = 0;
    bool keep_alive_ = false;
    unsigned version_ = 11;
    std::atomic<bool> authenticated_{false};
};

void admin_server::impl::accept() {
    acceptor.async_accept(net::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
        if (ec) {
            if (ec == net::error::operation_aborted || self->stopped) return;
            self->log.warn("admin API accept failed: ", ec.message());
            return self->accept();
        }
        bool full = false;
        std::shared_ptr<session> victim;
        {
            std::lock_guard lk(self->sessions_mutex);
            full = self->active >= self->settings.max_connections;
            if (full) {
                // The oldest connection that never showed the key makes room; it closes
                // (and frees its slot) as soon as its pending read ends.
                for (auto& w : self->sessions) {
                    auto sp = w.lock();
                    if (sp && sp->evictable() && !sp->evicted) {
                        victim = std::move(sp);
                        break;
                    }
                }
                if (victim) full = false;
            }
            if (!full) ++self->active;
        }
        if (victim) {
            victim->evicted = true;
            victim->close();
            self->settings.evicted.inc();
        }
        if (full) {
            self->settings.refused.inc();
            beast::error_code e2;
            s.close(e2);
        } else {
            auto sess = std::make_shared<session>(std::move(s), self);
            {
                std::lock_guard lk(self->sessions_mutex);
                for (auto it = self->sessions.begin(); it != self->sessions.end();)
                    it = it->expired() ? self->sessions.erase(it) : std::next(it);
                self->sessions.push_back(sess);
            }
            sess->start();
        }
        self->accept();
    });
}

admin_server::admin_server(admin_api& api, sdk::logger log) : impl_(std::make_shared<impl>(api, log)) {}

admin_server::~admin_server() {
    stop();
    // Answers that arrived after stop() wait in the queue holding their sessions (which
    // hold the server): run them out so everything is freed.
    impl_->ioc.restart();
    impl_->ioc.poll();
}

void admin_server::start(const admin_server_settings& s) {
    impl& m = *impl_;
    m.settings = s;
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(s.bind, host, port))
        throw sdk::error(TERN_CONFIG, "admin_bind '" + s.bind + "' is not host:port");
    beast::error_code ec;
    tcp::endpoint ep;
    auto addr = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
        tcp::resolver r(m.ioc);
        auto results = r.resolve(host, std::to_string(port), ec);
        if (ec || results.empty())
            throw sdk::error(TERN_CONFIG, "admin_bind host '" + host + "' does not resolve: " + ec.message());
        ep = results.begin()->endpoint();
    } else {
        ep = tcp::endpoint(addr, port);
    }
    m.acceptor.open(ep.protocol(), ec);
    if (!ec) m.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) m.acceptor.bind(ep, ec);
    if (!ec) m.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        beast::error_code e2;
        m.acceptor.close(e2);
        throw sdk::error(TERN_IO, "admin API cannot listen on " + s.bind + ": " + ec.message());
    }
    const tcp::endpoint bound = m.acceptor.local_endpoint();
    m.port = bound.port();
    m.address = bound.address().is_v6() ? "[" + bound.address().to_string() + "]:" + std::to_string(m.port)
                                        : bound.address().to_string() + ":" + std::to_string(m.port);
    m.stopped = false;
    m.accept();
    m.thread = std::thread([self = impl_] { self->ioc.run(); });
}

void admin_server::stop() {
    impl& m = *impl_;
    if (!m.thread.joinable()) return;
    m.stopped = true;
    net::post(m.ioc, [self = impl_] {
        beast::error_code ec;
        self->acceptor.close(ec);
        std::list<std::weak_ptr<session>> all;
        {
            std::lock_guard lk(self->sessions_mutex);
            all = self->sessions;
        }
        for (auto& w : all)
            if (auto s = w.lock()) s->close();
    });
    // Give the closes a moment to run, then stop whatever is left.
    for (int i = 0; i < 100; ++i) {
        {
            std::lock_guard lk(m.sessions_mutex);
            if (m.active == 0) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    m.ioc.stop();
    m.thread.join();
}

std::string admin_server::address() const { return impl_->address; }
uint16_t admin_server::port() const { return impl_->port; }

}  // namespace tern::core_embedded

#include "tern/dtls_client/dtls_peer.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace tern::dtls::test {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

namespace {

struct global_init {
    global_init() { wolfSSL_Init(); }
};

const peer_options*& current_options() {
    static thread_local const peer_options* o = nullptr;
    return o;
}

unsigned int psk_client(WOLFSSL*, const char*, char* identity, unsigned int id_max, unsigned char* key,
                        unsigned int key_max) {
    const peer_options* o = current_options();
    if (o == nullptr || o->psk_identity.size() + 1 > id_max || o->psk_key.size() > key_max) return 0;
    std::memcpy(identity, o->psk_identity.c_str(), o->psk_identity.size() + 1);
    std::memcpy(key, o->psk_key.data(), o->psk_key.size());
    return static_cast<unsigned int>(o->psk_key.size());
}

int open_socket(const std::string& bind_address) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!bind_address.empty() && inet_pton(AF_INET, bind_address.c_str(), &a.sin_addr) != 1) {
        ::close(fd);
        return -1;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

client_context::client_context(const peer_options& o) : o_(o) {
    static global_init once;
#ifdef WOLFSSL_DTLS13
    WOLFSSL_METHOD* m = o.dtls13 ? wolfDTLSv1_3_client_method() : wolfDTLSv1_2_client_method();
#else
    if (o.dtls13) throw std::runtime_error("this wolfSSL has no DTLS 1.3");
    WOLFSSL_METHOD* m = wolfDTLSv1_2_client_method();
#endif
    ctx_ = wolfSSL_CTX_new(m);
    if (ctx_ == nullptr) throw std::runtime_error("wolfSSL_CTX_new failed");
    if (!o.ca_file.empty()) {
        if (wolfSSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr) != WOLFSSL_SUCCESS)
            throw std::runtime_error("cannot load CA file " + o.ca_file);
        wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_PEER, nullptr);
    } else {
        wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_NONE, nullptr);
    }
    if (!o.cert_file.empty()) {
        if (wolfSSL_CTX_use_certificate_chain_file(ctx_, o.cert_file.c_str()) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_use_PrivateKey_file(ctx_, o.key_file.c_str(), WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
            throw std::runtime_error("cannot load client certificate " + o.cert_file);
    }
    if (!o.psk_identity.empty()) wolfSSL_CTX_set_psk_client_callback(ctx_, &psk_client);
    if (!o.ciphers.empty() && wolfSSL_CTX_set_cipher_list(ctx_, o.ciphers.c_str()) != WOLFSSL_SUCCESS)
        throw std::runtime_error("cipher list refused: " + o.ciphers);
    if (o.tickets) wolfSSL_CTX_UseSessionTicket(ctx_);
    if (o.p256_only && wolfSSL_CTX_UseSupportedCurve(ctx_, WOLFSSL_ECC_SECP256R1) != WOLFSSL_SUCCESS)
        throw std::runtime_error("cannot limit the groups to P-256");
}

client_context::~client_context() {
    if (ctx_ != nullptr) wolfSSL_CTX_free(ctx_);
}

dtls_peer::dtls_peer(client_context& ctx, const std::string& host, uint16_t port) : ctx_(ctx) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &s.sin_addr) != 1) throw std::runtime_error("bad host " + host);
    server_.assign(reinterpret_cast<uint8_t*>(&s), reinterpret_cast<uint8_t*>(&s) + sizeof s);
    fd_ = open_socket(ctx.options().bind_address);
    if (fd_ < 0) throw std::runtime_error("cannot open a UDP socket on " + (ctx.options().bind_address.empty() ? std::string("127.0.0.1") : ctx.options().bind_address));
    ssl_ = wolfSSL_new(ctx.get());
    if (ssl_ == nullptr) throw std::runtime_error("wolfSSL_new failed");
    wolfSSL_SSLSetIORecv(ssl_, &on_recv);
    wolfSSL_SSLSetIOSend(ssl_, &on_send);
    wolfSSL_SetIOReadCtx(ssl_, this);
    wolfSSL_SetIOWriteCtx(ssl_, this);
    wolfSSL_dtls_set_using_nonblock(ssl_, 1);
    if (ctx.options().mtu > 0) wolfSSL_dtls_set_mtu(ssl_, static_cast<unsigned short>(ctx.options().mtu));
    pending_.resize(20000);
#ifdef WOLFSSL_DTLS_CID
    if (ctx.options().cid) {
        wolfSSL_dtls_cid_use(ssl_);
        // An empty CID of our own: the server's records to us need none.
        wolfSSL_dtls_cid_set(ssl_, nullptr, 0);
    }
#endif
}

dtls_peer::~dtls_peer() {
    if (ssl_ != nullptr) wolfSSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
}

void dtls_peer::resume(WOLFSSL_SESSION* session) { wolfSSL_set_session(ssl_, session); }

int dtls_peer::on_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* p = static_cast<dtls_peer*>(ctx);
    if (!p->has_pending_) return WOLFSSL_CBIO_ERR_WANT_READ;
    p->has_pending_ = false;
    const int n = static_cast<int>(std::min<size_t>(p->pending_.size(), static_cast<size_t>(sz)));
    std::memcpy(buf, p->pending_.data(), static_cast<size_t>(n));
    return n;
}

int dtls_peer::on_send(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* p = static_cast<dtls_peer*>(ctx);
    p->last_sent.assign(buf, buf + sz);
    if (p->withhold) return sz;
    const ssize_t r = ::sendto(p->fd_, buf, static_cast<size_t>(sz), 0,
                               reinterpret_cast<const sockaddr*>(p->server_.data()),
                               static_cast<socklen_t>(p->server_.size()));
    if (r < 0) return WOLFSSL_CBIO_ERR_WANT_WRITE;
    ++p->datagrams_out;
    return static_cast<int>(r);
}

bool dtls_peer::pump(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    pending_.resize(20000);
    const ssize_t n = ::recv(fd_, pending_.data(), pending_.size(), 0);
    if (n <= 0) return false;
    pending_.resize(static_cast<size_t>(n));
    has_pending_ = true;
    ++datagrams_in;
    return true;
}

bool dtls_peer::connect(int timeout_ms, uint64_t stop_after) {
    current_options() = &ctx_.options();
    const int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (stop_after != 0 && datagrams_in >= stop_after) return true;
        const int r = wolfSSL_connect(ssl_);
        if (r == WOLFSSL_SUCCESS) return true;
        const int err = wolfSSL_get_error(ssl_, r);
        if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
            char text[WOLFSSL_MAX_ERROR_SZ];
            error_ = std::string("handshake failed: ") + wolfSSL_ERR_error_string(static_cast<unsigned long>(err), text);
            return false;
        }
        const int64_t left = deadline - now_ms();
        if (left <= 0) {
            error_ = "handshake timed out";
            return false;
        }
        const int wait = std::min<int64_t>(left, static_cast<int64_t>(wolfSSL_dtls_get_current_timeout(ssl_)) * 1000);
        if (!pump(static_cast<int>(wait)) && wolfSSL_dtls_got_timeout(ssl_) != WOLFSSL_SUCCESS) {
            error_ = "handshake: retransmissions exhausted";
            return false;
        }
    }
}

bool dtls_peer::send(const std::vector<uint8_t>& data) {
    const int r = wolfSSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (r != static_cast<int>(data.size())) {
        error_ = "write failed";
        return false;
    }
    return true;
}

bool dtls_peer::receive(std::vector<uint8_t>& out, int timeout_ms) {
    const int64_t deadline = now_ms() + timeout_ms;
    out.resize(20000);
    for (;;) {
        const int r = wolfSSL_read(ssl_, out.data(), static_cast<int>(out.size()));
        if (r > 0) {
            out.resize(static_cast<size_t>(r));
            return true;
        }
        const int err = wolfSSL_get_error(ssl_, r);
        if (err == WOLFSSL_ERROR_ZERO_RETURN) {
            error_ = "the server closed the session";
            return false;
        }
        if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
            error_ = "read failed (" + std::to_string(err) + ")";
            return false;
        }
        const int64_t left = deadline - now_ms();
        if (left <= 0) {
            error_ = "no answer in time";
            return false;
        }
        if (!pump(static_cast<int>(std::min<int64_t>(left, 200)))) {
#ifdef WOLFSSL_DTLS13
            // DTLS 1.3 retransmits its own unacknowledged records
            if (wolfSSL_dtls13_has_pending_msg(ssl_)) wolfSSL_dtls_got_timeout(ssl_);
#endif
        }
    }
}

bool dtls_peer::poll_read(std::vector<uint8_t>& out) {
    for (;;) {
        if (!has_pending_ && !pump(0)) return false;
        out.resize(20000);
        const int r = wolfSSL_read(ssl_, out.data(), static_cast<int>(out.size()));
        if (r > 0) {
            out.resize(static_cast<size_t>(r));
            return true;
        }
        const int err = wolfSSL_get_error(ssl_, r);
        if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) return false;
    }
}

bool dtls_peer::rebind() {
    const int fd = open_socket(ctx_.options().bind_address);
    if (fd < 0) return false;
    ::close(fd_);
    fd_ = fd;
    return true;
}

void dtls_peer::close() {
    if (ssl_ != nullptr) wolfSSL_shutdown(ssl_);
}

uint16_t dtls_peer::local_port() const {
    sockaddr_in a{};
    socklen_t l = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &l);
    return ntohs(a.sin_port);
}

std::string dtls_peer::version() const { return wolfSSL_get_version(ssl_); }
std::string dtls_peer::cipher() const {
    const char* c = wolfSSL_get_cipher_name(ssl_);
    return c != nullptr ? c : "";
}
bool dtls_peer::resumed() const { return wolfSSL_session_reused(ssl_) == 1; }

std::string dtls_peer::cid_hex() const {
#ifdef WOLFSSL_DTLS_CID
    unsigned int n = 0;
    if (wolfSSL_dtls_cid_get_tx_size(ssl_, &n) != WOLFSSL_SUCCESS || n == 0) return "";
    unsigned char buf[64];
    if (wolfSSL_dtls_cid_get_tx(ssl_, buf, sizeof buf) != WOLFSSL_SUCCESS) return "";
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < n; ++i) {
        s += hex[buf[i] >> 4];
        s += hex[buf[i] & 15];
    }
    return s;
#else
    return "";
#endif
}

WOLFSSL_SESSION* dtls_peer::saved_session() const { return wolfSSL_get1_session(ssl_); }

}  // namespace tern::dtls::test

// A DTLS client over wolfSSL (the same bundled library the plugin links) with its own UDP
// socket behind wolfSSL's I/O callbacks, so a test can move the session to a new socket
// (a new source port: what NAT rebinding looks like to the server) without wolfSSL
// noticing. Blocking calls with deadlines; for tests and the benchmark, never the plugin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct WOLFSSL;
struct WOLFSSL_CTX;
struct WOLFSSL_SESSION;

namespace tern::dtls::test {

struct peer_options {
    bool dtls13 = false;
    bool cid = false;            // ask for a Connection ID (RFC 9146 on DTLS 1.2, RFC 9147 on 1.3)
    std::string ca_file;         // verify the server against it; empty: no verification
    std::string cert_file, key_file;
    std::string psk_identity;
    std::vector<uint8_t> psk_key;
    std::string ciphers;         // wolfSSL cipher list; empty: the library's
    bool tickets = true;         // offer session tickets (resumption by ticket)
    int mtu = 0;                 // 0: wolfSSL's default
    bool p256_only = false;      // offer only P-256 for ECDHE (supported_groups)
    std::string bind_address;    // local IPv4 address (any 127/8 one); empty: 127.0.0.1
};

// A WOLFSSL_CTX for clients; one per process is enough (tests, benchmark threads share it).
class client_context {
public:
    explicit client_context(const peer_options& o);
    ~client_context();
    client_context(const client_context&) = delete;
    client_context& operator=(const client_context&) = delete;
    WOLFSSL_CTX* get() const noexcept { return ctx_; }
    const peer_options& options() const noexcept { return o_; }

private:
    peer_options o_;
    WOLFSSL_CTX* ctx_ = nullptr;
};

class dtls_peer {
public:
    dtls_peer(client_context& ctx, const std::string& host, uint16_t port);
    ~dtls_peer();
    dtls_peer(const dtls_peer&) = delete;
    dtls_peer& operator=(const dtls_peer&) = delete;

    // Resume this session (from an earlier peer's saved_session()) in connect().
    void resume(WOLFSSL_SESSION* session);
    // The handshake; false with error() set on failure or timeout. With stop_after > 0 it
    // gives up (returning true) once that many datagrams came from the server: a client
    // that vanishes in the middle of a handshake.
    bool connect(int timeout_ms, uint64_t stop_after = 0);
    bool send(const std::vector<uint8_t>& plaintext);
    // One application datagram; false on timeout or failure.
    bool receive(std::vector<uint8_t>& out, int timeout_ms);
    // A new UDP socket (new source port) for the same DTLS session.
    bool rebind();
    void close();
    // Hands the socket over (the caller closes it): keeps the port taken after the peer
    // is gone, so a later peer never gets the same address.
    int release_socket() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

    uint16_t local_port() const;
    int fd() const noexcept { return fd_; }
    // Without waiting: reads what the socket holds; true with out set when an application
    // datagram came of it.
    bool poll_read(std::vector<uint8_t>& out);
    std::string version() const;
    std::string cipher() const;
    bool resumed() const;
    std::string cid_hex() const;  // the CID we send with (the server's), empty without
    // The session for a later resumption (owned by the caller: wolfSSL_SESSION_free).
    WOLFSSL_SESSION* saved_session() const;
    const std::string& error() const noexcept { return error_; }
    // Datagrams sent and received on the socket so far (handshake included).
    uint64_t datagrams_out = 0, datagrams_in = 0;
    // The last datagram wolfSSL wrote (what a test replays or delivers late), and whether
    // writes are kept back: with withhold set, a datagram goes to last_sent only, as if the
    // network had lost it (or held it up).
    std::vector<uint8_t> last_sent;
    bool withhold = false;

private:
    bool pump(int timeout_ms);  // one socket read (or timeout) into the pending buffer
    static int on_recv(WOLFSSL*, char* buf, int sz, void* ctx);
    static int on_send(WOLFSSL*, char* buf, int sz, void* ctx);

    client_context& ctx_;
    WOLFSSL* ssl_ = nullptr;
    int fd_ = -1;
    std::vector<uint8_t> server_;  // sockaddr
    std::vector<uint8_t> pending_;
    bool has_pending_ = false;
    std::string error_;
};

// Monotonic milliseconds.
int64_t now_ms();

}  // namespace tern::dtls::test

// The UDP ceiling: answers every CoAP request with the cheapest valid response, using
// the same batched syscalls and SO_REUSEPORT sharding a real server would. Whatever
// rate this reaches on a machine, no CoAP server on that machine can exceed.
#include "echo_server.hpp"

#include "coap_wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace tern::bench {

namespace {

constexpr unsigned batch = 64;
constexpr size_t max_in = 2048;   // a request's header and token is all we read
constexpr size_t max_out = 4 + 8 + 1 + 1 + 12;

// A short text payload with Content-Format text/plain: about the size of a small
// real response such as libcoap's /time.
constexpr std::array<uint8_t, 12> body = {'H', 'e', 'l', 'l', 'o', ' ', 'W', 'o', 'r', 'l', 'd', '!'};

// Builds the reply to one datagram; 0 means "send nothing".
size_t reply(const uint8_t* in, size_t n, uint8_t* out, uint16_t& next_mid) {
    if (n < 4 || (in[0] >> 6) != 1) return 0;
    const uint8_t type = (in[0] >> 4) & 3u;
    const uint8_t tkl = in[0] & 15u;
    const uint8_t code = in[1];
    if (tkl > 8 || 4u + tkl > n) return 0;
    if (code == coap::code_empty) {
        // CoAP ping: RST (RFC 7252 §4.3). Empty ACK/RST need no answer.
        return type == coap::type_con ? coap::write_empty(out, coap::type_rst, uint16_t(in[2] << 8 | in[3])) : 0;
    }
    if (!coap::is_request(code) || type > coap::type_non) return 0;
    const bool con = type == coap::type_con;
    out[0] = static_cast<uint8_t>(1u << 6 | (con ? coap::type_ack : coap::type_non) << 4 | tkl);
    out[1] = coap::code_content;
    if (con) {
        out[2] = in[2];
        out[3] = in[3];
    } else {
        // A NON response is a new message with its own MID.
        const uint16_t mid = next_mid++;
        out[2] = static_cast<uint8_t>(mid >> 8);
        out[3] = static_cast<uint8_t>(mid);
    }
    std::memcpy(out + 4, in + 4, tkl);
    size_t len = 4u + tkl;
    out[len++] = 0xC0;  // Content-Format (12), length 0: text/plain
    out[len++] = 0xFF;
    std::memcpy(out + len, body.data(), body.size());
    return len + body.size();
}

void serve(int fd, bool busy_poll, const std::atomic<bool>& stop) {
    std::vector<uint8_t> in_buf(batch * max_in);
    std::vector<uint8_t> out_buf(batch * max_out);
    std::array<mmsghdr, batch> in{};
    std::array<mmsghdr, batch> out{};
    std::array<iovec, batch> in_iov{};
    std::array<iovec, batch> out_iov{};
    std::array<sockaddr_storage, batch> peers{};
    uint16_t next_mid = static_cast<uint16_t>(reinterpret_cast<uintptr_t>(&in) >> 4);
    for (unsigned i = 0; i < batch; ++i) {
        in_iov[i] = {in_buf.data() + i * max_in, max_in};
        in[i].msg_hdr.msg_iov = &in_iov[i];
        in[i].msg_hdr.msg_iovlen = 1;
        in[i].msg_hdr.msg_name = &peers[i];
    }
    while (!stop.load(std::memory_order_relaxed)) {
        for (unsigned i = 0; i < batch; ++i) in[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        // Blocks for the first datagram (SO_RCVTIMEO bounds it), then takes what is queued.
        const int n = ::recvmmsg(fd, in.data(), batch, busy_poll ? MSG_DONTWAIT : MSG_WAITFORONE, nullptr);
        if (n <= 0) continue;
        unsigned m = 0;
        for (int i = 0; i < n; ++i) {
            uint8_t* o = out_buf.data() + m * max_out;
            const size_t len = reply(static_cast<uint8_t*>(in_iov[i].iov_base), in[i].msg_len, o, next_mid);
            if (!len) continue;
            out_iov[m] = {o, len};
            out[m].msg_hdr = {};
            out[m].msg_hdr.msg_iov = &out_iov[m];
            out[m].msg_hdr.msg_iovlen = 1;
            out[m].msg_hdr.msg_name = &peers[i];
            out[m].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
            ++m;
        }
        unsigned sent = 0;
        while (sent < m) {
            const int rc = ::sendmmsg(fd, out.data() + sent, m - sent, 0);
            if (rc > 0) sent += static_cast<unsigned>(rc);
            else if (rc < 0 && errno == EINTR) continue;
            else ++sent;  // a peer that went away: skip its reply
        }
    }
}

}  // namespace

int run_echo_server(const echo_options& o, const std::atomic<bool>& stop, std::string& error) {
    std::vector<int> fds;
    sockaddr_storage addr = o.addr;
    auto fail = [&](const char* what) {
        error = std::string(what) + " " + format_address(addr) + ": " + std::strerror(errno);
        for (int fd : fds) ::close(fd);
        return 1;
    };
    for (uint32_t t = 0; t < o.threads; ++t) {
        const int fd = ::socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail("socket");
        fds.push_back(fd);
        const int one = 1;
        // One socket per thread on the same port; the kernel spreads peers by 4-tuple hash.
        if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail("SO_REUSEPORT");
        const int buf = 4 << 20;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        const timeval tv{0, 200'000};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), o.addr_len) != 0) return fail("bind");
        if (t == 0) {
            // Port 0: the other threads must join the port the kernel picked.
            socklen_t len = sizeof addr;
            if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return fail("getsockname");
        }
    }
    std::printf("tern-bench echo-server listening on %s (%u thread%s)\n", format_address(addr).c_str(),
                o.threads, o.threads == 1 ? "" : "s");
    std::fflush(stdout);

    std::vector<std::thread> threads;
    for (size_t t = 1; t < fds.size(); ++t) threads.emplace_back(serve, fds[t], o.busy_poll, std::cref(stop));
    serve(fds[0], o.busy_poll, stop);
    for (auto& th : threads) th.join();
    for (int fd : fds) ::close(fd);
    return 0;
}

}  // namespace tern::bench

#include "tern/udp_io/batch.hpp"

#include <cerrno>

#include "tern/udp_io/endpoint.hpp"

namespace tern::udp_io {

void receive_batch::init(uint32_t batch, uint32_t max_size) {
    max_size_ = max_size;
    msg_.assign(batch, mmsghdr{});
    iov_.assign(batch, iovec{});
    addr_.assign(batch, sockaddr_storage{});
    buf_.assign(static_cast<size_t>(batch) * max_size, 0);
    for (uint32_t i = 0; i < batch; ++i) {
        iov_[i].iov_base = buf_.data() + static_cast<size_t>(i) * max_size;
        iov_[i].iov_len = max_size;
        msg_[i].msg_hdr.msg_iov = &iov_[i];
        msg_[i].msg_hdr.msg_iovlen = 1;
        msg_[i].msg_hdr.msg_name = &addr_[i];
    }
}

int receive_batch::receive(int fd) noexcept {
    const uint32_t b = capacity();
    for (uint32_t i = 0; i < b; ++i) {
        msg_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msg_[i].msg_hdr.msg_flags = 0;
        msg_[i].msg_hdr.msg_control = nullptr;
        msg_[i].msg_hdr.msg_controllen = 0;
    }
    for (;;) {
        const int n = ::recvmmsg(fd, msg_.data(), b, MSG_DONTWAIT, nullptr);
        if (n >= 0) return n;
        const int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return 0;
        return -e;
    }
}

bool receive_batch::endpoint(uint32_t i, tern_endpoint& out) const noexcept {
    return to_endpoint(from(i), from_len(i), out);
}

void send_batch::init(uint32_t batch) {
    count_ = 0;
    msg_.assign(batch, mmsghdr{});
    iov_.assign(batch, iovec{});
    addr_.assign(batch, sockaddr_storage{});
    for (uint32_t i = 0; i < batch; ++i) {
        msg_[i].msg_hdr.msg_iov = &iov_[i];
        msg_[i].msg_hdr.msg_iovlen = 1;
        msg_[i].msg_hdr.msg_name = &addr_[i];
    }
}

bool send_batch::add(const tern_endpoint& ep, int socket_family, const uint8_t* data,
                     size_t size) noexcept {
    if (full()) return false;
    const socklen_t len = to_sockaddr(ep, socket_family, addr_[count_]);
    if (len == 0) return false;
    mmsghdr& m = msg_[count_];
    m.msg_hdr.msg_namelen = len;
    m.msg_hdr.msg_control = nullptr;
    m.msg_hdr.msg_controllen = 0;
    m.msg_hdr.msg_flags = 0;
    m.msg_len = 0;
    iov_[count_].iov_base = const_cast<uint8_t*>(data);
    iov_[count_].iov_len = size;
    ++count_;
    return true;
}

bool send_batch::flush(int fd, send_stats& st) noexcept {
    const uint32_t k = count_;
    count_ = 0;
    uint32_t off = 0;
    while (off < k) {
        const int r = ::sendmmsg(fd, msg_.data() + off, k - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r > 0) {
            for (int i = 0; i < r; ++i) st.bytes += msg_[off + i].msg_len;
            st.sent += static_cast<uint64_t>(r);
            off += static_cast<uint32_t>(r);
            continue;
        }
        const int e = r < 0 ? errno : EIO;
        if (e == EINTR) continue;
        if (is_full(e)) {
            st.would_block += k - off;
            st.last_errno = e;
            return false;
        }
        // This one datagram failed (EMSGSIZE, ENETUNREACH, EPERM by a firewall, ...); the
        // next ones may well go.
        ++st.failed;
        st.last_errno = e;
        ++off;
    }
    return true;
}

int send_one(int fd, int socket_family, const tern_endpoint& ep, const uint8_t* data,
             size_t size) noexcept {
    sockaddr_storage to;
    const socklen_t len = to_sockaddr(ep, socket_family, to);
    if (len == 0) return EAFNOSUPPORT;
    for (;;) {
        const ssize_t r = ::sendto(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL,
                                   reinterpret_cast<const sockaddr*>(&to), len);
        if (r >= 0) return 0;
        if (errno != EINTR) return errno;
    }
}

}  // namespace tern::udp_io

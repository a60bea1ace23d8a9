#include "pktinfo_sockets.hpp"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace tern::bench {

namespace {

// SO_*BUFFORCE ignores net.core.[rw]mem_max (needs CAP_NET_ADMIN); the plain option is
// capped by it. Returns the size the kernel reports afterwards.
int set_buffer(int fd, int plain, int forced, int bytes, bool force) {
    if (bytes > 0) {
        if (!force || ::setsockopt(fd, SOL_SOCKET, forced, &bytes, sizeof bytes) != 0)
            ::setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes);
    }
    int got = 0;
    socklen_t len = sizeof got;
    ::getsockopt(fd, SOL_SOCKET, plain, &got, &len);
    return got;
}

}  // namespace

pktinfo_sockets::~pktinfo_sockets() {
    for (int fd : fds_) ::close(fd);
    if (ep_ >= 0) ::close(ep_);
}

bool pktinfo_sockets::open(uint32_t count, const socket_buffers& buffers, const sockaddr_storage& to,
                           socklen_t to_len, size_t max_datagram, size_t recv_size, std::string& error) {
    to_ = to;
    to_len_ = to_len;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
        error = std::string("epoll_create1: ") + std::strerror(errno);
        return false;
    }
    granted_receive_ = INT_MAX;
    granted_send_ = INT_MAX;
    for (uint32_t i = 0; i < count; ++i) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            error = std::string("socket: ") + std::strerror(errno) +
                    (errno == EMFILE ? " (use fewer sockets or raise `ulimit -n`)" : "");
            return false;
        }
        fds_.push_back(fd);
        granted_receive_ = std::min(granted_receive_, set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, buffers.receive, buffers.force));
        granted_send_ = std::min(granted_send_, set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, buffers.send, buffers.force));
        const int on = 1;
        ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
        sockaddr_in any{};
        any.sin_family = AF_INET;
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
            error = std::string("bind: ") + std::strerror(errno);
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = i;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            error = std::string("epoll_ctl: ") + std::strerror(errno);
            return false;
        }
    }
    slot_bytes_ = std::max<size_t>(max_datagram, 16);
    out_buf_.resize(send_batch * slot_bytes_);
    out_iov_.resize(send_batch);
    out_hdr_.resize(send_batch);
    out_cmsg_.resize(send_batch);
    out_len_.resize(send_batch);
    recv_size_ = recv_size;
    in_buf_.resize(recv_batch * recv_size_);
    in_iov_.resize(recv_batch);
    in_hdr_.resize(recv_batch);
    in_cmsg_.resize(recv_batch);
    in_from_.resize(recv_batch);
    return true;
}

uint8_t* pktinfo_sockets::stage(uint32_t socket, uint32_t source) {
    const int fd = fds_[socket];
    if (staged_ == send_batch || (staged_ && fd != staged_fd_)) flush();
    staged_fd_ = fd;
    cmsg_space& c = out_cmsg_[staged_];
    std::memset(&c, 0, sizeof c);
    cmsghdr* cm = reinterpret_cast<cmsghdr*>(c.bytes);
    cm->cmsg_level = IPPROTO_IP;
    cm->cmsg_type = IP_PKTINFO;
    cm->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_spec_dst.s_addr = htonl(source);
    std::memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    return out_buf_.data() + staged_ * slot_bytes_;
}

void pktinfo_sockets::commit(size_t len, uint8_t tag) {
    out_len_[staged_] = len;
    out_tag_[staged_] = tag;
    ++staged_;
}

void pktinfo_sockets::flush() {
    for (unsigned i = 0; i < staged_; ++i) {
        out_iov_[i] = {out_buf_.data() + i * slot_bytes_, out_len_[i]};
        msghdr& h = out_hdr_[i].msg_hdr;
        h = {};
        h.msg_name = &to_;
        h.msg_namelen = to_len_;
        h.msg_iov = &out_iov_[i];
        h.msg_iovlen = 1;
        h.msg_control = out_cmsg_[i].bytes;
        h.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
    }
    unsigned done = 0;
    while (done < staged_) {
        const int rc = ::sendmmsg(staged_fd_, out_hdr_.data() + done, staged_ - done, 0);
        if (rc > 0) {
            for (int i = 0; i < rc; ++i) ++counts_.by_tag[out_tag_[done + static_cast<unsigned>(i)] & 7u];
            counts_.sent += static_cast<unsigned>(rc);
            done += static_cast<unsigned>(rc);
            continue;
        }
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 && counts_.sent == 0 && !counts_.refused_first) counts_.refused_first = errno;
        ++counts_.errors;  // EAGAIN/ENOBUFS: this datagram is dropped
        ++done;
    }
    staged_ = 0;
}

int pktinfo_sockets::read_batch(uint32_t socket) {
    for (unsigned i = 0; i < recv_batch; ++i) {
        in_iov_[i] = {in_buf_.data() + i * recv_size_, recv_size_};
        msghdr& h = in_hdr_[i].msg_hdr;
        h = {};
        h.msg_name = &in_from_[i];
        h.msg_namelen = sizeof(sockaddr_in);
        h.msg_iov = &in_iov_[i];
        h.msg_iovlen = 1;
        h.msg_control = in_cmsg_[i].bytes;
        h.msg_controllen = sizeof in_cmsg_[i].bytes;
    }
    const int n = ::recvmmsg(fds_[socket], in_hdr_.data(), recv_batch, MSG_DONTWAIT, nullptr);
    return n < 0 ? 0 : n;
}

pktinfo_sockets::datagram pktinfo_sockets::unpack(unsigned i) const {
    const msghdr& h = in_hdr_[i].msg_hdr;
    datagram d{in_buf_.data() + i * recv_size_, in_hdr_[i].msg_len, in_from_[i], 0, (h.msg_flags & MSG_TRUNC) != 0};
    for (const cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(cm))) {
        if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_PKTINFO) continue;
        in_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(cm), sizeof pi);
        d.local = ntohl(pi.ipi_addr.s_addr);
    }
    return d;
}

}  // namespace tern::bench

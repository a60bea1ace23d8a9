// M UDP sockets bound to the IPv4 wildcard address (ephemeral ports) and never connected:
// each datagram chooses its source address with IP_PKTINFO, and IP_PKTINFO on receive says
// which local address an answer was sent to. So M sockets send from, and read answers to,
// any number of (address, port) pairs of 127.0.0.0/8 (Linux routes all of it to lo). Used by
// `flood` (spoofed-looking sources) and `hold` (one pair per simulated device).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tern::bench {

struct socket_buffers {
    int receive = 1 << 20;  // bytes asked for per socket (the kernel doubles it)
    int send = 0;           // 0: the system default
    bool force = false;     // SO_RCVBUFFORCE/SO_SNDBUFFORCE (root) when the plain option is capped
};

struct send_counts {
    uint64_t sent = 0;
    uint64_t errors = 0;                // datagrams the local stack refused (EAGAIN, ENOBUFS, ...)
    std::array<uint64_t, 8> by_tag{};   // sent, by the tag given to commit()
    int refused_first = 0;              // errno of a refusal before anything was ever sent
};

class pktinfo_sockets {
public:
    pktinfo_sockets() = default;
    pktinfo_sockets(const pktinfo_sockets&) = delete;
    pktinfo_sockets& operator=(const pktinfo_sockets&) = delete;
    ~pktinfo_sockets();

    // `count` sockets in one epoll set (event data: the socket index); staged datagrams of
    // at most `max_datagram` bytes go to `to`; received ones are read into `recv_size` bytes.
    bool open(uint32_t count, const socket_buffers& buffers, const sockaddr_storage& to, socklen_t to_len,
              size_t max_datagram, size_t recv_size, std::string& error);

    uint32_t size() const { return static_cast<uint32_t>(fds_.size()); }
    int fd(uint32_t socket) const { return fds_[socket]; }
    int epoll_fd() const { return ep_; }
    // The smallest buffer sizes the kernel granted over the sockets (getsockopt), to warn about.
    int granted_receive() const { return granted_receive_; }
    int granted_send() const { return granted_send_; }

    // --- sending: staged datagrams go out in one sendmmsg per run of the same socket.
    // Room for the next datagram from `socket` with source address `source` (host byte
    // order); write it and call commit(len, tag). A full batch or another socket flushes.
    uint8_t* stage(uint32_t socket, uint32_t source);
    void commit(size_t len, uint8_t tag = 0);
    void flush();
    const send_counts& counts() const { return counts_; }

    // --- receiving
    struct datagram {
        const uint8_t* data;
        size_t len;
        sockaddr_in from;
        uint32_t local;  // destination address (host byte order) from IP_PKTINFO; 0 if absent
        bool truncated;  // larger than recv_size: the rest is lost
    };
    // Reads what `socket` has queued, in batches, calling on(datagram) for each.
    template <class On>
    void receive(uint32_t socket, On&& on) {
        for (;;) {
            const int n = read_batch(socket);
            for (int i = 0; i < n; ++i) on(unpack(static_cast<unsigned>(i)));
            if (n < static_cast<int>(recv_batch)) return;
        }
    }

private:
    static constexpr unsigned send_batch = 64;
    static constexpr unsigned recv_batch = 64;
    struct cmsg_space {
        alignas(cmsghdr) uint8_t bytes[CMSG_SPACE(sizeof(in_pktinfo))];
    };

    int read_batch(uint32_t socket);
    datagram unpack(unsigned i) const;

    std::vector<int> fds_;
    int ep_ = -1;
    int granted_receive_ = 0;
    int granted_send_ = 0;
    sockaddr_storage to_{};
    socklen_t to_len_ = 0;

    size_t slot_bytes_ = 0;
    std::vector<uint8_t> out_buf_;
    std::vector<iovec> out_iov_;
    std::vector<mmsghdr> out_hdr_;
    std::vector<cmsg_space> out_cmsg_;
    std::vector<size_t> out_len_;
    std::array<uint8_t, send_batch> out_tag_{};
    unsigned staged_ = 0;
    int staged_fd_ = -1;
    send_counts counts_;

    size_t recv_size_ = 0;
    std::vector<uint8_t> in_buf_;
    std::vector<iovec> in_iov_;
    std::vector<mmsghdr> in_hdr_;
    std::vector<cmsg_space> in_cmsg_;
    std::vector<sockaddr_in> in_from_;
};

}  // namespace tern::bench

// Batched datagram I/O: recvmmsg into preallocated buffers, sendmmsg from a queue of
// borrowed buffers. Neither allocates after init(); each belongs to one thread (a shard).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tern/abi/types.h"

namespace tern::udp_io {

class receive_batch {
public:
    // batch datagrams of at most max_size bytes per receive().
    void init(uint32_t batch, uint32_t max_size);
    uint32_t capacity() const noexcept { return static_cast<uint32_t>(msg_.size()); }
    uint32_t max_size() const noexcept { return max_size_; }

    // One recvmmsg (MSG_DONTWAIT). Returns the number of datagrams read (0 when the socket
    // is empty), or -errno for any other failure (EINTR is retried).
    int receive(int fd) noexcept;

    // Of the datagrams of the last receive(), i < its result:
    bool truncated(uint32_t i) const noexcept { return (msg_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
    uint8_t* data(uint32_t i) noexcept { return buf_.data() + static_cast<size_t>(i) * max_size_; }
    size_t size(uint32_t i) const noexcept { return msg_[i].msg_len; }
    const sockaddr* from(uint32_t i) const noexcept {
        return reinterpret_cast<const sockaddr*>(&addr_[i]);
    }
    socklen_t from_len(uint32_t i) const noexcept { return msg_[i].msg_hdr.msg_namelen; }
    // The sender as an endpoint (see to_endpoint); false for an unknown address family.
    bool endpoint(uint32_t i, tern_endpoint& out) const noexcept;

private:
    uint32_t max_size_ = 0;
    std::vector<mmsghdr> msg_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_storage> addr_;
    std::vector<uint8_t> buf_;
};

// What sending did, accumulated over calls until the caller resets it.
struct send_stats {
    uint64_t sent = 0;         // datagrams handed to the network
    uint64_t bytes = 0;        // their bytes
    uint64_t would_block = 0;  // dropped: the socket buffer was full (EAGAIN, ENOBUFS)
    uint64_t failed = 0;       // dropped: any other error of their own (EMSGSIZE, ...)
    int last_errno = 0;        // of the last drop
};

class send_batch {
public:
    void init(uint32_t batch);
    bool empty() const noexcept { return count_ == 0; }
    bool full() const noexcept { return count_ == msg_.size(); }
    uint32_t size() const noexcept { return count_; }

    // Queues a datagram to ep from a socket of socket_family (AF_INET/AF_INET6). data is
    // borrowed until flush(). false (nothing queued) when the socket cannot reach ep or the
    // queue is full.
    bool add(const tern_endpoint& ep, int socket_family, const uint8_t* data, size_t size) noexcept;

    // Sends the queue with sendmmsg and empties it. A datagram failing on its own is
    // dropped and the rest still go; when the socket buffer is full the rest of the queue
    // is dropped (UDP loses rather than blocks) and flush returns false.
    bool flush(int fd, send_stats& stats) noexcept;
    // Drops the queue without sending.
    void clear() noexcept { count_ = 0; }

private:
    uint32_t count_ = 0;
    std::vector<mmsghdr> msg_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_storage> addr_;
};

// One datagram with sendto (for a caller off the socket's shard). Returns 0, or the errno.
int send_one(int fd, int socket_family, const tern_endpoint& ep, const uint8_t* data,
             size_t size) noexcept;

// EAGAIN, EWOULDBLOCK, ENOBUFS: the socket buffer is full.
inline bool is_full(int err) noexcept {
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

}  // namespace tern::udp_io

// The UDP transport: one non-blocking socket per reactor shard, all bound to the same
// address and port with SO_REUSEPORT, so Linux's SO_REUSEPORT hashing sends each peer
// (source address and port) to one socket and therefore to one shard for as long as it
// keeps its address.
// Datagrams are read with recvmmsg and written with sendmmsg, a batch per system call.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "settings.hpp"
#include "tern/abi/host.h"
#include "tern/abi/transport.h"
#include "tern/sdk/host.hpp"
#include "tern/udp_io/batch.hpp"
#include "tern/udp_io/sink_slot.hpp"
#include "tern/udp_io/socket_group.hpp"

namespace tern::udp {

// Why a datagram was dropped: the label of udp_drops_total{reason=...}.
enum class drop : uint32_t {
    truncated,       // larger than max_datagram_size
    no_sink,         // arrived while nothing was attached
    would_block,     // socket send buffer full (EAGAIN): UDP drops rather than blocks
    send_error,      // any other send failure (EMSGSIZE, ENETUNREACH, a bad shard, ...)
    unreachable,     // an IPv6 peer given to an IPv4 socket, or an unknown family
    recv_error,      // recvmmsg failed with something other than EAGAIN
    count_
};
const char* drop_name(drop d) noexcept;

struct counters {
    sdk::metric datagrams_received, datagrams_sent, bytes_received, bytes_sent;
    sdk::metric drops[static_cast<size_t>(drop::count_)];
};

class transport final : public transport_v1 {
public:
    transport(sdk::logger log, reactor_v1& reactor, counters metrics, settings s);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // Opens and binds the sockets and starts watching them; throws sdk::error.
    void start();
    // Stops watching and closes; afterwards no callback of this transport runs.
    void stop() noexcept;

    // Before start only.
    void set_counters(const counters& m) noexcept { metrics_ = m; }

    // The port actually bound (bind_port, or the ephemeral one).
    uint16_t port() const noexcept { return port_; }

    // transport_v1
    tern_str scheme() noexcept override;
    uint32_t max_datagram_size() noexcept override;
    tern_status attach(datagram_sink_v1* sink) noexcept override;
    tern_status send(uint32_t shard, const tern_datagram* batch, uint32_t count) noexcept override;
    tern_status peer_auth(const tern_peer* peer, tern_peer_auth_sink sink,
                          void* ctx) noexcept override;

private:
    struct shard;

    static void on_readable(void* ctx, int fd, uint32_t events) noexcept;
    static void on_continue(void* ctx) noexcept;
    // Reads up to drain_batches batches; true when the socket may still hold datagrams.
    bool drain(shard& sh) noexcept;
    void deliver(shard& sh, uint32_t count) noexcept;
    tern_status send_off_shard(shard& sh, const tern_datagram* batch, uint32_t count) noexcept;
    void count_drop(shard* sh, drop why, uint64_t n, int err) noexcept;
    // Counts what flushes did (sent, dropped) since the last call and resets it.
    tern_status account(shard& sh, udp_io::send_stats& st) noexcept;

    sdk::logger log_;
    reactor_v1& reactor_;
    counters metrics_;
    settings cfg_;
    udp_io::socket_group sockets_;
    int family_ = AF_INET;
    uint16_t port_ = 0;
    std::vector<std::unique_ptr<shard>> shards_;
    udp_io::sink_slot sink_;
    std::atomic<bool> running_{false};
};

}  // namespace tern::udp

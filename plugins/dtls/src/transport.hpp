// The DTLS transport: like udp, one SO_REUSEPORT socket per reactor shard (libs/udp_io),
// each shard owning the DTLS sessions of the peers its socket receives. The engine sees
// plaintext datagrams tagged with the session id and sends plaintext; this class routes
// those calls to the shards and owns their life cycle.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "context.hpp"
#include "identity.hpp"
#include "metrics.hpp"
#include "settings.hpp"
#include "shard.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/host.h"
#include "tern/abi/transport.h"
#include "tern/sdk/host.hpp"
#include "tern/udp_io/sink_slot.hpp"
#include "tern/udp_io/socket_group.hpp"

namespace tern::dtls {

class transport final : public transport_v1 {
public:
    transport(sdk::logger log, reactor_v1& reactor, settings s);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // Builds the TLS context, opens the sockets and starts reading; throws sdk::error.
    // core: where PSK identities are looked up (tern.core.auth/1; null: no PSK).
    void start(const counters& metrics, core_auth_v1* core);
    // Stops reading and frees every session; afterwards no callback of this transport runs.
    void stop() noexcept;

    uint16_t port() const noexcept { return sockets_.port; }
    const settings& cfg() const noexcept { return cfg_; }
    // Sessions and handshakes per shard (tests, the memory benchmark). [the shard's thread]
    shard* shard_at(uint32_t i) noexcept { return i < shards_.size() ? shards_[i]->sh.get() : nullptr; }

    // transport_v1
    tern_str scheme() noexcept override;
    uint32_t max_datagram_size() noexcept override;
    tern_status attach(datagram_sink_v1* sink) noexcept override;
    tern_status send(uint32_t shard, const tern_datagram* batch, uint32_t count) noexcept override;
    tern_status peer_auth(const tern_peer* peer, tern_peer_auth_sink sink, void* ctx) noexcept override;

private:
    struct slot {
        transport* owner = nullptr;
        std::unique_ptr<shard> sh;
        uint64_t watch = 0;
        bool watching = false;
        // a drain continuation is posted and has not finished: stop() waits for false
        std::atomic<bool> continuation{false};
    };
    static void on_readable(void* ctx, int fd, uint32_t events) noexcept;
    static void on_continue(void* ctx) noexcept;

    sdk::logger log_;
    reactor_v1& reactor_;
    settings cfg_;
    counters metrics_;
    std::unique_ptr<identity_store> identities_;
    std::unique_ptr<context> tls_;
    environment env_;
    udp_io::socket_group sockets_;
    std::vector<std::unique_ptr<slot>> shards_;
    udp_io::sink_slot sink_;
    std::shared_ptr<liveness> alive_ = std::make_shared<liveness>();
    bool wolfssl_initialised_ = false;
};

}  // namespace tern::dtls

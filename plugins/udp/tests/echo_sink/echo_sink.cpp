// Test-only plugin: attaches to a tern.transport/1 and sends every datagram back to its
// sender from the shard it arrived on, prefixed with "<shard>|". The kernel test uses it
// to see echoes, which shard served which peer, and the transport's metrics.
#include <cstring>
#include <string>
#include <vector>

#include "tern/abi/transport.h"
#include "tern/sdk/plugin.hpp"

namespace {

namespace cfg = tern::sdk::cfg;

constexpr tern_config_key config_schema[] = {
    cfg::string("transport", "", "Instance name of the transport to serve; empty = the first"),
};
constexpr tern_requirement requirements[] = {tern::sdk::need(TERN_IID_TRANSPORT_V1)};

class echo_sink final : public tern::sdk::instance, public tern::datagram_sink_v1 {
public:
    explicit echo_sink(const tern_create_args& a) : instance(a) {}

    void on_datagrams(uint32_t shard, const tern_datagram* batch, uint32_t count) noexcept override {
        // one buffer per shard, touched only by that shard
        auto& buf = scratch_[shard];
        buf.clear();
        std::vector<size_t> offsets;
        const std::string prefix = std::to_string(shard) + "|";
        for (uint32_t i = 0; i < count; ++i) {
            offsets.push_back(buf.size());
            buf.insert(buf.end(), prefix.begin(), prefix.end());
            buf.insert(buf.end(), batch[i].data.data, batch[i].data.data + batch[i].data.size);
        }
        offsets.push_back(buf.size());
        std::vector<tern_datagram> out(count);
        for (uint32_t i = 0; i < count; ++i) {
            out[i].peer = batch[i].peer;
            out[i].data = tern_bytes{buf.data() + offsets[i], offsets[i + 1] - offsets[i]};
        }
        transport_->send(shard, out.data(), count);
    }
    void on_session_end(uint32_t, const tern_peer*) noexcept override {}

protected:
    void on_start() override {
        const auto name = config().get_string("transport");
        transport_ = host().find<tern::transport_v1>(TERN_IID_TRANSPORT_V1, name);
        if (transport_ == nullptr)
            throw tern::sdk::error(TERN_NOT_FOUND, "no transport instance to attach to");
        scratch_.resize(host().reactor().shard_count());
        const tern_status s = transport_->attach(this);
        if (s != TERN_OK)
            throw tern::sdk::error(s, "attach refused: " + std::string(tern::sdk::status_name(s)));
        log().info("echoing datagrams of ", tern::sdk::to_sv(transport_->scheme()), " transport");
    }
    void on_stop() noexcept override {
        if (transport_ != nullptr) transport_->attach(nullptr);
    }

private:
    tern::transport_v1* transport_ = nullptr;
    std::vector<std::vector<uint8_t>> scratch_;
};

}  // namespace

TERN_PLUGIN(echo_sink, {.name = "udp_echo",
                        .version = "1.0.0",
                        .vendor = "Tern tests",
                        .description = "Echoes every datagram of a transport (test only)",
                        .requirements = requirements,
                        .config = config_schema})

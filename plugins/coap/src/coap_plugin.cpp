// libtern-coap: the descriptor (config schema) and the glue between the engine and the
// host: reactor timers and posts, metrics, logging, and the transports found in the
// registry. Everything about CoAP is in the engine (engine.hpp).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine.hpp"
#include "tern/abi/transport.h"
#include "tern/sdk/plugin.hpp"

namespace {

using tern::coap::engine;
using tern::coap::engine_config;
namespace cfg = tern::sdk::cfg;
using tern::sdk::to_str;
using tern::sdk::to_sv;

constexpr tern_config_key coap_config[] = {
    cfg::integer("timeout", 10000,
                 "A request whose handler has not answered by then gets no response at all "
                 "(a CON request already had its empty ACK)")
        .unit("ms").at_least(1),
    cfg::integer("piggyback_timeout", 500,
                 "A response ready within this time rides in the ACK of a CON request; later "
                 "ones get an empty ACK first and go separately (0: empty ACK at once unless "
                 "the handler answered synchronously)")
        .unit("ms").at_least(0),
    cfg::integer("max_message_size", 1024,
                 "Largest payload sent in one message; larger bodies go block-wise (Block2)")
        .unit("bytes").range(16, 65000),
    cfg::integer("preferred_block_size", 1024,
                 "Block size offered for Block1 and Block2 (power of two, 16 to 1024); a "
                 "client asking for smaller blocks gets them")
        .unit("bytes").range(16, 1024),
    cfg::integer("max_resource_body_size", 65536,
                 "Largest request body reassembled from Block1 blocks: an upload whose Size1 or "
                 "received bytes pass it gets 4.13 with Size1 at once (keep it at "
                 "device_api.max_payload_size, the largest body the device API accepts)")
        .unit("bytes").at_least(1),
    cfg::integer("blockwise_status_lifetime", 300000,
                 "A Block1 upload with no new block for this long is discarded")
        .unit("ms").at_least(1),
    cfg::integer("max_retransmit", 4,
                 "Retransmissions of a CON message before giving up (RFC 7252 MAX_RETRANSMIT)")
        .unit("count").range(0, 20),
    cfg::integer("ack_timeout", 2000,
                 "First retransmission timeout of a CON message, doubled after each "
                 "retransmission (RFC 7252 ACK_TIMEOUT)")
        .unit("ms").at_least(1),
    cfg::number("ack_random_factor", 1.5,
                "The first timeout is random between ack_timeout and ack_timeout times this "
                "(RFC 7252 ACK_RANDOM_FACTOR)")
        .unit("factor").range(1.0, 10.0),
    cfg::integer("max_peers", 100000,
                 "Peers (addresses or DTLS sessions) the engine keeps state for, over all "
                 "shards; past it a new peer takes the place of the least recently used peer "
                 "that holds only answered requests (unproven peers first), and gets 5.03 "
                 "only when every peer has an exchange, observation or upload open")
        .unit("count").range(1, 8388608),
    cfg::integer("max_peers_per_prefix_percent", 25,
                 "Share of max_peers that one source network (peer_prefix_v4 / peer_prefix_v6) "
                 "may hold; past it a new peer of that network takes the place of its least "
                 "recently used evictable peer, or gets 5.03")
        .unit("percent").range(1, 100),
    cfg::integer("peer_prefix_v4", 24,
                 "Prefix length that makes one IPv4 source network for max_peers_per_prefix_percent")
        .unit("bits").range(0, 32),
    cfg::integer("peer_prefix_v6", 56,
                 "Prefix length that makes one IPv6 source network for max_peers_per_prefix_percent")
        .unit("bits").range(0, 128),
    cfg::integer("max_exchanges", 65536,
                 "Requests awaiting their handler plus separate responses awaiting an ACK, "
                 "over all shards; past it requests get 5.03")
        .unit("count").range(1, 8388608),
    cfg::integer("max_observations", 200000,
                 "Observe relations over all shards; past it registrations get 5.03")
        .unit("count").range(1, 8388608),
    cfg::integer("max_observations_per_peer", 8,
                 "Observe relations one peer may hold; past it registrations get 5.03")
        .unit("count").at_least(1),
    cfg::integer("max_queued_notifications", 32,
                 "Notifications waiting behind an unacknowledged CON notification, per "
                 "relation; past it a new one is reported DROPPED")
        .unit("count").range(1, 65535),
    cfg::integer("notification_memory", 67108864,
                 "Memory for queued and unacknowledged notifications, over all shards")
        .unit("bytes").at_least(65536),
    cfg::integer("retransmission_memory", 33554432,
                 "Memory for separate CON responses awaiting their ACK, over all shards")
        .unit("bytes").at_least(65536),
    cfg::integer("dedup_capacity", 262144,
                 "Requests remembered for duplicate detection (EXCHANGE_LIFETIME for CON, "
                 "NON_LIFETIME for NON), over all shards; when full, the entry nearest its expiry "
                 "leaves first, taken from peers no handler has answered 2.xx before any other")
        .unit("count").range(1, 16777216),
    cfg::integer("max_dedup_per_peer", 1024,
                 "Requests remembered for duplicate detection per peer; past it the peer's own "
                 "oldest entry leaves, so no peer pushes out another's")
        .unit("count").range(1, 16777216),
    cfg::integer("dedup_memory", 67108864,
                 "Memory for cached piggy-backed responses replayed to duplicates, over all "
                 "shards")
        .unit("bytes").at_least(65536),
    cfg::integer("max_block1_transfers", 1024,
                 "Block1 uploads in progress, over all shards; past it a new upload takes the "
                 "place of the least recently advanced one")
        .unit("count").at_least(1),
    cfg::integer("max_block1_transfers_per_peer", 4,
                 "Block1 uploads one peer may have in progress; past it its least recently "
                 "advanced upload is discarded")
        .unit("count").range(1, 65535),
    cfg::integer("block1_memory", 536870912,
                 "Memory for Block1 uploads in progress, over all shards; past it the least "
                 "recently advanced uploads are discarded, and 5.03 when none is left to discard")
        .unit("bytes").at_least(1024),
    cfg::integer("completion_queue_size", 4096,
                 "Responses and notifications from other threads queued per shard without "
                 "allocating (more are queued in an allocating overflow list)")
        .unit("count").range(16, 1048576),
    cfg::integer("observe_con_every", 100,
                 "After this many NON notifications the next one goes CON, to check the "
                 "observer is still there (0: never)")
        .unit("count").at_least(0),
    cfg::integer("observe_con_period", 120000,
                 "A NON notification this long after the last CON one goes CON (0: never)")
        .unit("ms").at_least(0),
    cfg::integer("overload_max_age", 5,
                 "Max-Age of the 5.03 sent when a bound is reached: when to try again")
        .unit("s").range(0, 4294967295.0),
    cfg::boolean("split_single_uri_path", true,
                 "A request with exactly one Uri-Path option holding '/' is split on '/' "
                 "(some firmware sends the whole path in one option)"),
    cfg::integer("amplification_factor", 3,
                 "No answer to a request from an unverified source address (plain UDP, not yet "
                 "proven by Echo or by acknowledging our CON) is larger than this many times "
                 "the request's bytes: 2.05 to GET/FETCH goes in smaller Block2 blocks, "
                 "diagnostics are cut (0: no limit; RFC 7252 section 11.3)")
        .unit("factor").range(0, 1000),
    cfg::integer("max_verified_addresses", 100000,
                 "Verified source addresses remembered, over all shards; when full, the entry "
                 "that expires first leaves")
        .unit("count").range(8, 16777216),
    cfg::integer("verified_lifetime", 3600000,
                 "How long an address stays verified after its last proof (Echo value or ACK of "
                 "our CON); also how long an Echo value we issued is accepted")
        .unit("ms").at_least(1000),
    cfg::boolean("echo_in_limited_responses", true,
                 "An answer cut down to the amplification budget carries an Echo option "
                 "(RFC 9175); a client that sends it back verifies its address (clients that "
                 "do not know Echo ignore it)"),
    cfg::boolean("require_echo", false,
                 "Every request from an unverified plain-UDP address gets 4.01 with an Echo "
                 "option until the client repeats it with that Echo value (RFC 9175 section "
                 "2.4); clients without Echo support then cannot talk to the server"),
    cfg::boolean("verify_by_ping", true,
                 "A 2.05 to GET/FETCH that is over the amplification budget of an unverified "
                 "address is held (with the ACK of a CON request), the address gets a CoAP "
                 "ping (Empty CON, RFC 7252 section 4.3), and its Reset verifies the address and "
                 "releases the whole answer in the ACK (a NON answer for a NON request); "
                 "without a Reset within ping_timeout the answer is limited as with false "
                 "(smaller Block2 blocks), which is also what false does at once"),
    cfg::integer("ping_timeout", 2000,
                 "How long a held answer (and a CON request's ACK) waits for the Reset to its "
                 "address's ping before it goes limited to the amplification budget; keep it "
                 "below the clients' ACK_TIMEOUT (2 s), a retransmission meanwhile is absorbed")
        .unit("ms").range(1, 60000),
    cfg::integer("max_pings", 4096,
                 "Answers held while their address is being verified by a ping, over all "
                 "shards (one ping per address at a time; the others wait on it); past it "
                 "answers are limited at once")
        .unit("count").range(1, 1048576),
    cfg::integer("ping_holdoff", 600000,
                 "An address from which a Reset with a wrong Message ID came while its ping was "
                 "outstanding (a guess by someone forging that address) gets no ping for this "
                 "long: its answers are limited at once")
        .unit("ms").at_least(0),
    cfg::strings("transports", "[]",
                 "Names of the transport instances to serve; empty: every instance providing "
                 "tern.transport/1"),
};

constexpr const char* coap_provides[] = {TERN_IID_COAP_ENGINE_V1};
constexpr tern_requirement coap_requires[] = {tern::sdk::need(TERN_IID_TRANSPORT_V1)};

class coap_instance;

struct shard_timer {
    coap_instance* self = nullptr;
    uint32_t shard = 0;
    uint64_t timer = 0;
};

class coap_instance final : public tern::sdk::instance, public tern::coap::engine_env {
public:
    explicit coap_instance(const tern_create_args& args) : instance(args) {
        const auto c = config();
        engine_config ec;
        ec.timeout_ms = static_cast<uint64_t>(c.get_int("timeout"));
        ec.piggyback_timeout_ms = static_cast<uint64_t>(c.get_int("piggyback_timeout"));
        ec.max_message_size = static_cast<uint32_t>(c.get_int("max_message_size"));
        ec.preferred_block_size = static_cast<uint32_t>(c.get_int("preferred_block_size"));
        ec.max_resource_body_size = static_cast<uint64_t>(c.get_int("max_resource_body_size"));
        ec.blockwise_status_lifetime_ms = static_cast<uint64_t>(c.get_int("blockwise_status_lifetime"));
        ec.max_retransmit = static_cast<uint32_t>(c.get_int("max_retransmit"));
        ec.ack_timeout_ms = static_cast<uint64_t>(c.get_int("ack_timeout"));
        ec.ack_random_factor = c.get_double("ack_random_factor");
        ec.max_peers = static_cast<uint32_t>(c.get_int("max_peers"));
        ec.max_peers_per_prefix_percent =
            static_cast<uint32_t>(c.get_int("max_peers_per_prefix_percent"));
        ec.peer_prefix_v4 = static_cast<uint32_t>(c.get_int("peer_prefix_v4"));
        ec.peer_prefix_v6 = static_cast<uint32_t>(c.get_int("peer_prefix_v6"));
        ec.max_dedup_per_peer = static_cast<uint32_t>(c.get_int("max_dedup_per_peer"));
        ec.max_exchanges = static_cast<uint32_t>(c.get_int("max_exchanges"));
        ec.max_observations = static_cast<uint32_t>(c.get_int("max_observations"));
        ec.max_observations_per_peer = static_cast<uint32_t>(c.get_int("max_observations_per_peer"));
        ec.max_queued_notifications = static_cast<uint32_t>(c.get_int("max_queued_notifications"));
        ec.notification_memory = static_cast<uint64_t>(c.get_int("notification_memory"));
        ec.retransmission_memory = static_cast<uint64_t>(c.get_int("retransmission_memory"));
        ec.dedup_capacity = static_cast<uint32_t>(c.get_int("dedup_capacity"));
        ec.dedup_memory = static_cast<uint64_t>(c.get_int("dedup_memory"));
        ec.max_block1_transfers = static_cast<uint32_t>(c.get_int("max_block1_transfers"));
        ec.max_block1_transfers_per_peer =
            static_cast<uint32_t>(c.get_int("max_block1_transfers_per_peer"));
        ec.block1_memory = static_cast<uint64_t>(c.get_int("block1_memory"));
        ec.completion_queue_size = static_cast<uint32_t>(c.get_int("completion_queue_size"));
        ec.observe_con_every = static_cast<uint32_t>(c.get_int("observe_con_every"));
        ec.observe_con_period_ms = static_cast<uint64_t>(c.get_int("observe_con_period"));
        ec.overload_max_age = static_cast<uint32_t>(c.get_int("overload_max_age"));
        ec.split_single_uri_path = c.get_bool("split_single_uri_path");
        ec.amplification_factor = static_cast<uint32_t>(c.get_int("amplification_factor"));
        ec.max_verified_addresses = static_cast<uint32_t>(c.get_int("max_verified_addresses"));
        ec.verified_lifetime_ms = static_cast<uint64_t>(c.get_int("verified_lifetime"));
        ec.echo_in_limited_responses = c.get_bool("echo_in_limited_responses");
        ec.require_echo = c.get_bool("require_echo");
        ec.verify_by_ping = c.get_bool("verify_by_ping");
        ec.ping_timeout_ms = static_cast<uint64_t>(c.get_int("ping_timeout"));
        ec.max_pings = static_cast<uint32_t>(c.get_int("max_pings"));
        ec.ping_holdoff_ms = static_cast<uint64_t>(c.get_int("ping_holdoff"));
        ec.transports = c.get_strings("transports");
        if (const std::string err = ec.check(); !err.empty())
            throw tern::sdk::error(TERN_CONFIG, err);
        reactor_ = &host().reactor();
        engine_ = std::make_unique<engine>(ec, *this, &host(), reactor_->shard_count());
    }

    ~coap_instance() override { engine_.reset(); }

protected:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_COAP_ENGINE_V1) return static_cast<tern::coap_engine_v1*>(engine_.get());
        return nullptr;
    }

    void on_start() override {
        using found = found_transport;
        std::vector<found> all;
        host().registry().list(
            to_str(TERN_IID_TRANSPORT_V1),
            [](void* ctx, tern_str name, void* iface) {
                static_cast<std::vector<found>*>(ctx)->push_back(
                    found{std::string(to_sv(name)), static_cast<tern::transport_v1*>(iface)});
            },
            &all);
        const auto& wanted = engine_->config().transports;
        if (wanted.empty()) {
            for (auto& f : all) transports_.push_back(f);
        } else {
            for (const std::string& w : wanted) {
                auto it = std::find_if(all.begin(), all.end(), [&](const found& f) { return f.name == w; });
                if (it == all.end())
                    throw tern::sdk::error(TERN_CONFIG,
                                           "transports: no running instance named '" + w +
                                               "' provides " TERN_IID_TRANSPORT_V1);
                transports_.push_back(*it);
            }
        }
        if (transports_.empty())
            throw tern::sdk::error(TERN_CONFIG, "no transport instance to serve");
        for (const auto& t : transports_) engine_->add_transport(t.name);
        engine_->start();

        const uint32_t shards = engine_->shard_count();
        timers_.resize(shards);
        for (uint32_t s = 0; s < shards; ++s) {
            timers_[s] = std::make_unique<shard_timer>();
            timers_[s]->self = this;
            timers_[s]->shard = s;
            const tern_status st = reactor_->timer_create(s, &coap_instance::timer_fired,
                                                          timers_[s].get(), &timers_[s]->timer);
            if (st != TERN_OK) {
                release_timers();
                throw tern::sdk::error(st, "cannot create the engine's shard timers");
            }
        }
        for (std::size_t i = 0; i < transports_.size(); ++i) {
            const tern_status st =
                transports_[i].iface->attach(engine_->sink(static_cast<uint32_t>(i)));
            if (st != TERN_OK) {
                detach_all();
                release_timers();
                engine_->stop();
                throw tern::sdk::error(st, "cannot attach to transport '" + transports_[i].name + "'");
            }
            ++attached_;
        }
        instance::log().info("serving ", transports_.size(), " transport(s) on ", shards, " shard(s)");
    }

    void on_stop() noexcept override {
        detach_all();
        engine_->stop();
        release_timers();
    }

    // ---- engine_env ----
    uint64_t now_ns() noexcept override { return reactor_->now_ns(); }
    uint32_t current_shard() noexcept override { return reactor_->current_shard(); }
    void arm_timer(uint32_t shard, uint64_t delay_ns) noexcept override {
        if (shard < timers_.size() && timers_[shard] && timers_[shard]->timer != 0)
            reactor_->timer_arm(timers_[shard]->timer, delay_ns);
    }
    void send(uint32_t shard, uint32_t transport, const tern_datagram* batch,
              uint32_t count) noexcept override {
        if (transport < transports_.size()) transports_[transport].iface->send(shard, batch, count);
    }
    tern_status post(uint32_t shard, tern_task_fn fn, void* ctx) noexcept override {
        return reactor_->post(shard, fn, ctx);
    }
    void run_on_shards(void (*fn)(void*, uint32_t), void* ctx) noexcept override {
        const uint32_t n = reactor_->shard_count();
        for (uint32_t s = 0; s < n; ++s) run_on(s, fn, ctx);
    }
    void log(tern_log_level level, std::string_view message) noexcept override {
        try {
            instance::log().write(level, message);
        } catch (...) {
        }
    }
    uint64_t random_seed() noexcept override {
        try {
            std::random_device rd;
            return (uint64_t{rd()} << 32) ^ rd() ^
                   static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        } catch (...) {
            return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        }
    }

private:
    static void timer_fired(void* ctx) {
        auto* t = static_cast<shard_timer*>(ctx);
        t->self->engine_->on_timer(t->shard);
    }

    // Runs fn on shard s and waits. Whoever claims the task runs it: the shard, or this
    // thread when the reactor refuses posts (it is stopping: nothing runs there any more).
    void run_on(uint32_t s, void (*fn)(void*, uint32_t), void* ctx) noexcept {
        if (reactor_->current_shard() == s) {
            fn(ctx, s);
            return;
        }
        struct state {
            void (*fn)(void*, uint32_t);
            void* ctx;
            uint32_t shard;
            std::mutex mu;
            std::condition_variable cv;
            bool done = false;
        };
        auto st = std::make_shared<state>();
        st->fn = fn;
        st->ctx = ctx;
        st->shard = s;
        auto* keep = new std::shared_ptr<state>(st);
        const tern_status ps = reactor_->post(
            s,
            [](void* c) {
                auto* holder = static_cast<std::shared_ptr<state>*>(c);
                std::shared_ptr<state> x = *holder;
                delete holder;
                x->fn(x->ctx, x->shard);
                {
                    std::lock_guard<std::mutex> lock(x->mu);
                    x->done = true;
                }
                x->cv.notify_all();
            },
            keep);
        if (ps != TERN_OK) {
            delete keep;
            fn(ctx, s);
            return;
        }
        std::unique_lock<std::mutex> lock(st->mu);
        int waited = 0;
        while (!st->cv.wait_for(lock, std::chrono::seconds(5), [&] { return st->done; })) {
            if (++waited == 1) log(TERN_LOG_WARN, "waiting for a shard to apply a route-table change");
        }
    }

    void detach_all() noexcept {
        for (std::size_t i = 0; i < attached_; ++i) transports_[i].iface->attach(nullptr);
        attached_ = 0;
    }

    void release_timers() noexcept {
        for (auto& t : timers_)
            if (t && t->timer != 0) reactor_->timer_destroy(t->timer);
        timers_.clear();
    }

    struct found_transport {
        std::string name;
        tern::transport_v1* iface;
    };
    tern::reactor_v1* reactor_ = nullptr;
    std::unique_ptr<engine> engine_;
    std::vector<found_transport> transports_;
    std::size_t attached_ = 0;
    std::vector<std::unique_ptr<shard_timer>> timers_;
};

}  // namespace

TERN_PLUGIN(coap_instance, {.name = "coap",
                            .version = "1.0.0",
                            .vendor = "Tern",
                            .description = "CoAP engine: RFC 7252 messaging, Observe, block-wise, "
                                           "/.well-known/core",
                            .provides = coap_provides,
                            .requirements = coap_requires,
                            .config = coap_config})

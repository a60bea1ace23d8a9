// libtern-coap: the descriptor (its config schema is engine_schema, config.hpp) and the glue
// between the engine and the host: reactor timers and posts, metrics, logging, and the
// transports found in the registry. Everything about CoAP is in the engine (engine.hpp).
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
using tern::sdk::to_str;
using tern::sdk::to_sv;

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
        const engine_config ec = tern::coap::engine_schema.load(config());
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
                            .config = tern::coap::engine_schema.keys()})

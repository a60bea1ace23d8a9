// tern/sdk/testing.hpp: the fake host a plugin's tests run on, driven through a small plugin
// made the way the kernel makes one (descriptor, create(), start()), and sdk::host's
// find<I>() / require<I>() against its registry.
#include <catch2/catch.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tern/sdk/plugin.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_threads.hpp"

namespace cfg = tern::sdk::cfg;
namespace testing = tern::sdk::testing;

namespace {

// ---- a plugin: a ticker that counts timer ticks and needs a payload adaptor -----------------

struct ticker_settings {
    std::chrono::milliseconds period{};
    std::string adaptor;
    uint32_t limit = 0;
};

constexpr auto ticker_schema = cfg::bind<ticker_settings>(
    cfg::integer("period", &ticker_settings::period, 100, "Time between ticks").range(1, 10000),
    cfg::string("adaptor", &ticker_settings::adaptor, "", "Instance of the payload adaptor (empty: any)"),
    cfg::integer("limit", &ticker_settings::limit, 3, "Ticks before it stops"));

class ticker final : public tern::sdk::instance {
public:
    explicit ticker(const tern_create_args& a)
        : instance(a),
          s_(ticker_schema.load(config())),
          ticks_(host().counter("ticker_ticks_total", "Ticks")),
          lag_(host().histogram("ticker_lag_seconds", "Lag", lag_buckets, "kind=\"timer\"")) {}

private:
    static constexpr double lag_buckets[] = {0.001, 0.01};

    void on_start() override {
        payload_ = &host().require<tern::payload_v1>(s_.adaptor);
        if (host().reactor().timer_create(0, &ticker::tick, this, &timer_) != TERN_OK)
            throw tern::sdk::error(TERN_INTERNAL, "no timer");
        host().reactor().timer_arm(timer_, period_ns());
        log().info("ticking every ", s_.period.count(), " ms");
    }
    void on_stop() noexcept override { host().reactor().timer_destroy(timer_); }

    uint64_t period_ns() const { return static_cast<uint64_t>(std::chrono::nanoseconds(s_.period).count()); }
    static void tick(void* p) {
        auto* self = static_cast<ticker*>(p);
        self->ticks_.inc();
        self->lag_.observe(0.005);
        if (++self->n_ < self->s_.limit) self->host().reactor().timer_arm(self->timer_, self->period_ns());
        else self->log().warn("limit reached after ", self->n_, " ticks");
    }

    ticker_settings s_;
    tern::sdk::metric ticks_;
    tern::sdk::metric lag_;
    tern::payload_v1* payload_ = nullptr;
    uint64_t timer_ = 0;
    uint32_t n_ = 0;
};

constexpr const char* ticker_needs_ids[] = {TERN_IID_PAYLOAD_V1};
constexpr tern_requirement ticker_needs[] = {tern::sdk::need(TERN_IID_PAYLOAD_V1)};
constexpr tern_plugin_descriptor ticker_descriptor = tern::sdk::describe<ticker>(
    {.name = "ticker", .version = "0.1.0", .vendor = "test", .description = "Ticks",
     .provides = {}, .requirements = ticker_needs, .config = ticker_schema.keys()});
static_assert(ticker_descriptor.config_count == 3);  // the descriptor is a compile-time constant
static_assert(sizeof ticker_needs_ids != 0);

// Any object will do as the adaptor: the ticker only looks it up.
alignas(8) unsigned char adaptor_storage[64];
tern::payload_v1* fake_adaptor = reinterpret_cast<tern::payload_v1*>(adaptor_storage);

}  // namespace

TEST_CASE("testing: a plugin runs on the fake host with a manual clock", "[testing]") {
    testing::fake_host h(ticker_descriptor, "tick");
    h.registry.provide<tern::payload_v1>("json", fake_adaptor);
    h.config.set("period", 250);
    auto inst = testing::create(ticker_descriptor, h);
    std::string why;
    REQUIRE(testing::start(*inst, &why) == TERN_OK);
    CHECK(h.log.has("ticking every 250 ms"));
    CHECK(h.metrics.value("ticker_ticks_total") == 0);

    h.reactor.advance(249'000'000);
    CHECK(h.metrics.value("ticker_ticks_total") == 0);
    h.reactor.advance(1'000'000);
    CHECK(h.metrics.value("ticker_ticks_total") == 1);
    h.reactor.advance(10'000'000'000);  // the rest fire in order, each re-armed by the last
    CHECK(h.metrics.value("ticker_ticks_total") == 3);
    CHECK(h.log.count("limit reached after 3 ticks") == 1);
    CHECK(h.metrics.observations("ticker_lag_seconds", "kind=\"timer\"") == 3);
    CHECK(h.metrics.sum("ticker_lag_seconds", "kind=\"timer\"") == Approx(0.015));
    CHECK(h.metrics.bucket_counts("ticker_lag_seconds", "kind=\"timer\"") == std::vector<uint64_t>{0, 3, 0});
    CHECK(h.metrics.names() == std::vector<std::string>{"ticker_ticks_total", "ticker_lag_seconds{kind=\"timer\"}"});
    CHECK_THROWS_WITH(h.metrics.value("ticker_lost_total"), "metric ticker_lost_total is not registered");
    inst->stop();
    CHECK(h.reactor.live_timers() == 0);
}

TEST_CASE("testing: create() reports a configuration the member cannot hold", "[testing]") {
    testing::fake_host h(ticker_descriptor);
    h.config.set("limit", -1);
    testing::instance_ptr p;
    tern_error err{};
    CHECK(testing::try_create(ticker_descriptor, h, p, err) == TERN_CONFIG);
    CHECK(p == nullptr);
    CHECK(tern::sdk::error_text(err) == "config key 'limit' is -1 (test), which this plugin cannot hold: it takes 0..4294967295");
    h.config.set("limit", 2);
    h.config.erase("adaptor");
    CHECK_THROWS_WITH(testing::create(ticker_descriptor, h), Catch::Contains("'adaptor'"));
}

TEST_CASE("require<I>: one refusal message naming the id, the instance and the fix", "[testing][iid]") {
    testing::fake_host h(ticker_descriptor);
    auto inst = testing::create(ticker_descriptor, h);
    std::string why;
    CHECK(testing::start(*inst, &why) == TERN_NOT_FOUND);
    CHECK(why == "interface 'tern.payload/1' is provided by no enabled instance; enable a plugin that provides it "
                 "in the manifest ('tern plugins list' shows who provides what)");

    testing::fake_host named(ticker_descriptor);
    named.config.set("adaptor", "cbor");
    named.registry.provide<tern::payload_v1>("json", fake_adaptor);
    auto inst2 = testing::create(ticker_descriptor, named);
    CHECK(testing::start(*inst2, &why) == TERN_NOT_FOUND);
    CHECK(why == "interface 'tern.payload/1' of instance 'cbor' is not available (no enabled instance 'cbor' "
                 "provides it); enable [plugins.cbor] in the manifest with a plugin that provides it "
                 "('tern plugins list' shows who provides what)");
}

TEST_CASE("find<I>: by bound id, by instance, and the older find<I>(iid)", "[testing][iid]") {
    testing::fake_host h;
    int a = 0, b = 0;
    h.registry.provide<tern::core_v1>("core", reinterpret_cast<tern::core_v1*>(&a));
    h.registry.provide<tern::core_v1>("core2", reinterpret_cast<tern::core_v1*>(&b));
    const tern::sdk::host sh(&h);
    CHECK(sh.find<tern::core_v1>() == reinterpret_cast<tern::core_v1*>(&a));  // first in manifest order
    CHECK(sh.find<tern::core_v1>("core2") == reinterpret_cast<tern::core_v1*>(&b));
    CHECK(sh.find<tern::core_v1>("core3") == nullptr);
    CHECK(sh.find<tern::core_v1>(TERN_IID_CORE_V1) == reinterpret_cast<tern::core_v1*>(&a));  // older form
    CHECK(sh.find<tern::core_v1>(TERN_IID_CORE_V1, "core2") == reinterpret_cast<tern::core_v1*>(&b));
    CHECK(sh.find<tern::coap_engine_v1>() == nullptr);
    CHECK(&sh.require<tern::core_v1>("core2") == reinterpret_cast<tern::core_v1*>(&b));
    CHECK_THROWS_AS(sh.require<tern::coap_engine_v1>(), tern::sdk::error);
    struct unbound {};
    h.registry.provide("test.unbound/1", "u", &a);
    CHECK(sh.find<unbound>("test.unbound/1") == reinterpret_cast<unbound*>(&a));
    CHECK(&sh.log_service() == static_cast<tern::log_v1*>(&h.log));
}

TEST_CASE("testing: the fake host answers like a kernel", "[testing]") {
    testing::fake_host h(ticker_schema.keys(), "inst", 4);
    CHECK(tern::sdk::to_sv(h.instance_name()) == "inst");
    CHECK(h.reactor.shard_count() == 4);
    h.hide(TERN_IID_METRICS_V1);
    CHECK_THROWS_WITH(tern::sdk::host(&h), Catch::Contains("lacks a host service"));
    h.request_stop(tern::sdk::to_str("disk full"));
    CHECK(h.stop_requests() == std::vector<std::string>{"disk full"});

    // config: defaults, typed overrides, origins, wrong types
    const tern::sdk::config c(&h.config);
    CHECK(c.get_int("period") == 100);
    CHECK(c.origin("period") == "default");
    h.config.set("period", 7);
    CHECK(c.get_int("period") == 7);
    CHECK(c.get_double("period") == 7.0);  // an integer reads as a number
    CHECK(c.origin("period") == "test");
    CHECK_THROWS_WITH(c.get_bool("period"), Catch::Contains("invalid argument"));
    CHECK_THROWS_WITH(c.get_bool("nothing"), Catch::Contains("not found"));
    h.config.set_strings("list", {"a", "b"});
    CHECK(c.get_strings("list") == std::vector<std::string>{"a", "b"});

    // metrics: duplicates and kinds as the kernel refuses them
    tern_metric_desc d{sizeof d, TERN_METRIC_COUNTER, "x_total", "X", "a=\"1\"", nullptr, 0, 0};
    uint64_t id = 0;
    CHECK(h.metrics.add_metric(&d, &id) == TERN_OK);
    CHECK(id == 1);
    CHECK(h.metrics.add_metric(&d, &id) == TERN_EXISTS);
    d.kind = TERN_METRIC_GAUGE;
    d.labels = nullptr;
    CHECK(h.metrics.add_metric(&d, &id) == TERN_INVALID_ARGUMENT);
    h.metrics.count(1, 5);
    h.metrics.gauge_set(1, 9);  // wrong kind: ignored
    CHECK(h.metrics.value("x_total", "a=\"1\"") == 5);
    CHECK(h.metrics.describe("x_total", "a=\"1\"").help == "X");

    // log
    h.log.set_level(TERN_LOG_WARN);
    tern::sdk::logger lg(&h.log);
    lg.info("quiet");
    lg.warn("loud ", 1);
    CHECK(h.log.lines() == std::vector<std::string>{"loud 1"});
    CHECK(h.log.entries()[0].level == TERN_LOG_WARN);
    CHECK(h.log.find("lou") == "loud 1");
}

TEST_CASE("testing: manual reactor posts, inline or queued, and fd watches", "[testing]") {
    testing::manual_reactor r(2);
    int runs = 0;
    uint32_t seen_shard = 99;
    struct ctx_t {
        testing::manual_reactor* r;
        int* runs;
        uint32_t* shard;
    } ctx{&r, &runs, &seen_shard};
    auto fn = [](void* p) {
        auto* c = static_cast<ctx_t*>(p);
        ++*c->runs;
        *c->shard = c->r->current_shard();
    };
    CHECK(r.post(1, fn, &ctx) == TERN_OK);
    CHECK(runs == 0);
    CHECK(r.pending() == 1);
    CHECK(r.run_pending() == 1);
    CHECK(runs == 1);
    CHECK(seen_shard == 1);
    CHECK(r.current_shard() == TERN_NO_SHARD);
    r.inline_posts = true;
    CHECK(r.post(0, fn, &ctx) == TERN_OK);
    CHECK(runs == 2);
    CHECK(seen_shard == 0);
    CHECK(r.post(2, fn, &ctx) == TERN_INVALID_ARGUMENT);
    r.refuse_posts = true;
    CHECK(r.post(0, fn, &ctx) == TERN_UNAVAILABLE);

    uint64_t w = 0;
    int fired = 0;
    auto on_fd = [](void* p, int, uint32_t ev) { *static_cast<int*>(p) += static_cast<int>(ev); };
    CHECK(r.watch_fd(1, 42, TERN_FD_READ, on_fd, &fired, &w) == TERN_OK);
    CHECK(r.watch_fd(1, 42, TERN_FD_READ, on_fd, &fired, &w) == TERN_EXISTS);
    CHECK(r.ready(42, TERN_FD_WRITE) == 0);
    CHECK(r.ready(42) == 1);
    CHECK(fired == TERN_FD_READ);
    r.unwatch_fd(1);
    CHECK(r.ready(42) == 0);
    CHECK(r.live_watches() == 0);

    uint64_t t = 0;
    const uint64_t t0 = r.now_ns();
    REQUIRE(r.timer_create(0, fn, &ctx, &t) == TERN_OK);
    r.timer_arm(t, 1000);
    CHECK(r.armed(t));
    CHECK(r.deadline(t) == t0 + 1000);
    r.timer_cancel(t);
    r.advance(5000);
    CHECK(runs == 2);
    CHECK(r.now_ns() == t0 + 5000);
}

TEST_CASE("testing: threaded reactor runs tasks, timers and fd watches on shard threads", "[testing]") {
    testing::threaded_reactor r(2);
    std::atomic<uint32_t> shard{99};
    r.run_on(1, [&] { shard = r.current_shard(); });
    CHECK(shard == 1);
    CHECK(r.current_shard() == TERN_NO_SHARD);

    std::atomic<int> fired{0};
    uint64_t t = 0;
    REQUIRE(r.timer_create(0, [](void* p) { ++*static_cast<std::atomic<int>*>(p); }, &fired, &t) == TERN_OK);
    r.run_on(0, [&] { r.timer_arm(t, 2'000'000); });
    for (int i = 0; i < 500 && fired == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(fired == 1);
    r.timer_destroy(t);

    const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE(efd >= 0);
    std::atomic<int> reads{0};
    uint64_t w = 0;
    auto on_read = [](void* p, int fd, uint32_t) {
        uint64_t v;
        while (::read(fd, &v, sizeof v) > 0) ++*static_cast<std::atomic<int>*>(p);
    };
    REQUIRE(r.watch_fd(1, efd, TERN_FD_READ, on_read, &reads, &w) == TERN_OK);
    const uint64_t one = 1;
    REQUIRE(::write(efd, &one, sizeof one) == sizeof one);
    for (int i = 0; i < 500 && reads == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(reads == 1);
    r.unwatch_fd(w);  // returns once the callback cannot run any more
    REQUIRE(::write(efd, &one, sizeof one) == sizeof one);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(reads == 1);
    ::close(efd);
}

// The lifecycle in-process: create in dependency order, publish, start, stop in reverse,
// destroy in reverse; failures undo what was done; request_stop; the stop watchdog.
#include <catch2/catch.hpp>

#include "kernel/lifecycle.hpp"
#include "kernel/metrics/prometheus.hpp"
#include "support.hpp"

using namespace tern::kernel;
using namespace std::chrono_literals;

namespace {

struct setup {
    diagnostics diag;
    plan p;
};

std::unique_ptr<setup> plan_for(const std::string& file, std::vector<std::string> sets) {
    sets.insert(sets.begin(), kt::plugin_path_set());
    auto s = std::make_unique<setup>();
    auto m = load_manifest(file, sets, s->diag);
    REQUIRE(m);
    make_plan(std::move(m), s->p, s->diag);
    const std::string first_error = s->diag.errors.empty() ? std::string() : s->diag.errors[0];
    INFO(first_error);
    REQUIRE(s->diag.ok());
    return s;
}

// order.toml with every instance recording into one file
std::vector<std::string> recorded(const kt::temp_dir& tmp, std::vector<std::string> extra = {}) {
    const std::string rec = "\"" + tmp.file("record.txt") + "\"";
    std::vector<std::string> sets{"plugins.consumer.record_file=" + rec, "plugins.first.record_file=" + rec,
                                  "plugins.greeter.record_file=" + rec};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return sets;
}

}  // namespace

TEST_CASE("instances start in dependency order and stop and are destroyed in reverse", "[lifecycle]") {
    kt::temp_dir tmp;
    auto s = plan_for(kt::manifest("order.toml"), recorded(tmp));
    kt::log_capture logs;
    {
        runtime rt(s->p, logs.logs(), 2);
        std::string reason;
        REQUIRE(rt.start(reason));
        CHECK(rt.started_count() == 3);
        // the registry holds what was published, found by id and by instance
        CHECK(rt.registry().find(tern_str{"test.greeter/1", 14}, tern_str{"greeter", 7}) != nullptr);
        CHECK(rt.registry().find(tern_str{"test.greeter/1", 14}, tern_str{"first", 5}) == nullptr);
        rt.stop();
    }
    CHECK(kt::read_lines(tmp.file("record.txt")) ==
          std::vector<std::string>{"create first", "create greeter", "create consumer", "start first",
                                   "start greeter", "start consumer answer=42 greeting=hello", "stop consumer",
                                   "stop greeter", "stop first", "destroy consumer", "destroy greeter",
                                   "destroy first"});
    const std::string log = logs.text();
    CHECK(log.find("] [info] [consumer] start consumer answer=42 greeting=hello\n") != std::string::npos);
    CHECK(log.find("] [info] [kernel] started instance 'greeter' (plugin kt_provider 1.2.3)\n") != std::string::npos);
}

TEST_CASE("a failed start stops what started, destroys what was created, and says why", "[lifecycle]") {
    kt::temp_dir tmp;
    const std::string rec = "\"" + tmp.file("record.txt") + "\"";
    auto s = plan_for(kt::manifest("order.toml"),
                      recorded(tmp, {"plugins.late.plugin=kt_behave", "plugins.late.start=fail",
                                     "plugins.late.record_file=" + rec}));
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 1);
    std::string reason;
    CHECK_FALSE(rt.start(reason));
    CHECK(reason == "plugin instance 'late' failed to start: cannot bind: simulated failure");
    CHECK(kt::read_lines(tmp.file("record.txt")) ==
          std::vector<std::string>{"create first", "create greeter", "create consumer", "create late",
                                   "start first", "start greeter", "start consumer answer=42 greeting=hello",
                                   "stop consumer", "stop greeter", "stop first", "destroy late",
                                   "destroy consumer", "destroy greeter", "destroy first"});
    CHECK(rt.started_count() == 0);
    CHECK(rt.reactor().post(0, [](void*) {}, nullptr) == TERN_UNAVAILABLE);  // shards stopped too
}

TEST_CASE("an exception thrown from start() is reported as an internal error", "[lifecycle]") {
    kt::temp_dir tmp;
    auto s = plan_for(kt::manifest("order.toml"), recorded(tmp, {"plugins.first.start=throw"}));
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 1);
    std::string reason;
    CHECK_FALSE(rt.start(reason));
    CHECK(reason == "plugin instance 'first' failed to start: start threw on purpose (internal error in the plugin)");
    CHECK(kt::read_lines(tmp.file("record.txt")) ==
          std::vector<std::string>{"create first", "create greeter", "create consumer", "destroy consumer",
                                   "destroy greeter", "destroy first"});
}

TEST_CASE("a failed create destroys what was created and starts nothing", "[lifecycle]") {
    kt::temp_dir tmp;
    const std::string rec = "\"" + tmp.file("record.txt") + "\"";
    auto s = plan_for(kt::manifest("order.toml"),
                      recorded(tmp, {"plugins.late.plugin=kt_behave", "plugins.late.create=fail",
                                     "plugins.late.record_file=" + rec}));
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 1);
    std::string reason;
    CHECK_FALSE(rt.start(reason));
    CHECK(reason == "plugin instance 'late' could not be created: cannot open /dev/kt-fixture: simulated failure");
    CHECK(kt::read_lines(tmp.file("record.txt")) ==
          std::vector<std::string>{"create first", "create greeter", "create consumer", "destroy consumer",
                                   "destroy greeter", "destroy first"});
}

TEST_CASE("a declared interface that query() does not return is an error", "[lifecycle]") {
    auto s = plan_for(kt::manifest("order.toml"), {"plugins.n.plugin=kt_null_iface"});
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 1);
    std::string reason;
    CHECK_FALSE(rt.start(reason));
    CHECK(reason == "plugin instance 'n' declares interface 'test.null/1' but query() returned null");
}

TEST_CASE("request_stop from a plugin asks the kernel to stop with a failure", "[lifecycle]") {
    auto s = plan_for(kt::manifest("order.toml"), {"plugins.first.after_start=request_stop"});
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 2);
    std::string reason;
    REQUIRE(rt.start(reason));
    REQUIRE(rt.stop_requests().wait_for(5s));
    CHECK(rt.stop_requests().failure());
    CHECK(rt.stop_requests().reason() == "first requested stop: fixture asked to stop");
    rt.stop();
    CHECK(logs.text().find("] [error] [kernel] first requested stop: fixture asked to stop\n") != std::string::npos);
}

TEST_CASE("a stop that overruns the limit is reported with the instance that hangs", "[lifecycle]") {
    auto s = plan_for(kt::manifest("order.toml"), {"plugins.first.stop=hang", "plugins.first.hang_ms=1500"});
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 1);
    std::string reason;
    REQUIRE(rt.start(reason));
    std::mutex mu;
    std::string overrun;
    rt.stop(100ms, [&](const std::string& step) {
        std::lock_guard lock(mu);
        overrun = step;
    });
    std::lock_guard lock(mu);
    CHECK(overrun == "instance 'first' is still stopping");
}

TEST_CASE("plugin log lines carry the instance name, in text and JSON, at its own level", "[lifecycle][log]") {
    auto s = plan_for(kt::manifest("order.toml"), {"plugins.greeter.log_level=\"warn\""});
    kt::log_capture logs(log_format::json);
    {
        runtime rt(s->p, logs.logs(), 1);
        std::string reason;
        REQUIRE(rt.start(reason));
        rt.stop();
    }
    const std::string log = logs.text();
    CHECK(log.find(R"(","level":"info","instance":"consumer","msg":"start consumer answer=42 greeting=hello"})"
                   "\n") != std::string::npos);
    CHECK(log.rfind(R"({"ts":")", 0) == 0);
    CHECK(log.find("greeter ready") == std::string::npos);  // info, below greeter's warn
}

TEST_CASE("plugin metrics carry the instance label and sit beside the kernel's", "[lifecycle][metrics]") {
    auto s = plan_for(kt::manifest("order.toml"), {"plugins.first.metrics=true"});
    kt::log_capture logs;
    runtime rt(s->p, logs.logs(), 2);
    std::string reason;
    REQUIRE(rt.start(reason));
    const std::string text = metrics::render(rt.metrics().snapshot());
    CHECK(text.find("# TYPE kt_events_total counter\n"
                    "kt_events_total{instance=\"first\",kind=\"a\"} 3\n"
                    "kt_events_total{instance=\"first\",kind=\"b\"} 1\n") != std::string::npos);
    CHECK(text.find("kt_level{instance=\"first\"} 5\n") != std::string::npos);
    CHECK(text.find("kt_latency_seconds_bucket{instance=\"first\",le=\"0.1\"} 1\n") != std::string::npos);
    CHECK(text.find("kt_latency_seconds_bucket{instance=\"first\",le=\"+Inf\"} 3\n") != std::string::npos);
    CHECK(text.find("kt_latency_seconds_count{instance=\"first\"} 3\n") != std::string::npos);
    CHECK(text.find("tern_plugin_instances 3\n") != std::string::npos);
    CHECK(text.find("tern_reactor_shards 2\n") != std::string::npos);
    CHECK(text.find("tern_build_info{version=\"" TERN_VERSION "\",abi=\"1." + std::to_string(TERN_ABI_MINOR) +
                    "\"} 1\n") != std::string::npos);
    rt.stop();
}

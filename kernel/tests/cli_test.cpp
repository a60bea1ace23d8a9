// Black-box tests of the built `tern` binary: what operators and other people's tests see.
#include <catch2/catch.hpp>

#include <csignal>
#include <regex>

#include "support.hpp"

using namespace std::chrono_literals;

namespace {

const std::string shipped_manifest = std::string(KT_SOURCE_DIR) + "/config/tern.toml";

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// tern run in the background; ready() waits for "tern ready".
struct running {
    explicit running(const std::vector<std::string>& args) : c(with({KT_TERN_BIN, "run"}, args)) {}
    bool ready() { return c.wait_for_stdout("tern ready", 20s); }
    uint16_t metrics_port() const {
        std::smatch m;
        static const std::regex re(R"(metrics on http://127\.0\.0\.1:([0-9]+)/metrics)");
        return std::regex_search(c.out(), m, re) ? static_cast<uint16_t>(std::stoi(m[1])) : 0;
    }
    kt::child c;
};

std::string list_manifest(const kt::temp_dir& tmp, const std::string& dir) {
    return tmp.write("list.toml", "[kernel]\nplugin_path = [\"" + dir + "\"]\n");
}

}  // namespace

TEST_CASE("tern version prints the version, the ABI and the compiler", "[cli]") {
    const auto r = kt::run_tern({"version"});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("tern " TERN_VERSION "\nABI 1.2\nbuilt with gcc ", 0) == 0);
    CHECK(r.out.find("libstdc++") != std::string::npos);
}

TEST_CASE("usage errors exit 64 with the usage, --help exits 0", "[cli]") {
    auto r = kt::run_tern({"frobnicate"});
    CHECK(r.status == 64);
    CHECK(r.err.rfind("tern: unknown command 'frobnicate'\nusage: tern <command> [options]\n", 0) == 0);
    // The tests run in the build folder, which has no config/tern.toml: plugin commands
    // cannot exist here, and the message says where they come from.
    CHECK(r.err.find("config/tern.toml is not in this folder") != std::string::npos);
    CHECK(kt::run_tern({"frobnicate", "--config", "x.toml"}).err.find("not in this folder") == std::string::npos);
    CHECK(kt::run_tern({}).status == 64);
    CHECK(kt::run_tern({"plugins"}).status == 64);
    r = kt::run_tern({"run"});
    CHECK(r.status == 64);
    CHECK(r.err.rfind("tern run: --config FILE is required\nusage: tern run --config FILE", 0) == 0);
    CHECK(kt::run_tern({"check", "--config", "x", "--bogus"}).status == 64);
    CHECK(kt::run_tern({"plugins", "inspect"}).status == 64);
    CHECK(kt::run_tern({"run", "--config", "x", "--log-format", "xml"}).status == 64);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"help"}, {"--help"}, {"run", "--help"}, {"check", "--help"}, {"plugins", "list", "--help"},
             {"plugins", "inspect", "--help"}, {"config", "sample", "--help"}, {"config", "docs", "--help"},
             {"version", "--help"}, {"help", "run"}, {"plugins", "--help"}}) {
        r = kt::run_tern(args);
        INFO(args[0]);
        CHECK(r.status == 0);
        CHECK(r.out.find("usage: tern") != std::string::npos);
    }
    CHECK(kt::run_tern({"help", "run"}).out.rfind("usage: tern run --config FILE [--set KEY=VALUE ...] [--log-format text|json]\n", 0) == 0);
}

TEST_CASE("every command reports a bad command line the same way", "[cli]") {
    // "tern CMD: what is wrong", the usage line, where to read more; exit 64
    auto failing = [](const std::vector<std::string>& args, const std::string& command, const std::string& problem) {
        const auto r = kt::run_tern(args);
        INFO(r.err);
        CHECK(r.status == 64);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("tern " + command + ": " + problem + "\nusage: tern " + command, 0) == 0);
        CHECK(r.err.ends_with("Run 'tern " + command + " --help' for details.\n"));
    };
    failing({"check", "--config", "x", "--bogus"}, "check", "unknown option --bogus");
    failing({"check", "--config", "x", "--bogus=1"}, "check", "unknown option --bogus");
    failing({"check", "--config", "x", "--config", "y"}, "check", "--config given twice");
    failing({"check", "--config", "x", "extra"}, "check", "unexpected argument 'extra'");
    failing({"plugins", "inspect"}, "plugins inspect", "missing FILE");
    failing({"plugins", "inspect", "a", "b"}, "plugins inspect", "unexpected argument 'b'");
    failing({"config", "docs", "--config", "m"}, "config docs", "missing PLUGIN");
    failing({"version", "now"}, "version", "unexpected argument 'now'");
    failing({"run", "--config", "x", "--log-format", "xml"}, "run", "--log-format: must be text or json, not 'xml'");
    failing({"run", "--config"}, "run", "--config: 1 required FILE missing");
    // a word after a command is its argument, not a second command
    CHECK(kt::run_tern({"help", "plugins", "list"}).out.rfind("usage: tern plugins list [--config FILE]\n\n", 0) == 0);
    auto r = kt::run_tern({"plugins", "remove"});
    CHECK(r.status == 64);
    CHECK(r.err == "tern plugins: unknown subcommand 'remove'\nusage: tern plugins list [--config FILE]\n"
                   "usage: tern plugins inspect FILE\n");
    r = kt::run_tern({"--version"});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("tern " TERN_VERSION "\n", 0) == 0);
}

TEST_CASE("tern check prints OK with the instances, or every error and exits 1", "[cli][check]") {
    auto r = kt::run_tern({"check", "--config", kt::manifest("good.toml"), "--set", kt::plugin_path_set()});
    CHECK(r.status == 0);
    CHECK(r.out == "config OK: 3 plugin instances (greeter, consumer, rich)\n");

    r = kt::run_tern({"check", "--config", kt::manifest("many_errors.toml"), "--set", kt::plugin_path_set()});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find(kt::manifest("many_errors.toml") + ":7: [plugins.rich] unknown key 'bind_prot' (did you mean 'bind_port'?)") !=
          std::string::npos);
    CHECK(r.err.find(kt::manifest("many_errors.toml") + ":12: [plugins.greeter] unknown key 'greting'") != std::string::npos);
    CHECK(r.err.ends_with(kt::manifest("many_errors.toml") + ": 6 errors\n"));

    r = kt::run_tern({"check", "--config", shipped_manifest});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("config OK: ", 0) == 0);
}

TEST_CASE("tern run with the shipped manifest gets ready and stops cleanly on SIGTERM", "[cli][run]") {
    running t({"--config", shipped_manifest, "--set", "kernel.metrics_bind=\"127.0.0.1:0\""});
    REQUIRE(t.ready());
    CHECK(t.c.out().find("] [info] [kernel] tern ready\n") != std::string::npos);
    t.c.signal(SIGTERM);
    CHECK(t.c.wait(15s) == 0);
    CHECK(t.c.out().find("[kernel] received SIGTERM: stopping\n") != std::string::npos);
    CHECK(t.c.err().empty());
}

TEST_CASE("tern run serves Prometheus metrics of the kernel and the plugins", "[cli][run][metrics]") {
    running t({"--config", kt::manifest("order.toml"), "--set", kt::plugin_path_set(), "--set",
               "kernel.metrics_bind=\"127.0.0.1:0\"", "--set", "plugins.first.metrics=true"});
    REQUIRE(t.ready());
    const uint16_t port = t.metrics_port();
    REQUIRE(port != 0);
    const std::string reply = kt::http_get(port, "/metrics");
    CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(reply.find("Content-Type: text/plain; version=0.0.4\r\n") != std::string::npos);
    CHECK(reply.find("# HELP tern_build_info ") != std::string::npos);
    CHECK(reply.find("# TYPE tern_uptime_seconds gauge\ntern_uptime_seconds ") != std::string::npos);
    CHECK(reply.find("tern_plugin_instances 3\n") != std::string::npos);
    CHECK(reply.find("tern_reactor_tasks_posted_total{shard=\"0\"} ") != std::string::npos);
    CHECK(reply.find("tern_reactor_tasks_posted_total{shard=\"1\"} ") != std::string::npos);
    // the process's memory, read at the scrape: resident size and the allocator's heap
    CHECK(reply.find("# TYPE tern_resident_bytes gauge\ntern_resident_bytes ") != std::string::npos);
    CHECK(reply.find("tern_resident_bytes 0\n") == std::string::npos);
    CHECK(reply.find("tern_heap_bytes{state=\"in_use\"} ") != std::string::npos);
    CHECK(reply.find("tern_heap_bytes{state=\"free\"} ") != std::string::npos);
    CHECK(reply.find("tern_heap_bytes{state=\"mmapped\"} ") != std::string::npos);
    CHECK(reply.find("# HELP kt_events_total Events seen\n# TYPE kt_events_total counter\n"
                     "kt_events_total{instance=\"first\",kind=\"a\"} 3\n"
                     "kt_events_total{instance=\"first\",kind=\"b\"} 1\n") != std::string::npos);
    CHECK(reply.find("# TYPE kt_latency_seconds histogram\n") != std::string::npos);
    CHECK(reply.find("kt_latency_seconds_bucket{instance=\"first\",le=\"1\"} 2\n") != std::string::npos);
    CHECK(reply.find("kt_latency_seconds_sum{instance=\"first\"} 50.55\n") != std::string::npos);
    CHECK(kt::http_get(port, "/other").rfind("HTTP/1.1 404", 0) == 0);
    t.c.signal(SIGINT);
    CHECK(t.c.wait(15s) == 0);
}

TEST_CASE("tern run logs JSON lines when asked", "[cli][run][log]") {
    running t({"--config", shipped_manifest, "--set", "kernel.metrics_bind=\"\"", "--log-format", "json"});
    REQUIRE(t.ready());
    t.c.signal(SIGTERM);
    CHECK(t.c.wait(15s) == 0);
    CHECK(std::regex_search(t.c.out(), std::regex(R"(\{"ts":"[0-9T:.-]+Z","level":"info","instance":"kernel","msg":"tern ready"\}\n)")));
}

TEST_CASE("tern run refuses a bad manifest without starting anything", "[cli][run]") {
    const auto r = kt::run_tern({"run", "--config", kt::manifest("misspelled.toml"), "--set", kt::plugin_path_set()});
    CHECK(r.status == 1);
    CHECK(r.out.find("tern ready") == std::string::npos);
    CHECK(r.err.find(":6: [plugins.rich] unknown key 'bind_prot' (did you mean 'bind_port'?)") != std::string::npos);
    CHECK(r.err.ends_with("tern: 1 error in " + kt::manifest("misspelled.toml") + "; nothing was started\n"));
    CHECK(r.out.find("[error] [kernel] " + kt::manifest("misspelled.toml") + ":6: [plugins.rich] unknown key") !=
          std::string::npos);
}

TEST_CASE("tern run exits 1 with the reason when an instance fails to start", "[cli][run]") {
    const auto r = kt::run_tern({"run", "--config", kt::manifest("order.toml"), "--set", kt::plugin_path_set(),
                                 "--set", "plugins.greeter.plugin=kt_behave", "--set", "plugins.consumer.enabled=false",
                                 "--set", "plugins.greeter.start=fail"});
    CHECK(r.status == 1);
    CHECK(r.err == "tern: plugin instance 'greeter' failed to start: cannot bind: simulated failure\n");
    CHECK(r.out.find("tern ready") == std::string::npos);
}

TEST_CASE("tern run exits 1 when an instance requests a stop", "[cli][run]") {
    const auto r = kt::run_tern({"run", "--config", kt::manifest("order.toml"), "--set", kt::plugin_path_set(),
                                 "--set", "plugins.first.after_start=request_stop"});
    CHECK(r.status == 1);
    CHECK(r.err == "tern: first requested stop: fixture asked to stop\n");
    CHECK(r.out.find("[error] [kernel] first requested stop: fixture asked to stop\n") != std::string::npos);
}

TEST_CASE("tern run exits 2 naming the instance that does not stop in time", "[cli][run]") {
    running t({"--config", kt::manifest("order.toml"), "--set", kt::plugin_path_set(), "--set",
               "kernel.stop_timeout=300", "--set", "plugins.first.stop=hang"});
    REQUIRE(t.ready());
    t.c.signal(SIGTERM);
    CHECK(t.c.wait(10s) == 2);
    CHECK(t.c.err() == "tern: stopping took longer than 300 ms (kernel.stop_timeout): instance 'first' is still "
                       "stopping; exiting\n");
}

TEST_CASE("tern plugins list shows each library with its interfaces, and refusals", "[cli][plugins]") {
    kt::temp_dir tmp;
    auto r = kt::run_tern({"plugins", "list", "--config", list_manifest(tmp, KT_PLUGIN_DIR)});
    CHECK(r.status == 0);
    CHECK(r.out.find("kt_consumer 0.0.1 (vendor: Tern kernel tests; ABI 1.2)\n  Uses test.greeter/1\n"
                     "  provides: -\n  requires: test.greeter/1, test.optional/1 (optional)\n  file:     " +
                     kt::fixture("kt_consumer") + "\n") != std::string::npos);
    CHECK(r.out.find("kt_provider 1.2.3 (vendor: Tern kernel tests; ABI 1.2)\n  Provides test.greeter/1\n"
                     "  provides: test.greeter/1\n  requires: -\n") != std::string::npos);
    CHECK(r.out.find("kt_newer_minor 0.0.1 (vendor: Tern kernel tests; ABI 1." + std::to_string(TERN_ABI_MINOR + 1) +
                     ")") != std::string::npos);

    r = kt::run_tern({"plugins", "list", "--config", list_manifest(tmp, KT_REFUSED_DIR)});
    CHECK(r.status == 0);
    CHECK(r.out.find("libtern-kt_bad_magic.so (not loadable)\n  reason:   " + kt::refused("kt_bad_magic") +
                     " is not a Tern plugin: its descriptor has a bad magic number") != std::string::npos);
    CHECK(r.out.find("libtern-kt_major_next.so (not loadable)\n  reason:   plugin 'kt_major_next'") != std::string::npos);
}

TEST_CASE("tern plugins inspect prints the whole descriptor, or the loader's refusal", "[cli][plugins]") {
    auto r = kt::run_tern({"plugins", "inspect", kt::fixture("kt_rich")});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("file:        " + kt::fixture("kt_rich") + "\nname:        kt_rich\nversion:     2.0.0\n"
                      "vendor:      Tern kernel tests\ndescription: Declares a rich config schema\nbuild:       gcc ", 0) == 0);
    CHECK(r.out.find("\nabi:         1." + std::to_string(TERN_ABI_MINOR) + " (descriptor " +
                     std::to_string(sizeof(tern_plugin_descriptor)) +
                     " bytes)\nprovides:    -\nrequires:    -\nconfig:      11 keys\n") != std::string::npos);
    CHECK(std::regex_search(r.out, std::regex(R"(\n  bind_port +integer +5683 +UDP port \(0\.\.65535\)\n)")));
    CHECK(std::regex_search(r.out, std::regex(R"(\n  credentials\.cert_file +string +\(required\) +Certificate file \(required; path\)\n)")));

    r = kt::run_tern({"plugins", "inspect", kt::refused("kt_no_entry")});
    CHECK(r.status == 1);
    CHECK(r.err == kt::refused("kt_no_entry") + " is not a Tern plugin: it exports no tern_plugin_entry; build it "
                                                "with TERN_PLUGIN() from the Tern SDK\n");
    r = kt::run_tern({"plugins", "inspect", kt::refused("kt_schema_reserved")});
    CHECK(r.status == 1);
    CHECK(r.err.find("plugin 'kt_schema_reserved' declares a bad config schema: key 'enabled' uses a name the kernel owns") !=
          std::string::npos);
}

TEST_CASE("tern config sample and docs render a plugin's schema", "[cli][config]") {
    kt::temp_dir tmp;
    const auto m = list_manifest(tmp, KT_PLUGIN_DIR);
    auto r = kt::run_tern({"config", "sample", "kt_rich", "--config", m});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("# kt_rich 2.0.0: Declares a rich config schema\n[plugins.kt_rich]\n"
                      "# Address to listen on\nbind_address = \"0.0.0.0\"\n# UDP port (0..65535)\nbind_port = 5683\n", 0) == 0);
    CHECK(r.out.find("\n[plugins.kt_rich.credentials]\n# Credential kind (one of: PEM|KEYSTORE)\ntype = \"PEM\"\n"
                     "# Certificate file (required; path)\n# cert_file = \"\"\n") != std::string::npos);

    r = kt::run_tern({"config", "docs", kt::fixture("kt_rich")});
    CHECK(r.status == 0);
    CHECK(r.out.find("| `timeout` | integer | `10000` | Request timeout (ms; >= 1) |\n") != std::string::npos);

    r = kt::run_tern({"config", "sample", "kernel"});
    CHECK(r.status == 0);
    CHECK(r.out.find("[kernel]\n") != std::string::npos);
    CHECK(r.out.find("\nplugin_path = [\"build/plugins\"]\n") != std::string::npos);
    CHECK(r.out.find("\nmetrics_bind = \"127.0.0.1:9683\"\n") != std::string::npos);

    r = kt::run_tern({"config", "sample", "kt_nothing", "--config", m});
    CHECK(r.status == 1);
    CHECK(r.err.rfind("plugin 'kt_nothing' not found: no libtern-kt_nothing.so in " KT_PLUGIN_DIR, 0) == 0);
}

TEST_CASE("a plugin's command (tern.cli/1) runs on an instance that is created, not started", "[cli][extension]") {
    kt::temp_dir tmp;
    const std::string rec = tmp.file("record.txt");
    const auto m = tmp.write("cli.toml", "[kernel]\nplugin_path = [\"" KT_PLUGIN_DIR "\"]\nmetrics_bind = \"\"\n\n"
                                         "[plugins.greeter]\nplugin = \"kt_provider\"\n\n[plugins.words]\nplugin = \"kt_cli\"\n");
    auto r = kt::run_tern({"greet", "a", "--config", m, "b c", "--set", "plugins.words.record_file=\"" + rec + "\""});
    CHECK(r.status == 0);
    CHECK(r.out == "greet a b c\n");
    CHECK(r.err.empty());
    CHECK(kt::read_lines(rec) == std::vector<std::string>{"create words", "destroy words"});

    // The kernel takes --config and --set wherever they stand; the plugin gets the rest in
    // order and untouched, --help and all after "--" included.
    r = kt::run_tern({"greet", "--help", "-5", "--config", m, "--name=v", "-h", "--", "--set", "z"});
    CHECK(r.status == 0);
    CHECK(r.out == "greet --help -5 --name=v -h -- --set z\n");

    r = kt::run_tern({"fail", "--config", m});
    CHECK(r.status == 1);
    CHECK(r.err == "fail\n");

    r = kt::run_tern({"nobody_claims_this", "--config", m});
    CHECK(r.status == 64);
    CHECK(r.err.rfind("tern: unknown command 'nobody_claims_this'\n", 0) == 0);

    r = kt::run_tern({"greet", "--config", kt::manifest("misspelled.toml"), "--set", kt::plugin_path_set()});
    CHECK(r.status == 1);
    CHECK(r.err.find("unknown key 'bind_prot'") != std::string::npos);
}

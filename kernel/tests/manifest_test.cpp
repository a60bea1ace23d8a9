// Manifests as operators write them: good and bad files in manifests/, --set overrides,
// and the plan made from them (libraries loaded, nothing created).
#include <catch2/catch.hpp>

#include <algorithm>

#include "kernel/lifecycle.hpp"
#include "kernel/manifest.hpp"
#include "support.hpp"

using namespace tern::kernel;

namespace {

struct outcome {
    diagnostics diag;
    plan p;
    bool loaded = false;
};

outcome plan_for(const std::string& file, std::vector<std::string> sets = {}) {
    sets.insert(sets.begin(), kt::plugin_path_set());
    outcome o;
    auto m = load_manifest(file, sets, o.diag);
    o.loaded = m != nullptr;
    if (m) make_plan(std::move(m), o.p, o.diag);
    return o;
}

std::string errors_of(const diagnostics& d) {
    std::string s;
    for (const auto& e : d.errors) s += e + "\n";
    return s;
}

bool has_error(const diagnostics& d, const std::string& text) {
    return std::any_of(d.errors.begin(), d.errors.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

std::vector<std::string> order_of(const plan& p) {
    std::vector<std::string> names;
    for (const auto& i : p.instances) names.push_back(i.decl->name);
    return names;
}

const std::string rich_keys =
    "valid keys: bind_address, bind_port, credentials.cert_file, credentials.key_file, credentials.type, "
    "enabled, file, label, log_level, mode, plugin, ratio, timeout, verbose, versions";

}  // namespace

TEST_CASE("a good manifest plans every enabled instance in dependency order", "[manifest]") {
    auto o = plan_for(kt::manifest("good.toml"));
    INFO(errors_of(o.diag));
    REQUIRE(o.diag.ok());
    // consumer comes first in the file but needs greeter; ties keep the file's order
    CHECK(order_of(o.p) == std::vector<std::string>{"greeter", "consumer", "rich"});
    const kernel_settings& k = o.p.m->kernel;
    CHECK(k.shards == 2);
    CHECK(k.log_level == TERN_LOG_DEBUG);
    CHECK(k.metrics_bind.empty());
    CHECK(k.stop_timeout_ms == 10000);
    const auto& rich = o.p.instances[2];
    CHECK(rich.library->name == "kt_rich");
    CHECK(rich.config.at("bind_port").i == 15683);
    CHECK(rich.config.at("bind_port").origin == kt::manifest("good.toml") + ":17");
    CHECK(rich.config.at("ratio").d == 1.0);
    CHECK(rich.config.at("versions").a == std::vector<std::string>{"1.2", "1.3"});
    CHECK(rich.config.at("credentials.cert_file").s == "server.pem");
    CHECK(rich.config.at("credentials.type").origin == "default");
    CHECK(o.p.instances[0].log_level == TERN_LOG_DEBUG);  // kernel.log_level
}

TEST_CASE("a disabled instance without a library is skipped with a debug note", "[manifest]") {
    auto o = plan_for(kt::manifest("good.toml"));
    REQUIRE(o.diag.ok());
    REQUIRE(o.diag.notes.size() == 1);
    CHECK(o.diag.notes[0].first == TERN_LOG_DEBUG);
    CHECK(o.diag.notes[0].second ==
          "instance 'future_thing' is disabled and libtern-kt_does_not_exist.so is not on the plugin path; skipping it");
}

TEST_CASE("a misspelled key names file, line, instance, a suggestion and the valid keys", "[manifest]") {
    auto o = plan_for(kt::manifest("misspelled.toml"));
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0] == kt::manifest("misspelled.toml") +
                                  ":6: [plugins.rich] unknown key 'bind_prot' (did you mean 'bind_port'?); " + rich_keys);
}

TEST_CASE("wrong types are errors with the expected type", "[manifest]") {
    auto o = plan_for(kt::manifest("wrong_type.toml"));
    const std::string f = kt::manifest("wrong_type.toml");
    REQUIRE(o.diag.errors.size() == 2);
    CHECK(o.diag.errors[0] == f + ":6: [plugins.rich] key 'bind_port' must be an integer in 0..65535, got a string (\"5683\")");
    CHECK(o.diag.errors[1] == f + ":7: [plugins.rich] key 'verbose' must be a boolean (true or false), got a string (\"yes\")");
}

TEST_CASE("out-of-range numbers and string lengths are errors", "[manifest]") {
    auto o = plan_for(kt::manifest("out_of_range.toml"));
    const std::string f = kt::manifest("out_of_range.toml");
    REQUIRE(o.diag.errors.size() == 3);
    CHECK(o.diag.errors[0] == f + ":6: [plugins.rich] key 'bind_port' is out of range: 70000 (expected an integer in 0..65535)");
    CHECK(o.diag.errors[1] == f + ":7: [plugins.rich] key 'label' is out of range: length 13 (expected a string of length 1..8)");
    CHECK(o.diag.errors[2] == f + ":8: [plugins.rich] key 'timeout' is out of range: 0 (expected an integer >= 1)");
}

TEST_CASE("values outside choices are errors", "[manifest]") {
    auto o = plan_for(kt::manifest("bad_choice.toml"));
    const std::string f = kt::manifest("bad_choice.toml");
    REQUIRE(o.diag.errors.size() == 2);
    CHECK(o.diag.errors[0] == f + ":6: [plugins.rich] key 'mode' is \"fats\", which is not one of the choices: "
                                  "fast, slow, careful (did you mean 'fast'?)");
    CHECK(o.diag.errors[1] == f + ":7: [plugins.rich] key 'versions' element 2 is \"2.0\", which is not one of the choices: 1.2, 1.3");
}

TEST_CASE("a missing required key is an error at the instance's table", "[manifest]") {
    auto o = plan_for(kt::manifest("missing_required.toml"));
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0] == kt::manifest("missing_required.toml") +
                                  ":4: [plugins.rich] missing required key 'credentials.cert_file' (string: Certificate file)");
}

TEST_CASE("an unknown plugin says where it was looked for", "[manifest]") {
    auto o = plan_for(kt::manifest("unknown_plugin.toml"));
    REQUIRE(o.diag.errors.size() == 1);
    const std::string& e = o.diag.errors[0];
    CHECK(e.rfind(kt::manifest("unknown_plugin.toml") + ":4: [plugins.nosuch] plugin 'nosuch' not found: no "
                                                          "libtern-nosuch.so in " KT_PLUGIN_DIR ", ",
                  0) == 0);
    CHECK(e.find("; build the plugin, add its directory to kernel.plugin_path, or name its library with 'file'") !=
          std::string::npos);
}

TEST_CASE("a TOML syntax error names the line and stops there", "[manifest]") {
    auto o = plan_for(kt::manifest("syntax_error.toml"));
    CHECK_FALSE(o.loaded);
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0].rfind(kt::manifest("syntax_error.toml") + ":6: TOML syntax error: ", 0) == 0);
}

TEST_CASE("a table given twice is a syntax error with a hint", "[manifest]") {
    kt::temp_dir tmp;
    const auto file = tmp.write("twice.toml", "[plugins.a]\nplugin = \"kt_rich\"\n\n[plugins.a]\n");
    auto o = plan_for(file);
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0].rfind(file + ":4: TOML syntax error: ", 0) == 0);
    CHECK(o.diag.errors[0].find("each plugin instance needs its own [plugins.NAME]") != std::string::npos);
}

TEST_CASE("a missing manifest file is one clear error", "[manifest]") {
    auto o = plan_for("/nonexistent/tern.toml");
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0] == "cannot read manifest /nonexistent/tern.toml: No such file or directory");
}

TEST_CASE("kernel keys get the same treatment as plugin keys", "[manifest]") {
    auto o = plan_for(kt::manifest("kernel_errors.toml"));
    const std::string f = kt::manifest("kernel_errors.toml");
    INFO(errors_of(o.diag));
    CHECK(has_error(o.diag, f + ":2: [kernel] unknown key 'shard' (did you mean 'shards'?); valid keys: log_format, "
                                "log_level, metrics_bind, plugin_path, shards, stop_timeout"));
    CHECK(has_error(o.diag, f + ":3: [kernel] key 'log_level' is \"loud\", which is not one of the choices: trace, "
                                "debug, info, warn, error, critical, off"));
    CHECK(has_error(o.diag, f + ":4: [kernel] key 'metrics_bind' is \"nowhere\": expected HOST:PORT"));
    CHECK(has_error(o.diag, f + ":5: [kernel] key 'stop_timeout' must be an integer in 1..3600000, got a string (\"10s\")"));
    CHECK(has_error(o.diag, f + ":7: unknown top-level key 'plugin' (did you mean 'plugins'?); valid keys: kernel, plugins"));
    CHECK(o.diag.errors.size() == 5);
}

TEST_CASE("every error of a file is reported at once", "[manifest]") {
    auto o = plan_for(kt::manifest("many_errors.toml"));
    const std::string f = kt::manifest("many_errors.toml");
    INFO(errors_of(o.diag));
    CHECK(has_error(o.diag, f + ":18: [plugins] 'scalar_instance' must be a table ([plugins.scalar_instance]), got an integer"));
    CHECK(has_error(o.diag, f + ":7: [plugins.rich] unknown key 'bind_prot' (did you mean 'bind_port'?)"));
    CHECK(has_error(o.diag, f + ":8: [plugins.rich] key 'mode' is \"fats\""));
    CHECK(has_error(o.diag, f + ":5: [plugins.rich] missing required key 'credentials.cert_file'"));
    CHECK(has_error(o.diag, f + ":12: [plugins.greeter] unknown key 'greting' (did you mean 'greeting'?); valid keys: "
                                "enabled, file, greeting, log_level, plugin, record_file"));
    CHECK(has_error(o.diag, f + ":14: [plugins.missing] plugin 'kt_nothing_here' not found"));
    CHECK(o.diag.errors.size() == 6);
    CHECK(o.p.instances.empty());  // nothing is planned to run when anything is wrong
}

TEST_CASE("overrides with --set reach any key, parse TOML values and create tables", "[manifest][set]") {
    auto o = plan_for(kt::manifest("good.toml"),
                      {"plugins.greeter.greeting=\"yo\"", "plugins.rich.versions=[\"1.3\"]", "kernel.shards=3",
                       "plugins.extra.plugin=kt_behave", "plugins.rich.credentials.cert_file=other.pem",
                       "plugins.rich.verbose=true", "plugins.rich.ratio=0.25"});
    INFO(errors_of(o.diag));
    REQUIRE(o.diag.ok());
    CHECK(o.p.m->kernel.shards == 3);
    CHECK(order_of(o.p) == std::vector<std::string>{"greeter", "consumer", "rich", "extra"});
    const auto& greeter = o.p.instances[0].config;
    CHECK(greeter.at("greeting").s == "yo");
    CHECK(greeter.at("greeting").origin == "--set");
    const auto& rich = o.p.instances[2].config;
    CHECK(rich.at("versions").a == std::vector<std::string>{"1.3"});
    CHECK(rich.at("credentials.cert_file").s == "other.pem");  // not TOML: taken as a string
    CHECK(rich.at("verbose").b);
    CHECK(rich.at("ratio").d == 0.25);
    CHECK(o.p.instances[3].library->name == "kt_behave");
}

TEST_CASE("values set with --set have origin --set in errors", "[manifest][set]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.rich.bind_port=70000", "plugins.rich.bogus=1"});
    REQUIRE(o.diag.errors.size() == 2);
    CHECK(o.diag.errors[0] == "--set: [plugins.rich] key 'bind_port' is out of range: 70000 (expected an integer in 0..65535)");
    CHECK(o.diag.errors[1].rfind("--set: [plugins.rich] unknown key 'bogus'; valid keys: ", 0) == 0);
}

TEST_CASE("malformed --set arguments are errors", "[manifest][set]") {
    auto o = plan_for(kt::manifest("good.toml"), {"novalue", "plugins..x=1", "plugins.consumer.plugin.x=1"});
    REQUIRE(o.diag.errors.size() == 3);
    CHECK(o.diag.errors[0] == "--set novalue: expected KEY=VALUE (e.g. --set plugins.udp.bind_port=15683)");
    CHECK(o.diag.errors[1] == "--set plugins..x=1: KEY must be a dotted path such as plugins.udp.bind_port");
    CHECK(o.diag.errors[2] == "--set plugins.consumer.plugin.x=1: 'plugins.consumer.plugin' is a string, not a table");
}

TEST_CASE("enabling a disabled instance with --set makes its missing library an error", "[manifest][set]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.future_thing.enabled=true"});
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0].find("[plugins.future_thing] plugin 'kt_does_not_exist' not found") != std::string::npos);
}

TEST_CASE("a disabled instance's table is still checked when its library exists", "[manifest]") {
    auto o = plan_for(kt::manifest("good.toml"),
                      {"plugins.off.plugin=kt_provider", "plugins.off.enabled=false", "plugins.off.greting=1"});
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0].rfind("--set: [plugins.off] unknown key 'greting' (did you mean 'greeting'?)", 0) == 0);
}

TEST_CASE("kernel-owned keys of a plugin table are checked", "[manifest]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.rich.enabled=\"yes\"", "plugins.greeter.log_level=loud",
                                                  "plugins.consumer.plugin=Bad-Name"});
    INFO(errors_of(o.diag));
    CHECK(has_error(o.diag, "--set: [plugins.rich] key 'enabled' must be a boolean (true or false), got a string (\"yes\")"));
    CHECK(has_error(o.diag, "--set: [plugins.greeter] key 'log_level' is \"loud\", which is not one of the choices"));
    CHECK(has_error(o.diag, "--set: [plugins.consumer] key 'plugin' is \"Bad-Name\": plugin names are lower-case letters, digits and '_'"));
}

TEST_CASE("an instance may set its own log level", "[manifest]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.greeter.log_level=\"trace\""});
    REQUIRE(o.diag.ok());
    CHECK(o.p.instances[0].log_level == TERN_LOG_TRACE);
    CHECK(o.p.instances[1].log_level == TERN_LOG_DEBUG);
}

TEST_CASE("a required interface nobody provides is refused", "[manifest][requirements]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.needy.plugin=kt_needy", "plugins.greeter.enabled=false"});
    INFO(errors_of(o.diag));
    CHECK(has_error(o.diag, "--set: [plugins.needy] plugin 'kt_needy' (" + kt::fixture("kt_needy") +
                                ") requires interface 'test.nobody/1', which no enabled plugin provides; enable a "
                                "plugin that provides it ('tern plugins list' shows who provides what)"));
    // disabling greeter leaves consumer without test.greeter/1
    CHECK(has_error(o.diag, "plugin 'kt_consumer' (" + kt::fixture("kt_consumer") +
                                ") requires interface 'test.greeter/1', which no enabled plugin provides"));
    CHECK(o.diag.errors.size() == 2);
}

TEST_CASE("a dependency cycle is an error naming the cycle", "[manifest][requirements]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.a.plugin=kt_cycle_a", "plugins.b.plugin=kt_cycle_b"});
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0] == kt::manifest("good.toml") +
                                  ": dependency cycle between plugin instances: a -> b -> a (a requires 'test.b/1' "
                                  "provided by b; b requires 'test.a/1' provided by a); disable one of them or make "
                                  "one requirement optional");
}

TEST_CASE("a plugin from a newer 1.x SDK loads when what it requires is there", "[manifest][requirements]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.newer.plugin=kt_newer_minor"});
    INFO(errors_of(o.diag));
    REQUIRE(o.diag.ok());
    CHECK(std::find(o.diag.notes.begin(), o.diag.notes.end(),
                    std::make_pair(tern_log_level{TERN_LOG_INFO},
                                   "plugin kt_newer_minor built with SDK 1." + std::to_string(TERN_ABI_MINOR + 1) +
                                       ", newer than this kernel's 1." + std::to_string(TERN_ABI_MINOR) +
                                       "; loading because every interface it requires is present")) !=
          o.diag.notes.end());
    auto without = plan_for(kt::manifest("good.toml"),
                            {"plugins.newer.plugin=kt_newer_minor", "plugins.greeter.enabled=false",
                             "plugins.consumer.enabled=false"});
    CHECK(has_error(without.diag, "plugin 'kt_newer_minor'"));
    CHECK(has_error(without.diag, "requires interface 'test.greeter/1'"));
}

TEST_CASE("a library named with 'file' that the loader refuses is an error at its table", "[manifest][loader]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.bad.file=\"" + kt::refused("kt_bad_magic") + "\""});
    REQUIRE(o.diag.errors.size() == 1);
    CHECK(o.diag.errors[0] == "--set: [plugins.bad] " + kt::refused("kt_bad_magic") +
                                  " is not a Tern plugin: its descriptor has a bad magic number (0xdeadbeef, "
                                  "expected 0x4e524554); rebuild it with the Tern SDK");
}

TEST_CASE("a plugin whose schema is itself bad is refused naming its file", "[manifest][schema]") {
    auto o = plan_for(kt::manifest("good.toml"), {"plugins.bad.file=\"" + kt::refused("kt_schema_duplicate") + "\"",
                                                  "plugins.bad2.file=\"" + kt::refused("kt_schema_duplicate") + "\""});
    REQUIRE(o.diag.errors.size() == 1);  // once per library
    CHECK(o.diag.errors[0] == kt::refused("kt_schema_duplicate") +
                                  ": plugin 'kt_schema_duplicate' declares a bad config schema: key 'port' is declared "
                                  "twice; fix its tern_config_key table and rebuild it");
}

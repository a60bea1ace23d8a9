// Validation of a plugin table against its declared schema: the rules a manifest author
// meets, with the exact messages they read.
#include <catch2/catch.hpp>

#include "kernel/schema.hpp"
#include "tern/sdk/plugin.hpp"

using namespace tern::kernel;
namespace cfg = tern::sdk::cfg;

namespace {

constexpr tern_config_key keys[] = {
    cfg::string("bind_address", "0.0.0.0", "Address to listen on"),
    cfg::integer("bind_port", 5683, "UDP port").range(0, 65535),
    cfg::number("ratio", 0.5, "Share").range(0, 1),
    cfg::boolean("verbose", false, "Say more"),
    cfg::string("mode", "fast", "How to run").choices("fast|slow"),
    cfg::string("label", "x", "Short label").range(1, 4),
    cfg::strings("versions", R"(["1.2"])", "Versions").choices("1.2|1.3"),
    cfg::integer("timeout", 10000, "Request timeout").unit("ms").at_least(1),
    cfg::string("credentials.cert_file", "", "Certificate").path().required(),
    cfg::string("credentials.key_file", "key.pem", "Key").path(),
};

struct checked {
    config_values values;
    diagnostics diag;
};

checked check(const std::string& toml_text) {
    checked c;
    const toml::table t = toml::parse(toml_text, std::string_view{"t.toml"});
    validation how;
    how.table = "plugins.x";
    how.table_origin = "t.toml:1";
    how.origin = [](const toml::node& n) { return "t.toml:" + std::to_string(n.source().begin.line); };
    how.skip = {"enabled", "plugin", "file", "log_level"};
    c.values = validate_table(&t, keys, how, c.diag);
    return c;
}

}  // namespace

TEST_CASE("a valid table gets its values and every default, with origins", "[schema]") {
    auto c = check("bind_port = 15683\nratio = 1\nplugin = \"x\"\n[credentials]\ncert_file = \"c.pem\"\n");
    REQUIRE(c.diag.ok());
    CHECK(c.values.at("bind_port").i == 15683);
    CHECK(c.values.at("bind_port").origin == "t.toml:1");
    CHECK(c.values.at("ratio").d == 1.0);  // an integer literal is fine for a float
    CHECK(c.values.at("bind_address").s == "0.0.0.0");
    CHECK(c.values.at("bind_address").origin == "default");
    CHECK(c.values.at("versions").a == std::vector<std::string>{"1.2"});
    CHECK(c.values.at("credentials.cert_file").s == "c.pem");
    CHECK(c.values.at("credentials.key_file").s == "key.pem");
    CHECK(c.values.count("plugin") == 0);  // kernel-owned keys are not the plugin's
}

TEST_CASE("dotted keys and sub-tables reach the same schema key", "[schema]") {
    auto c = check("credentials.cert_file = \"a.pem\"\n");
    REQUIRE(c.diag.ok());
    CHECK(c.values.at("credentials.cert_file").s == "a.pem");
}

TEST_CASE("an unknown key names line, table, a suggestion and the valid keys", "[schema]") {
    auto c = check("\nbind_prot = 1\ncredentials.cert_file = \"a\"\n");
    REQUIRE(c.diag.errors.size() == 1);
    CHECK(c.diag.errors[0] ==
          "t.toml:2: [plugins.x] unknown key 'bind_prot' (did you mean 'bind_port'?); valid keys: "
          "bind_address, bind_port, credentials.cert_file, credentials.key_file, enabled, file, label, "
          "log_level, mode, plugin, ratio, timeout, verbose, versions");
}

TEST_CASE("an unknown key in a sub-table lists that table's keys", "[schema]") {
    auto c = check("[credentials]\ncert_file = \"a\"\ncert_fil = \"b\"\n");
    REQUIRE(c.diag.errors.size() == 1);
    CHECK(c.diag.errors[0] ==
          "t.toml:3: [plugins.x.credentials] unknown key 'cert_fil' (did you mean 'cert_file'?); "
          "valid keys: cert_file, key_file");
}

TEST_CASE("wrong types say what was expected and what was found", "[schema]") {
    auto c = check("bind_port = \"5683\"\nverbose = 1\nratio = \"x\"\nversions = \"1.2\"\n"
                   "credentials = 5\n");
    REQUIRE(c.diag.errors.size() == 5);
    CHECK(c.diag.errors[0] == "t.toml:1: [plugins.x] key 'bind_port' must be an integer in 0..65535, got a string (\"5683\")");
    CHECK(c.diag.errors[1] == "t.toml:2: [plugins.x] key 'verbose' must be a boolean (true or false), got an integer (1)");
    CHECK(c.diag.errors[2] == "t.toml:3: [plugins.x] key 'ratio' must be a number in 0..1, got a string (\"x\")");
    CHECK(c.diag.errors[3] == "t.toml:4: [plugins.x] key 'versions' must be an array of strings, one of: 1.2, 1.3, got a string (\"1.2\")");
    CHECK(c.diag.errors[4] == "t.toml:5: [plugins.x] key 'credentials' must be a table ([plugins.x.credentials]), got an integer (5)");
}

TEST_CASE("a float is not an integer", "[schema]") {
    auto c = check("bind_port = 5683.0\ncredentials.cert_file = \"a\"\n");
    REQUIRE(c.diag.errors.size() == 1);
    CHECK(c.diag.errors[0] == "t.toml:1: [plugins.x] key 'bind_port' must be an integer in 0..65535, got a float (5683)");
}

TEST_CASE("ranges bound numbers, and string lengths", "[schema]") {
    auto c = check("bind_port = 70000\nratio = 1.5\nlabel = \"toolong\"\ntimeout = 0\ncredentials.cert_file = \"a\"\n");
    REQUIRE(c.diag.errors.size() == 4);
    CHECK(c.diag.errors[0] == "t.toml:1: [plugins.x] key 'bind_port' is out of range: 70000 (expected an integer in 0..65535)");
    CHECK(c.diag.errors[1] == "t.toml:2: [plugins.x] key 'ratio' is out of range: 1.5 (expected a number in 0..1)");
    CHECK(c.diag.errors[2] == "t.toml:3: [plugins.x] key 'label' is out of range: length 7 (expected a string of length 1..4)");
    CHECK(c.diag.errors[3] == "t.toml:4: [plugins.x] key 'timeout' is out of range: 0 (expected an integer >= 1)");
}

TEST_CASE("choices apply to strings and to each element of a string array", "[schema]") {
    auto c = check("mode = \"fats\"\nversions = [\"1.2\", \"2.0\"]\ncredentials.cert_file = \"a\"\n");
    REQUIRE(c.diag.errors.size() == 2);
    CHECK(c.diag.errors[0] == "t.toml:1: [plugins.x] key 'mode' is \"fats\", which is not one of the choices: fast, slow (did you mean 'fast'?)");
    CHECK(c.diag.errors[1] == "t.toml:2: [plugins.x] key 'versions' element 2 is \"2.0\", which is not one of the choices: 1.2, 1.3");
}

TEST_CASE("a missing required key names the table's line and the key's doc", "[schema]") {
    auto c = check("bind_port = 1\n");
    REQUIRE(c.diag.errors.size() == 1);
    CHECK(c.diag.errors[0] ==
          "t.toml:1: [plugins.x] missing required key 'credentials.cert_file' (string: Certificate)");
}

TEST_CASE("an absent table is all defaults, or missing required keys", "[schema]") {
    diagnostics diag;
    validation how;
    how.table = "kernel";
    how.table_origin = "m.toml";
    how.origin = [](const toml::node&) { return std::string("?"); };
    constexpr tern_config_key simple[] = {cfg::integer("shards", 0, "Shards")};
    const auto v = validate_table(nullptr, simple, how, diag);
    CHECK(diag.ok());
    CHECK(v.at("shards").origin == "default");
    validate_table(nullptr, keys, how, diag);
    CHECK(diag.errors.size() == 1);
}

TEST_CASE("a schema that is itself wrong is refused with every problem", "[schema]") {
    CHECK(check_schema(keys).empty());
    tern_config_key bad_default = cfg::integer("port2", 1, "Port");
    bad_default.default_value.type = TERN_VALUE_STR;
    tern_config_key bad_type = cfg::integer("n", 1, "N");
    bad_type.type = 99;
    const tern_config_key bad[] = {
        cfg::integer("port", 1, "Port"), cfg::integer("port", 2, "Port again"),
        cfg::boolean("enabled", true, "Reserved"), cfg::string("log_level", "", "Reserved too"),
        bad_default, bad_type,
        cfg::strings("list", "not json", "Bad JSON default"),
        cfg::string("tls", "", "Value"), cfg::string("tls.cert", "", "Table key"),
        cfg::integer("lo_hi", 5, "Backwards range").range(10, 1),
    };
    const auto problems = check_schema(bad);
    REQUIRE(problems.size() == 8);
    CHECK(problems[0] == "key 'port' is declared twice");
    CHECK(problems[1] == "key 'enabled' uses a name the kernel owns in every plugin table (enabled, plugin, file, log_level)");
    CHECK(problems[2] == "key 'log_level' uses a name the kernel owns in every plugin table (enabled, plugin, file, log_level)");
    CHECK(problems[3] == "key 'port2' is an integer but its default is of type string");
    CHECK(problems[4] == "key 'n' has an unknown type (99)");
    CHECK(problems[5] == "key 'list' is a string array but its default is not a JSON array of strings");
    CHECK(problems[6] == "key 'lo_hi' has min 10 above max 1");
    CHECK(problems[7] == "key 'tls' is declared as a value and as the table of 'tls.cert'");
}

TEST_CASE("string array defaults are JSON arrays of strings", "[schema]") {
    std::vector<std::string> out;
    CHECK(parse_string_array_json(R"([])", out));
    CHECK(out.empty());
    CHECK(parse_string_array_json(R"( ["a", "b\"c", "\u00e9"] )", out));
    CHECK(out == std::vector<std::string>{"a", "b\"c", "é"});
    CHECK_FALSE(parse_string_array_json(R"(["a",])", out));
    CHECK_FALSE(parse_string_array_json(R"(["a" "b"])", out));
    CHECK_FALSE(parse_string_array_json(R"([1])", out));
    // JSON's escapes, surrogate pairs included; "\u0000" is a character like any other
    CHECK(parse_string_array_json(R"(["\/\b\f\n\r\t\\", "\ud83d\ude00", "a\u0000b"])", out));
    CHECK(out == std::vector<std::string>{"/\b\f\n\r\t\\", "\xf0\x9f\x98\x80", std::string("a\0b", 3)});
    // what JSON does not allow, or what is not an array of strings
    for (const std::string_view bad :
         {R"()", R"(  )", R"("a")", R"({})", R"([["a"]])", R"([null])", R"(['a'])", R"(["a"] ["b"])",
          R"(["a"] x)", R"(["a"  # comment)", R"(["a" /* c */])", R"(["\x41"])", R"(["\ud83d"])",
          R"(["\ud83dx"])", R"(["\ude00"])", R"(["\u12"])", "[\"a\tb\"]", "[\"a\nb\"]"})
        CHECK_FALSE(parse_string_array_json(bad, out));
    CHECK_FALSE(parse_string_array_json(std::string_view("[\"a\"]\0", 6), out));
    CHECK_FALSE(parse_string_array_json(std::string_view("[\"a\0b\"]", 7), out));
}

TEST_CASE("the sample table shows docs, hints and defaults, sub-tables last", "[schema]") {
    const std::string s = sample_toml("plugins.x", keys);
    CHECK(s.rfind("[plugins.x]\n# Address to listen on\nbind_address = \"0.0.0.0\"\n", 0) == 0);
    CHECK(s.find("# UDP port (0..65535)\nbind_port = 5683\n") != std::string::npos);
    CHECK(s.find("# How to run (one of: fast|slow)\nmode = \"fast\"\n") != std::string::npos);
    CHECK(s.find("# Request timeout (ms; >= 1)\ntimeout = 10000\n") != std::string::npos);
    CHECK(s.find("ratio = 0.5\n") != std::string::npos);
    CHECK(s.find("versions = [\"1.2\"]\n") != std::string::npos);
    CHECK(s.find("\n[plugins.x.credentials]\n# Certificate (required; path)\n# cert_file = \"\"\n") != std::string::npos);
    // what it prints is a manifest the same schema accepts (once the required key is set)
    std::string filled = s;
    filled.replace(filled.find("# cert_file = \"\""), 16, "cert_file = \"c\"");
    const toml::table t = toml::parse(filled);
    diagnostics diag;
    validation how{"plugins.x", "s", [](const toml::node&) { return std::string("s"); }, {}, true};
    validate_table(t["plugins"]["x"].as_table(), keys, how, diag);
    CHECK(diag.errors == std::vector<std::string>{});
}

TEST_CASE("the docs table has one row per key", "[schema]") {
    const std::string d = docs_markdown(keys);
    CHECK(d.rfind("| key | type | default | description |\n|---|---|---|---|\n", 0) == 0);
    CHECK(d.find("| `bind_port` | integer | `5683` | UDP port (0..65535) |\n") != std::string::npos);
    CHECK(d.find("| `mode` | string | `\"fast\"` | How to run (one of: fast\\|slow) |\n") != std::string::npos);
    CHECK(d.find("| `credentials.cert_file` | string | *required* | Certificate (required; path) |\n") != std::string::npos);
}

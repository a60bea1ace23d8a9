// tern/sdk/config.hpp: one declaration per key gives the descriptor's schema, the defaults
// and the typed settings struct, and load() checks integers against the member's type.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tern/sdk/config.hpp"
#include "tern/sdk/testing.hpp"

namespace cfg = tern::sdk::cfg;
using namespace std::chrono_literals;

namespace {

struct settings {
    uint32_t timeout_ms = 0;
    bool split = false;
    std::string bind;
    std::vector<std::string> transports;
    double ratio = 0;
    std::chrono::milliseconds idle{};
    std::chrono::seconds linger{};
    uint16_t port = 0;
    int8_t tiny = 0;
    std::string_view name;
    float weight = 0;
    int other = 7;  // not configured
};

constexpr auto schema = cfg::bind<settings>(
    cfg::integer("timeout", &settings::timeout_ms, 10000, "How long to wait").unit("ms").range(1, 60000),
    cfg::boolean("split", &settings::split, true, "Split it"),
    cfg::string("bind", &settings::bind, "0.0.0.0", "Where to listen"),
    cfg::strings("transports", &settings::transports, R"(["udp", "d\u00e9\"x"])", "Transports"),
    cfg::number("ratio", &settings::ratio, 1.5, "A ratio").range(1, 2),
    cfg::integer("idle", &settings::idle, 30000, "Idle time"),
    cfg::integer("linger", &settings::linger, 2min, "Linger").unit("seconds"),
    cfg::integer("port", &settings::port, 5683, "Port"),
    cfg::integer("tiny", &settings::tiny, -3, "Tiny"),
    cfg::string("name", &settings::name, "n", "Name").required(),
    cfg::number("weight", &settings::weight, 2, "Weight"),
    cfg::integer("unbound", 4, "Declared, read by nobody"));

// The keys array is built at compile time: the descriptor can point at it from a constant.
constexpr std::span<const tern_config_key> keys = schema.keys();
static_assert(keys.size() == 12);
static_assert(keys[0].type == TERN_CONFIG_INT && keys[0].default_value.u.i == 10000);
static_assert(keys[0].min == 1 && keys[0].max == 60000);
static_assert(std::string_view(keys[5].unit) == "ms");

}  // namespace

TEST_CASE("config binding: one declaration gives the schema", "[config]") {
    CHECK(std::string_view(keys[0].name) == "timeout");
    CHECK(std::string_view(keys[0].unit) == "ms");
    CHECK((keys[0].flags & (TERN_CONFIG_HAS_MIN | TERN_CONFIG_HAS_MAX)) ==
          (TERN_CONFIG_HAS_MIN | TERN_CONFIG_HAS_MAX));
    CHECK(keys[1].type == TERN_CONFIG_BOOL);
    CHECK(keys[1].default_value.u.b == 1);
    CHECK(keys[2].type == TERN_CONFIG_STRING);
    CHECK(tern::sdk::to_sv(keys[2].default_value.u.s) == "0.0.0.0");
    CHECK(keys[3].type == TERN_CONFIG_STRING_ARRAY);
    CHECK(keys[3].default_value.type == TERN_VALUE_JSON);
    CHECK(keys[4].type == TERN_CONFIG_DOUBLE);
    CHECK(keys[4].default_value.u.d == 1.5);
    CHECK(keys[6].default_value.u.i == 120);  // 2 min in the member's seconds
    CHECK(std::string_view(keys[6].unit) == "seconds");  // .unit() overrides the period's
    CHECK((keys[9].flags & TERN_CONFIG_REQUIRED) != 0);
    CHECK(keys[9].default_value.type == TERN_VALUE_NULL);
    CHECK(std::string_view(keys[11].name) == "unbound");
    for (const auto& k : keys) CHECK(k.struct_size == sizeof(tern_config_key));

    // the three-argument builders still make the same keys
    constexpr tern_config_key plain = cfg::integer("timeout", 10000, "How long to wait").unit("ms").range(1, 60000);
    CHECK(plain.default_value.u.i == keys[0].default_value.u.i);
    CHECK(plain.flags == keys[0].flags);
}

TEST_CASE("config binding: load() reads every key by its type", "[config]") {
    tern::sdk::testing::map_config c(keys);
    c.set("name", "dev");
    c.set("timeout", 250);
    c.set("idle", 1500);
    c.set("split", false);
    c.set_strings("transports", {"udp", "dtls"});
    const settings s = schema.load(tern::sdk::config{&c});
    CHECK(s.timeout_ms == 250);
    CHECK_FALSE(s.split);
    CHECK(s.bind == "0.0.0.0");
    CHECK(s.transports == std::vector<std::string>{"udp", "dtls"});
    CHECK(s.ratio == 1.5);
    CHECK(s.idle == 1500ms);
    CHECK(s.linger == 2min);
    CHECK(s.port == 5683);
    CHECK(s.tiny == -3);
    CHECK(s.name == "dev");
    CHECK(s.weight == 2.0f);
    CHECK(s.other == 7);
}

TEST_CASE("config binding: load_into() keeps the members no key fills", "[config]") {
    tern::sdk::testing::map_config c(keys);
    c.set("name", "dev");
    settings s;
    s.other = 42;
    schema.load_into(tern::sdk::config{&c}, s);
    CHECK(s.other == 42);
    CHECK(s.timeout_ms == 10000);
}

TEST_CASE("config binding: an integer outside the member's type fails with the key and origin", "[config]") {
    tern::sdk::testing::map_config c(keys);
    c.set("name", "dev");
    c.set("port", 70000);
    try {
        (void)schema.load(tern::sdk::config{&c});
        FAIL("load() accepted 70000 for a uint16_t");
    } catch (const tern::sdk::error& e) {
        CHECK(e.status() == TERN_CONFIG);
        CHECK(std::string(e.what()) ==
              "config key 'port' is 70000 (test), which this plugin cannot hold: it takes 0..65535");
    }
    c.set("port", 1);
    c.set("tiny", -129);
    CHECK_THROWS_WITH(schema.load(tern::sdk::config{&c}),
                      "config key 'tiny' is -129 (test), which this plugin cannot hold: it takes -128..127");
    c.set("tiny", 0);
    c.set("timeout", -1);
    CHECK_THROWS_WITH(schema.load(tern::sdk::config{&c}), Catch::Contains("'timeout' is -1"));
}

TEST_CASE("config binding: a key of the wrong type or missing fails load() naming it", "[config]") {
    tern::sdk::testing::map_config c(keys);
    c.set("name", "dev");
    c.erase("split");
    CHECK_THROWS_WITH(schema.load(tern::sdk::config{&c}), Catch::Contains("'split'"));
}

TEST_CASE("config binding: defaults() is the struct of an empty table", "[config]") {
    const settings d = schema.defaults();
    CHECK(d.timeout_ms == 10000);
    CHECK(d.split);
    CHECK(d.bind == "0.0.0.0");
    CHECK(d.transports == std::vector<std::string>{"udp", "d\xc3\xa9\"x"});
    CHECK(d.ratio == 1.5);
    CHECK(d.idle == 30s);
    CHECK(d.linger == 120s);
    CHECK(d.port == 5683);
    CHECK(d.name.empty());  // required: no default
    CHECK(d.other == 7);
}

TEST_CASE("config binding: string-array defaults are parsed strictly", "[config]") {
    CHECK(cfg::parse_strings_default("[]", "k").empty());
    CHECK(cfg::parse_strings_default(" [ \"a\" , \"b\" ] ", "k") == std::vector<std::string>{"a", "b"});
    CHECK(cfg::parse_strings_default(R"(["\ud83d\ude00"])", "k") == std::vector<std::string>{"\xf0\x9f\x98\x80"});
    for (const char* bad : {"", "[", "[\"a\"", "[\"a\",]", "[1]", "[\"a\"] x", R"(["\ud83d"])", R"(["\q"])"}) {
        INFO(bad);
        CHECK_THROWS_WITH(cfg::parse_strings_default(bad, "k"),
                          Catch::StartsWith("the default of config key 'k' is not a JSON array of strings"));
    }
}

// The built libtern-json.so as the kernel sees it: its descriptor, its config schema, and an
// instance made by create() on the SDK's fake host (tern/sdk/testing.hpp) whose
// configuration the test sets.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "tern/abi/payload.h"
#include "tern/abi/plugin.h"
#include "tern/sdk/testing.hpp"

namespace {

using tern::sdk::to_str;
namespace testing = tern::sdk::testing;

std::string_view sv(tern_str s) { return tern::sdk::to_sv(s); }
tern_str str(std::string_view s) { return to_str(s); }

const tern_plugin_descriptor& descriptor() {
    static const testing::plugin_library lib(TERN_JSON_PLUGIN_PATH);
    return lib.descriptor();
}

// An instance on the SDK's fake host (its configuration: the descriptor's defaults, then what
// the test sets), whose adaptor decodes one attribute body: "ok" or the error.
struct instance {
    testing::fake_host host;
    testing::instance_ptr plugin;
    tern::payload_v1* payload = nullptr;

    explicit instance(const tern_plugin_descriptor& d) : host(d, "json") {}
    tern_status create(tern_error& err) {
        const tern_status s = testing::try_create(descriptor(), host, plugin, err);
        if (s == TERN_OK) payload = testing::query<tern::payload_v1>(*plugin);
        return s;
    }
    std::string decode(std::string_view body) {
        tern_error err{};
        const tern_status s = payload->decode_attributes(
            nullptr, tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()},
            [](void*, const tern_kv*, uint32_t) {}, nullptr, &err);
        return s == TERN_OK ? "ok" : std::string(err.msg, err.len);
    }
};

}  // namespace

TEST_CASE("descriptor: json provides tern.payload/1 with a documented schema", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    CHECK(d.magic == TERN_PLUGIN_MAGIC);
    CHECK(d.header_size == sizeof(tern_plugin_descriptor));
    CHECK(d.abi_major == TERN_ABI_MAJOR);
    CHECK(std::string(d.name) == "json");
    REQUIRE(d.provides_count == 1);
    CHECK(std::string(d.provides[0]) == TERN_IID_PAYLOAD_V1);
    CHECK(d.requirement_count == 0);

    std::map<std::string, const tern_config_key*> keys;
    for (uint32_t i = 0; i < d.config_count; ++i) keys[d.config[i].name] = &d.config[i];
    REQUIRE(keys.size() == 5);
    REQUIRE(keys.count("type_cast_enabled"));
    CHECK(keys["type_cast_enabled"]->type == TERN_CONFIG_BOOL);
    CHECK(keys["type_cast_enabled"]->default_value.u.b == 1);
    REQUIRE(keys.count("max_string_value_length"));
    CHECK(keys["max_string_value_length"]->type == TERN_CONFIG_INT);
    CHECK(keys["max_string_value_length"]->default_value.u.i == 0);
    CHECK((keys["max_string_value_length"]->flags & TERN_CONFIG_HAS_MIN) != 0);
    REQUIRE(keys.count("lenient"));
    CHECK(keys["lenient"]->type == TERN_CONFIG_BOOL);
    CHECK(keys["lenient"]->default_value.u.b == 1);
    REQUIRE(keys.count("max_number_text_length"));
    CHECK(keys["max_number_text_length"]->type == TERN_CONFIG_INT);
    CHECK(keys["max_number_text_length"]->default_value.u.i == 64);
    REQUIRE(keys.count("max_decoded_size"));
    CHECK(keys["max_decoded_size"]->type == TERN_CONFIG_INT);
    CHECK(keys["max_decoded_size"]->default_value.u.i == 262144);
    for (const auto& [name, key] : keys) {
        INFO(name);
        CHECK(key->struct_size == sizeof(tern_config_key));
        CHECK(key->doc != nullptr);
        CHECK(std::strlen(key->doc) > 20);
    }
}

TEST_CASE("instance: defaults, and the configuration reaches the adaptor", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    {
        instance i(d);
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        REQUIRE(i.payload != nullptr);
        CHECK(i.plugin->query(str("tern.other/1")) == nullptr);
        CHECK(i.payload->content_format() == 50);
        CHECK(sv(i.payload->name()) == "json");
        CHECK(i.decode("{a:1}") == "ok");
        CHECK(i.decode(R"({"s":"0123456789"})") == "ok");
        CHECK(i.decode(R"({"big":12345678901234567890})") == "ok");
        CHECK(i.decode(R"({"k1":1e9999})") ==
              "value of 'k1' (1e9999) would be stored as a string of 10000 characters, more than "
              "max_number_text_length 64");
    }
    {
        instance i(d);
        i.host.config.set("max_number_text_length", 0);
        i.host.config.set("max_decoded_size", 100);
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        CHECK(i.decode(R"({"k1":1e80})") == "ok");  // 2 + 8 + 81 bytes
        CHECK(i.decode(R"({"k1":1e100})").rfind("the message's keys and values decode to more than max_decoded_size "
                                               "(100 bytes)", 0) == 0);
    }
    {
        instance i(d);
        i.host.config.set("lenient", false);
        i.host.config.set("type_cast_enabled", false);
        i.host.config.set("max_string_value_length", 5);
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        CHECK(i.decode("{a:1}").rfind("invalid JSON: ", 0) == 0);
        CHECK(i.decode(R"({"s":"0123456789"})") ==
              "value of 's' is 10 characters long, more than max_string_value_length 5");
        CHECK(i.decode(R"({"big":12345678901234567890})").rfind("value of 'big' is out of range", 0) == 0);
    }
}

TEST_CASE("instance: a configuration without the schema's keys fails create()", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    instance i(d);
    i.host.config.erase("lenient");
    tern_error err{};
    CHECK(i.create(err) == TERN_CONFIG);
    CHECK(std::string(err.msg, err.len).find("lenient") != std::string::npos);
    CHECK(i.plugin == nullptr);
}

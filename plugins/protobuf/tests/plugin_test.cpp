// The built libtern-protobuf.so as the kernel sees it: its descriptor, its config schema, and
// an instance made by create() on the SDK's fake host, answering tern.payload/1 and
// tern.payload/2 with one object, counting its refusals in its metrics.
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
tern_bytes bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

const tern_plugin_descriptor& descriptor() {
    static const testing::plugin_library lib(TERN_PROTOBUF_PLUGIN_PATH);
    return lib.descriptor();
}

struct instance {
    testing::fake_host host;
    testing::instance_ptr plugin;
    tern::payload_v1* v1 = nullptr;
    tern::payload_v2* v2 = nullptr;

    instance() : host(descriptor(), "protobuf") {}
    tern_status create(tern_error& err) {
        const tern_status s = testing::try_create(descriptor(), host, plugin, err);
        if (s == TERN_OK) {
            v1 = testing::query<tern::payload_v1>(*plugin);
            v2 = testing::query<tern::payload_v2>(*plugin);
        }
        return s;
    }
};

// A profile context with one option.
struct one_option {
    tern_kv kv{};
    tern_payload_context ctx{};
    one_option(const char* key, std::string_view text) {
        kv.key = to_str(key);
        kv.value.type = TERN_VALUE_STR;
        kv.value.u.s = to_str(text);
        ctx.struct_size = sizeof ctx;
        ctx.options = &kv;
        ctx.option_count = 1;
        ctx.content_format = -1;
    }
};

}  // namespace

TEST_CASE("descriptor: protobuf provides tern.payload/1 and /2 with a documented schema", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    CHECK(d.magic == TERN_PLUGIN_MAGIC);
    CHECK(d.abi_major == TERN_ABI_MAJOR);
    CHECK(std::string(d.name) == "protobuf");
    REQUIRE(d.provides_count == 2);
    CHECK(std::string(d.provides[0]) == TERN_IID_PAYLOAD_V1);
    CHECK(std::string(d.provides[1]) == TERN_IID_PAYLOAD_V2);
    CHECK(d.requirement_count == 0);

    std::map<std::string, const tern_config_key*> keys;
    for (uint32_t i = 0; i < d.config_count; ++i) keys[d.config[i].name] = &d.config[i];
    const std::map<std::string, int64_t> ints{{"max_message_size", 65536},   {"max_depth", 32},
                                              {"max_schema_size", 65536},    {"max_cached_profiles", 1024},
                                              {"max_number_text_length", 64}, {"max_decoded_size", 262144}};
    REQUIRE(keys.size() == ints.size() + 1);
    for (const auto& [name, def] : ints) {
        INFO(name);
        REQUIRE(keys.count(name));
        CHECK(keys[name]->type == TERN_CONFIG_INT);
        CHECK(keys[name]->default_value.u.i == def);
    }
    REQUIRE(keys.count("type_cast_enabled"));
    CHECK(keys["type_cast_enabled"]->default_value.u.b == 1);
    for (const auto& [name, key] : keys) {
        INFO(name);
        CHECK(std::strlen(key->doc) > 20);
    }
}

TEST_CASE("instance: one object answers both ids, decodes, checks profiles and counts refusals", "[plugin]") {
    instance i;
    tern_error err{};
    REQUIRE(i.create(err) == TERN_OK);
    REQUIRE(i.v1 != nullptr);
    REQUIRE(i.v2 != nullptr);
    CHECK(static_cast<tern::payload_v1*>(i.v2) == i.v1);
    CHECK(sv(i.v1->name()) == "protobuf");
    CHECK(i.v1->content_format() == 42);
    CHECK(i.plugin->query(to_str("tern.other/1")) == nullptr);

    // ThingsBoard's default telemetry: temperature = 1 (double 21.5)
    const std::string body("\x09\x00\x00\x00\x00\x00\x80\x35\x40", 9);
    int records = 0;
    CHECK(i.v1->decode_telemetry(nullptr, bytes(body), 5,
                                 [](void* c, const tern_ts_record*, uint32_t n) { *static_cast<int*>(c) += n; },
                                 &records, &err) == TERN_OK);
    CHECK(records == 1);
    CHECK(i.v1->decode_telemetry(nullptr, bytes("\x0a\x05"), 5, [](void*, const tern_ts_record*, uint32_t) {},
                                 nullptr, &err) == TERN_INVALID_ARGUMENT);
    CHECK(std::string(err.msg, err.len) == "the body does not parse as telemetry.SensorDataReading");
    CHECK(i.host.metrics.value("protobuf_unparsable_total") == 1);

    one_option bad("attributes_schema", "syntax = \"proto3\";\nmessage M {\n  int32 a = 1;\n  reserved 2;\n}\n");
    CHECK(i.v2->check_profile(&bad.ctx, &err) == TERN_INVALID_ARGUMENT);
    CHECK(std::string(err.msg, err.len) == "attributes schema, line 4, column 3: reserved is not allowed");
    CHECK(i.host.metrics.value("protobuf_schema_refusals_total") == 1);
    one_option good("telemetry_schema", "syntax = \"proto3\";\nmessage M { int32 a = 1; }\n");
    CHECK(i.v2->check_profile(&good.ctx, &err) == TERN_OK);
    CHECK(i.host.metrics.value("protobuf_profile_compiles_total") == 2);
}

TEST_CASE("instance: the configuration reaches the adaptor, a bad one fails create()", "[plugin]") {
    {
        instance i;
        i.host.config.set("max_message_size", 4);
        i.host.config.set("max_schema_size", 20);
        tern_error err{};
        REQUIRE(i.create(err) == TERN_OK);
        CHECK(i.v1->decode_attributes(nullptr, bytes("12345"), [](void*, const tern_kv*, uint32_t) {}, nullptr,
                                      &err) == TERN_INVALID_ARGUMENT);
        CHECK(std::string(err.msg, err.len) == "the body is 5 bytes, more than max_message_size (4)");
        CHECK(i.host.metrics.value("protobuf_message_size_refused_total") == 1);
        one_option big("telemetry_schema", "syntax = \"proto3\"; message M {}");
        CHECK(i.v2->check_profile(&big.ctx, &err) == TERN_INVALID_ARGUMENT);
        CHECK(std::string(err.msg, err.len) == "telemetry schema: the text is 31 bytes, more than max_schema_size (20)");
    }
    {
        instance i;
        i.host.config.erase("max_depth");
        tern_error err{};
        CHECK(i.create(err) == TERN_CONFIG);
        CHECK(std::string(err.msg, err.len).find("max_depth") != std::string::npos);
        CHECK(i.plugin == nullptr);
    }
}

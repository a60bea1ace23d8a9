// The built libtern-efento.so as the kernel sees it: its descriptor and schema, an instance
// made by create() on the SDK's fake host, finding the engine and the core in the registry,
// registering its resources, answering time and storing a measurement; the refusals at
// create() and start() with their reasons.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>

#include "fakes.hpp"
#include "tern/abi/plugin.h"
#include "tern/sdk/core.hpp"

using namespace tern;
using namespace tern::efento::test;
namespace testing = tern::sdk::testing;

namespace {

const tern_plugin_descriptor& descriptor() {
    static const testing::plugin_library lib(TERN_EFENTO_PLUGIN_PATH);
    return lib.descriptor();
}

struct loaded {
    testing::fake_host host{descriptor(), "efento"};
    fake_engine engine;
    fake_core core;
    testing::instance_ptr plugin;

    void provide(bool with_core = true) {
        host.registry.provide<coap_engine_v1>("coap", &engine);
        if (!with_core) return;
        host.registry.provide<core_auth_v1>("core_embedded", &core);
        host.registry.provide<core_telemetry_v1>("core_embedded", &core);
        host.registry.provide<core_attributes_v1>("core_embedded", &core);
        host.registry.provide<core_sessions_v1>("core_embedded", &core);
        host.registry.provide<core_events_v1>("core_embedded", &core);
    }
    // Calls the handler of a registered pattern with a request on shard 0.
    std::string send(std::size_t resource, std::vector<std::string> path, std::string_view body, uint8_t method) {
        std::vector<tern_str> views;
        for (const std::string& s : path) views.push_back(sdk::to_str(s));
        tern_coap_request r{};
        r.struct_size = sizeof r;
        r.type = TERN_COAP_CON;
        r.code = method;
        r.exchange = 100 + engine.responses.size();
        r.observe = r.content_format = r.accept = -1;
        r.peer.endpoint.family = 4;
        r.peer.endpoint.addr[0] = 127;
        r.peer.endpoint.addr[3] = 1;
        r.peer.endpoint.port = 40000;
        r.transport = sdk::to_str("udp");
        r.path = views.data();
        r.path_count = static_cast<uint32_t>(views.size());
        r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
        host.reactor.on(0, [&] { engine.resources.at(resource).handler->on_request(&r); });
        return engine.responses.empty() ? std::string() : engine.responses.back().payload;
    }
};

}  // namespace

TEST_CASE("descriptor, requirements and schema", "[efento][plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    CHECK(d.magic == TERN_PLUGIN_MAGIC);
    CHECK(d.abi_major == TERN_ABI_MAJOR);
    CHECK(std::string(d.name) == "efento");
    CHECK(d.provides_count == 0);
    std::vector<std::string> req;
    for (uint32_t i = 0; i < d.requirement_count; ++i) req.emplace_back(d.requirements[i].iid);
    CHECK(req == std::vector<std::string>{TERN_IID_COAP_ENGINE_V1, TERN_IID_CORE_AUTH_V1, TERN_IID_CORE_TELEMETRY_V1,
                                          TERN_IID_CORE_ATTRIBUTES_V1, TERN_IID_CORE_SESSIONS_V1,
                                          TERN_IID_CORE_EVENTS_V1});
    std::map<std::string, const tern_config_key*> keys;
    for (uint32_t i = 0; i < d.config_count; ++i) keys[d.config[i].name] = &d.config[i];
    for (const char* k : {"engine", "core", "prefix", "measurements_path", "device_info_path", "configuration_path",
                          "time_path", "measurements_aliases", "device_info_aliases", "configuration_aliases",
                          "token_cache_size", "token_cache_ttl", "unknown_token_cache_size", "unknown_token_cache_ttl",
                          "source_rate", "source_burst", "source_table_size", "busy_max_age",
                          "max_values_per_message", "max_decoded_size", "type_cast_enabled"}) {
        INFO(k);
        REQUIRE(keys.count(k) == 1);
        CHECK(keys[k]->doc != nullptr);
    }
    CHECK(keys.size() == 21);
    CHECK(sdk::to_sv(keys["prefix"]->default_value.u.s) == "efento");
    CHECK(keys["max_values_per_message"]->default_value.u.i == 4096);
    CHECK(keys["max_decoded_size"]->default_value.u.i == 65536);
}

TEST_CASE("starts on the fake host, serves time and stores a measurement", "[efento][plugin]") {
    loaded l;
    l.provide();
    l.core.tokens["tok-1"] = fake_device{};
    l.plugin = testing::create(descriptor(), l.host);
    std::string why;
    REQUIRE(testing::start(*l.plugin, &why) == TERN_OK);
    CHECK(l.host.log.has("serving Efento sensors on /efento/{m,i,c,t} (aliases: /coap/measurements, "
                         "/coap/device-info, /coap/configuration)"));
    REQUIRE(l.engine.resources.size() == 4);

    const auto before = std::chrono::system_clock::now();
    const std::string t = l.send(0, {"efento", "t"}, {}, TERN_COAP_GET);
    REQUIRE(t.size() == 4);
    const auto* b = reinterpret_cast<const uint8_t*>(t.data());
    const int64_t secs = static_cast<int32_t>((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3]);
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count();
    CHECK(secs >= now);
    CHECK(secs <= now + 1);

    l.send(1, {"coap", "measurements"}, measurements("tok-1"), TERN_COAP_POST);
    REQUIRE(l.engine.responses.size() == 2);
    CHECK(l.engine.responses[1].code == TERN_COAP_CODE(2, 1));
    CHECK(l.core.telemetry_posts.size() == 1);
    CHECK(l.host.metrics.value("efento_messages_total", "kind=\"measurements\",outcome=\"stored\"") == 1);

    l.plugin->stop();
    CHECK(l.core.closed);
    for (const auto& r : l.engine.resources) CHECK(r.removed);
}

TEST_CASE("bad settings are refused at create() naming the key", "[efento][plugin]") {
    loaded l;
    l.provide();
    l.host.config.set("prefix", "a/b");
    tern_error err{};
    CHECK(testing::try_create(descriptor(), l.host, l.plugin, err) == TERN_CONFIG);
    CHECK(std::string(sdk::error_text(err)).find("'prefix'") != std::string::npos);

    loaded m;
    m.provide();
    m.host.config.set("time_path", "c");
    CHECK(testing::try_create(descriptor(), m.host, m.plugin, err) == TERN_CONFIG);
    CHECK(std::string(sdk::error_text(err)).find("'time_path'") != std::string::npos);
}

TEST_CASE("start() without the core names the missing interface", "[efento][plugin]") {
    loaded l;
    l.provide(false);
    l.plugin = testing::create(descriptor(), l.host);
    std::string why;
    CHECK(testing::start(*l.plugin, &why) == TERN_NOT_FOUND);
    CHECK(why.find(TERN_IID_CORE_AUTH_V1) != std::string::npos);
    CHECK(l.engine.resources.empty());
}

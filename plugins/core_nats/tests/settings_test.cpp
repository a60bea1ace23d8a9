// The configuration as create() sees it: names outside the subject-safe set, inverted reconnect
// delays and an empty server list are refused with a message naming the key; an empty node_id
// becomes the host name.
#include <catch2/catch.hpp>

#include <string>

#include "settings.hpp"
#include "tern/sdk/testing.hpp"

extern "C" const tern_plugin_descriptor* tern_plugin_entry(void);

namespace testing = tern::sdk::testing;

namespace {

// create()'s status and reason with one key changed.
template <class V>
std::pair<tern_status, std::string> create_with(const char* key, V value) {
    testing::fake_host h(*tern_plugin_entry(), "core_nats");
    h.config.set(key, value);
    testing::instance_ptr inst;
    tern_error err{};
    const tern_status s = testing::try_create(*tern_plugin_entry(), h, inst, err);
    return {s, std::string(tern::sdk::error_text(err))};
}

}  // namespace

TEST_CASE("settings: bad names and delays are refused at create() with the key named") {
    auto r = create_with("node_id", "edge.1");
    CHECK(r.first == TERN_CONFIG);
    CHECK(r.second.find("node_id 'edge.1'") != std::string::npos);
    r = create_with("subject_prefix", "a b");
    CHECK(r.first == TERN_CONFIG);
    CHECK(r.second.find("subject_prefix") != std::string::npos);
    r = create_with("reconnect_wait", 6000);
    CHECK(r.first == TERN_CONFIG);
    CHECK(r.second.find("reconnect_wait_max") != std::string::npos);
    CHECK(create_with("node_id", "edge-1_A").first == TERN_OK);
}

TEST_CASE("settings: an empty node_id is the host name up to its first dot, made subject-safe") {
    tern::core_nats::settings s = tern::core_nats::config_schema.defaults();
    REQUIRE(s.node_id.empty());
    tern::core_nats::resolve(s);
    CHECK(tern::core_nats::is_token(s.node_id, 64));
    CHECK(s.node_id.find('.') == std::string::npos);
    s.servers.clear();
    CHECK_THROWS_WITH(tern::core_nats::resolve(s), Catch::Contains("servers"));
}

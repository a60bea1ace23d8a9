// The built libtern-power.so as the kernel sees it: its descriptor and config schema, and an
// instance made by create() on the SDK's fake host (tern/sdk/testing.hpp): the policy it
// provides, its defaults from the configuration, and configurations it refuses.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "tern/abi/core_capabilities.h"
#include "tern/abi/plugin.h"
#include "tern/abi/power.h"
#include "tern/sdk/power.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_power.hpp"

namespace {

using tern::sdk::to_str;
namespace testing = tern::sdk::testing;

const tern_plugin_descriptor& descriptor() {
    static const testing::plugin_library lib(TERN_POWER_PLUGIN_PATH);
    return lib.descriptor();
}

// An instance on the SDK's fake host (its configuration: the descriptor's defaults, then what
// the test sets) and the policy it provides.
struct instance {
    testing::fake_host host{descriptor(), "power"};
    testing::instance_ptr plugin;
    tern::power_policy_v1* policy = nullptr;

    tern_status create(tern_error& err) {
        const tern_status s = testing::try_create(descriptor(), host, plugin, err);
        if (s == TERN_OK) policy = testing::query<tern::power_policy_v1>(*plugin);
        return s;
    }
    // The error create() gives, "" when it succeeds.
    std::string refusal() {
        tern_error err{};
        return create(err) == TERN_OK ? std::string() : std::string(err.msg, err.len);
    }
};

tern_power_settings settings_of(std::string_view mode) {
    tern_power_settings s{};
    s.struct_size = sizeof s;
    s.mode = to_str(mode);
    return s;
}

constexpr int64_t t0 = 1'700'000'000'000;

}  // namespace

TEST_CASE("the descriptor provides tern.power.policy/1 with a documented schema", "[plugin]") {
    const tern_plugin_descriptor& d = descriptor();
    CHECK(d.magic == TERN_PLUGIN_MAGIC);
    CHECK(d.header_size == sizeof(tern_plugin_descriptor));
    CHECK(d.abi_major == TERN_ABI_MAJOR);
    CHECK(d.abi_minor >= 2);  // the power interface is ABI 1.2
    CHECK(std::string(d.name) == "power");
    REQUIRE(d.provides_count == 1);
    CHECK(std::string(d.provides[0]) == TERN_IID_POWER_POLICY_V1);
    CHECK(d.requirement_count == 0);

    std::map<std::string, const tern_config_key*> keys;
    for (uint32_t i = 0; i < d.config_count; ++i) keys[d.config[i].name] = &d.config[i];
    REQUIRE(keys.size() == 3);
    const std::map<std::string, int64_t> defaults{
        {"psm_activity_timer", 10000}, {"paging_transmission_window", 10000}, {"edrx_cycle", 81000}};
    for (const auto& [name, value] : defaults) {
        INFO(name);
        REQUIRE(keys.count(name));
        const tern_config_key& k = *keys[name];
        CHECK(k.struct_size == sizeof(tern_config_key));
        CHECK(k.type == TERN_CONFIG_INT);
        CHECK(k.default_value.u.i == value);
        CHECK(std::string(k.unit) == "ms");
        CHECK((k.flags & TERN_CONFIG_HAS_MIN) != 0);
        CHECK((k.flags & TERN_CONFIG_HAS_MAX) != 0);
        CHECK(k.min == 1);
        CHECK(k.max == 86400000);
        REQUIRE(k.doc != nullptr);
        CHECK(std::strlen(k.doc) > 40);
    }
}

TEST_CASE("an instance provides the policy, which describes the three modes", "[plugin]") {
    instance i;
    tern_error err{};
    REQUIRE(i.create(err) == TERN_OK);
    REQUIRE(i.policy != nullptr);
    CHECK(i.plugin->query(to_str("tern.other/1")) == nullptr);
    CHECK(i.host.log.has("defaults: psm_activity_timer=10000 ms, paging_transmission_window=10000 ms, "
                         "edrx_cycle=81000 ms"));
    std::string reason;
    CHECK(testing::start(*i.plugin, &reason) == TERN_OK);

    uint32_t flags = 7;
    CHECK(i.policy->describe(to_str("DRX"), &flags));
    CHECK(flags == 0);
    CHECK(i.policy->describe(to_str("PSM"), &flags));
    CHECK(flags == TERN_POWER_MODE_SLEEPS);
    CHECK(i.policy->describe(to_str("E_DRX"), &flags));
    CHECK(flags == TERN_POWER_MODE_SLEEPS);
    CHECK_FALSE(i.policy->describe(to_str("e_drx"), &flags));

    // The default PSM timer, through the interface.
    const tern_power_settings psm = settings_of("PSM");
    tern_power_state st{};
    CHECK_FALSE(i.policy->on_event(&psm, &st, TERN_POWER_EVENT_UPLINK, t0));
    CHECK(st.wake_check_ms == t0 + 10000);
    CHECK(i.policy->may_send(&psm, &st, t0 + 10000) == TERN_POWER_SEND);
    CHECK(i.policy->may_send(&psm, &st, t0 + 10001) == TERN_POWER_HOLD);
    CHECK((st.flags & TERN_POWER_ASLEEP) != 0);
    CHECK(i.policy->on_event(&psm, &st, TERN_POWER_EVENT_UPLINK, t0 + 20000));
}

TEST_CASE("the manifest's timers are the defaults of devices that set none", "[plugin]") {
    instance i;
    i.host.config.set("psm_activity_timer", 3000);
    i.host.config.set("paging_transmission_window", 1500);
    i.host.config.set("edrx_cycle", 20480);
    tern_error err{};
    REQUIRE(i.create(err) == TERN_OK);
    CHECK(i.host.log.has("psm_activity_timer=3000 ms, paging_transmission_window=1500 ms, edrx_cycle=20480 ms"));

    const tern_power_settings psm = settings_of("PSM");
    tern_power_state a{};
    i.policy->on_event(&psm, &a, TERN_POWER_EVENT_UPLINK, t0);
    CHECK(a.wake_check_ms == t0 + 3000);

    tern_power_settings edrx = settings_of("E_DRX");
    tern_power_state b{};
    i.policy->on_event(&edrx, &b, TERN_POWER_EVENT_UPLINK, t0);
    CHECK(b.wake_check_ms == t0 + 1500);
    CHECK(i.policy->may_send(&edrx, &b, t0 + 1501) == TERN_POWER_SEND);
    CHECK(i.policy->may_send(&edrx, &b, t0 + 1502) == TERN_POWER_HOLD);

    edrx.paging_transmission_window_ms = 60000;  // the device's own window wins
    tern_power_state c{};
    i.policy->on_event(&edrx, &c, TERN_POWER_EVENT_UPLINK, t0);
    CHECK(c.wake_check_ms == t0 + 60000);
}

TEST_CASE("a configuration out of range or without a key fails create() naming the key", "[plugin]") {
    SECTION("0 ms") {
        instance i;
        i.host.config.set("psm_activity_timer", 0);
        CHECK(i.refusal() == "psm_activity_timer is 0 ms; it must be between 1 and 86400000 ms");
        CHECK(i.plugin == nullptr);
    }
    SECTION("more than a day") {
        instance i;
        i.host.config.set("paging_transmission_window", 86400001);
        CHECK(i.refusal() == "paging_transmission_window is 86400001 ms; it must be between 1 and 86400000 ms");
    }
    SECTION("negative") {
        instance i;
        i.host.config.set("edrx_cycle", -1);
        CHECK(i.refusal() == "edrx_cycle is -1 ms; it must be between 1 and 86400000 ms");
    }
    SECTION("a key of the wrong type") {
        instance i;
        i.host.config.set("edrx_cycle", "81s");
        CHECK(i.refusal().find("edrx_cycle") != std::string::npos);
    }
    SECTION("a key missing") {
        instance i;
        i.host.config.erase("psm_activity_timer");
        CHECK(i.refusal().find("psm_activity_timer") != std::string::npos);
        CHECK(i.plugin == nullptr);
    }
}

TEST_CASE("the device API's catalog finds the policy by a device's mode, and a vendor's listed first wins", "[plugin]") {
    instance i;
    tern_error err{};
    REQUIRE(i.create(err) == TERN_OK);

    // A profile's options as a core hands them over: the mode and its own PSM timer.
    const tern_kv options[] = {
        {to_str(TERN_OPTION_POWER_MODE), tern_value{.type = TERN_VALUE_STR, .reserved = 0, .u = {.s = to_str("PSM")}}},
        {to_str(TERN_OPTION_PSM_ACTIVITY_TIMER_MS), tern_value{.type = TERN_VALUE_INT, .reserved = 0, .u = {.i = 2500}}},
    };
    const tern_power_settings s = tern::sdk::power_settings_of(options, 2);

    SECTION("the power plugin alone decides DRX, PSM and E_DRX") {
        testing::fake_registry registry;
        registry.provide<tern::power_policy_v1>("power", i.policy);
        const tern::sdk::power_catalog catalog(registry);
        const tern::sdk::power_policy_ref psm = catalog.find(s.mode);
        REQUIRE(psm.policy == i.policy);
        CHECK(psm.sleeps());
        CHECK(catalog.find(std::string_view("E_DRX")).sleeps());
        CHECK(catalog.find(std::string_view("DRX")).policy == i.policy);
        CHECK_FALSE(catalog.find(std::string_view("DRX")).sleeps());
        CHECK_FALSE(catalog.find(std::string_view("LORA_CLASS_A")));

        tern_power_state st{};
        psm.policy->on_event(&s, &st, TERN_POWER_EVENT_UPLINK, t0);
        CHECK(st.wake_check_ms == t0 + 2500);  // the profile's timer, not the default
        CHECK(psm.policy->may_send(&s, &st, t0 + 2500) == TERN_POWER_SEND);
        CHECK(psm.policy->may_send(&s, &st, t0 + 2501) == TERN_POWER_HOLD);
    }
    SECTION("a vendor's policy listed before it takes PSM over; the rest stays with power") {
        testing::fake_power_policy vendor({{"PSM", TERN_POWER_MODE_SLEEPS}, {"LORA_CLASS_A", TERN_POWER_MODE_SLEEPS}});
        testing::fake_registry registry;
        vendor.publish(registry, "acme_power");
        registry.provide<tern::power_policy_v1>("power", i.policy);
        const tern::sdk::power_catalog catalog(registry);
        CHECK(catalog.find(s.mode).policy == &vendor);
        CHECK(catalog.find(std::string_view("LORA_CLASS_A")).policy == &vendor);
        CHECK(catalog.find(std::string_view("E_DRX")).policy == i.policy);
        CHECK(catalog.find(std::string_view("DRX")).policy == i.policy);
    }
}

// tern/sdk/power.hpp: a device's power settings read from its options and the catalog of the
// policies running, on the fake host's registry with the SDK's fake policy
// (testing_power.hpp), which a transport's tests use too.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tern/sdk/power.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_power.hpp"

namespace testing = tern::sdk::testing;
using tern::sdk::power_catalog;
using tern::sdk::power_settings_of;
using tern::sdk::to_sv;

namespace {

tern_kv text_kv(const char* key, const char* text) {
    tern_kv kv{};
    kv.key = tern::sdk::to_str(key);
    kv.value.type = TERN_VALUE_STR;
    kv.value.u.s = tern::sdk::to_str(text);
    return kv;
}

tern_kv int_kv(const char* key, int64_t v) {
    tern_kv kv{};
    kv.key = tern::sdk::to_str(key);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = v;
    return kv;
}

}  // namespace

TEST_CASE("power.policy/1 is bound to its id", "[sdk][power]") {
    STATIC_REQUIRE(tern::sdk::iid_v<tern::power_policy_v1> == "tern.power.policy/1");
}

TEST_CASE("power settings: the first occurrence of each key decides, absent reads as not set", "[sdk][power]") {
    // The device's own values first, then its profile's (as a core puts them).
    const std::vector<tern_kv> opts{
        text_kv(TERN_OPTION_POWER_MODE, "PSM"),
        int_kv(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, 10000),
        text_kv("profile.name", "meters"),
        text_kv(TERN_OPTION_POWER_MODE, "E_DRX"),
        int_kv(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, 20000),
        int_kv(TERN_OPTION_EDRX_CYCLE_MS, 81920),
        int_kv(TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS, 2560),
    };
    const tern_power_settings s = power_settings_of(opts.data(), static_cast<uint32_t>(opts.size()));
    CHECK(s.struct_size == sizeof(tern_power_settings));
    CHECK(to_sv(s.mode) == "PSM");
    CHECK(s.psm_activity_timer_ms == 10000);
    CHECK(s.edrx_cycle_ms == 81920);
    CHECK(s.paging_transmission_window_ms == 2560);
    CHECK(s.options == opts.data());
    CHECK(s.option_count == opts.size());
    CHECK(s.reserved == 0);
    CHECK(s.reserved2 == 0);

    const tern_power_settings none = power_settings_of(nullptr, 0);
    CHECK(none.mode.size == 0);
    CHECK(none.psm_activity_timer_ms == 0);
    CHECK(none.options == nullptr);
    CHECK(none.option_count == 0);
    CHECK(power_settings_of(nullptr, 3).option_count == 0);  // a null array is empty, whatever the count
}

TEST_CASE("power settings: a value of another type or a timer not above 0 is not set", "[sdk][power]") {
    // The first occurrence decides even when it is unusable: a later key is not a fallback.
    const std::vector<tern_kv> opts{
        int_kv(TERN_OPTION_POWER_MODE, 2),
        text_kv(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, "10000"),
        int_kv(TERN_OPTION_EDRX_CYCLE_MS, -5),
        int_kv(TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS, 0),
        text_kv(TERN_OPTION_POWER_MODE, "PSM"),
        int_kv(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, 10000),
    };
    const tern_power_settings s = power_settings_of(opts.data(), static_cast<uint32_t>(opts.size()));
    CHECK(s.mode.size == 0);
    CHECK(s.psm_activity_timer_ms == 0);
    CHECK(s.edrx_cycle_ms == 0);
    CHECK(s.paging_transmission_window_ms == 0);
}

TEST_CASE("the power catalog: the first policy accepting a mode decides it", "[sdk][power]") {
    testing::fake_host h;
    testing::fake_power_policy nb({{"PSM", TERN_POWER_MODE_SLEEPS}, {"E_DRX", TERN_POWER_MODE_SLEEPS}, {"DRX", 0}});
    testing::fake_power_policy vendor({{"CLASS_B", TERN_POWER_MODE_SLEEPS}, {"PSM", 0}});
    nb.publish(h.registry, "power");
    vendor.publish(h.registry, "acme_power");

    const power_catalog c(h.registry);
    REQUIRE(c.entries().size() == 2);
    CHECK(c.entries()[0].instance == "power");
    CHECK(c.entries()[1].policy == &vendor);
    CHECK(c.find("PSM").policy == &nb);  // manifest order: nb first
    CHECK(c.find("PSM").flags == TERN_POWER_MODE_SLEEPS);
    CHECK(c.find("CLASS_B").policy == &vendor);
    CHECK(c.sleeps("CLASS_B"));
    CHECK(c.find("DRX"));
    CHECK_FALSE(c.sleeps("DRX"));
    CHECK_FALSE(c.find("psm"));  // names are exact
    CHECK_FALSE(c.find(""));
    CHECK_FALSE(c.sleeps(tern_str{}));
    CHECK(c.find("LORA").policy == nullptr);
    CHECK(c.find("LORA").flags == 0);

    const power_catalog none;  // built from no registry: no policy decides anything
    CHECK(none.empty());
    CHECK_FALSE(none.find("PSM"));
}

TEST_CASE("the fake policy: a simple sleeper, a verdict the test sets, every call recorded", "[sdk][power]") {
    testing::fake_power_policy p({{"PSM", TERN_POWER_MODE_SLEEPS}});
    const std::vector<tern_kv> opts{text_kv(TERN_OPTION_POWER_MODE, "PSM"),
                                    int_kv(TERN_OPTION_PSM_ACTIVITY_TIMER_MS, 5000)};
    const tern_power_settings s = power_settings_of(opts.data(), 2);
    tern_power_state st{};

    CHECK(p.may_send(&s, &st, 10) == TERN_POWER_SEND);
    CHECK_FALSE(p.on_event(&s, &st, TERN_POWER_EVENT_UNREACHABLE, 20));
    CHECK((st.flags & TERN_POWER_ASLEEP) != 0);
    CHECK(p.may_send(&s, &st, 30) == TERN_POWER_HOLD);
    CHECK(p.on_event(&s, &st, TERN_POWER_EVENT_UPLINK, 40));  // woke
    CHECK(st.last_activity_ms == 40);
    CHECK_FALSE(p.on_event(&s, &st, TERN_POWER_EVENT_ACK, 50));  // was awake
    p.set_verdict(TERN_POWER_HOLD);
    CHECK(p.may_send(&s, &st, 60) == TERN_POWER_HOLD);

    const std::vector<testing::power_call> calls = p.calls();
    REQUIRE(calls.size() == 6);
    CHECK(calls[0].kind == testing::power_call::may_send);
    CHECK(calls[0].mode == "PSM");
    CHECK(calls[0].psm_activity_timer_ms == 5000);
    CHECK(calls[0].option_count == 2);
    CHECK(calls[1].event == TERN_POWER_EVENT_UNREACHABLE);
    CHECK(calls[1].before.flags == 0);
    CHECK(calls[1].after.flags == TERN_POWER_ASLEEP);
    CHECK(calls[3].woke);
    CHECK(p.count(TERN_POWER_EVENT_UPLINK) == 1);
    CHECK(p.count_may_send() == 3);
    CHECK(p.count_may_send(TERN_POWER_HOLD) == 2);

    p.on_event_do = [](const tern_power_settings&, tern_power_state& state, tern_power_event, int64_t now) {
        state.wake_check_ms = now + 1000;
        return true;
    };
    CHECK(p.on_event(&s, &st, TERN_POWER_EVENT_TIMER, 70));
    CHECK(st.wake_check_ms == 1070);
    p.clear_calls();
    CHECK(p.calls().empty());
}

TEST_CASE("the forwarding policy passes every call through, overriding only what a test changes",
          "[sdk][power]") {
    testing::fake_power_policy real({{"PSM", TERN_POWER_MODE_SLEEPS}});
    struct never_wakes final : testing::forwarding_power_policy {
        using forwarding_power_policy::forwarding_power_policy;
        bool on_event(const tern_power_settings* s, tern_power_state* st, tern_power_event e,
                      int64_t now) noexcept override {
            forwarding_power_policy::on_event(s, st, e, now);
            return false;
        }
    } p(real);
    testing::fake_host h;
    p.publish(h.registry, "power");
    const power_catalog c(h.registry);
    REQUIRE(c.find("PSM").policy == &p);
    CHECK(c.sleeps("PSM"));

    const tern_power_settings s = power_settings_of(nullptr, 0);
    tern_power_state st{};
    st.flags = TERN_POWER_ASLEEP;
    CHECK(p.may_send(&s, &st, 1) == TERN_POWER_HOLD);
    CHECK_FALSE(p.on_event(&s, &st, TERN_POWER_EVENT_UPLINK, 2));
    CHECK(st.flags == 0);  // the real one woke it
    CHECK(real.calls().size() == 2);
}

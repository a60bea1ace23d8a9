// The three modes' rules, called directly with hand-written wall times (ms): the window's
// edges, the sleep timer, unreachable devices, what on_event's return says, eDRX's single
// downlink, and where each timer comes from (the device's settings, else the defaults).
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "policy.hpp"
#include "settings.hpp"
#include "tern/sdk/testing_alloc.hpp"
#include "tern/sdk/views.hpp"

namespace {

using tern::power::policy;
using tern::power::settings;

constexpr int64_t t0 = 1'700'000'000'000;  // a wall time in ms (November 2023)

// One device as the transport keeps it: its settings (mode and its own timers) and its state.
struct device {
    tern_power_settings s{};
    tern_power_state st{};

    explicit device(std::string_view mode, int64_t psm = 0, int64_t window = 0, int64_t cycle = 0) {
        s.struct_size = sizeof s;
        s.mode = tern::sdk::to_str(mode);
        s.psm_activity_timer_ms = psm;
        s.paging_transmission_window_ms = window;
        s.edrx_cycle_ms = cycle;
    }
    bool asleep() const { return (st.flags & TERN_POWER_ASLEEP) != 0; }
    bool on(policy& p, tern_power_event e, int64_t now) { return p.on_event(&s, &st, e, now); }
    bool uplink(policy& p, int64_t now) { return on(p, TERN_POWER_EVENT_UPLINK, now); }
    bool sends(policy& p, int64_t now) { return p.may_send(&s, &st, now) == TERN_POWER_SEND; }
};

policy defaults_policy() { return policy(settings{}); }

}  // namespace

TEST_CASE("describe() knows DRX, PSM and E_DRX by their exact names", "[power]") {
    policy p = defaults_policy();
    const auto flags_of = [&](std::string_view name) -> int64_t {
        uint32_t f = 0xdead;
        return p.describe(tern::sdk::to_str(name), &f) ? static_cast<int64_t>(f) : -1;
    };
    CHECK(flags_of("DRX") == 0);
    CHECK(flags_of("PSM") == TERN_POWER_MODE_SLEEPS);
    CHECK(flags_of("E_DRX") == TERN_POWER_MODE_SLEEPS);
    CHECK(flags_of("psm") == -1);
    CHECK(flags_of("EDRX") == -1);
    CHECK(flags_of("PSM ") == -1);
    CHECK(flags_of("") == -1);
    CHECK(flags_of("LORA_CLASS_A") == -1);
    CHECK(p.describe(tern::sdk::to_str("PSM"), nullptr));
    CHECK_FALSE(p.describe(tern_str{nullptr, 0}, nullptr));
    CHECK_FALSE(p.describe(tern_str{nullptr, 3}, nullptr));
}

TEST_CASE("DRX records activity and always sends, with no timer and no sleep", "[power]") {
    policy p = defaults_policy();
    device d("DRX");
    CHECK(d.sends(p, t0));  // never seen: still reachable
    CHECK_FALSE(d.uplink(p, t0));
    CHECK(d.st.last_activity_ms == t0);
    CHECK(d.st.wake_check_ms == 0);
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_ACK, t0 + 5));
    CHECK(d.st.last_activity_ms == t0 + 5);
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_UNREACHABLE, t0 + 100'000));
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 100'000));
    CHECK_FALSE(d.asleep());
    CHECK(d.st.last_activity_ms == t0 + 5);
    CHECK(d.sends(p, t0 + 10));
    CHECK(d.sends(p, t0 + 86'400'000));
    CHECK(d.st.flags == 0);
}

TEST_CASE("a device switched to DRX while asleep wakes at its next event", "[power]") {
    policy p = defaults_policy();
    device d("DRX");
    d.st.flags = TERN_POWER_ASLEEP | tern::power::edrx_downlink_sent;  // left by PSM or eDRX
    d.st.wake_check_ms = t0 + 10'000;
    CHECK(d.sends(p, t0));
    CHECK(d.uplink(p, t0));
    CHECK(d.st.flags == 0);
    CHECK(d.st.wake_check_ms == 0);
    CHECK_FALSE(d.uplink(p, t0 + 1));
}

TEST_CASE("PSM sends up to exactly T after the last activity and holds from T+1", "[power]") {
    policy p = defaults_policy();  // T = 10 000 ms
    device d("PSM");
    CHECK_FALSE(d.uplink(p, t0));
    CHECK(d.st.last_activity_ms == t0);
    CHECK(d.st.wake_check_ms == t0 + 10'000);
    CHECK_FALSE(d.asleep());
    CHECK(d.sends(p, t0));
    CHECK(d.sends(p, t0 + 9'999));
    CHECK(d.sends(p, t0 + 10'000));
    CHECK_FALSE(d.asleep());
    CHECK_FALSE(d.sends(p, t0 + 10'001));
    CHECK(d.asleep());  // the window passed before its timer: counted asleep now
    CHECK(d.st.wake_check_ms == 0);
    CHECK_FALSE(d.sends(p, t0 + 10'000));  // asleep: held even at the edge
    CHECK(d.uplink(p, t0 + 50'000));       // woke
    CHECK(d.sends(p, t0 + 60'000));
    CHECK_FALSE(d.sends(p, t0 + 60'001));
}

TEST_CASE("PSM's timer puts the device to sleep only once T passed since its last activity", "[power]") {
    policy p = defaults_policy();
    device d("PSM");
    d.uplink(p, t0);
    SECTION("the timer at T: asleep, no further timer") {
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 10'000));
        CHECK(d.asleep());
        CHECK(d.st.wake_check_ms == 0);
        CHECK_FALSE(d.sends(p, t0 + 10'000));
        CHECK(d.st.last_activity_ms == t0);
    }
    SECTION("the timer early (before T): still awake, the timer again at T") {
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 9'999));
        CHECK_FALSE(d.asleep());
        CHECK(d.st.wake_check_ms == t0 + 10'000);
    }
    SECTION("an uplink since the timer was set: the timer moves to the new window's end") {
        CHECK_FALSE(d.uplink(p, t0 + 4'000));
        CHECK(d.st.wake_check_ms == t0 + 14'000);
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 10'000));  // the old timer firing
        CHECK_FALSE(d.asleep());
        CHECK(d.st.wake_check_ms == t0 + 14'000);
        CHECK(d.sends(p, t0 + 14'000));
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 14'000));
        CHECK(d.asleep());
    }
    SECTION("an acknowledged notification opens a new window as an uplink does") {
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_ACK, t0 + 8'000));
        CHECK(d.st.last_activity_ms == t0 + 8'000);
        CHECK(d.st.wake_check_ms == t0 + 18'000);
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 10'000));
        CHECK_FALSE(d.asleep());
        CHECK(d.sends(p, t0 + 18'000));
        CHECK_FALSE(d.sends(p, t0 + 18'001));
    }
}

TEST_CASE("PSM: an unanswered notification puts the device to sleep inside its window", "[power]") {
    policy p = defaults_policy();
    device d("PSM");
    d.uplink(p, t0);
    CHECK(d.sends(p, t0 + 1'000));
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_UNREACHABLE, t0 + 3'000));
    CHECK(d.asleep());
    CHECK(d.st.wake_check_ms == 0);
    CHECK(d.st.last_activity_ms == t0);
    CHECK_FALSE(d.sends(p, t0 + 3'001));  // inside the window, but asleep
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_UNREACHABLE, t0 + 4'000));  // again: nothing new
    CHECK(d.uplink(p, t0 + 20'000));
    CHECK_FALSE(d.asleep());
    CHECK(d.sends(p, t0 + 20'000));
}

TEST_CASE("on_event returns true only for the event that wakes a sleeping device", "[power]") {
    policy p = defaults_policy();
    for (const char* mode : {"PSM", "E_DRX"}) {
        INFO(mode);
        device d(mode);
        CHECK_FALSE(d.uplink(p, t0));  // a device never seen is not asleep
        CHECK_FALSE(d.uplink(p, t0 + 1));
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 20'000));
        CHECK(d.asleep());
        CHECK(d.uplink(p, t0 + 30'000));
        CHECK_FALSE(d.uplink(p, t0 + 30'001));
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_UNREACHABLE, t0 + 30'002));
        CHECK(d.on(p, TERN_POWER_EVENT_ACK, t0 + 30'003));  // an ACK after all: awake again
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_ACK, t0 + 30'004));
        CHECK_FALSE(d.on(p, static_cast<tern_power_event>(99), t0 + 30'005));  // a later ABI's event
        CHECK_FALSE(d.asleep());
    }
}

TEST_CASE("PSM holds downlinks for a device with no activity yet", "[power]") {
    policy p = defaults_policy();
    device d("PSM");
    CHECK_FALSE(d.sends(p, t0));
    CHECK(d.asleep());
    CHECK(d.uplink(p, t0 + 1));
    CHECK(d.sends(p, t0 + 1));
}

TEST_CASE("E_DRX lets exactly one downlink through outside its window", "[power]") {
    policy p = defaults_policy();  // paging_transmission_window 10 000 ms
    device d("E_DRX");
    d.uplink(p, t0);
    CHECK(d.st.wake_check_ms == t0 + 10'000);
    for (int i = 0; i < 5; ++i) CHECK(d.sends(p, t0 + 10'000));  // inside: every one
    CHECK((d.st.flags & tern::power::edrx_downlink_sent) == 0);

    CHECK(d.sends(p, t0 + 10'001));  // the first after the window
    CHECK(d.asleep());
    CHECK((d.st.flags & tern::power::edrx_downlink_sent) != 0);
    CHECK(tern::power::edrx_downlink_sent >= (1u << 16));  // a bit of the policy's own
    CHECK_FALSE(d.sends(p, t0 + 10'002));
    CHECK_FALSE(d.sends(p, t0 + 60'000));
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, t0 + 60'000));
    CHECK_FALSE(d.sends(p, t0 + 60'001));

    SECTION("an uplink opens a new window and a new single downlink") {
        CHECK(d.uplink(p, t0 + 100'000));
        CHECK(d.st.flags == 0);
        CHECK(d.sends(p, t0 + 110'000));
        CHECK(d.sends(p, t0 + 110'001));
        CHECK_FALSE(d.sends(p, t0 + 110'002));
    }
    SECTION("an acknowledged notification does the same: the device showed it is awake") {
        CHECK(d.on(p, TERN_POWER_EVENT_ACK, t0 + 60'500));
        CHECK(d.st.flags == 0);
        CHECK(d.st.wake_check_ms == t0 + 70'500);
        CHECK(d.sends(p, t0 + 70'500));
        CHECK(d.sends(p, t0 + 70'501));
        CHECK_FALSE(d.sends(p, t0 + 70'502));
    }
}

TEST_CASE("E_DRX asleep by its timer or an unanswered notification still gets its one downlink", "[power]") {
    policy p = defaults_policy();
    SECTION("asleep by the timer, the downlink comes later") {
        device d("E_DRX");
        d.uplink(p, t0);
        d.on(p, TERN_POWER_EVENT_TIMER, t0 + 10'000);
        REQUIRE(d.asleep());
        CHECK(d.sends(p, t0 + 10'000));
        CHECK_FALSE(d.sends(p, t0 + 10'000));
    }
    SECTION("unreachable inside the window") {
        device d("E_DRX");
        d.uplink(p, t0);
        CHECK(d.sends(p, t0 + 100));
        d.on(p, TERN_POWER_EVENT_UNREACHABLE, t0 + 2'000);
        REQUIRE(d.asleep());
        CHECK(d.sends(p, t0 + 2'001));
        CHECK_FALSE(d.sends(p, t0 + 2'002));
    }
    SECTION("never seen: the first downlink goes, as for a device whose window is long past") {
        device d("E_DRX");
        CHECK(d.sends(p, t0));
        CHECK(d.asleep());
        CHECK_FALSE(d.sends(p, t0));
    }
}

TEST_CASE("each timer is the device's own when above 0, else the plugin's default", "[power]") {
    settings defaults;
    defaults.psm_activity_timer_ms = 20'000;
    defaults.paging_transmission_window_ms = 5'000;
    defaults.edrx_cycle_ms = 40'000;
    policy p(defaults);

    SECTION("0 and negative timers: the defaults") {
        for (const int64_t unset : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
            INFO(unset);
            device psm("PSM", unset, unset, unset);
            device edrx("E_DRX", unset, unset, unset);
            CHECK(p.window_ms(tern::power::mode::psm, &psm.s) == 20'000);
            CHECK(p.window_ms(tern::power::mode::edrx, &edrx.s) == 5'000);
            psm.uplink(p, t0);
            CHECK(psm.st.wake_check_ms == t0 + 20'000);
            CHECK(psm.sends(p, t0 + 20'000));
            CHECK_FALSE(psm.sends(p, t0 + 20'001));
            edrx.uplink(p, t0);
            CHECK(edrx.st.wake_check_ms == t0 + 5'000);
        }
    }
    SECTION("the device's values override, each separately") {
        device psm("PSM", 3'000, 60'000);
        psm.uplink(p, t0);
        CHECK(psm.st.wake_check_ms == t0 + 3'000);  // PSM uses the activity timer only
        CHECK(psm.sends(p, t0 + 3'000));
        CHECK_FALSE(psm.sends(p, t0 + 3'001));

        device edrx("E_DRX", 60'000, 7'000, 1);
        edrx.uplink(p, t0);
        CHECK(edrx.st.wake_check_ms == t0 + 7'000);  // eDRX uses the paging window only
        CHECK(edrx.sends(p, t0 + 7'000));
        CHECK(edrx.sends(p, t0 + 7'001));  // its single one
        CHECK_FALSE(edrx.sends(p, t0 + 7'002));

        device edrx_default("E_DRX", 60'000, 0);  // its window unset: the default, not the PSM timer
        edrx_default.uplink(p, t0);
        CHECK(edrx_default.st.wake_check_ms == t0 + 5'000);
    }
    SECTION("the eDRX cycle decides nothing") {
        device a("E_DRX", 0, 0, 1);
        device b("E_DRX", 0, 0, 86'400'000);
        for (device* d : {&a, &b}) {
            d->uplink(p, t0);
            CHECK(d->sends(p, t0 + 5'000));
            CHECK(d->sends(p, t0 + 5'001));
            CHECK_FALSE(d->sends(p, t0 + 5'002));
        }
    }
    SECTION("DRX has no window") {
        device d("DRX", 1, 1, 1);
        CHECK(p.window_ms(tern::power::mode::drx, &d.s) == 0);
        d.uplink(p, t0);
        CHECK(d.sends(p, t0 + 100'000));
    }
}

TEST_CASE("a huge timer of a device does not overflow", "[power]") {
    policy p = defaults_policy();
    constexpr int64_t max = std::numeric_limits<int64_t>::max();
    device d("PSM", max);
    d.uplink(p, t0);
    CHECK(d.st.wake_check_ms == max);
    CHECK(d.sends(p, max));
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, max - 1));
    CHECK_FALSE(d.asleep());
    CHECK_FALSE(d.on(p, TERN_POWER_EVENT_TIMER, max));
    CHECK(d.asleep());
}

TEST_CASE("unknown modes, short or missing settings and a missing state are safe", "[power]") {
    policy p = defaults_policy();
    SECTION("a mode the policy does not decide behaves as DRX") {
        device d("LORA_CLASS_A");
        CHECK(d.sends(p, t0));
        CHECK_FALSE(d.uplink(p, t0));
        CHECK_FALSE(d.on(p, TERN_POWER_EVENT_UNREACHABLE, t0 + 1));
        CHECK_FALSE(d.asleep());
    }
    SECTION("a settings struct from before the mode field reads as no mode") {
        device d("PSM");
        d.s.struct_size = 8;
        CHECK(d.sends(p, t0));
        d.s.struct_size = sizeof d.s;
        CHECK_FALSE(d.sends(p, t0));
    }
    SECTION("a settings struct ending before the timers uses the defaults") {
        device d("PSM", 1'000);
        d.s.struct_size = offsetof(tern_power_settings, psm_activity_timer_ms);
        CHECK(p.window_ms(tern::power::mode::psm, &d.s) == 10'000);
        d.s.struct_size = sizeof d.s;
        CHECK(p.window_ms(tern::power::mode::psm, &d.s) == 1'000);
    }
    SECTION("no settings: DRX; no state: nothing changes, sleepers hold") {
        tern_power_state st{};
        CHECK(p.may_send(nullptr, &st, t0) == TERN_POWER_SEND);
        CHECK_FALSE(p.on_event(nullptr, &st, TERN_POWER_EVENT_UPLINK, t0));
        CHECK(st.last_activity_ms == t0);
        device d("PSM");
        CHECK_FALSE(p.on_event(&d.s, nullptr, TERN_POWER_EVENT_UPLINK, t0));
        CHECK(p.may_send(&d.s, nullptr, t0) == TERN_POWER_HOLD);
        device drx("DRX");
        CHECK(p.may_send(&drx.s, nullptr, t0) == TERN_POWER_SEND);
    }
}

TEST_CASE("one policy object serves many devices: everything per device is in its state", "[power]") {
    policy p = defaults_policy();
    device a("PSM"), b("PSM"), c("E_DRX");
    a.uplink(p, t0);
    b.uplink(p, t0 + 8'000);
    c.uplink(p, t0);
    CHECK_FALSE(a.sends(p, t0 + 12'000));
    CHECK(b.sends(p, t0 + 12'000));
    CHECK(c.sends(p, t0 + 12'000));
    CHECK_FALSE(c.sends(p, t0 + 12'000));
    CHECK(a.asleep());
    CHECK_FALSE(b.asleep());
    CHECK(b.st.policy_word == 0);
    CHECK(b.st.policy_data == 0);
}

TEST_CASE("the calls allocate nothing and take no lock", "[power]") {
    policy p = defaults_policy();
    device psm("PSM", 0), edrx("E_DRX", 0, 2'000), drx("DRX");
    long sent = 0;
    tern::sdk::testing::alloc_counter counter;
    for (int64_t i = 0; i < 10'000; ++i) {
        const int64_t now = t0 + i * 1'000;
        for (device* d : {&psm, &edrx, &drx}) {
            if (i % 7 == 0) d->uplink(p, now);
            if (i % 11 == 0) d->on(p, TERN_POWER_EVENT_UNREACHABLE, now);
            if (d->st.wake_check_ms != 0 && d->st.wake_check_ms <= now) d->on(p, TERN_POWER_EVENT_TIMER, now);
            sent += d->sends(p, now) ? 1 : 0;
        }
    }
    const auto counts = counter.stop();
    CHECK(counts.allocations == 0);
    CHECK(counts.locks == 0);
    CHECK(sent > 10'000);
}

TEST_CASE("settings check() names the key out of range", "[power]") {
    CHECK(settings{}.check().empty());
    settings s;
    s.psm_activity_timer_ms = 0;
    CHECK(s.check() == "psm_activity_timer is 0 ms; it must be between 1 and 86400000 ms");
    s = settings{};
    s.paging_transmission_window_ms = 86'400'001;
    CHECK(s.check() == "paging_transmission_window is 86400001 ms; it must be between 1 and 86400000 ms");
    s = settings{};
    s.edrx_cycle_ms = -5;
    CHECK(s.check() == "edrx_cycle is -5 ms; it must be between 1 and 86400000 ms");
    const settings d = tern::power::settings_schema.defaults();
    CHECK(d.psm_activity_timer_ms == 10'000);
    CHECK(d.paging_transmission_window_ms == 10'000);
    CHECK(d.edrx_cycle_ms == 81'000);
}

// The decisions of the three modes (policy.hpp says what each does). Every function reads and
// writes only the state record it is given: nothing here allocates, locks or reads a clock.
#include "policy.hpp"

#include <cstddef>
#include <limits>

namespace tern::power {

namespace {

// tern_power_settings is growable: a field the caller's struct_size does not cover reads as
// not set.
template <class M>
bool covers(const tern_power_settings* s, std::size_t offset) noexcept {
    return s != nullptr && s->struct_size >= offset + sizeof(M);
}

mode mode_of(const tern_power_settings* s) noexcept {
    if (!covers<tern_str>(s, offsetof(tern_power_settings, mode))) return mode::none;
    if (s->mode.data == nullptr) return mode::none;
    return mode_named(std::string_view(s->mode.data, s->mode.size));
}

// a + b for b >= 0, at most the largest int64_t (a device's timer may be huge).
int64_t add_ms(int64_t a, int64_t b) noexcept {
    return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

// Whether now lies in the window of T ms that opened at the last activity (exactly T after
// it still does). Never true without any activity.
bool in_window(const tern_power_state& st, int64_t window, int64_t now) noexcept {
    return st.last_activity_ms != 0 && now <= add_ms(st.last_activity_ms, window);
}

void fall_asleep(tern_power_state& st) noexcept {
    st.flags |= TERN_POWER_ASLEEP;
    st.wake_check_ms = 0;
}

// DRX (and a mode this policy does not decide): activity is recorded, nothing else. A state
// left asleep by an earlier sleeping mode wakes at the next event, so what was held goes.
bool drx_event(tern_power_state& st, tern_power_event event, int64_t now) noexcept {
    const bool was_asleep = (st.flags & TERN_POWER_ASLEEP) != 0;
    if (event == TERN_POWER_EVENT_UPLINK || event == TERN_POWER_EVENT_ACK) st.last_activity_ms = now;
    st.flags &= ~(TERN_POWER_ASLEEP | edrx_downlink_sent);
    st.wake_check_ms = 0;
    return was_asleep;
}

// PSM and E_DRX: an uplink or an acknowledged notification opens a window of T ms (and, for
// eDRX, a new single downlink); the timer at its end, or a notification never acknowledged,
// puts the device to sleep.
bool sleeper_event(tern_power_state& st, tern_power_event event, int64_t window, int64_t now) noexcept {
    switch (event) {
        case TERN_POWER_EVENT_UPLINK:
        case TERN_POWER_EVENT_ACK: {
            const bool was_asleep = (st.flags & TERN_POWER_ASLEEP) != 0;
            st.last_activity_ms = now;
            st.wake_check_ms = add_ms(now, window);
            st.flags &= ~(TERN_POWER_ASLEEP | edrx_downlink_sent);
            return was_asleep;
        }
        case TERN_POWER_EVENT_TIMER: {
            const int64_t end = add_ms(st.last_activity_ms, window);
            if (now >= end) fall_asleep(st);
            else st.wake_check_ms = end;  // the device talked since the timer was set
            return false;
        }
        case TERN_POWER_EVENT_UNREACHABLE:
            fall_asleep(st);
            return false;
        default:
            return false;  // an event of a later ABI: nothing changes
    }
}

}  // namespace

mode mode_named(std::string_view name) noexcept {
    if (name == "DRX") return mode::drx;
    if (name == "PSM") return mode::psm;
    if (name == "E_DRX") return mode::edrx;
    return mode::none;
}

int64_t policy::window_ms(mode m, const tern_power_settings* s) const noexcept {
    int64_t own = 0;
    int64_t fallback = 0;
    if (m == mode::psm) {
        if (covers<int64_t>(s, offsetof(tern_power_settings, psm_activity_timer_ms))) own = s->psm_activity_timer_ms;
        fallback = defaults_.psm_activity_timer_ms;
    } else if (m == mode::edrx) {
        if (covers<int64_t>(s, offsetof(tern_power_settings, paging_transmission_window_ms)))
            own = s->paging_transmission_window_ms;
        fallback = defaults_.paging_transmission_window_ms;
    }
    return own > 0 ? own : fallback;
}

bool policy::describe(tern_str name, uint32_t* out_flags) noexcept {
    if (name.data == nullptr && name.size != 0) return false;
    const mode m = mode_named(std::string_view(name.data, name.size));
    if (m == mode::none) return false;
    if (out_flags != nullptr) *out_flags = m == mode::drx ? 0u : static_cast<uint32_t>(TERN_POWER_MODE_SLEEPS);
    return true;
}

bool policy::on_event(const tern_power_settings* s, tern_power_state* state, tern_power_event event,
                      int64_t now_ms) noexcept {
    if (state == nullptr) return false;
    const mode m = mode_of(s);
    if (m == mode::psm || m == mode::edrx) return sleeper_event(*state, event, window_ms(m, s), now_ms);
    return drx_event(*state, event, now_ms);
}

tern_power_verdict policy::may_send(const tern_power_settings* s, tern_power_state* state,
                                    int64_t now_ms) noexcept {
    const mode m = mode_of(s);
    if (m != mode::psm && m != mode::edrx) return TERN_POWER_SEND;
    if (state == nullptr) return TERN_POWER_HOLD;
    tern_power_state& st = *state;
    const bool awake = (st.flags & TERN_POWER_ASLEEP) == 0;
    const bool inside = in_window(st, window_ms(m, s), now_ms);
    if (awake && inside) return TERN_POWER_SEND;
    if (!inside) fall_asleep(st);  // the window passed without its timer: the device sleeps now
    if (m == mode::edrx && (st.flags & edrx_downlink_sent) == 0) {
        st.flags |= edrx_downlink_sent;  // the one downlink outside the window
        return TERN_POWER_SEND;
    }
    return TERN_POWER_HOLD;
}

}  // namespace tern::power

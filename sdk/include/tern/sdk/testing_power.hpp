// Power policies for tests of what uses them (the device API holding downlinks, a catalog):
// fake_power_policy decides the modes the test names, answers may_send as the test sets it and
// records every call; forwarding_power_policy passes every call to a real policy, so a test
// overrides only the call it watches or breaks.
//
//     tern::sdk::testing::fake_power_policy psm({{"PSM", TERN_POWER_MODE_SLEEPS}, {"DRX", 0}});
//     psm.publish(host.registry, "power");            // tern.power.policy/1 of instance "power"
//     psm.set_verdict(TERN_POWER_HOLD);                 // every may_send holds from now on
//     ... drive the transport ...
//     EXPECT(psm.count(TERN_POWER_EVENT_UPLINK) == 1);
//     EXPECT(psm.calls().back().kind == tern::sdk::testing::power_call::may_send);
//
// Left alone, the fake models the simplest sleeper: an unanswered notification puts the device
// to sleep (TERN_POWER_ASLEEP), an uplink or an ACK wakes it (on_event returns true when it was
// asleep), the timer changes nothing, and may_send holds while the device sleeps. on_event_do
// replaces that model with the test's own.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/abi/power.h"
#include "tern/sdk/power.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/views.hpp"

namespace tern::sdk::testing {

// One call a fake policy saw, copied.
struct power_call {
    enum kind_t { on_event, may_send } kind = on_event;
    tern_power_event event = 0;     // on_event's event; 0 for may_send
    int64_t now_ms = 0;
    std::string mode;               // settings->mode
    int64_t psm_activity_timer_ms = 0;
    int64_t edrx_cycle_ms = 0;
    int64_t paging_transmission_window_ms = 0;
    uint32_t option_count = 0;
    tern_power_state before{};      // the state as the call found it
    tern_power_state after{};       // and as it left it
    bool woke = false;              // on_event's answer
    tern_power_verdict verdict = 0; // may_send's answer
};

class fake_power_policy final : public power_policy_v1 {
public:
    struct mode {
        std::string name;
        uint32_t flags = 0;  // TERN_POWER_MODE_*
    };

    explicit fake_power_policy(std::initializer_list<mode> modes) : modes_(modes) {}
    explicit fake_power_policy(std::vector<mode> modes) : modes_(std::move(modes)) {}

    // Replaces the fake's sleep model: what on_event does to the state and returns. Set it
    // before the transport runs (it is read without a lock).
    std::function<bool(const tern_power_settings&, tern_power_state&, tern_power_event, int64_t)> on_event_do;

    // may_send answers v from now on; 0 (the default): HOLD while the state has
    // TERN_POWER_ASLEEP, else SEND.
    void set_verdict(tern_power_verdict v) noexcept { verdict_.store(v, std::memory_order_relaxed); }

    // Publishes this object as tern.power.policy/1 of the instance named instance.
    void publish(fake_registry& r, const std::string& instance) {
        r.provide(std::string(TERN_IID_POWER_POLICY_V1), instance, static_cast<power_policy_v1*>(this));
    }

    std::vector<power_call> calls() const {
        std::lock_guard lk(mu_);
        return calls_;
    }
    // How many on_event calls carried event e.
    std::size_t count(tern_power_event e) const {
        std::lock_guard lk(mu_);
        std::size_t n = 0;
        for (const power_call& c : calls_) n += c.kind == power_call::on_event && c.event == e ? 1 : 0;
        return n;
    }
    // How many may_send calls answered v (0: every may_send call).
    std::size_t count_may_send(tern_power_verdict v = 0) const {
        std::lock_guard lk(mu_);
        std::size_t n = 0;
        for (const power_call& c : calls_) n += c.kind == power_call::may_send && (v == 0 || c.verdict == v) ? 1 : 0;
        return n;
    }
    void clear_calls() {
        std::lock_guard lk(mu_);
        calls_.clear();
    }

    bool describe(tern_str name, uint32_t* out_flags) noexcept override {
        for (const mode& m : modes_)
            if (m.name == to_sv(name)) {
                if (out_flags != nullptr) *out_flags = m.flags;
                return true;
            }
        return false;
    }

    bool on_event(const tern_power_settings* settings, tern_power_state* state, tern_power_event event,
                  int64_t now_ms) noexcept override {
        power_call c = begin(power_call::on_event, settings, state, now_ms);
        c.event = event;
        if (on_event_do) {
            c.woke = on_event_do(*settings, *state, event, now_ms);
        } else {
            const bool asleep = (state->flags & TERN_POWER_ASLEEP) != 0;
            if (event == TERN_POWER_EVENT_UPLINK || event == TERN_POWER_EVENT_ACK) {
                state->last_activity_ms = now_ms;
                state->flags &= ~uint32_t{TERN_POWER_ASLEEP};
                c.woke = asleep;
            } else if (event == TERN_POWER_EVENT_UNREACHABLE) {
                state->flags |= TERN_POWER_ASLEEP;
            }
        }
        c.after = *state;
        const bool woke = c.woke;
        record(std::move(c));
        return woke;
    }

    tern_power_verdict may_send(const tern_power_settings* settings, tern_power_state* state,
                                int64_t now_ms) noexcept override {
        power_call c = begin(power_call::may_send, settings, state, now_ms);
        const tern_power_verdict v = verdict_.load(std::memory_order_relaxed);
        c.verdict = v != 0 ? v : (state->flags & TERN_POWER_ASLEEP) != 0 ? TERN_POWER_HOLD : TERN_POWER_SEND;
        c.after = *state;
        const tern_power_verdict out = c.verdict;
        record(std::move(c));
        return out;
    }

private:
    static power_call begin(power_call::kind_t kind, const tern_power_settings* s, const tern_power_state* state,
                            int64_t now_ms) {
        power_call c;
        c.kind = kind;
        c.now_ms = now_ms;
        c.mode = std::string(to_sv(s->mode));
        c.psm_activity_timer_ms = s->psm_activity_timer_ms;
        c.edrx_cycle_ms = s->edrx_cycle_ms;
        c.paging_transmission_window_ms = s->paging_transmission_window_ms;
        c.option_count = s->option_count;
        c.before = *state;
        return c;
    }
    // A test whose memory runs out while recording loses the record, not the call.
    void record(power_call&& c) noexcept {
        try {
            std::lock_guard lk(mu_);
            calls_.push_back(std::move(c));
        } catch (...) {
        }
    }

    std::vector<mode> modes_;
    std::atomic<tern_power_verdict> verdict_{0};
    mutable std::mutex mu_;
    std::vector<power_call> calls_;
};

// Forwards every call to another policy (a real one, e.g. the power plugin's through its ABI),
// so a test overrides only what it watches or breaks:
//
//     struct never_wakes final : tern::sdk::testing::forwarding_power_policy {
//         using forwarding_power_policy::forwarding_power_policy;
//         bool on_event(...) noexcept override { forwarding_power_policy::on_event(...); return false; }
//     } p(*real_policy);
class forwarding_power_policy : public power_policy_v1 {
public:
    explicit forwarding_power_policy(power_policy_v1& inner) : inner_(inner) {}
    forwarding_power_policy(const forwarding_power_policy&) = delete;
    forwarding_power_policy& operator=(const forwarding_power_policy&) = delete;
    virtual ~forwarding_power_policy() = default;

    void publish(fake_registry& r, const std::string& instance) {
        r.provide(std::string(TERN_IID_POWER_POLICY_V1), instance, static_cast<power_policy_v1*>(this));
    }

    bool describe(tern_str mode, uint32_t* out_flags) noexcept override { return inner_.describe(mode, out_flags); }
    bool on_event(const tern_power_settings* s, tern_power_state* state, tern_power_event e,
                  int64_t now_ms) noexcept override {
        return inner_.on_event(s, state, e, now_ms);
    }
    tern_power_verdict may_send(const tern_power_settings* s, tern_power_state* state,
                                int64_t now_ms) noexcept override {
        return inner_.may_send(s, state, now_ms);
    }

protected:
    power_policy_v1& inner_;
};

}  // namespace tern::sdk::testing

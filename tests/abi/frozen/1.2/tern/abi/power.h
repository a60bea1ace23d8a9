// Power-saving policies (ABI 1.2): whether a downlink may go to a device now, decided from the
// device's recent traffic, for devices that sleep (NB-IoT PSM and eDRX, or a vendor's own
// kind such as a LoRaWAN-like class). A policy decides one or more power modes by name (the
// device's TERN_OPTION_POWER_MODE profile option: "PSM", "E_DRX", "DRX", or a vendor's name);
// the transport that sends downlinks (the device API) keeps each device's tern_power_state,
// tells the policy what happened (an uplink, an acknowledged notification, an unanswered one,
// the sleep timer), asks it before each downlink, and holds the downlinks the policy refuses
// until the device wakes. The policy keeps no per-device state of its own: everything it
// needs is in the state record, which costs the transport 32 bytes per device.
//
// Calls are pure and cheap: no allocation, no lock, no I/O. They run on the device's shard,
// one at a time for a given state record; a policy object is shared by every shard. See
// host.h for the interface rules and thread tags.
#ifndef TERN_ABI_POWER_H
#define TERN_ABI_POWER_H

#ifndef __cplusplus
#error "tern/abi/power.h declares C++ interfaces; include it from C++"
#endif

#include <stdint.h>

#include "types.h"

#define TERN_IID_POWER_POLICY_V1 "tern.power.policy/1"

extern "C" {

// A device's power-saving settings as its core resolved them: the device's own value, else its
// profile's (TERN_OPTION_POWER_MODE and the timer options of core_capabilities.h). A timer of 0
// is not set: the policy uses its own default (a manifest setting of the policy's plugin).
// OWNERSHIP: the caller. LIFETIME: the call. Growable (struct_size).
typedef struct tern_power_settings {
    uint32_t struct_size;
    uint32_t reserved;  // zero
    tern_str mode;      // the mode's name, as describe() accepted it
    int64_t psm_activity_timer_ms;
    int64_t edrx_cycle_ms;
    int64_t paging_transmission_window_ms;
    // Every profile option of the device, so a vendor's policy reads keys of its own.
    const tern_kv* options;
    uint32_t option_count;
    uint32_t reserved2;  // zero
} tern_power_settings;

// flags of tern_power_state (bits 0..15 are the ABI's, 16..31 the policy's own)
enum {
    TERN_POWER_ASLEEP = 1u << 0  // the device is not reachable: downlinks are held
};

// One device's power state, kept by the transport, all zero for a device never seen. The
// policy reads and writes it; the transport reads `flags` (TERN_POWER_ASLEEP) and `wake_check_ms`
// and never writes it otherwise. Fixed size: it is not growable.
typedef struct tern_power_state {
    int64_t last_activity_ms;  // wall ms of the last uplink or acknowledged notification; 0: none
    // Wall ms at which the transport must call on_event(TERN_POWER_EVENT_TIMER) (the device falls
    // asleep then unless it talked since); 0: no timer wanted.
    int64_t wake_check_ms;
    uint32_t flags;
    uint32_t policy_word;  // the policy's own, zero at first
    uint64_t policy_data;  // the policy's own, zero at first
} tern_power_state;

// What happened to a device (on_event)
typedef int32_t tern_power_event;
enum {
    TERN_POWER_EVENT_UPLINK = 1,       // an authenticated request from the device
    TERN_POWER_EVENT_ACK = 2,          // it acknowledged a CON notification
    TERN_POWER_EVENT_UNREACHABLE = 3,  // a CON notification to it was never acknowledged
    TERN_POWER_EVENT_TIMER = 4         // the time in wake_check_ms has come
};

// may_send's answer
typedef int32_t tern_power_verdict;
enum {
    TERN_POWER_SEND = 1,  // send the downlink now
    TERN_POWER_HOLD = 2   // keep it until the device wakes
};

// describe()'s flags
enum {
    // The mode's devices sleep: a CON notification they do not acknowledge leaves their
    // observations in place (the transport sends with TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT and
    // holds what it could not deliver). Without it (DRX) an unacknowledged notification ends
    // the device's observations, as RFC 7641 §4.5 says for an unreachable client.
    TERN_POWER_MODE_SLEEPS = 1u << 0
};

}  // extern "C"

namespace tern {

// tern.power.policy/1
struct power_policy_v1 {
    // Whether this policy decides the mode of that name (exact, case-sensitive: "PSM"), and
    // its TERN_POWER_MODE_* flags in *out_flags. [any-thread]
    virtual bool describe(tern_str mode, uint32_t* out_flags) noexcept = 0;
    // Something happened to the device at now_ms (wall ms): the policy updates *state (flags,
    // last_activity_ms, wake_check_ms). Returns true when the device was asleep and is awake
    // now: the transport then sends what it held. [the device's shard]
    virtual bool on_event(const tern_power_settings* settings, tern_power_state* state,
                          tern_power_event event, int64_t now_ms) noexcept = 0;
    // Whether a downlink may go to the device now. A SEND may change *state (eDRX lets exactly
    // one downlink through outside its paging window and records that it did). [the device's
    // shard]
    virtual tern_power_verdict may_send(const tern_power_settings* settings, tern_power_state* state,
                                        int64_t now_ms) noexcept = 0;

protected:
    ~power_policy_v1() = default;
};

}  // namespace tern

#endif

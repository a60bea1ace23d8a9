// What the device API keeps about an authenticated device: an owned copy of the core's
// tern_device_info (the core lends it for one call), the payload adaptor its profile
// selects, and the credential it was found by (to re-check it when the core says the
// device changed). Immutable once built and shared (shared_ptr) between the per-shard
// caches, the home shard's state and requests in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "owned_value.hpp"
#include "tern/abi/core.h"
#include "tern/abi/core_capabilities.h"
#include "tern/abi/payload.h"
#include "tern/abi/power.h"
#include "tern/sdk/payload.hpp"

namespace tern::device_api {

// The profile settings handed to payload adaptors (protobuf schemas); shared by the
// devices of one profile.
struct profile_options {
    std::vector<std::string> keys;
    std::vector<owned_value> values;
    std::vector<tern_kv> kvs;  // views of keys/values

    static std::shared_ptr<const profile_options> copy(const tern_kv* kv, uint32_t n);
    bool same_as(const tern_kv* kv, uint32_t n) const noexcept;
};

// How the device was authenticated, to look it up again.
struct credential {
    tern_credential_kind kind = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string value;     // the token, the X.509 SHA3 hash or the PSK identity
    std::string expected;  // X.509: the Base64 certificate text the stored value must equal
};

// Rate limits a device profile sets through its options (profile option keys
// device_message_rate, device_message_burst, device_datapoint_rate,
// device_datapoint_burst: an integer, or a text of digits); -1: the plugin's setting.
struct device_limits {
    int64_t message_rate = -1;
    int64_t message_burst = -1;
    int64_t datapoint_rate = -1;
    int64_t datapoint_burst = -1;

    static device_limits from_options(const tern_kv* kv, uint32_t n) noexcept;
};

// The device's and its profile's names are not kept (nothing here reads them; the core knows
// them by id), so a device costs no name strings.
struct device_entry {
    uint64_t device_id = 0;
    uint64_t profile_id = 0;
    uint64_t revision = 0;
    // What the payload adaptors key compiled settings by: the profile's own revision
    // (TERN_OPTION_PROFILE_REVISION) when the core gives it, else the record's revision.
    uint64_t payload_revision = 0;
    // From the profile options the core fills in from the transport profile (the
    // TERN_OPTION_* keys of core_capabilities.h; absent: the default).
    tern_transport_type transport_type = TERN_TRANSPORT_DEFAULT;
    tern_coap_device_type coap_device_type = TERN_COAP_DEVICE_DEFAULT;
    tern_payload_type payload_type = TERN_PAYLOAD_JSON;
    tern_power_mode power_mode = TERN_POWER_NONE;
    int64_t psm_activity_timer_ms = 0;
    int64_t edrx_cycle_ms = 0;
    int64_t paging_transmission_window_ms = 0;
    // The power mode's name as the core gave it (empty: none), and the policy deciding it
    // (tern.power.policy/1, found by the runtime; null: no power saving, downlinks always go).
    std::string power_mode_name;
    power_policy_v1* power_policy = nullptr;
    uint32_t power_flags = 0;  // TERN_POWER_MODE_* of the policy for this mode
    // The profile's own options (the TERN_OPTION_* keys left out), for the payload adaptors.
    std::shared_ptr<const profile_options> options;
    device_limits limits;
    payload_v1* adaptor = nullptr;  // null: no adaptor for the profile's payload type
    credential cred;

    tern_payload_context payload_context(int32_t content_format) const noexcept {
        tern_payload_context c{};
        c.struct_size = sizeof c;
        c.profile_id = profile_id;
        c.revision = payload_revision;
        if (options) {
            c.options = options->kvs.data();
            c.option_count = static_cast<uint32_t>(options->kvs.size());
        }
        c.content_format = content_format;
        return c;
    }
    // Its mode sleeps: downlinks wait while it is asleep and its notifications outlive an
    // unanswered CON (TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT).
    bool sleeps() const noexcept { return power_policy != nullptr && (power_flags & TERN_POWER_MODE_SLEEPS) != 0; }
    // What its policy reads. Vendor keys are among the profile's own options. LIFETIME: this
    // entry's.
    tern_power_settings power_settings() const noexcept {
        tern_power_settings p{};
        p.struct_size = sizeof p;
        p.mode = tern_str{power_mode_name.data(), power_mode_name.size()};
        p.psm_activity_timer_ms = psm_activity_timer_ms;
        p.edrx_cycle_ms = edrx_cycle_ms;
        p.paging_transmission_window_ms = paging_transmission_window_ms;
        if (options) {
            p.options = options->kvs.data();
            p.option_count = static_cast<uint32_t>(options->kvs.size());
        }
        return p;
    }
};

// Copies what the core lent. same_profile: a shared copy of the same profile's settings to
// reuse when they are equal (saves a schema copy per device); may be null.
std::shared_ptr<device_entry> copy_device(const tern_device_record& record, credential cred,
                                          payload_v1* adaptor,
                                          const std::shared_ptr<const profile_options>& same_profile);

// The device the core answered for cred, or null with status saying why not: no info is
// TERN_INTERNAL; an X.509 credential counts only when the stored certificate text is the
// same (docs/device-api.md §7), else TERN_NOT_FOUND. Its adaptor is the one of its payload type
// (null when that adaptor is not loaded: the device then gets 5.00 with the reason).
std::shared_ptr<device_entry> device_found(tern_status& status, const tern_device_record* record,
                                           const credential& cred, const sdk::payload_catalog& adaptors);

// Why the device may not use the API (docs/device-api.md §1.3): no profile 4.01, a profile transport
// other than DEFAULT/COAP 5.00, on /api/v1 a CoAP device type other than DEFAULT 4.00; 0
// when it may, else the code with the reason in why.
uint8_t profile_refusal(const device_entry& dev, bool on_api, std::string_view& why) noexcept;

}  // namespace tern::device_api

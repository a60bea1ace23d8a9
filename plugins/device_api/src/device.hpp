// What the device API keeps about an authenticated device: an owned copy of the core's
// tern_device_info (the core lends it for one call), the payload adaptor its profile
// selects, and the credential it was found by (to re-check it when the core says the
// device changed). Immutable once built and shared (shared_ptr) between the per-shard
// caches, the home shard's state and requests in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.hpp"
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
    credential() = default;
    credential(tern_credential_kind k, std::string v, std::unique_ptr<const std::string> e = nullptr)
        : kind(k), value(std::move(v)), expected(std::move(e)) {}
    credential(const credential& o)
        : kind(o.kind), value(o.value), expected(o.expected ? std::make_unique<const std::string>(*o.expected) : nullptr) {}
    credential(credential&&) noexcept = default;
    credential& operator=(const credential& o) {
        if (this != &o) *this = credential(o);
        return *this;
    }
    credential& operator=(credential&&) noexcept = default;

    tern_credential_kind kind = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string value;  // the token, the X.509 SHA3 hash or the PSK identity
    // X.509: the Base64 certificate text the stored value must equal (null otherwise, so a
    // token's device carries no empty string for it)
    std::unique_ptr<const std::string> expected;
};

// Rate limits a device profile sets through its options (profile option keys
// device_message_rate, device_message_burst, device_datapoint_rate,
// device_datapoint_burst: an integer, or a text of digits); -1: the plugin's setting.
struct device_limits {
    int32_t message_rate = -1;  // each at most 1 000 000, as the settings
    int32_t message_burst = -1;
    int32_t datapoint_rate = -1;
    int32_t datapoint_burst = -1;

    static device_limits from_options(const tern_kv* kv, uint32_t n) noexcept;
};

// What a device's profile (and the power settings the core gave with it) decides: shared by
// the devices whose core answers carried the same, so a device pays a pointer for it
// (authenticator::share_profile, one per profile and shard). Immutable once shared.
struct device_profile {
    device_profile() = default;
    device_profile(const device_profile&) = delete;
    device_profile& operator=(const device_profile&) = delete;
    // Takes its bytes off device_api_memory_bytes{table="device_records"}.
    ~device_profile();

    uint64_t profile_id = 0;
    int64_t psm_activity_timer_ms = 0;
    int64_t edrx_cycle_ms = 0;
    int64_t paging_transmission_window_ms = 0;
    // The power mode's name as the core gave it (empty: none), and the policy deciding it
    // (tern.power.policy/1, found by the runtime; null: no power saving, downlinks always go).
    std::string power_mode_name;
    power_policy_v1* power_policy = nullptr;
    // The profile's own options (the TERN_OPTION_* keys left out), for the payload adaptors.
    std::shared_ptr<const profile_options> options;
    payload_v1* adaptor = nullptr;  // null: no adaptor for the profile's payload type
    // Where its bytes are counted (set once built; null: not counted, tests).
    const metrics* counted_in = nullptr;
    device_limits limits;
    // From the profile options the core fills in from the transport profile (the
    // TERN_OPTION_* keys of core_capabilities.h; absent: the default).
    tern_transport_type transport_type : 8 = TERN_TRANSPORT_DEFAULT;
    tern_coap_device_type coap_device_type : 8 = TERN_COAP_DEVICE_DEFAULT;
    tern_payload_type payload_type : 8 = TERN_PAYLOAD_JSON;
    tern_power_mode power_mode : 8 = TERN_POWER_NONE;
    uint32_t power_flags = 0;  // TERN_POWER_MODE_* of the policy for this mode

    // Everything equal (the options by content): one may stand for the other.
    bool same_as(const device_profile& o) const noexcept;
    // Its heap: make_shared's block and the strings' and options' heap it alone holds.
    std::size_t footprint() const noexcept;
};

// The device's and its profile's names are not kept (nothing here reads them; the core knows
// them by id), so a device costs no name strings.
struct device_entry {
    device_entry() = default;
    device_entry(const device_entry&) = delete;
    device_entry& operator=(const device_entry&) = delete;
    // Takes its bytes off device_api_memory_bytes{table="device_records"}.
    ~device_entry();

    uint64_t device_id = 0;
    uint64_t revision = 0;
    // What the payload adaptors key compiled settings by: the profile's own revision
    // (TERN_OPTION_PROFILE_REVISION) when the core gives it, else the record's revision.
    uint64_t payload_revision = 0;
    // Never null. Shared (device_profile); the runtime sets its power policy before sharing.
    // Its counted_in is where this entry's bytes are counted too (copy_device sets both).
    std::shared_ptr<device_profile> profile = std::make_shared<device_profile>();
    credential cred;
    // Its heap: the block make_shared made (control block and entry) and its strings' heap.
    std::size_t footprint() const noexcept;

    tern_payload_context payload_context(int32_t content_format) const noexcept {
        tern_payload_context c{};
        c.struct_size = sizeof c;
        c.profile_id = profile->profile_id;
        c.revision = payload_revision;
        if (profile->options) {
            c.options = profile->options->kvs.data();
            c.option_count = static_cast<uint32_t>(profile->options->kvs.size());
        }
        c.content_format = content_format;
        return c;
    }
    // Its mode sleeps: downlinks wait while it is asleep and its notifications outlive an
    // unanswered CON (TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT).
    bool sleeps() const noexcept {
        return profile->power_policy != nullptr && (profile->power_flags & TERN_POWER_MODE_SLEEPS) != 0;
    }
    // What its policy reads. Vendor keys are among the profile's own options. LIFETIME: this
    // entry's.
    tern_power_settings power_settings() const noexcept {
        const device_profile& f = *profile;
        tern_power_settings p{};
        p.struct_size = sizeof p;
        p.mode = tern_str{f.power_mode_name.data(), f.power_mode_name.size()};
        p.psm_activity_timer_ms = f.psm_activity_timer_ms;
        p.edrx_cycle_ms = f.edrx_cycle_ms;
        p.paging_transmission_window_ms = f.paging_transmission_window_ms;
        if (f.options) {
            p.options = f.options->kvs.data();
            p.option_count = static_cast<uint32_t>(f.options->kvs.size());
        }
        return p;
    }
};

// Copies what the core lent. same_profile: a shared copy of the same profile's settings to
// reuse when they are equal (saves a schema copy per device); may be null. counted_in: the
// metrics its bytes are counted in (device_records), or null.
std::shared_ptr<device_entry> copy_device(const tern_device_record& record, credential cred,
                                          payload_v1* adaptor,
                                          const std::shared_ptr<const profile_options>& same_profile,
                                          const metrics* counted_in = nullptr);

// The device the core answered for cred, or null with status saying why not: no info is
// TERN_INTERNAL; an X.509 credential counts only when the stored certificate text is the
// same (docs/device-api.md §7), else TERN_NOT_FOUND. Its adaptor is the one of its payload type
// (null when that adaptor is not loaded: the device then gets 5.00 with the reason).
std::shared_ptr<device_entry> device_found(tern_status& status, const tern_device_record* record,
                                           const credential& cred, const sdk::payload_catalog& adaptors,
                                           const metrics* counted_in = nullptr);

// Why the device may not use the API (docs/device-api.md §1.3): no profile 4.01, a profile transport
// other than DEFAULT/COAP 5.00, on /api/v1 a CoAP device type other than DEFAULT 4.00; 0
// when it may, else the code with the reason in why.
uint8_t profile_refusal(const device_entry& dev, bool on_api, std::string_view& why) noexcept;

}  // namespace tern::device_api

// Interface ids bound to their types: iid_of<I> names the id an interface I is published
// under, so a look-up says only the type (host().require<tern::core_v1>()) and cannot pair
// a type with another interface's id.
//
// Every ABI interface published by id is bound here. A plugin binds its own interfaces, at
// global namespace scope, with
//
//     TERN_SDK_INTERFACE(acme::meter_v1, "acme.meter/1")
#pragma once

#include <string_view>

#include "tern/abi/cli.h"
#include "tern/abi/coap.h"
#include "tern/abi/core.h"
#include "tern/abi/host.h"
#include "tern/abi/payload.h"
#include "tern/abi/transport.h"

namespace tern::sdk {

// Specialised for each interface: static constexpr std::string_view value (its id).
template <class I>
struct iid_of;

// An interface with a bound id.
template <class I>
concept bound_interface = requires {
    { iid_of<I>::value } -> std::convertible_to<std::string_view>;
};

template <bound_interface I>
inline constexpr std::string_view iid_v = iid_of<I>::value;

}  // namespace tern::sdk

// Binds interface TYPE to its id IID (a string literal). Use at global namespace scope.
#define TERN_SDK_INTERFACE(TYPE, IID)                        \
    template <>                                              \
    struct tern::sdk::iid_of<TYPE> {                         \
        static constexpr std::string_view value{IID};        \
    };

// host services (host_v1::query)
TERN_SDK_INTERFACE(tern::log_v1, TERN_IID_LOG_V1)
TERN_SDK_INTERFACE(tern::reactor_v1, TERN_IID_REACTOR_V1)
TERN_SDK_INTERFACE(tern::registry_v1, TERN_IID_REGISTRY_V1)
TERN_SDK_INTERFACE(tern::metrics_v1, TERN_IID_METRICS_V1)
TERN_SDK_INTERFACE(tern::config_v1, TERN_IID_CONFIG_V1)

// interfaces instances provide (registry_v1::find)
TERN_SDK_INTERFACE(tern::transport_v1, TERN_IID_TRANSPORT_V1)
TERN_SDK_INTERFACE(tern::coap_engine_v1, TERN_IID_COAP_ENGINE_V1)
TERN_SDK_INTERFACE(tern::core_v1, TERN_IID_CORE_V1)
TERN_SDK_INTERFACE(tern::payload_v1, TERN_IID_PAYLOAD_V1)
TERN_SDK_INTERFACE(tern::payload_v2, TERN_IID_PAYLOAD_V2)  // ABI 1.2
TERN_SDK_INTERFACE(tern::cli_v1, TERN_IID_CLI_V1)

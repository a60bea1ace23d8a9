// The core's capability interfaces of ABI 1.1 (tern/abi/core_capabilities.h) bound to their
// ids, so that a plugin asks for one by its type alone:
//
//     #include "tern/sdk/core.hpp"
//     tern::core_auth_v1& auth = host().require<tern::core_auth_v1>();   // "tern.core.auth/1"
//
// tern.core/1 (core_v1) is bound in interfaces.hpp with the other interfaces of ABI 1.0.
#pragma once

#include "tern/abi/core_capabilities.h"
#include "tern/sdk/interfaces.hpp"

TERN_SDK_INTERFACE(tern::core_auth_v1, TERN_IID_CORE_AUTH_V1)
TERN_SDK_INTERFACE(tern::core_telemetry_v1, TERN_IID_CORE_TELEMETRY_V1)
TERN_SDK_INTERFACE(tern::core_attributes_v1, TERN_IID_CORE_ATTRIBUTES_V1)
TERN_SDK_INTERFACE(tern::core_rpc_v1, TERN_IID_CORE_RPC_V1)
TERN_SDK_INTERFACE(tern::core_provisioning_v1, TERN_IID_CORE_PROVISIONING_V1)
TERN_SDK_INTERFACE(tern::core_ota_v1, TERN_IID_CORE_OTA_V1)
TERN_SDK_INTERFACE(tern::core_sessions_v1, TERN_IID_CORE_SESSIONS_V1)
TERN_SDK_INTERFACE(tern::core_events_v1, TERN_IID_CORE_EVENTS_V1)

// What a request asks for: the one vocabulary of the request path. route.cpp decides it
// from method x path x Observe, the components act on it, and it is the `feature` label of
// device_api_requests_total. (The path grammar's own word for a segment, path.hpp's
// `feature`, is only the parser's.)
#pragma once

#include <cstdint>
#include <string_view>

namespace tern::device_api {

enum class action : uint8_t {
    telemetry,           // POST telemetry
    attributes_post,     // POST attributes
    attributes_get,      // GET attributes (also Observe=1 on an attribute observation)
    attributes_observe,  // GET + Observe=0 on attributes, claim, provision, ...
    rpc_observe,         // GET + Observe=0 on rpc
    rpc_reply,           // POST rpc/{id}
    rpc_call,            // POST rpc
    claim,
    provision,           // no authentication
    ota,                 // /fw/{token}, /sw/{token}, /api/v1/[{token}/]firmware|software
    other,               // refused before it was known what it asked for
    count_
};

// The metric label: "attributes" for attributes_post, else the enumerator's name.
constexpr std::string_view action_label(action a) noexcept {
    constexpr std::string_view labels[] = {"telemetry", "attributes", "attributes_get", "attributes_observe",
                                           "rpc_observe", "rpc_reply", "rpc_call", "claim",
                                           "provision", "ota", "other"};
    const auto i = static_cast<std::size_t>(a);
    return i < std::size(labels) ? labels[i] : "other";
}

}  // namespace tern::device_api

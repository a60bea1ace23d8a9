// ThingsBoard's fixed messages (proto/thingsboard.proto, package transport, and
// proto/thingsboard_api.proto, package transportapi), compiled once into one pool at the first
// use (the plugin does it at start). Decoders parse the uplinks among them as DynamicMessage
// of the prototypes here; the encoders write the downlinks by hand (encode_wire.hpp) with the
// field numbers of the same text, which the tests check against this pool.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string_view>

namespace tern::protobuf {

// The .proto texts, embedded at build time.
extern const std::string_view fixed_transport_proto_text;
extern const std::string_view fixed_transportapi_proto_text;

class fixed_messages {
public:
    // The process's one compiled copy (thread-safe first use; throws std::runtime_error when
    // the embedded text does not compile, which the tests rule out).
    static const fixed_messages& get();

    const google::protobuf::DescriptorPool& pool() const noexcept { return pool_; }
    // A message type by full name ("transport.TsKvProto"); null when unknown.
    const google::protobuf::Descriptor* find(std::string_view full_name) const;

    // Prototypes of the uplinks, taken once (never GetPrototype per message).
    const google::protobuf::Message& rpc_request() const noexcept { return *rpc_request_; }  // transportapi.RpcRequest
    const google::protobuf::Message& claim() const noexcept { return *claim_; }              // transportapi.ClaimDevice
    const google::protobuf::Message& provision_request() const noexcept { return *provision_request_; }
    // A prototype of any message of the pool (tests decode what the encoders wrote with it).
    const google::protobuf::Message& prototype(std::string_view full_name) const;

    fixed_messages(const fixed_messages&) = delete;
    fixed_messages& operator=(const fixed_messages&) = delete;

private:
    fixed_messages();

    google::protobuf::DescriptorPool pool_;
    std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
    const google::protobuf::Message* rpc_request_ = nullptr;
    const google::protobuf::Message* claim_ = nullptr;
    const google::protobuf::Message* provision_request_ = nullptr;
};

}  // namespace tern::protobuf

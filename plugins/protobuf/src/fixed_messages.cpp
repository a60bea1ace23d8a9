// ThingsBoard's fixed messages compiled once from their embedded text.
#include "fixed_messages.hpp"

#include <stdexcept>
#include <string>

#include "schema.hpp"

namespace tern::protobuf {

namespace gp = google::protobuf;

namespace {

void add_file(gp::DescriptorPool& pool, std::string_view text, const char* name) {
    gp::FileDescriptorProto file;
    std::string why;
    text_position where;
    if (!parse_proto_text(text, file, why, where))
        throw std::runtime_error(std::string(name) + ":" + std::to_string(where.line) + ": " + why);
    file.set_name(name);
    if (pool.BuildFile(file) == nullptr) throw std::runtime_error(std::string(name) + " does not build");
}

}  // namespace

fixed_messages::fixed_messages() {
    add_file(pool_, fixed_transport_proto_text, "thingsboard.proto");
    add_file(pool_, fixed_transportapi_proto_text, "thingsboard_api.proto");
    factory_ = std::make_unique<gp::DynamicMessageFactory>();
    rpc_request_ = &prototype("transportapi.RpcRequest");
    claim_ = &prototype("transportapi.ClaimDevice");
    provision_request_ = &prototype("transport.ProvisionDeviceRequestMsg");
}

const fixed_messages& fixed_messages::get() {
    static const fixed_messages instance;
    return instance;
}

const gp::Descriptor* fixed_messages::find(std::string_view full_name) const {
    return pool_.FindMessageTypeByName(std::string(full_name));
}

const gp::Message& fixed_messages::prototype(std::string_view full_name) const {
    const gp::Descriptor* d = find(full_name);
    if (d == nullptr) throw std::runtime_error("no fixed message " + std::string(full_name));
    return *factory_->GetPrototype(d);
}

}  // namespace tern::protobuf

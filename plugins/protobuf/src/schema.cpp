// Profile schemas: the kinds, ThingsBoard's defaults, parsing .proto text, and compiling a
// schema into its own pool with the root's prototype. The rules are in schema_rules.cpp.
#include "schema.hpp"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <array>
#include <stdexcept>

namespace tern::protobuf {

namespace gp = google::protobuf;

namespace {

// ThingsBoard's default schemas (its device profile defaults), field for field.
constexpr std::string_view default_telemetry = R"(syntax = "proto3";
package telemetry;

message SensorDataReading {
  optional double temperature = 1;
  optional double humidity = 2;
  InnerObject innerObject = 3;

  message InnerObject {
    optional string key1 = 1;
    optional bool key2 = 2;
    optional double key3 = 3;
    optional int32 key4 = 4;
    optional string key5 = 5;
  }
}
)";

constexpr std::string_view default_attributes = R"(syntax = "proto3";
package attributes;

message SensorConfiguration {
  optional string firmwareVersion = 1;
  optional string serialNumber = 2;
}
)";

constexpr std::string_view default_rpc_request = R"(syntax = "proto3";
package rpc;

message RpcRequestMsg {
  optional string method = 1;
  optional int32 requestId = 2;
  optional string params = 3;
}
)";

constexpr std::string_view default_rpc_response = R"(syntax = "proto3";
package rpc;

message RpcResponseMsg {
  optional string payload = 1;
}
)";

// The first error of building the file into a pool, placed through the parser's locations.
class first_build_error final : public gp::DescriptorPool::ErrorCollector {
public:
    explicit first_build_error(const gp::compiler::SourceLocationTable& t) : table_(t) {}
    void AddError(const std::string&, const std::string&, const gp::Message* descriptor,
                  ErrorLocation location, const std::string& message) override {
        if (seen) return;
        seen = true;
        why = message;
        int line = -1, column = -1;
        if (table_.Find(descriptor, location, &line, &column)) where = {line + 1, column + 1};
    }

    bool seen = false;
    text_position where;
    std::string why;

private:
    const gp::compiler::SourceLocationTable& table_;
};

bool parse_into(std::string_view text, gp::FileDescriptorProto& out,
                gp::compiler::SourceLocationTable* table, std::string& why, text_position& where) {
    gp::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
    first_error errors;
    gp::io::Tokenizer tokenizer(&input, &errors);
    gp::compiler::Parser parser;
    parser.RecordErrorsTo(&errors);
    if (table != nullptr) parser.RecordSourceLocationsTo(table);
    const bool ok = parser.Parse(&tokenizer, &out);
    if (ok && !errors.seen) return true;
    why = errors.seen ? errors.why : "the text does not parse";
    where = errors.where;
    return false;
}

std::string refusal(schema_kind k, const text_position& where, std::string_view why) {
    std::string s(kind_label(k));
    s += " schema";
    if (where.line > 0) {
        s += ", line " + std::to_string(where.line) + ", column " + std::to_string(where.column);
    }
    s += ": ";
    s += why;
    return s;
}

std::shared_ptr<const compiled_schema> build(schema_kind k, std::string_view text, int64_t max_depth,
                                             std::string& err) {
    std::string why;
    text_position where;
    if (!check_schema_rules(text, max_depth, why, where)) {
        err = refusal(k, where, why);
        return nullptr;
    }
    gp::FileDescriptorProto file;
    gp::compiler::SourceLocationTable table;
    if (!parse_into(text, file, &table, why, where)) {
        err = refusal(k, where, why);
        return nullptr;
    }
    if (file.message_type_size() == 0) {
        err = refusal(k, {1, 1}, "the schema declares no message (its last top-level message is the root)");
        return nullptr;
    }
    if (file.package().empty()) file.set_package(std::string(kind_package(k)));
    file.set_name(std::string(kind_package(k)) + ".proto");

    auto s = std::make_shared<compiled_schema>();
    first_build_error errors(table);
    const gp::FileDescriptor* fd = s->pool.BuildFileCollectingErrors(file, &errors);
    if (fd == nullptr) {
        err = refusal(k, errors.where, errors.seen ? errors.why : "the schema does not compile");
        return nullptr;
    }
    s->root_type = fd->message_type(fd->message_type_count() - 1);
    s->factory = std::make_unique<gp::DynamicMessageFactory>();
    s->root = s->factory->GetPrototype(s->root_type);
    s->root_name = s->root_type->full_name();
    return s;
}

}  // namespace

std::string_view kind_label(schema_kind k) noexcept {
    switch (k) {
        case schema_kind::telemetry: return "telemetry";
        case schema_kind::attributes: return "attributes";
        case schema_kind::rpc_request: return "RPC request";
        case schema_kind::rpc_response: return "RPC response";
    }
    return "unknown";
}

std::string_view kind_option(schema_kind k) noexcept {
    switch (k) {
        case schema_kind::telemetry: return "telemetry_schema";
        case schema_kind::attributes: return "attributes_schema";
        case schema_kind::rpc_request: return "rpc_request_schema";
        case schema_kind::rpc_response: return "rpc_response_schema";
    }
    return "";
}

std::string_view kind_package(schema_kind k) noexcept {
    switch (k) {
        case schema_kind::telemetry: return "telemetry";
        case schema_kind::attributes: return "attributes";
        case schema_kind::rpc_request: return "rpc_request";
        case schema_kind::rpc_response: return "rpc_response";
    }
    return "";
}

std::string_view default_schema_text(schema_kind k) noexcept {
    switch (k) {
        case schema_kind::telemetry: return default_telemetry;
        case schema_kind::attributes: return default_attributes;
        case schema_kind::rpc_request: return default_rpc_request;
        case schema_kind::rpc_response: return default_rpc_response;
    }
    return "";
}

bool parse_proto_text(std::string_view text, gp::FileDescriptorProto& out, std::string& why,
                      text_position& where) {
    return parse_into(text, out, nullptr, why, where);
}

std::shared_ptr<const compiled_schema> compile_schema(schema_kind k, std::string_view text,
                                                      const schema_limits& lim, std::string& err) {
    if (text.empty()) return default_schema(k);
    if (lim.max_schema_size > 0 && static_cast<int64_t>(text.size()) > lim.max_schema_size) {
        err = refusal(k, {}, "the text is " + std::to_string(text.size()) + " bytes, more than max_schema_size (" +
                                 std::to_string(lim.max_schema_size) + ")");
        return nullptr;
    }
    return build(k, text, lim.max_depth, err);
}

const std::shared_ptr<const compiled_schema>& default_schema(schema_kind k) {
    static const std::array<std::shared_ptr<const compiled_schema>, schema_kind_count> defaults = [] {
        std::array<std::shared_ptr<const compiled_schema>, schema_kind_count> a;
        for (int i = 0; i < schema_kind_count; ++i) {
            const auto kind = static_cast<schema_kind>(i);
            std::string err;
            a[i] = build(kind, default_schema_text(kind), 0, err);
            if (a[i] == nullptr) throw std::runtime_error("default " + err);
        }
        return a;
    }();
    return defaults[static_cast<int>(k)];
}

}  // namespace tern::protobuf

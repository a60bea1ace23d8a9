// Profile schemas: the four kinds, ThingsBoard's defaults, the rules a schema must follow
// (docs/device-api.md §8) and the compiled form. A compiled schema owns its DescriptorPool (two
// schemas may declare the same names), its DynamicMessageFactory and the root's prototype,
// taken once at compile time (GetPrototype locks inside protobuf). Immutable once built, so
// any number of threads parse with it at once.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/message.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tern::protobuf {

enum class schema_kind : uint8_t { telemetry = 0, attributes = 1, rpc_request = 2, rpc_response = 3 };
inline constexpr int schema_kind_count = 4;

// "telemetry", "attributes", "RPC request", "RPC response": how refusals name the kind.
std::string_view kind_label(schema_kind k) noexcept;
// The profile option holding its text: "telemetry_schema", "attributes_schema", ...
std::string_view kind_option(schema_kind k) noexcept;
// The package of a schema that declares none: "telemetry", "attributes", "rpc_request",
// "rpc_response".
std::string_view kind_package(schema_kind k) noexcept;
// ThingsBoard's default schema of the kind (proto3 text).
std::string_view default_schema_text(schema_kind k) noexcept;

struct schema_limits {
    int64_t max_schema_size = 65536;  // bytes of .proto text
    int64_t max_depth = 32;           // nesting of declarations ({ } blocks)
};

struct compiled_schema {
    compiled_schema() = default;
    compiled_schema(const compiled_schema&) = delete;
    compiled_schema& operator=(const compiled_schema&) = delete;

    // Declared first, destroyed last: the factory and prototypes point into it.
    google::protobuf::DescriptorPool pool;
    std::unique_ptr<google::protobuf::DynamicMessageFactory> factory;
    const google::protobuf::Descriptor* root_type = nullptr;
    const google::protobuf::Message* root = nullptr;  // the root's prototype
    std::string root_name;                            // its full name, e.g. telemetry.SensorDataReading
};

// A place in a .proto text, 1-based (0: none).
struct text_position {
    int line = 0;
    int column = 0;
};

// Keeps the first error the tokenizer or parser reports, 1-based (they count from 0).
class first_error final : public google::protobuf::io::ErrorCollector {
public:
    void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
        if (seen) return;
        seen = true;
        where = {line + 1, column + 1};
        why = message;
    }
    void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}

    bool seen = false;
    text_position where;
    std::string why;
};

// Parses .proto text into a FileDescriptorProto (no rules checked). False: why and where.
bool parse_proto_text(std::string_view text, google::protobuf::FileDescriptorProto& out,
                      std::string& why, text_position& where);

// Checks the rules of §8 on the tokens of text (proto3 declared first; no import, option,
// extend, extensions, group, reserved, required, service, default value; no nesting deeper
// than max_depth). False: why and where (the offending token).
bool check_schema_rules(std::string_view text, int64_t max_depth, std::string& why,
                        text_position& where);

// Compiles a schema of kind k; empty text: the kind's default (the shared one of
// default_schema). Null with err "<kind> schema, line L, column C: <what>" on a refusal.
std::shared_ptr<const compiled_schema> compile_schema(schema_kind k, std::string_view text,
                                                      const schema_limits& lim, std::string& err);

// The kind's default schema, compiled once for the process (the first call compiles it).
const std::shared_ptr<const compiled_schema>& default_schema(schema_kind k);

}  // namespace tern::protobuf

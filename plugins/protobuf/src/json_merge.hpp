// JSON text merged into a message as ThingsBoard's protobuf-java JsonFormat parser merges it
// (unknown fields ignored; a number or boolean into a string field as its text; "true" or
// "false" into a bool field): the server-side RPC into the profile's RPC request root.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace tern::protobuf {

// False: why holds protobuf's reason (the JSON is not valid, or a value does not fit its field).
bool merge_json(std::string_view json, google::protobuf::Message& message, std::string& why);

}  // namespace tern::protobuf

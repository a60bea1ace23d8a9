// Helpers shared by the encoder and the decoder: texts, tern_value and tern_kv lists between
// the ABI views and the generated messages (core_wire_v1.pb.h, in the build tree).
#ifndef TERN_CORE_WIRE_VALUES_HPP
#define TERN_CORE_WIRE_VALUES_HPP

#include <tern/core_wire/codec.hpp>

#include "core_wire_v1.pb.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::core_wire::detail {

namespace pb = ::tern::wire::v1;
using kv_list = google::protobuf::RepeatedPtrField<pb::KeyValue>;
using text_list = google::protobuf::RepeatedPtrField<std::string>;

inline result fail(wire_error error, const char* detail) noexcept { return {error, detail}; }

// A text or byte view into a (reused) string; a null view with a size is refused.
result put_text(std::string* dst, const char* data, std::size_t size);
inline result put_text(std::string* dst, tern_str s) { return put_text(dst, s.data, s.size); }
inline result put_text(std::string* dst, tern_bytes b) {
    return put_text(dst, reinterpret_cast<const char*>(b.data), b.size);
}

result put_kvs(kv_list* dst, const tern_kv* kvs, std::uint32_t count);

inline tern_str view(const std::string& s) noexcept { return {s.data(), s.size()}; }
inline tern_bytes view_bytes(const std::string& s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Fills out[0..src.size()) with views into src. The caller checked the count.
result take_kvs(const kv_list& src, tern_kv* out);

// Checks a count against a bound.
inline result check_count(std::size_t count, std::size_t bound, const char* detail) {
    return count > bound ? fail(wire_error::too_many, detail) : result{};
}

// Serializes msg into out (its capacity reused), refusing more than max_message_bytes.
result serialize(const google::protobuf::MessageLite& msg, std::string& out);
// Parses bytes into the reused msg.
result parse(google::protobuf::MessageLite& msg, tern_bytes in);

}  // namespace tern::core_wire::detail

#endif

// The walker: one walk over one message (message_walk.cpp types values, message_text.cpp
// writes JSON text). Internal to the walk; message_walk.hpp is its interface.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "tern/proto_walk/message_walk.hpp"

namespace tern::proto_walk {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace walk_detail {

constexpr uint64_t number_bytes = 8;  // what a number or a boolean counts toward max_decoded_size

// A key in a message: at most 64 bytes of it, cut at a character boundary.
inline std::string shown(std::string_view key) {
    if (key.size() <= 64) return std::string(key);
    std::size_t n = 64;
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
    return std::string(key.substr(0, n)) + "...";
}

template <class T>
void append_decimal(std::string& out, T v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// A field's value: of the field itself (index < 0) or of one element of a repeated field.
template <class T>
T value_of(const Message& m, const FieldDescriptor* f, int index,
           T (Reflection::*single)(const Message&, const FieldDescriptor*) const,
           T (Reflection::*repeated)(const Message&, const FieldDescriptor*, int) const) {
    const Reflection* r = m.GetReflection();
    return index < 0 ? (r->*single)(m, f) : (r->*repeated)(m, f, index);
}

inline const std::string& string_of(const Message& m, const FieldDescriptor* f, int index, std::string& scratch) {
    const Reflection* r = m.GetReflection();
    return index < 0 ? r->GetStringReference(m, f, &scratch) : r->GetRepeatedStringReference(m, f, index, &scratch);
}

inline const Message& message_of(const Message& m, const FieldDescriptor* f, int index) {
    const Reflection* r = m.GetReflection();
    return index < 0 ? r->GetMessage(m, f) : r->GetRepeatedMessage(m, f, index);
}

inline bool is_singular_message(const FieldDescriptor* f) {
    return !f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
}

}  // namespace walk_detail

// One walk over one message. Fields are visited in the order protobuf's Java JSON printer
// prints them when it includes default values: it collects them in a TreeMap keyed by field
// descriptor, which orders by field number (not by declaration).
class walker {
public:
    walker(const walk_limits& lim, walk_output& out, std::string& err) : lim_(lim), out_(out), err_(err) {}

    // The typed key/values of every field m prints; depth: m's nesting below the root.
    bool message_values(const Message& m, int depth);
    // The typed key/values of a map field's entries (a telemetry `values` map).
    bool map_values(const Message& m, const FieldDescriptor* f, int depth);
    // m as compact JSON text appended to t.
    bool message_text(std::string& t, const Message& m, int depth);
    // `ts` as Gson's getAsLong reads the printed value.
    bool ts_value(const Message& m, const FieldDescriptor* f, int index, int64_t& out);
    // One record at ts holding every value added.
    void add_record(int64_t ts);
    // The whole of root as JSON text, into the output's json().
    bool root_text(const Message& root) {
        whole_ = true;
        return message_text(out_.json_, root, 0);
    }
    // The field of m printed under json name `name`, or null.
    const FieldDescriptor* printed_field(const Message& m, std::string_view name) const;

    bool fail(walk_refusal why, std::string text) {
        out_.refusal_ = why;
        err_ = std::move(text);
        return false;
    }

private:
    void printed_fields(const Message& m);
    bool field_value(const Message& m, const FieldDescriptor* f, int depth);
    bool scalar_value(std::string_view key, const Message& m, const FieldDescriptor* f);
    bool number_value(std::string_view key, std::string_view literal);
    bool string_value(std::string_view key, std::string_view text, bool stable);
    bool field_text(std::string& t, const Message& m, const FieldDescriptor* f, int depth);
    bool value_text(std::string& t, const Message& m, const FieldDescriptor* f, int index, int depth);
    void map_items(const Message& m, const FieldDescriptor* f);
    void keep_last_values(std::size_t start);
    std::string_view item_key(std::size_t i) const {
        const auto& it = out_.items_[i];
        return std::string_view(out_.keys_).substr(it.key_at, it.key_size);
    }
    tern_kv& add(std::string_view key, tern_value_type type);
    void add_text(std::string_view key, tern_value_type type, std::string_view text);
    bool within_budget(std::size_t building);

    const walk_limits& lim_;
    walk_output& out_;
    std::string& err_;
    std::string scratch_;   // a string field's copy when reflection cannot lend it (never, in practice)
    std::string_view key_;  // the top-level key being typed, for messages
    uint64_t decoded_ = 0;  // bytes of keys and values so far
    bool whole_ = false;    // building message_json's text (not key/values)
};

}  // namespace tern::proto_walk

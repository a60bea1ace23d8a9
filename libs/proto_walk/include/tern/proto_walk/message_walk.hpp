// The message walk: a parsed protobuf message turned into Tern's typed key/values exactly as
// ThingsBoard types them. ThingsBoard prints the message with protobuf's JSON printer (default
// values included, lowerCamelCase json names, 64-bit integers quoted, enums by name, bytes in
// Base64) and applies its JSON rules to that text; this walk goes over the message once with
// protobuf's reflection and produces the same keys, types and values without any JSON text in
// between (nested messages, lists and maps excepted: they are JSON values, so their text is
// built). Numbers are typed by libs/tb_number, the same code the json plugin uses. Fields come
// in field-number order, as the Java printer sorts them when it includes default values; a
// map's entries in the order they came, a repeated key once, where it first came, with its last
// value (what Gson's JsonObject keeps of the printed text). Nested text is written as Gson writes
// it back (its string escapes), since that is what ThingsBoard stores.
//
// Thread use: one walk_output per thread (thread_walk_output()); the walk takes no lock and,
// once the output's buffers have grown to the largest message seen, allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tern/abi/core.h>

namespace google::protobuf {
class FieldDescriptor;
class Message;
}

namespace tern::proto_walk {

class walker;

// What the walk may produce: the bounds come from the calling plugin's settings.
struct walk_limits {
    bool type_cast_enabled = true;        // strings in plain decimal become numbers (as JSON's)
    int64_t max_decoded_size = 262144;    // bytes the keys+values of one message may decode to; 0 none
    int64_t max_number_text_length = 64;  // longest number kept as text
    int max_depth = 32;                   // message nesting the walk follows
};

// Which bound refused the last walk, for the calling plugin's counters.
enum class walk_refusal {
    none,
    decoded_size,  // max_decoded_size
    number_text,   // max_number_text_length
    depth,         // max_depth
    other          // a value out of range without type casting, a `ts`/`values` of the wrong kind
};

// Per-thread output storage reused from message to message (nothing allocated once warm).
// The tern_kv / tern_ts_record views it hands out stay valid until its next use.
class walk_output {
public:
    walk_output();
    ~walk_output();
    walk_output(const walk_output&) = delete;
    walk_output& operator=(const walk_output&) = delete;

    std::span<const tern_ts_record> records() const noexcept { return records_; }
    std::span<const tern_kv> values() const noexcept { return values_; }
    std::string_view json() const noexcept { return json_; }  // message_json's text
    walk_refusal refusal() const noexcept { return refusal_; }  // why the last walk said false

    // Forgets the previous message's output, keeping the buffers' capacity.
    void clear() noexcept;

    // Storage for text the walk builds (JSON of nested values, Base64, cast digits): the
    // returned bytes keep their address until clear(), however much is stored after them.
    char* store(size_t size);
    std::string_view store(std::string_view text);

private:
    friend class walker;
    struct map_item {
        uint32_t key_at;    // the key's text in keys_
        uint32_t key_size;
        int entry;          // the entry whose value is printed; -1: a repeated key, dropped
    };
    struct chunk {
        std::unique_ptr<char[]> data;
        size_t size = 0;
    };
    std::vector<tern_ts_record> records_;
    std::vector<tern_kv> values_;
    std::string json_;
    std::string number_;  // a number's Java text
    std::string plain_;   // a number's plain text (type casting)
    std::string text_;    // a JSON value's text while it is built
    std::string keys_;    // map keys' text while a map is walked (a stack)
    std::vector<const google::protobuf::FieldDescriptor*> fields_;  // fields to print (a stack)
    std::vector<map_item> items_;  // a map's entries by key (a stack)
    std::vector<uint32_t> order_;  // scratch for sorting a map's keys
    walk_refusal refusal_ = walk_refusal::none;
    std::vector<chunk> chunks_;  // text storage; kept across messages
    size_t chunk_index_ = 0;     // the chunk being filled
    size_t chunk_used_ = 0;      // bytes used in it
};

// Telemetry: the root message's fields as ThingsBoard's path types them (message -> protobuf
// JSON printer with default values -> JSON telemetry rules): one record at now_ms, or, when
// the root has both `ts` and `values` (values a message or map), one record at ts.
// False: err holds the reason (the device gets 4.00), out is unspecified.
bool telemetry_records(const google::protobuf::Message& root, int64_t now_ms,
                       const walk_limits& lim, walk_output& out, std::string& err);
// Client attributes: the root's fields as typed key/values (no ts rule).
bool attribute_values(const google::protobuf::Message& root, const walk_limits& lim,
                      walk_output& out, std::string& err);
// The whole message as compact JSON text exactly as protobuf's JSON printer prints it with
// default values included (lowerCamelCase json names, 64-bit ints quoted, enums by name,
// bytes base64, unset optional/message fields left out): an RPC reply's payload.
bool message_json(const google::protobuf::Message& root, const walk_limits& lim,
                  walk_output& out, std::string& err);
// The thread's walk_output.
walk_output& thread_walk_output() noexcept;

}  // namespace tern::proto_walk

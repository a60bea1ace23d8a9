// Bytes into a message of a prototype, on an arena whose first block is a buffer the thread
// reuses, so that a warm parse allocates nothing (the block grows, up to a bound, to the
// largest message the thread has parsed) -- except one allocation per string or bytes value
// longer than 15 bytes: protobuf 3.21 keeps a string object on the arena but its characters
// on the heap (freed with the arena). A message object reused instead of the arena would not
// help: clearing a DynamicMessage through reflection frees its strings and sub-messages.
// The parser's recursion limit bounds the nesting.
#pragma once

#include <google/protobuf/arena.h>
#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tern/abi/types.h"

namespace tern::protobuf {

struct parse_limits {
    int max_depth = 32;                 // message nesting in the body
    std::size_t max_block = 1u << 20;   // largest first block a thread keeps
};

// Parses body as a message of prototype's type and calls use(message) while it lives; the
// message and the views into it die when use returns. False when the body does not parse
// (use not called).
template <class F>
bool with_parsed(const google::protobuf::Message& prototype, tern_bytes body, const parse_limits& lim, F&& use);

// --- implementation ----------------------------------------------------------------------

class arena_scope {
public:
    explicit arena_scope(const parse_limits& lim);
    ~arena_scope();
    arena_scope(const arena_scope&) = delete;
    arena_scope& operator=(const arena_scope&) = delete;

    // A new message of prototype's type on the arena, filled from body; null when it does not parse.
    google::protobuf::Message* parse(const google::protobuf::Message& prototype, tern_bytes body);

private:
    const parse_limits& lim_;
    google::protobuf::Arena arena_;
};

template <class F>
bool with_parsed(const google::protobuf::Message& prototype, tern_bytes body, const parse_limits& lim, F&& use) {
    arena_scope scope(lim);
    google::protobuf::Message* m = scope.parse(prototype, body);
    if (m == nullptr) return false;
    use(*m);
    return true;
}

}  // namespace tern::protobuf

// The thread's arena block and parsing a body on it.
#include "parse.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <memory>

namespace tern::protobuf {

namespace gp = google::protobuf;

namespace {

constexpr std::size_t first_block_size = 16384;

// The thread's first block: kept across messages, grown after a message that needed more.
struct arena_block {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
    std::size_t wanted = first_block_size;  // the size the next arena's block should have
};

thread_local arena_block tls_block;

gp::ArenaOptions block_options() {
    arena_block& b = tls_block;
    if (b.data == nullptr || b.size < b.wanted) {
        b.data = std::make_unique<char[]>(b.wanted);
        b.size = b.wanted;
    }
    gp::ArenaOptions o;
    o.initial_block = b.data.get();
    o.initial_block_size = b.size;
    return o;
}

}  // namespace

arena_scope::arena_scope(const parse_limits& lim) : lim_(lim), arena_(block_options()) {}

arena_scope::~arena_scope() {
    // The next message of this thread gets a block as large as this one needed, when that is
    // within the bound (the arena gives its first block back untouched when destroyed).
    // The arena lives in its first block until its own destructor has run, so the block is
    // replaced when the next arena is made.
    const std::size_t used = arena_.SpaceAllocated();
    arena_block& b = tls_block;
    if (used <= b.size) return;
    std::size_t size = b.size;
    while (size < used && size < lim_.max_block) size *= 2;
    b.wanted = size < lim_.max_block ? size : lim_.max_block;
}

namespace {

bool merge(gp::Message& m, tern_bytes body, int max_depth) {
    gp::io::CodedInputStream in(body.data, static_cast<int>(body.size));
    in.SetRecursionLimit(max_depth);
    return m.MergePartialFromCodedStream(&in) && in.ConsumedEntireMessage();
}

}  // namespace

gp::Message* arena_scope::parse(const gp::Message& prototype, tern_bytes body) {
    gp::Message* m = prototype.New(&arena_);
    return merge(*m, body, lim_.max_depth) ? m : nullptr;
}

}  // namespace tern::protobuf

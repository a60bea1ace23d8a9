// The core_wire codec of the calling thread. core_wire's encoder and decoder are not
// thread-safe and keep their buffers warm, so each thread (a shard calling a capability, a
// nats.c thread answering one) has its own. A decoded view stays valid until that thread's
// next decode of the same kind: long enough for the completion it is handed to, as long as
// the completion does not itself decode a message of that kind on that thread.
#pragma once

#include <string>

#include "tern/core_wire/codec.hpp"

namespace tern::core_nats {

struct thread_codec {
    core_wire::encoder enc;
    core_wire::decoder dec;
    std::string out;  // encode() output, reused
};

// The calling thread's codec (made on first use).
thread_codec& codec() noexcept;

}  // namespace tern::core_nats

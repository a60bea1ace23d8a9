// A message on its way through the core: the context of the cloud_token lookup (which owns a
// copy of the body, parsed again on the shard when the answer comes) and of the write. They
// are recycled per shard, so a message whose token is cached allocates nothing: a shard takes
// them from its own free list; completions (any thread) give them back through a lock-free
// stack the shard empties in one exchange when its list runs dry (only the shard pops, so
// there is no ABA).
#pragma once

#include <cstdint>
#include <string>

#include "decoder.hpp"
#include "tern/abi/types.h"
#include "tern/sdk/shard_pool.hpp"

namespace tern::efento {

class resource;

// What the cache keeps about a cloud_token's device.
struct token_entry {
    uint64_t device_id = 0;
    bool profiled = false;  // it has a profile
    bool efento = false;    // its profile's coap.device_type is EFENTO
    std::string profile;  // the profile's name, for the refusal's text
};

struct pending {
    pending* pool_next = nullptr;
    resource* self = nullptr;
    uint32_t shard = 0;
    uint64_t exchange = 0;
    message_kind kind = message_kind::measurements;
    bool con = true;
    uint32_t values = 0;  // data points being written
    // A lookup in the core only: the request as far as it is needed after the answer.
    std::string token;
    std::string body;
    std::string transport;
    tern_peer peer{};
    uint64_t epoch = 0;  // the shard cache's epoch when the lookup started
    tern_status status = TERN_OK;
    token_entry found;
};

using pending_pool = sdk::shard_pool<pending>;

}  // namespace tern::efento

// An encoder's output sink (tern_bytes_sink) that keeps the encoded bytes in a string and
// notes that the encoder produced them.
#pragma once

#include <string>

#include "tern/abi/types.h"

namespace tern::device_api {

struct bytes_into {
    std::string* p;
    bool ok = false;
    static void put(void* c, tern_bytes b) {
        auto* s = static_cast<bytes_into*>(c);
        if (b.size != 0) s->p->assign(reinterpret_cast<const char*>(b.data), b.size);
        s->ok = true;
    }
};

}  // namespace tern::device_api

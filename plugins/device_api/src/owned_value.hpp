// An owned copy of a tern_value: what outlives the call that lent it (queued attribute
// changes, profile options of cached devices).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tern/abi/types.h"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

// A tern_value with its text or bytes in its own storage.
class owned_value {
public:
    owned_value() = default;
    explicit owned_value(const tern_value& v) { assign(v); }

    void assign(const tern_value& v) {
        v_ = v;
        v_.reserved = 0;
        text_.clear();
        if (v.type == TERN_VALUE_STR || v.type == TERN_VALUE_JSON) {
            text_.assign(sdk::to_sv(v.u.s));
        } else if (v.type == TERN_VALUE_BYTES) {
            if (v.u.bytes.size != 0)
                text_.assign(reinterpret_cast<const char*>(v.u.bytes.data), v.u.bytes.size);
        }
    }

    // LIFETIME: until this value changes or goes.
    tern_value view() const noexcept {
        tern_value v = v_;
        if (v.type == TERN_VALUE_STR || v.type == TERN_VALUE_JSON) {
            v.u.s = tern_str{text_.data(), text_.size()};
        } else if (v.type == TERN_VALUE_BYTES) {
            v.u.bytes = tern_bytes{reinterpret_cast<const uint8_t*>(text_.data()), text_.size()};
        }
        return v;
    }

    bool operator==(const owned_value& o) const noexcept {
        if (v_.type != o.v_.type) return false;
        switch (v_.type) {
            case TERN_VALUE_NULL: return true;
            case TERN_VALUE_BOOL: return v_.u.b == o.v_.u.b;
            case TERN_VALUE_INT: return v_.u.i == o.v_.u.i;
            case TERN_VALUE_DOUBLE: return v_.u.d == o.v_.u.d;
            default: return text_ == o.text_;
        }
    }

private:
    tern_value v_{};
    std::string text_;
};

}  // namespace tern::device_api

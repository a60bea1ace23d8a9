#include "wire_values.hpp"

#include <cstring>
#include <limits>

namespace tern::core_wire::detail {

result put_text(std::string* dst, const char* data, std::size_t size) {
    if (size == 0) {
        dst->clear();
        return {};
    }
    if (data == nullptr) return fail(wire_error::bad_value, "a null text view with a size");
    if (size > max_message_bytes) return fail(wire_error::too_large, "a text larger than a message");
    dst->assign(data, size);
    return {};
}

namespace {

result put_value(pb::Value* dst, const tern_value& in) {
    dst->Clear();
    dst->set_type(in.type);
    switch (in.type) {
    case TERN_VALUE_NULL:
        break;
    case TERN_VALUE_BOOL:
        dst->set_int_value(in.u.b != 0 ? 1 : 0);
        break;
    case TERN_VALUE_INT:
        dst->set_int_value(in.u.i);
        break;
    case TERN_VALUE_DOUBLE: {
        std::uint64_t bits = 0;
        std::memcpy(&bits, &in.u.d, sizeof bits);
        dst->set_double_bits(bits);
        break;
    }
    case TERN_VALUE_STR:
    case TERN_VALUE_JSON:
        return put_text(dst->mutable_text(), in.u.s);
    case TERN_VALUE_BYTES:
        return put_text(dst->mutable_text(), in.u.bytes);
    default:
        return fail(wire_error::bad_value, "a value of an unknown type");
    }
    return {};
}

result take_value(const pb::Value& src, tern_value& out) {
    out = tern_value{};
    out.type = src.type();
    switch (src.type()) {
    case TERN_VALUE_NULL:
        break;
    case TERN_VALUE_BOOL:
        if (src.int_value() != 0 && src.int_value() != 1) {
            return fail(wire_error::bad_value, "a bool value other than 0 or 1");
        }
        out.u.b = static_cast<std::int32_t>(src.int_value());
        break;
    case TERN_VALUE_INT:
        out.u.i = src.int_value();
        break;
    case TERN_VALUE_DOUBLE: {
        const std::uint64_t bits = src.double_bits();
        std::memcpy(&out.u.d, &bits, sizeof bits);
        break;
    }
    case TERN_VALUE_STR:
    case TERN_VALUE_JSON:
        out.u.s = view(src.text());
        break;
    case TERN_VALUE_BYTES:
        out.u.bytes = view_bytes(src.text());
        break;
    default:
        out = tern_value{};
        return fail(wire_error::bad_value, "a value of an unknown type");
    }
    return {};
}

}  // namespace

result put_kvs(kv_list* dst, const tern_kv* kvs, std::uint32_t count) {
    dst->Clear();
    if (count == 0) return {};
    if (kvs == nullptr) return fail(wire_error::bad_value, "a null key/value array with a count");
    if (auto r = check_count(count, max_key_values, "more key/values than max_key_values"); !r) {
        return r;
    }
    dst->Reserve(static_cast<int>(count));
    for (std::uint32_t i = 0; i < count; ++i) {
        pb::KeyValue* kv = dst->Add();
        if (auto r = put_text(kv->mutable_key(), kvs[i].key); !r) return r;
        if (auto r = put_value(kv->mutable_value(), kvs[i].value); !r) return r;
    }
    return {};
}

result take_kvs(const kv_list& src, tern_kv* out) {
    for (int i = 0; i < src.size(); ++i) {
        const pb::KeyValue& kv = src.Get(i);
        out[i].key = view(kv.key());
        if (auto r = take_value(kv.value(), out[i].value); !r) return r;
    }
    return {};
}

result serialize(const google::protobuf::MessageLite& msg, std::string& out) {
    const std::size_t size = msg.ByteSizeLong();
    if (size > max_message_bytes) {
        out.clear();
        return fail(wire_error::too_large, "the encoding exceeds max_message_bytes");
    }
    out.resize(size);
    if (size > 0) {
        msg.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data()));
    }
    return {};
}

result parse(google::protobuf::MessageLite& msg, tern_bytes in) {
    if (in.size > max_message_bytes) {
        msg.Clear();
        return fail(wire_error::too_large, "the message exceeds max_message_bytes");
    }
    if (in.data == nullptr && in.size != 0) {
        msg.Clear();
        return fail(wire_error::malformed, "a null byte view with a size");
    }
    const void* data = in.data != nullptr ? static_cast<const void*>(in.data) : "";
    if (!msg.ParseFromArray(data, static_cast<int>(in.size))) {
        return fail(wire_error::malformed, "not a valid message of this kind");
    }
    return {};
}

}  // namespace tern::core_wire::detail

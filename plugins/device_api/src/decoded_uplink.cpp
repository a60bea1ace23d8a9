#include "decoded_uplink.hpp"

#include <cstring>

namespace tern::device_api {

std::size_t decoded_uplink::text_size(const tern_kv& kv) noexcept {
    std::size_t n = kv.key.size;
    if (kv.value.type == TERN_VALUE_STR || kv.value.type == TERN_VALUE_JSON) n += kv.value.u.s.size;
    else if (kv.value.type == TERN_VALUE_BYTES) n += kv.value.u.bytes.size;
    return n;
}

void decoded_uplink::relocate(tern_kv& kv, std::size_t& at) noexcept {
    auto place = [&](const void* p, std::size_t n) -> char* {
        char* dst = bytes_.data() + at;
        if (n != 0) std::memcpy(dst, p, n);
        at += n;
        return dst;
    };
    kv.key.data = place(kv.key.data, kv.key.size);
    if (kv.value.type == TERN_VALUE_STR || kv.value.type == TERN_VALUE_JSON)
        kv.value.u.s.data = place(kv.value.u.s.data, kv.value.u.s.size);
    else if (kv.value.type == TERN_VALUE_BYTES)
        kv.value.u.bytes.data = reinterpret_cast<const uint8_t*>(place(kv.value.u.bytes.data, kv.value.u.bytes.size));
}

void decoded_uplink::copy_records(const tern_ts_record* records, uint32_t count) {
    std::size_t kvs = 0, text = 0;
    for (uint32_t r = 0; r < count; ++r) {
        kvs += records[r].count;
        for (uint32_t i = 0; i < records[r].count; ++i) text += text_size(records[r].values[i]);
    }
    // Sized first, then filled: the views point into buffers that no longer move.
    records_.resize(count);
    values_.resize(kvs);
    bytes_.resize(text);
    std::size_t v = 0, at = 0;
    for (uint32_t r = 0; r < count; ++r) {
        records_[r] = records[r];
        records_[r].values = values_.data() + v;
        for (uint32_t i = 0; i < records[r].count; ++i, ++v) {
            values_[v] = records[r].values[i];
            relocate(values_[v], at);
        }
    }
}

void decoded_uplink::copy_values(const tern_kv* values, uint32_t count) {
    std::size_t text = 0;
    for (uint32_t i = 0; i < count; ++i) text += text_size(values[i]);
    records_.clear();
    values_.resize(count);
    bytes_.resize(text);
    std::size_t at = 0;
    for (uint32_t i = 0; i < count; ++i) {
        values_[i] = values[i];
        relocate(values_[i], at);
    }
}

void decoded_uplink::copy_texts(tern_str a, tern_str b) {
    bytes_.resize(a.size + b.size);
    if (a.size != 0) std::memcpy(bytes_.data(), a.data, a.size);
    if (b.size != 0) std::memcpy(bytes_.data() + a.size, b.data, b.size);
    texts_[0] = tern_str{bytes_.data(), a.size};
    texts_[1] = tern_str{bytes_.data() + a.size, b.size};
}

}  // namespace tern::device_api

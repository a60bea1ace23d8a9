#include "proto_template.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace tern::bench {

namespace {

// A rendered number is at most a few placeholders' digits and some literal text.
constexpr size_t max_number_text = 64;
// A length prefix of a string field: a varint of at most 65507 (one UDP datagram).
constexpr size_t max_length_prefix = 3;

enum wire : uint8_t { wire_varint = 0, wire_fixed64 = 1, wire_len = 2, wire_fixed32 = 5 };

bool lookup(std::string_view name, proto_type& out) {
    if (name == "double") out = proto_type::double_;
    else if (name == "float") out = proto_type::float_;
    else if (name == "int") out = proto_type::int_;
    else if (name == "sint") out = proto_type::sint;
    else if (name == "bool") out = proto_type::bool_;
    else if (name == "string") out = proto_type::string;
    else return false;
    return true;
}

uint8_t wire_of(proto_type t) {
    switch (t) {
    case proto_type::double_: return wire_fixed64;
    case proto_type::float_: return wire_fixed32;
    case proto_type::string: return wire_len;
    default: return wire_varint;
    }
}

size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

// Writes v as a varint at out[n..cap); false when it does not fit.
bool put_varint(uint8_t* out, size_t cap, size_t& n, uint64_t v) {
    if (cap - n < varint_size(v)) return false;
    while (v >= 0x80) {
        out[n++] = static_cast<uint8_t>(v | 0x80);
        v >>= 7;
    }
    out[n++] = static_cast<uint8_t>(v);
    return true;
}

bool put_fixed(uint8_t* out, size_t cap, size_t& n, uint64_t bits, size_t width) {
    if (cap - n < width) return false;
    for (size_t i = 0; i < width; ++i) out[n++] = static_cast<uint8_t>(bits >> (8 * i));
    return true;
}

bool whole(std::string_view text, const char* end) { return end == text.data() + text.size(); }

// The value of a numeric field as the bits its wire type carries.
bool number_bits(proto_type type, std::string_view text, uint64_t& bits) {
    const char* b = text.data();
    const char* e = b + text.size();
    switch (type) {
    case proto_type::double_:
    case proto_type::float_: {
        double d = 0;
        const auto r = std::from_chars(b, e, d);
        if (r.ec != std::errc{} || !whole(text, r.ptr) || !std::isfinite(d)) return false;
        if (type == proto_type::double_) {
            std::memcpy(&bits, &d, sizeof d);
        } else {
            const float f = static_cast<float>(d);
            if (!std::isfinite(f)) return false;
            uint32_t b32 = 0;
            std::memcpy(&b32, &f, sizeof f);
            bits = b32;
        }
        return true;
    }
    case proto_type::bool_:
        if (text == "true" || text == "1") bits = 1;
        else if (text == "false" || text == "0") bits = 0;
        else return false;
        return true;
    default: {
        int64_t v = 0;
        auto r = std::from_chars(b, e, v);
        if (r.ec == std::errc{} && whole(text, r.ptr)) {
            // int: two's complement (a negative int32 is sign-extended to 10 bytes, as
            // protobuf does); sint: zigzag.
            bits = type == proto_type::sint ? (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)
                                            : static_cast<uint64_t>(v);
            return true;
        }
        if (type == proto_type::sint) return false;
        uint64_t u = 0;  // a uint64 above INT64_MAX
        r = std::from_chars(b, e, u);
        if (r.ec != std::errc{} || !whole(text, r.ptr)) return false;
        bits = u;
        return true;
    }
    }
}

}  // namespace

bool proto_template::parse(std::string_view spec, unsigned allowed, std::string& error) {
    source_.assign(spec);
    fields_.clear();
    auto bad = [&](std::string_view part, const std::string& why) {
        error = "--payload-protobuf: '" + std::string(part) + "': " + why +
                " (want NUMBER:TYPE=VALUE, TYPE double|float|int|sint|bool|string, comma-separated)";
        return false;
    };
    if (spec.empty()) return bad(spec, "no fields");
    while (!spec.empty()) {
        const size_t comma = spec.find(',');
        const std::string_view part = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        const size_t colon = part.find(':');
        const size_t eq = part.find('=');
        if (colon == std::string_view::npos || eq == std::string_view::npos || eq < colon)
            return bad(part, "missing ':' or '='");
        uint32_t number = 0;
        const auto r = std::from_chars(part.data(), part.data() + colon, number);
        if (r.ec != std::errc{} || r.ptr != part.data() + colon || number < 1 || number > max_field_number)
            return bad(part, "the field number must be 1.." + std::to_string(max_field_number));
        proto_type type{};
        if (!lookup(part.substr(colon + 1, eq - colon - 1), type)) return bad(part, "unknown type");
        field f{number, type, {}};
        const unsigned mask = type == proto_type::string ? allowed : allowed & ~text_template::bit(placeholder::token);
        if (!f.value.parse(part.substr(eq + 1), mask, error)) return bad(part, error);
        if (type != proto_type::string) {
            if (f.value.max_size(0) > max_number_text) return bad(part, "the value is too long for a number");
            char text[max_number_text];
            uint64_t bits = 0;
            const render_context sample{0, 1, 0};
            const size_t n = f.value.render(text, sizeof text, sample, nullptr);
            if (n == SIZE_MAX || !number_bits(type, std::string_view(text, n), bits))
                return bad(part, "'" + f.value.source() + "' does not render as a value of the type");
        }
        fields_.push_back(std::move(f));
        if (comma != std::string_view::npos && spec.empty()) return bad(source_, "a trailing comma");
    }
    return true;
}

size_t proto_template::max_size(size_t token_max) const {
    size_t n = 0;
    for (const auto& f : fields_) {
        n += varint_size(static_cast<uint64_t>(f.number) << 3);
        switch (f.type) {
        case proto_type::double_: n += 8; break;
        case proto_type::float_: n += 4; break;
        case proto_type::string: n += max_length_prefix + f.value.max_size(token_max); break;
        default: n += 10; break;
        }
    }
    return n;
}

size_t proto_template::render(uint8_t* out, size_t cap, const render_context& ctx,
                              const text_template* token_pattern) const {
    size_t n = 0;
    for (const auto& f : fields_) {
        if (!put_varint(out, cap, n, (static_cast<uint64_t>(f.number) << 3) | wire_of(f.type))) return SIZE_MAX;
        if (f.type == proto_type::string) {
            // Render after a one-byte prefix; a longer prefix moves the text up.
            if (cap - n < 1) return SIZE_MAX;
            char* text = reinterpret_cast<char*>(out + n + 1);
            const size_t len = f.value.render(text, cap - n - 1, ctx, token_pattern);
            if (len == SIZE_MAX) return SIZE_MAX;
            const size_t prefix = varint_size(len);
            if (prefix > 1) {
                if (cap - n - 1 - len < prefix - 1) return SIZE_MAX;
                std::memmove(out + n + prefix, text, len);
            }
            put_varint(out, cap, n, len);
            n += len;
            continue;
        }
        char text[max_number_text];
        const size_t len = f.value.render(text, sizeof text, ctx, nullptr);
        uint64_t bits = 0;
        if (len == SIZE_MAX || !number_bits(f.type, std::string_view(text, len), bits)) return SIZE_MAX;
        const bool ok = f.type == proto_type::double_  ? put_fixed(out, cap, n, bits, 8)
                        : f.type == proto_type::float_ ? put_fixed(out, cap, n, bits, 4)
                                                       : put_varint(out, cap, n, bits);
        if (!ok) return SIZE_MAX;
    }
    return n;
}

}  // namespace tern::bench

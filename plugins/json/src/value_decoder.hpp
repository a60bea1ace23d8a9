// Decoding a JSON object's members into typed key/values as ThingsBoard types them
// (docs/device-api.md §2.2): numbers as long or double (or kept as text by type casting), numeric strings cast,
// nested objects and arrays as JSON text, null dropped; within the adaptor's bounds
// (max_string_value_length, max_number_text_length, max_decoded_size), each refusal counted.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "adaptor.hpp"
#include "gson_access.hpp"
#include "scratch.hpp"
#include "tern/tb_number/number.hpp"

namespace tern::json {

using tb::classify;
using tb::decimal;
using tb::number_class;
using tb::plain_text_length;
using tb::split_number;
using tb::split_parsable;

class value_decoder {
public:
    value_decoder(scratch& s, const options& o, const limit_metrics& m) : s_(s), o_(o), m_(m) {}

    // Types every member of the object at index obj into s.kvs; false with s.error set.
    bool object_values(uint32_t obj) {
        const std::size_t start = s_.members.size();
        object_members(s_.doc, obj, s_.members, s_.order);
        const std::size_t end = s_.members.size();
        bool ok = true;
        for (std::size_t k = start; k < end && ok; ++k) {
            const member m = s_.members[k];
            ok = value(s_.doc[m.key].view(), m.value) && within_budget();
        }
        s_.members.resize(start);
        return ok;
    }

    // The kvs' text in the arena gets its final address once the arena stops growing.
    void fix_pointers() noexcept {
        for (const auto& [kv, offset] : s_.fixups) s_.kvs[kv].value.u.s.data = s_.arena.data() + offset;
    }

private:
    bool error(std::string why) {
        s_.error = std::move(why);
        return false;
    }

    // Every value counts its key and 8 bytes; text values their text on top (add_text).
    bool within_budget() {
        if (o_.max_decoded_size <= 0 || decoded_ <= static_cast<uint64_t>(o_.max_decoded_size)) return true;
        m_.decoded_size.inc();
        return error("the message's keys and values decode to more than max_decoded_size (" +
                     std::to_string(o_.max_decoded_size) + " bytes); nothing of it was stored");
    }

    tern_kv& add(std::string_view key, tern_value_type type) {
        decoded_ += key.size() + 8;
        tern_kv kv{};
        kv.key = sdk::to_str(key);
        kv.value.type = type;
        s_.kvs.push_back(kv);
        return s_.kvs.back();
    }

    // Text already appended to the arena from offset on.
    void add_arena_text(std::string_view key, tern_value_type type, std::size_t offset) {
        tern_kv& kv = add(key, type);
        kv.value.u.s.size = s_.arena.size() - offset;
        decoded_ += kv.value.u.s.size;
        s_.fixups.emplace_back(static_cast<uint32_t>(s_.kvs.size() - 1), static_cast<uint32_t>(offset));
    }

    // The longest plain text a JSON number may expand to: max_number_text_length, and
    // max_string_value_length too when set (the text is stored as a string; its characters
    // are ASCII, one UTF-16 unit each). A numeric string is never longer than it was sent
    // (give or take a "0" before the '.'), so only numbers are bounded here.
    int64_t number_text_limit() const noexcept {
        int64_t limit = o_.max_number_text_length > 0 ? o_.max_number_text_length : INT64_MAX;
        if (o_.max_string_value_length > 0) limit = std::min(limit, o_.max_string_value_length);
        return limit;
    }

    bool number_too_long(std::string_view key, const decimal& d, std::string_view original) {
        m_.number_text.inc();
        const int64_t length = plain_text_length(d);
        const std::string shown_value =
            std::string(original.substr(0, 40)) + (original.size() > 40 ? "..." : "");
        const bool by_string_limit =
            o_.max_string_value_length > 0 && length > o_.max_string_value_length &&
            (o_.max_number_text_length <= 0 || o_.max_string_value_length <= o_.max_number_text_length);
        if (by_string_limit)
            return error("value of '" + shown(key) + "' (" + shown_value + ") would be stored as a string of " +
                         std::to_string(length) + " characters, more than max_string_value_length " +
                         std::to_string(o_.max_string_value_length));
        return error("value of '" + shown(key) + "' (" + shown_value + ") would be stored as a string of " +
                     std::to_string(length) + " characters, more than max_number_text_length " +
                     std::to_string(o_.max_number_text_length));
    }

    bool number(std::string_view key, const decimal& d, bool from_string, std::string_view original) {
        int64_t i = 0;
        double f = 0;
        const int64_t limit = from_string ? INT64_MAX : number_text_limit();
        switch (classify(d, o_.type_cast_enabled || from_string, i, f, s_.plain, limit)) {
            case number_class::integer:
                add(key, TERN_VALUE_INT).value.u.i = i;
                return true;
            case number_class::floating:
                add(key, TERN_VALUE_DOUBLE).value.u.d = f;
                return true;
            case number_class::text: {
                const std::size_t offset = s_.arena.size();
                s_.arena += s_.plain;
                add_arena_text(key, TERN_VALUE_STR, offset);
                return true;
            }
            case number_class::unsupported:
                return error("value of '" + shown(key) + "' is out of range (" + std::string(original.substr(0, 40)) +
                             (original.size() > 40 ? "..." : "") +
                             "): integers beyond 64 bits and numbers with more than 16 decimals need type_cast_enabled");
            case number_class::text_too_long:
                if (!from_string) return number_too_long(key, d, original);
                break;
            case number_class::too_long:
                break;
        }
        if (from_string) {  // cannot happen (no exponent), but a string stays a string
            add(key, TERN_VALUE_STR).value.u.s = sdk::to_str(original);
            return true;
        }
        return error("value of '" + shown(key) + "' is out of range: its exponent is too large");
    }

    bool value(std::string_view key, uint32_t i) {
        const node& n = s_.doc[i];
        switch (n.kind) {
            case node_kind::null_value: return true;  // null values are dropped
            case node_kind::true_value:
            case node_kind::false_value:
                add(key, TERN_VALUE_BOOL).value.u.b = n.kind == node_kind::true_value ? 1 : 0;
                return true;
            case node_kind::number: {
                decimal d;
                if (!split_number(n.view(), d))
                    return error("value of '" + shown(key) + "' is out of range: its exponent is too large");
                return number(key, d, false, n.view());
            }
            case node_kind::string:
            case node_kind::key: {
                const std::string_view text = n.view();
                if (o_.max_string_value_length > 0) {
                    const std::size_t length = java_length(text);
                    if (length > static_cast<uint64_t>(o_.max_string_value_length))
                        return error("value of '" + shown(key) + "' is " + std::to_string(length) +
                                     " characters long, more than max_string_value_length " +
                                     std::to_string(o_.max_string_value_length));
                }
                decimal d;
                if (o_.type_cast_enabled && split_parsable(text, d)) return number(key, d, true, text);
                add(key, TERN_VALUE_STR).value.u.s = sdk::to_str(text);
                decoded_ += text.size();
                return true;
            }
            case node_kind::object:
            case node_kind::array: {
                const std::size_t offset = s_.arena.size();
                append_compact(s_.arena, s_.doc, i, s_.members, s_.order);
                add_arena_text(key, TERN_VALUE_JSON, offset);
                return true;
            }
        }
        return error("value of '" + shown(key) + "' has an unknown type");
    }

    scratch& s_;
    const options& o_;
    const limit_metrics& m_;
    uint64_t decoded_ = 0;  // bytes of keys and values so far, in this message
};

// An RPC body re-serialised (s.out) within max_decoded_size.
inline bool out_within_budget(const scratch& s, const options& o, const limit_metrics& m, tern_error* err) {
    if (o.max_decoded_size <= 0 || s.out.size() <= static_cast<uint64_t>(o.max_decoded_size)) return true;
    m.decoded_size.inc();
    fail(err, "the message re-serialises to " + std::to_string(s.out.size()) + " bytes, more than max_decoded_size (" +
                  std::to_string(o.max_decoded_size) + " bytes)");
    return false;
}

}  // namespace tern::json

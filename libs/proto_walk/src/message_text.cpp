// The JSON text protobuf's JSON printer prints for a message, a list or a map, as Gson then
// writes it back (ThingsBoard stores a nested value as that text): compact, fields in number
// order with their defaults, 64-bit integers quoted, Java's spelling of floating point, enums
// by name, bytes in Base64, a map's repeated key kept once.
#include <algorithm>
#include <cmath>
#include <span>

#include "message_walker.hpp"
#include "tern/base64/base64.hpp"
#include "tern/tb_number/json_text.hpp"
#include "tern/tb_number/number.hpp"

namespace tern::proto_walk {

using namespace walk_detail;

// Fields m prints, in field-number order, pushed onto out_.fields_: repeated and map fields
// always, fields with presence (messages, oneof members, proto3 `optional`) when set, every
// other field always (its default when unset).
void walker::printed_fields(const Message& m) {
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    const std::size_t start = out_.fields_.size();
    bool sorted = true;
    for (int i = 0; i < d->field_count(); ++i) {
        const FieldDescriptor* f = d->field(i);
        if (!f->is_repeated() && f->has_presence() && !r->HasField(m, f)) continue;
        if (out_.fields_.size() > start && out_.fields_.back()->number() > f->number()) sorted = false;
        out_.fields_.push_back(f);
    }
    if (!sorted)
        std::sort(out_.fields_.begin() + static_cast<std::ptrdiff_t>(start), out_.fields_.end(),
                  [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
}

bool walker::message_text(std::string& t, const Message& m, int depth) {
    if (lim_.max_depth > 0 && depth > lim_.max_depth)
        return fail(walk_refusal::depth, "value of '" + shown(key_) + "' nests messages deeper than max_depth (" +
                                             std::to_string(lim_.max_depth) + ")");
    const std::size_t start = out_.fields_.size();
    printed_fields(m);
    const std::size_t end = out_.fields_.size();
    t.push_back('{');
    bool ok = true;
    for (std::size_t k = start; k < end && ok; ++k) {
        const FieldDescriptor* f = out_.fields_[k];
        if (depth == 0) key_ = f->json_name();  // message_json: refusals name the top-level field
        if (k != start) t.push_back(',');
        tb::append_json_string(t, f->json_name());
        t.push_back(':');
        ok = field_text(t, m, f, depth);
    }
    t.push_back('}');
    out_.fields_.resize(start);
    return ok;
}

bool walker::field_text(std::string& t, const Message& m, const FieldDescriptor* f, int depth) {
    const Reflection* r = m.GetReflection();
    if (f->is_map()) {
        const std::size_t start = out_.items_.size();
        const std::size_t keys_start = out_.keys_.size();
        map_items(m, f);
        const FieldDescriptor* value_field = f->message_type()->map_value();
        t.push_back('{');
        bool ok = true;
        for (std::size_t k = start; k < out_.items_.size() && ok; ++k) {
            if (k != start) t.push_back(',');
            tb::append_json_string(t, item_key(k));  // keys are always quoted
            t.push_back(':');
            ok = value_text(t, r->GetRepeatedMessage(m, f, out_.items_[k].entry), value_field, -1, depth) &&
                 within_budget(t.size());
        }
        t.push_back('}');
        out_.items_.resize(start);
        out_.keys_.resize(keys_start);
        return ok;
    }
    if (f->is_repeated()) {
        const int n = r->FieldSize(m, f);
        t.push_back('[');
        for (int i = 0; i < n; ++i) {
            if (i != 0) t.push_back(',');
            if (!value_text(t, m, f, i, depth) || !within_budget(t.size())) return false;
        }
        t.push_back(']');
        return true;
    }
    return value_text(t, m, f, -1, depth) && within_budget(t.size());
}

// One value as the printer prints it: 64-bit integers quoted, floating point in Java's
// spelling (non-finite ones quoted), enums by name, bytes in Base64, strings escaped as Gson
// writes them back.
bool walker::value_text(std::string& t, const Message& m, const FieldDescriptor* f, int index, int depth) {
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_BOOL:
            t += value_of(m, f, index, &Reflection::GetBool, &Reflection::GetRepeatedBool) ? "true" : "false";
            return true;
        case FieldDescriptor::CPPTYPE_INT32:
            append_decimal(t, value_of(m, f, index, &Reflection::GetInt32, &Reflection::GetRepeatedInt32));
            return true;
        case FieldDescriptor::CPPTYPE_UINT32:
            append_decimal(t, value_of(m, f, index, &Reflection::GetUInt32, &Reflection::GetRepeatedUInt32));
            return true;
        case FieldDescriptor::CPPTYPE_INT64:
            t.push_back('"');
            append_decimal(t, value_of(m, f, index, &Reflection::GetInt64, &Reflection::GetRepeatedInt64));
            t.push_back('"');
            return true;
        case FieldDescriptor::CPPTYPE_UINT64:
            t.push_back('"');
            append_decimal(t, value_of(m, f, index, &Reflection::GetUInt64, &Reflection::GetRepeatedUInt64));
            t.push_back('"');
            return true;
        case FieldDescriptor::CPPTYPE_DOUBLE:
        case FieldDescriptor::CPPTYPE_FLOAT: {
            const bool is_float = f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
            const double v = is_float ? value_of(m, f, index, &Reflection::GetFloat, &Reflection::GetRepeatedFloat)
                                      : value_of(m, f, index, &Reflection::GetDouble, &Reflection::GetRepeatedDouble);
            if (std::isnan(v)) t += "\"NaN\"";
            else if (std::isinf(v)) t += v < 0 ? "\"-Infinity\"" : "\"Infinity\"";
            else if (is_float) tb::append_java_float(t, static_cast<float>(v));
            else tb::append_java_double(t, v);
            return true;
        }
        case FieldDescriptor::CPPTYPE_ENUM: {
            const int v = value_of(m, f, index, &Reflection::GetEnumValue, &Reflection::GetRepeatedEnumValue);
            if (const EnumValueDescriptor* e = f->enum_type()->FindValueByNumber(v)) tb::append_json_string(t, e->name());
            else append_decimal(t, v);
            return true;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
            const std::string& s = string_of(m, f, index, scratch_);
            if (f->type() != FieldDescriptor::TYPE_BYTES) {
                tb::append_json_string(t, s);
                return true;
            }
            t.push_back('"');
            base64::append(t, std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
            t.push_back('"');
            return true;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: return message_text(t, message_of(m, f, index), depth + 1);
    }
    return fail(walk_refusal::other, "value of '" + shown(key_) + "' has a type the walk does not know");
}

// ---- maps: entries in the order they came, a repeated key kept where it first came with its
// last value (the printer prints every entry; Gson's JsonObject then keeps one per key) ----

void walker::map_items(const Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    const FieldDescriptor* key_field = f->message_type()->map_key();
    const int n = r->FieldSize(m, f);
    const std::size_t start = out_.items_.size();
    std::string& keys = out_.keys_;
    for (int i = 0; i < n; ++i) {
        const Message& entry = r->GetRepeatedMessage(m, f, i);
        const Reflection* er = entry.GetReflection();
        const std::size_t at = keys.size();
        switch (key_field->cpp_type()) {
            case FieldDescriptor::CPPTYPE_BOOL: keys += er->GetBool(entry, key_field) ? "true" : "false"; break;
            case FieldDescriptor::CPPTYPE_INT32: append_decimal(keys, er->GetInt32(entry, key_field)); break;
            case FieldDescriptor::CPPTYPE_UINT32: append_decimal(keys, er->GetUInt32(entry, key_field)); break;
            case FieldDescriptor::CPPTYPE_INT64: append_decimal(keys, er->GetInt64(entry, key_field)); break;
            case FieldDescriptor::CPPTYPE_UINT64: append_decimal(keys, er->GetUInt64(entry, key_field)); break;
            default: keys += string_of(entry, key_field, -1, scratch_); break;  // string keys
        }
        out_.items_.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(keys.size() - at), i});
    }
    keep_last_values(start);
}

void walker::keep_last_values(std::size_t start) {
    auto& items = out_.items_;
    const std::size_t n = items.size() - start;
    if (n < 2) return;
    bool any = false;
    if (n <= 16) {
        for (std::size_t i = start + 1; i < items.size(); ++i) {
            for (std::size_t j = start; j < i; ++j) {
                if (items[j].entry >= 0 && item_key(j) == item_key(i)) {
                    items[j].entry = items[i].entry;
                    items[i].entry = -1;
                    any = true;
                    break;
                }
            }
        }
    } else {
        auto& order = out_.order_;
        order.resize(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(start + i);
        std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
            const std::string_view ka = item_key(a), kb = item_key(b);
            return ka != kb ? ka < kb : a < b;
        });
        for (std::size_t i = 0; i < n;) {
            std::size_t j = i + 1;
            while (j < n && item_key(order[j]) == item_key(order[i])) ++j;
            if (j - i > 1) {
                items[order[i]].entry = items[order[j - 1]].entry;
                for (std::size_t k = i + 1; k < j; ++k) items[order[k]].entry = -1;
                any = true;
            }
            i = j;
        }
    }
    if (!any) return;
    std::size_t kept = start;
    for (std::size_t i = start; i < items.size(); ++i)
        if (items[i].entry >= 0) items[kept++] = items[i];
    items.resize(kept);
}

}  // namespace tern::proto_walk

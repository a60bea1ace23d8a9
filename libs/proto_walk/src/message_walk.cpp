#include "tern/proto_walk/message_walk.hpp"

// The walk's output storage, the typed key/values of a message's fields (ThingsBoard's JSON
// value rules applied to what the printer prints), `ts`, and the entry points. The JSON text
// of nested values is message_text.cpp's.
#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "message_walker.hpp"
#include "tern/base64/base64.hpp"
#include "tern/tb_number/number.hpp"

namespace tern::proto_walk {

using namespace walk_detail;

namespace {

constexpr std::size_t first_chunk = 4096;

}  // namespace


// ---- walk_output ----

walk_output::walk_output() = default;
walk_output::~walk_output() = default;

void walk_output::clear() noexcept {
    records_.clear();
    values_.clear();
    json_.clear();
    text_.clear();
    keys_.clear();
    fields_.clear();
    items_.clear();
    refusal_ = walk_refusal::none;
    chunk_index_ = 0;
    chunk_used_ = 0;
}

char* walk_output::store(size_t size) {
    for (; chunk_index_ < chunks_.size(); ++chunk_index_, chunk_used_ = 0) {
        chunk& c = chunks_[chunk_index_];
        if (c.size - chunk_used_ >= size) {
            char* at = c.data.get() + chunk_used_;
            chunk_used_ += size;
            return at;
        }
    }
    // Every chunk so far is full: a new one, at least twice the last, kept for later messages.
    const size_t grown = chunks_.empty() ? first_chunk : chunks_.back().size * 2;
    chunks_.push_back(chunk{std::unique_ptr<char[]>(new char[std::max(size, grown)]), std::max(size, grown)});
    chunk_index_ = chunks_.size() - 1;
    chunk_used_ = size;
    return chunks_.back().data.get();
}

std::string_view walk_output::store(std::string_view text) {
    if (text.empty()) return {};
    char* at = store(text.size());
    std::copy(text.begin(), text.end(), at);
    return {at, text.size()};
}

walk_output& thread_walk_output() noexcept {
    thread_local walk_output out;
    return out;
}

const FieldDescriptor* walker::printed_field(const Message& m, std::string_view name) const {
    const Descriptor* d = m.GetDescriptor();
    for (int i = 0; i < d->field_count(); ++i) {
        const FieldDescriptor* f = d->field(i);
        if (f->json_name() != name) continue;
        if (!f->is_repeated() && f->has_presence() && !m.GetReflection()->HasField(m, f)) return nullptr;
        return f;
    }
    return nullptr;
}

void walker::add_record(int64_t ts) {
    tern_ts_record r{};
    r.ts = ts;
    r.values = out_.values_.empty() ? nullptr : out_.values_.data();
    r.count = static_cast<uint32_t>(out_.values_.size());
    out_.records_.push_back(r);
}

tern_kv& walker::add(std::string_view key, tern_value_type type) {
    decoded_ += key.size() + number_bytes;
    tern_kv kv{};
    kv.key = tern_str{key.data(), key.size()};
    kv.value.type = type;
    out_.values_.push_back(kv);
    return out_.values_.back();
}

// text must stay where it is while the message lives (a view into it, or stored).
void walker::add_text(std::string_view key, tern_value_type type, std::string_view text) {
    add(key, type).value.u.s = tern_str{text.empty() ? nullptr : text.data(), text.size()};
    decoded_ += text.size();
}

// Every value counts its key and 8 bytes, text values their text on top; building: the text of
// a value not added yet.
bool walker::within_budget(std::size_t building) {
    if (lim_.max_decoded_size <= 0 || decoded_ + building <= static_cast<uint64_t>(lim_.max_decoded_size))
        return true;
    const std::string limit = "max_decoded_size (" + std::to_string(lim_.max_decoded_size) + " bytes) at '" + shown(key_) + "'";
    if (whole_) return fail(walk_refusal::decoded_size, "the message re-serialises to more than " + limit);
    return fail(walk_refusal::decoded_size,
                "the message's keys and values decode to more than " + limit + "; nothing of it was stored");
}

bool walker::message_values(const Message& m, int depth) {
    const std::size_t start = out_.fields_.size();
    printed_fields(m);
    const std::size_t end = out_.fields_.size();
    bool ok = true;
    for (std::size_t k = start; k < end && ok; ++k) ok = field_value(m, out_.fields_[k], depth) && within_budget(0);
    out_.fields_.resize(start);
    return ok;
}

bool walker::map_values(const Message& m, const FieldDescriptor* f, int depth) {
    const std::size_t start = out_.items_.size();
    const std::size_t keys_start = out_.keys_.size();
    map_items(m, f);
    const FieldDescriptor* value_field = f->message_type()->map_value();
    const Reflection* r = m.GetReflection();
    bool ok = true;
    for (std::size_t k = start; k < out_.items_.size() && ok; ++k) {
        const std::string_view key = out_.store(item_key(k));
        const Message& entry = r->GetRepeatedMessage(m, f, out_.items_[k].entry);
        key_ = key;
        if (value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
            std::string& t = out_.text_;
            t.clear();
            ok = message_text(t, entry.GetReflection()->GetMessage(entry, value_field), depth + 1);
            if (ok) add_text(key, TERN_VALUE_JSON, out_.store(t));
        } else {
            ok = scalar_value(key, entry, value_field);
        }
        ok = ok && within_budget(0);
    }
    out_.items_.resize(start);
    out_.keys_.resize(keys_start);
    return ok;
}

// One printed field of a message whose fields are the record's keys.
bool walker::field_value(const Message& m, const FieldDescriptor* f, int depth) {
    const std::string& key = f->json_name();
    key_ = key;
    if (!f->is_repeated() && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return scalar_value(key, m, f);
    // A message, a list or a map: a JSON value, its compact text.
    std::string& t = out_.text_;
    t.clear();
    if (!field_text(t, m, f, depth)) return false;
    add_text(key, TERN_VALUE_JSON, out_.store(t));
    return true;
}

// A scalar as the JSON rules type the text the printer prints for it.
bool walker::scalar_value(std::string_view key, const Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_BOOL: add(key, TERN_VALUE_BOOL).value.u.b = r->GetBool(m, f) ? 1 : 0; return true;
        case FieldDescriptor::CPPTYPE_INT32: add(key, TERN_VALUE_INT).value.u.i = r->GetInt32(m, f); return true;
        case FieldDescriptor::CPPTYPE_UINT32: add(key, TERN_VALUE_INT).value.u.i = r->GetUInt32(m, f); return true;
        case FieldDescriptor::CPPTYPE_INT64:
            // Printed as a string of its digits: a number again with type casting.
            if (lim_.type_cast_enabled) {
                add(key, TERN_VALUE_INT).value.u.i = r->GetInt64(m, f);
                return true;
            }
            out_.number_.clear();
            append_decimal(out_.number_, r->GetInt64(m, f));
            return string_value(key, out_.number_, false);
        case FieldDescriptor::CPPTYPE_UINT64: {
            const uint64_t v = r->GetUInt64(m, f);
            if (lim_.type_cast_enabled && v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                add(key, TERN_VALUE_INT).value.u.i = static_cast<int64_t>(v);
                return true;
            }
            out_.number_.clear();
            append_decimal(out_.number_, v);  // beyond a long it stays the string of its digits
            return string_value(key, out_.number_, false);
        }
        case FieldDescriptor::CPPTYPE_DOUBLE:
        case FieldDescriptor::CPPTYPE_FLOAT: {
            const bool is_float = f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
            const double v = is_float ? r->GetFloat(m, f) : r->GetDouble(m, f);
            if (std::isnan(v)) return string_value(key, "NaN", true);  // printed quoted
            if (std::isinf(v)) return string_value(key, v < 0 ? "-Infinity" : "Infinity", true);
            if (!is_float && tb::java_double_stays_double(v)) {  // its text would give back v itself
                add(key, TERN_VALUE_DOUBLE).value.u.d = v;
                return true;
            }
            out_.number_.clear();
            if (is_float) tb::append_java_float(out_.number_, static_cast<float>(v));
            else tb::append_java_double(out_.number_, v);
            return number_value(key, out_.number_);
        }
        case FieldDescriptor::CPPTYPE_ENUM: {
            const int v = r->GetEnumValue(m, f);
            if (const EnumValueDescriptor* e = f->enum_type()->FindValueByNumber(v)) return string_value(key, e->name(), true);
            add(key, TERN_VALUE_INT).value.u.i = v;  // an open enum's unknown value prints as its number
            return true;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
            if (f->type() == FieldDescriptor::TYPE_BYTES) {
                const std::string& bytes = string_of(m, f, -1, scratch_);
                out_.number_.clear();
                base64::append(out_.number_, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
                return string_value(key, out_.store(out_.number_), true);
            }
            const std::string& s = string_of(m, f, -1, scratch_);
            return string_value(key, s, &s != &scratch_);
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: break;
    }
    return fail(walk_refusal::other, "value of '" + shown(key) + "' has a type the walk does not know");
}

// A JSON number literal (Java's spelling of a float or double), typed as the JSON path types it.
bool walker::number_value(std::string_view key, std::string_view literal) {
    tb::decimal d;
    int64_t i = 0;
    double v = 0;
    const int64_t limit = lim_.max_number_text_length > 0 ? lim_.max_number_text_length : INT64_MAX;
    if (!tb::split_number(literal, d)) return fail(walk_refusal::other, "value of '" + shown(key) + "' is out of range");
    switch (tb::classify(d, lim_.type_cast_enabled, i, v, out_.plain_, limit)) {
        case tb::number_class::integer: add(key, TERN_VALUE_INT).value.u.i = i; return true;
        case tb::number_class::floating: add(key, TERN_VALUE_DOUBLE).value.u.d = v; return true;
        case tb::number_class::text: add_text(key, TERN_VALUE_STR, out_.store(out_.plain_)); return true;
        case tb::number_class::unsupported:
            return fail(walk_refusal::other,
                        "value of '" + shown(key) + "' is out of range (" + std::string(literal) +
                            "): integers beyond 64 bits and numbers with more than 16 decimals need type_cast_enabled");
        case tb::number_class::text_too_long:
        case tb::number_class::too_long: break;
    }
    return fail(walk_refusal::number_text,
                "value of '" + shown(key) + "' (" + std::string(literal) + ") would be stored as a string of " +
                    std::to_string(tb::plain_text_length(d)) + " characters, more than max_number_text_length " +
                    std::to_string(lim_.max_number_text_length));
}

// A JSON string: a number with type casting when it is a plain decimal, else the string. stable:
// text outlives the walk's output (a view into the message, a literal, or stored).
bool walker::string_value(std::string_view key, std::string_view text, bool stable) {
    tb::decimal d;
    if (lim_.type_cast_enabled && tb::split_parsable(text, d)) {
        int64_t i = 0;
        double v = 0;
        switch (tb::classify(d, true, i, v, out_.plain_, INT64_MAX)) {
            case tb::number_class::integer: add(key, TERN_VALUE_INT).value.u.i = i; return true;
            case tb::number_class::floating: add(key, TERN_VALUE_DOUBLE).value.u.d = v; return true;
            case tb::number_class::text: add_text(key, TERN_VALUE_STR, out_.store(out_.plain_)); return true;
            default: break;  // a plain decimal has no exponent: it stays a string
        }
    }
    add_text(key, TERN_VALUE_STR, stable ? text : out_.store(text));
    return true;
}

// ---- ts: Gson's getAsLong of the printed value ----

bool walker::ts_value(const Message& m, const FieldDescriptor* f, int index, int64_t& out) {
    if (f->is_map()) return false;  // an object
    if (index < 0 && f->is_repeated())  // an array of exactly one element reads as that element
        return m.GetReflection()->FieldSize(m, f) == 1 && ts_value(m, f, 0, out);
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
            out = value_of(m, f, index, &Reflection::GetInt32, &Reflection::GetRepeatedInt32);
            return true;
        case FieldDescriptor::CPPTYPE_UINT32:
            out = value_of(m, f, index, &Reflection::GetUInt32, &Reflection::GetRepeatedUInt32);
            return true;
        case FieldDescriptor::CPPTYPE_INT64:
            out = value_of(m, f, index, &Reflection::GetInt64, &Reflection::GetRepeatedInt64);
            return true;
        case FieldDescriptor::CPPTYPE_UINT64: {  // a string of digits: Long.parseLong
            const uint64_t v = value_of(m, f, index, &Reflection::GetUInt64, &Reflection::GetRepeatedUInt64);
            out = static_cast<int64_t>(v);
            return v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        }
        case FieldDescriptor::CPPTYPE_DOUBLE:
        case FieldDescriptor::CPPTYPE_FLOAT: {  // a number: BigDecimal.longValue of its text
            const bool is_float = f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
            const double v = is_float ? value_of(m, f, index, &Reflection::GetFloat, &Reflection::GetRepeatedFloat)
                                      : value_of(m, f, index, &Reflection::GetDouble, &Reflection::GetRepeatedDouble);
            if (!std::isfinite(v)) return false;  // "NaN", "Infinity": not a long
            out_.number_.clear();
            if (is_float) tb::append_java_float(out_.number_, static_cast<float>(v));
            else tb::append_java_double(out_.number_, v);
            tb::decimal d;
            if (!tb::split_number(out_.number_, d)) return false;
            out = tb::java_long_value(d);
            return true;
        }
        case FieldDescriptor::CPPTYPE_ENUM: {  // a name is not a long; an unknown value is a number
            const int v = value_of(m, f, index, &Reflection::GetEnumValue, &Reflection::GetRepeatedEnumValue);
            out = v;
            return f->enum_type()->FindValueByNumber(v) == nullptr;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
            const std::string& s = string_of(m, f, index, scratch_);
            if (f->type() != FieldDescriptor::TYPE_BYTES) return tb::parse_java_long(s, out);
            out_.number_.clear();
            base64::append(out_.number_, std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
            return tb::parse_java_long(out_.number_, out);
        }
        case FieldDescriptor::CPPTYPE_BOOL:
        case FieldDescriptor::CPPTYPE_MESSAGE: break;
    }
    return false;
}

// ---- entry points ----

bool telemetry_records(const Message& root, int64_t now_ms, const walk_limits& lim, walk_output& out,
                       std::string& err) {
    out.clear();
    walker w(lim, out, err);
    int64_t ts = now_ms;
    const FieldDescriptor* ts_field = w.printed_field(root, "ts");
    const FieldDescriptor* values_field = w.printed_field(root, "values");
    if (ts_field != nullptr && values_field != nullptr) {
        // {"ts":..,"values":{..}}: one record at the device's time with the fields of values.
        if (!w.ts_value(root, ts_field, -1, ts))
            return w.fail(walk_refusal::other, "telemetry 'ts' must be a number of milliseconds since the epoch");
        if (values_field->is_map()) {
            if (!w.map_values(root, values_field, 0)) return false;
        } else if (is_singular_message(values_field)) {
            if (!w.message_values(root.GetReflection()->GetMessage(root, values_field), 1)) return false;
        } else {
            return w.fail(walk_refusal::other, "telemetry 'values' must be a JSON object");
        }
    } else if (!w.message_values(root, 0)) {
        return false;
    }
    w.add_record(ts);
    return true;
}

bool attribute_values(const Message& root, const walk_limits& lim, walk_output& out, std::string& err) {
    out.clear();
    walker w(lim, out, err);
    return w.message_values(root, 0);
}

bool message_json(const Message& root, const walk_limits& lim, walk_output& out, std::string& err) {
    out.clear();
    walker w(lim, out, err);
    return w.root_text(root);
}

}  // namespace tern::proto_walk

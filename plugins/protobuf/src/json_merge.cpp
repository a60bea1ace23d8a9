// JSON merged into a message as ThingsBoard merges it: protobuf-java's JsonFormat parser reads
// a string field with Gson's getAsString, so a number or a boolean there becomes its text
// (params 42 into the default RPC schema's string `params` is "42"), and a bool field takes
// the strings "true" and "false". protobuf's C++ parser refuses both; this pass rewrites the
// JSON, guided by the message's descriptors, before handing it to that parser. Everything
// else (unknown fields, enums by name or number, quoted numbers) that parser already reads
// as JsonFormat does.
#include "json_merge.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>
#include <vector>

namespace tern::protobuf {

namespace gp = google::protobuf;
using Fd = gp::FieldDescriptor;

namespace {

// Where the reader stands: in an object of a message type, in a map's object, in a list of a
// repeated field, or somewhere no descriptor describes (unknown fields, JSON-typed values).
struct frame {
    const gp::Descriptor* message = nullptr;  // an object of this message type
    const Fd* map_value = nullptr;            // an object of a map: each value is this field
    const Fd* list = nullptr;                 // a list: each element is this field
};

class rewriter {
public:
    explicit rewriter(const gp::Descriptor& root) : writer_(out_) { root_ = &root; }

    std::string_view text() const { return {out_.GetString(), out_.GetSize()}; }

    // --- SAX: values ---
    bool Null() { return next_field(), writer_.Null(); }
    bool Bool(bool b) {
        const Fd* f = next_field();
        if (is_string(f)) return writer_.String(b ? "true" : "false");
        return writer_.Bool(b);
    }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        const Fd* f = next_field();
        if (is_string(f)) return writer_.String(s, n);
        return writer_.RawNumber(s, n);
    }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        const Fd* f = next_field();
        const std::string_view v(s, n);
        if (f != nullptr && f->cpp_type() == Fd::CPPTYPE_BOOL && (v == "true" || v == "false"))
            return writer_.Bool(v == "true");
        return writer_.String(s, n);
    }
    bool StartObject() {
        const Fd* f = next_field();
        frame fr;
        if (stack_.empty() && !started_) fr.message = root_;
        else if (f != nullptr && f->is_map()) fr.map_value = f->message_type()->map_value();
        else if (f != nullptr && f->cpp_type() == Fd::CPPTYPE_MESSAGE) fr.message = f->message_type();
        started_ = true;
        stack_.push_back(fr);
        return writer_.StartObject();
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        const frame& top = stack_.back();
        key_field_ = nullptr;
        if (top.message != nullptr) {
            key_field_ = field_named(*top.message, std::string_view(s, n));
        } else if (top.map_value != nullptr) {
            key_field_ = top.map_value;
        }
        return writer_.Key(s, n);
    }
    bool EndObject(rapidjson::SizeType) {
        stack_.pop_back();
        return writer_.EndObject();
    }
    bool StartArray() {
        const Fd* f = next_field();
        frame fr;
        if (f != nullptr && f->is_repeated() && !f->is_map()) fr.list = f;
        stack_.push_back(fr);
        return writer_.StartArray();
    }
    bool EndArray(rapidjson::SizeType) {
        stack_.pop_back();
        return writer_.EndArray();
    }
    // Not called with kParseNumbersAsStringsFlag.
    bool Int(int) { return false; }
    bool Uint(unsigned) { return false; }
    bool Int64(int64_t) { return false; }
    bool Uint64(uint64_t) { return false; }
    bool Double(double) { return false; }

private:
    // The field the value now read belongs to (null: none known).
    const Fd* next_field() {
        if (stack_.empty()) return nullptr;
        const frame& top = stack_.back();
        if (top.list != nullptr) return top.list;
        const Fd* f = key_field_;
        key_field_ = nullptr;
        return f;
    }
    // A field by its JSON name or its proto name, as both parsers match them.
    static const Fd* field_named(const gp::Descriptor& d, std::string_view name) {
        for (int i = 0; i < d.field_count(); ++i)
            if (d.field(i)->json_name() == name || d.field(i)->name() == name) return d.field(i);
        return nullptr;
    }
    static bool is_string(const Fd* f) { return f != nullptr && f->type() == Fd::TYPE_STRING; }

    const gp::Descriptor* root_ = nullptr;
    bool started_ = false;
    std::vector<frame> stack_;
    const Fd* key_field_ = nullptr;
    rapidjson::StringBuffer out_;
    rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace

bool merge_json(std::string_view json, gp::Message& message, std::string& why) {
    rewriter w(*message.GetDescriptor());
    rapidjson::Reader reader;
    const std::string copy(json);  // NUL-terminated for the reader
    rapidjson::StringStream stream(copy.c_str());
    constexpr unsigned flags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag |
                               rapidjson::kParseValidateEncodingFlag;
    if (reader.Parse<flags>(stream, w).IsError()) {
        why = "the JSON is not valid";
        return false;
    }
    gp::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    const auto st = gp::util::JsonStringToMessage(std::string(w.text()), &message, o);
    if (st.ok()) return true;
    why = st.message().as_string();
    return false;
}

}  // namespace tern::protobuf

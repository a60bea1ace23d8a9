#include "adaptor.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "document.hpp"
#include "number.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"
#include "writer.hpp"

namespace tern::json {

namespace {

using sdk::to_str;
using sdk::to_sv;

// ---- per-thread scratch ------------------------------------------------------------------

// Everything one call needs, reused from call to call on a thread so that decoding a
// message allocates nothing once the buffers have grown to the traffic's size.
struct scratch {
    struct record {
        int64_t ts;
        uint32_t first;
        uint32_t count;
    };

    std::string input;  // the body, parsed in place: keys and strings point into it
    document doc;
    std::string arena;  // text made while decoding: JSON values, big numbers
    std::string plain;
    std::vector<tern_kv> kvs;
    std::vector<std::pair<uint32_t, uint32_t>> fixups;  // kv whose text lives in arena, at offset
    std::vector<record> records;
    std::vector<tern_ts_record> ts_records;
    std::vector<member> members;
    std::vector<uint32_t> order;
    std::string out;
    std::string error;

    void reset() noexcept {
        doc.clear();
        arena.clear();
        kvs.clear();
        fixups.clear();
        records.clear();
        ts_records.clear();
        members.clear();
        out.clear();
        error.clear();
    }

    // A rare huge message must not pin its memory to the thread for good.
    void trim() noexcept {
        constexpr std::size_t keep = 256 * 1024;
        auto shrink = [](auto& v, std::size_t bytes) {
            if (bytes > keep) std::decay_t<decltype(v)>().swap(v);
        };
        shrink(input, input.capacity());
        shrink(arena, arena.capacity());
        shrink(plain, plain.capacity());
        shrink(out, out.capacity());
        shrink(doc.nodes, doc.nodes.capacity() * sizeof(node));
        shrink(kvs, kvs.capacity() * sizeof(tern_kv));
        shrink(members, members.capacity() * sizeof(member));
        shrink(order, order.capacity() * sizeof(uint32_t));
        shrink(records, records.capacity() * sizeof(record));
        shrink(ts_records, ts_records.capacity() * sizeof(tern_ts_record));
        shrink(fixups, fixups.capacity() * sizeof(fixups[0]));
    }
};

// A scratch for the duration of one call. A sink may call back into the adaptor on the same
// thread (a core completing synchronously, say): nested calls get their own scratch, so the
// views handed to the outer sink stay intact.
class scratch_lease {
public:
    scratch_lease() {
        auto& p = pool();
        if (depth_ < p.size()) {
            s_ = p[depth_].get();
        } else if (p.size() < 4) {
            p.push_back(std::make_unique<scratch>());
            s_ = p.back().get();
        } else {
            own_ = std::make_unique<scratch>();
            s_ = own_.get();
        }
        ++depth_;
        s_->reset();
    }
    ~scratch_lease() {
        --depth_;
        s_->trim();
    }
    scratch_lease(const scratch_lease&) = delete;
    scratch_lease& operator=(const scratch_lease&) = delete;

    scratch* operator->() const noexcept { return s_; }
    scratch& operator*() const noexcept { return *s_; }

private:
    static std::vector<std::unique_ptr<scratch>>& pool() {
        thread_local std::vector<std::unique_ptr<scratch>> p;
        return p;
    }
    static thread_local std::size_t depth_;
    scratch* s_ = nullptr;
    std::unique_ptr<scratch> own_;
};

thread_local std::size_t scratch_lease::depth_ = 0;

// ---- helpers -------------------------------------------------------------------------------

tern_status fail(tern_error* err, std::string_view why) {
    sdk::set_error(err, why);
    return TERN_INVALID_ARGUMENT;
}

// A key for an error message: at most 64 bytes, cut at a character boundary.
std::string shown(std::string_view key) {
    if (key.size() <= 64) return std::string(key);
    std::size_t n = 64;
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
    return std::string(key.substr(0, n)) + "...";
}

// Java's String.length(): UTF-16 units (characters beyond the BMP count twice).
std::size_t java_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (const char ch : s) {
        const auto b = static_cast<unsigned char>(ch);
        if ((b & 0xC0) != 0x80) n += b >= 0xF0 ? 2 : 1;
    }
    return n;
}

bool parse_body(scratch& s, tern_bytes body, bool lenient) {
    return parse(sdk::as_text(body), parse_options{lenient}, s.input, s.doc, s.error);
}

bool is_object(const document& doc) noexcept {
    return !doc.empty && doc[0].kind == node_kind::object;
}

// Gson's JsonElement.getAsString: strings and numbers as written, booleans as words, and a
// one-element array as its element; null, objects and other arrays have none.
bool as_string(const document& doc, uint32_t i, std::string_view& out) noexcept {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::string:
        case node_kind::number: out = n.view(); return true;
        case node_kind::true_value: out = "true"; return true;
        case node_kind::false_value: out = "false"; return true;
        case node_kind::array: return n.size == 1 && as_string(doc, i + 1, out);
        default: return false;
    }
}

// Gson's getAsLong: a number as BigDecimal.longValue(), a string by Long.parseLong.
bool as_long(const document& doc, uint32_t i, int64_t& out) noexcept {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::number: {
            decimal d;
            if (!split_number(n.view(), d)) return false;
            out = java_long_value(d);
            return true;
        }
        case node_kind::string: return parse_java_long(n.view(), out);
        case node_kind::array: return n.size == 1 && as_long(doc, i + 1, out);
        default: return false;
    }
}

// Gson's getAsBoolean: a boolean, or Boolean.parseBoolean of the text ("TRUE" is true, 1 is
// false).
bool as_bool(const document& doc, uint32_t i, bool& out) noexcept {
    const node& n = doc[i];
    switch (n.kind) {
        case node_kind::true_value: out = true; return true;
        case node_kind::false_value: out = false; return true;
        case node_kind::string:
        case node_kind::number: {
            const std::string_view t = n.view();
            out = t.size() == 4 && (t[0] | 0x20) == 't' && (t[1] | 0x20) == 'r' && (t[2] | 0x20) == 'u' &&
                  (t[3] | 0x20) == 'e';
            return true;
        }
        case node_kind::array: return n.size == 1 && as_bool(doc, i + 1, out);
        default: return false;
    }
}

// ---- decoding key/values (§2.2) ------------------------------------------------------------

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
        kv.key = to_str(key);
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
            add(key, TERN_VALUE_STR).value.u.s = to_str(original);
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
                add(key, TERN_VALUE_STR).value.u.s = to_str(text);
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
bool out_within_budget(const scratch& s, const options& o, const limit_metrics& m, tern_error* err) {
    if (o.max_decoded_size <= 0 || s.out.size() <= static_cast<uint64_t>(o.max_decoded_size)) return true;
    m.decoded_size.inc();
    fail(err, "the message re-serialises to " + std::to_string(s.out.size()) + " bytes, more than max_decoded_size (" +
                  std::to_string(o.max_decoded_size) + " bytes)");
    return false;
}

// ---- encoding values ----------------------------------------------------------------------

void append_text(std::string& out, std::string_view text, std::string& tmp) {
    if (is_valid_utf8(text)) return append_string(out, text);
    sanitize_utf8(text, tmp);
    append_string(out, tmp);
}

void append_base64(std::string& out, tern_bytes b) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push_back('"');
    std::size_t i = 0;
    for (; i + 3 <= b.size; i += 3) {
        const uint32_t v = (uint32_t{b.data[i]} << 16) | (uint32_t{b.data[i + 1]} << 8) | b.data[i + 2];
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back(alphabet[v & 63]);
    }
    if (const std::size_t rest = b.size - i; rest != 0) {
        uint32_t v = uint32_t{b.data[i]} << 16;
        if (rest == 2) v |= uint32_t{b.data[i + 1]} << 8;
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(rest == 2 ? alphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    out.push_back('"');
}

// JSON text from the server side (a JSON attribute, RPC params, a client RPC reply) the way
// ThingsBoard embeds it: parsed leniently (JsonParser) and written compactly; empty is null.
// Text that does not parse is sent as a JSON string rather than dropped.
void append_embedded(scratch& s, std::string_view text) {
    if (parse(text, parse_options{true}, s.input, s.doc, s.error)) {
        if (s.doc.empty) s.out += "null";
        else append_compact(s.out, s.doc, 0, s.members, s.order);
        return;
    }
    append_text(s.out, text, s.plain);
}

bool append_value(scratch& s, const tern_value& v, std::string& why) {
    char buf[32];
    switch (v.type) {
        case TERN_VALUE_NULL: s.out += "null"; return true;
        case TERN_VALUE_BOOL: s.out += v.u.b != 0 ? "true" : "false"; return true;
        case TERN_VALUE_INT: {
            const auto r = std::to_chars(buf, buf + sizeof buf, v.u.i);
            s.out.append(buf, r.ptr);
            return true;
        }
        case TERN_VALUE_DOUBLE: append_java_double(s.out, v.u.d); return true;
        case TERN_VALUE_STR: append_text(s.out, to_sv(v.u.s), s.plain); return true;
        case TERN_VALUE_BYTES: append_base64(s.out, v.u.bytes); return true;
        case TERN_VALUE_JSON: append_embedded(s, to_sv(v.u.s)); return true;
        default: why = "value of unknown type " + std::to_string(v.type); return false;
    }
}

// {"k":v,...} of kvs, plus "deleted":[...] when deleted is not null; repeated keys as
// JsonObject keeps them.
bool append_object(scratch& s, const tern_kv* kvs, uint32_t count, const tern_str* deleted,
                   uint32_t deleted_count, std::string& why) {
    const std::size_t start = s.members.size();
    for (uint32_t i = 0; i < count; ++i) s.members.push_back(member{i, i});
    if (deleted_count != 0) s.members.push_back(member{count, count});
    std::size_t n = s.members.size() - start;
    keep_last_values(
        s.members.data() + start, n,
        [&](uint32_t k) { return k < count ? to_sv(kvs[k].key) : std::string_view{"deleted"}; }, s.order);
    s.members.resize(start + n);
    s.out.push_back('{');
    for (std::size_t k = start; k < start + n; ++k) {
        if (k != start) s.out.push_back(',');
        const uint32_t v = s.members[k].value;
        if (v == count) {
            s.out += "\"deleted\":[";
            for (uint32_t d = 0; d < deleted_count; ++d) {
                if (d != 0) s.out.push_back(',');
                append_text(s.out, to_sv(deleted[d]), s.plain);
            }
            s.out.push_back(']');
            continue;
        }
        append_text(s.out, to_sv(kvs[v].key), s.plain);
        s.out.push_back(':');
        if (!append_value(s, kvs[v].value, why)) return false;
    }
    s.out.push_back('}');
    s.members.resize(start);
    return true;
}

// A copy of a record that may be older (shorter) than this build's: the fields it lacks are
// zero (the growth rule of records with struct_size).
template <class T>
T read_record(const T* p) noexcept {
    T r{};
    const std::size_t n = p->struct_size < sizeof(T) ? p->struct_size : sizeof(T);
    std::memcpy(static_cast<void*>(&r), p, n);
    return r;
}

void emit(tern_bytes_sink sink, void* ctx, std::string_view text) { sink(ctx, sdk::to_bytes(text)); }

constexpr const char* credentials_type_name(tern_credential_kind k) noexcept {
    switch (k) {
        case TERN_CREDENTIAL_ACCESS_TOKEN: return "ACCESS_TOKEN";
        case TERN_CREDENTIAL_X509: return "X509_CERTIFICATE";
        case TERN_CREDENTIAL_MQTT_BASIC: return "MQTT_BASIC";
        case TERN_CREDENTIAL_LWM2M: return "LWM2M_CREDENTIALS";
        default: return nullptr;
    }
}

}  // namespace

tern_str adaptor::name() noexcept { return to_str("json"); }

int32_t adaptor::content_format() noexcept { return 50; }

tern_status adaptor::decode_telemetry(const tern_payload_context*, tern_bytes body, int64_t now_ms,
                                      tern_records_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        const document& doc = s->doc;
        if (doc.empty) return fail(err, "telemetry must be a JSON object or array (the body is empty)");
        value_decoder values(*s, options_, metrics_);

        // One record per object: {"ts":..,"values":{..}} when both keys are there, else the
        // object itself at now_ms.
        auto record = [&](uint32_t obj) -> bool {
            const uint32_t ts_at = find_member(doc, obj, "ts");
            const uint32_t values_at = find_member(doc, obj, "values");
            int64_t ts = now_ms;
            uint32_t source = obj;
            if (ts_at != UINT32_MAX && values_at != UINT32_MAX) {
                if (!as_long(doc, ts_at, ts)) {
                    s->error = "telemetry 'ts' must be a number of milliseconds since the epoch";
                    return false;
                }
                if (doc[values_at].kind != node_kind::object) {
                    s->error = "telemetry 'values' must be a JSON object";
                    return false;
                }
                source = values_at;
            }
            const auto first = static_cast<uint32_t>(s->kvs.size());
            if (!values.object_values(source)) return false;
            s->records.push_back({ts, first, static_cast<uint32_t>(s->kvs.size()) - first});
            return true;
        };

        const node& root = doc[0];
        if (root.kind == node_kind::object) {
            if (!record(0)) return fail(err, s->error);
        } else if (root.kind == node_kind::array) {
            uint32_t index = 0;
            for (uint32_t k = 1; k < root.end; k = doc[k].end, ++index) {
                if (doc[k].kind != node_kind::object)
                    return fail(err, "telemetry array element " + std::to_string(index) + " is not a JSON object");
                if (!record(k)) return fail(err, s->error);
            }
        } else {
            return fail(err, "telemetry must be a JSON object or array");
        }

        values.fix_pointers();
        for (const auto& r : s->records) {
            tern_ts_record t{};
            t.ts = r.ts;
            t.values = r.count != 0 ? s->kvs.data() + r.first : nullptr;
            t.count = r.count;
            s->ts_records.push_back(t);
        }
        sink(sink_ctx, s->ts_records.data(), static_cast<uint32_t>(s->ts_records.size()));
        return TERN_OK;
    });
}

tern_status adaptor::decode_attributes(const tern_payload_context*, tern_bytes body, tern_kv_sink sink,
                                       void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "attributes must be a JSON object");
        value_decoder values(*s, options_, metrics_);
        if (!values.object_values(0)) return fail(err, s->error);
        values.fix_pointers();
        sink(sink_ctx, s->kvs.data(), static_cast<uint32_t>(s->kvs.size()));
        return TERN_OK;
    });
}

tern_status adaptor::decode_rpc_reply(const tern_payload_context*, tern_bytes body, tern_bytes_sink sink,
                                      void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "the RPC reply must be a JSON object");
        append_compact(s->out, s->doc, 0, s->members, s->order);
        if (!out_within_budget(*s, options_, metrics_, err)) return TERN_INVALID_ARGUMENT;
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::decode_rpc_call(const tern_payload_context*, tern_bytes body, tern_rpc_call_sink sink,
                                     void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "the RPC request must be a JSON object");
        const uint32_t method_at = find_member(s->doc, 0, "method");
        if (method_at == UINT32_MAX) return fail(err, "the RPC request has no 'method'");
        std::string_view method;
        if (!as_string(s->doc, method_at, method)) return fail(err, "the RPC 'method' must be a string");
        const uint32_t params_at = find_member(s->doc, 0, "params");
        if (params_at == UINT32_MAX) s->out = "null";
        else append_compact(s->out, s->doc, params_at, s->members, s->order);
        if (!out_within_budget(*s, options_, metrics_, err)) return TERN_INVALID_ARGUMENT;
        sink(sink_ctx, to_str(method), to_str(s->out));
        return TERN_OK;
    });
}

tern_status adaptor::decode_claim(const tern_payload_context*, tern_bytes body, tern_claim_sink sink,
                                  void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (body.size == 0) {
            sink(sink_ctx, tern_str{"", 0}, 0);
            return TERN_OK;
        }
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        if (!is_object(s->doc)) return fail(err, "the claim body must be a JSON object");
        std::string_view secret;
        int64_t duration = 0;
        if (const uint32_t at = find_member(s->doc, 0, "secretKey"); at != UINT32_MAX && !as_string(s->doc, at, secret))
            return fail(err, "claim 'secretKey' must be a string");
        if (const uint32_t at = find_member(s->doc, 0, "durationMs"); at != UINT32_MAX && !as_long(s->doc, at, duration))
            return fail(err, "claim 'durationMs' must be a number of milliseconds");
        sink(sink_ctx, to_str(secret), duration);
        return TERN_OK;
    });
}

tern_status adaptor::decode_provision(const tern_payload_context*, tern_bytes body, tern_provision_sink sink,
                                      void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (!parse_body(*s, body, options_.lenient)) return fail(err, s->error);
        const document& doc = s->doc;
        if (!is_object(doc)) return fail(err, "the provisioning request must be a JSON object");

        tern_provision_request r{};
        r.struct_size = sizeof r;
        r.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
        // Field names from ThingsBoard's DataConstants; every field is read with getAsString.
        auto text = [&](const char* field, tern_str& out, bool required) -> bool {
            const uint32_t at = find_member(doc, 0, field);
            if (at == UINT32_MAX) {
                if (required) s->error = std::string("the provisioning request has no '") + field + "'";
                return !required;
            }
            std::string_view v;
            if (!as_string(doc, at, v)) {
                s->error = std::string("provisioning '") + field + "' must be a string";
                return false;
            }
            out = to_str(v);
            return true;
        };
        if (!text("deviceName", r.device_name, false)) return fail(err, s->error);
        tern_str type{};
        if (!text("credentialsType", type, false)) return fail(err, s->error);
        if (find_member(doc, 0, "credentialsType") != UINT32_MAX) {
            const std::string_view t = to_sv(type);
            if (t == "ACCESS_TOKEN") r.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
            else if (t == "X509_CERTIFICATE") r.credentials_type = TERN_CREDENTIAL_X509;
            else if (t == "MQTT_BASIC") r.credentials_type = TERN_CREDENTIAL_MQTT_BASIC;
            else if (t == "LWM2M_CREDENTIALS") r.credentials_type = TERN_CREDENTIAL_LWM2M;
            else return fail(err, "unknown provisioning credentialsType '" + shown(t) + "'");
        }
        if (!text("provisionDeviceKey", r.provision_key, true) ||
            !text("provisionDeviceSecret", r.provision_secret, true) || !text("token", r.token, false) ||
            !text("clientId", r.client_id, false) || !text("username", r.username, false) ||
            !text("password", r.password, false) || !text("hash", r.hash, false))
            return fail(err, s->error);
        if (const uint32_t at = find_member(doc, 0, "gateway"); at != UINT32_MAX) {
            bool gateway = false;
            if (!as_bool(doc, at, gateway)) return fail(err, "provisioning 'gateway' must be a boolean");
            r.gateway = gateway ? 1 : 0;
        }
        sink(sink_ctx, &r);
        return TERN_OK;
    });
}

tern_status adaptor::encode_attribute_update(const tern_payload_context*, const tern_kv* updated,
                                             uint32_t updated_count, const tern_str* deleted,
                                             uint32_t deleted_count, tern_bytes_sink sink, void* sink_ctx,
                                             tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if ((updated == nullptr && updated_count != 0) || (deleted == nullptr && deleted_count != 0))
            return fail(err, "null attribute list");
        scratch_lease s;
        std::string why;
        if (!append_object(*s, updated, updated_count, deleted, deleted_count, why)) return fail(err, why);
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_attributes(const tern_payload_context*, const tern_kv* client, uint32_t client_count,
                                       const tern_kv* shared, uint32_t shared_count, tern_bytes_sink sink,
                                       void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if ((client == nullptr && client_count != 0) || (shared == nullptr && shared_count != 0))
            return fail(err, "null attribute list");
        scratch_lease s;
        std::string why;
        s->out.push_back('{');
        if (client_count != 0) {
            s->out += "\"client\":";
            if (!append_object(*s, client, client_count, nullptr, 0, why)) return fail(err, why);
        }
        if (shared_count != 0) {
            if (client_count != 0) s->out.push_back(',');
            s->out += "\"shared\":";
            if (!append_object(*s, shared, shared_count, nullptr, 0, why)) return fail(err, why);
        }
        s->out.push_back('}');
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_rpc_request(const tern_payload_context*, const tern_rpc_request* rpc,
                                        tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (rpc == nullptr) return fail(err, "no RPC request");
        const tern_rpc_request r = read_record(rpc);
        scratch_lease s;
        char buf[32];
        const auto id = std::to_chars(buf, buf + sizeof buf, r.id);
        s->out += "{\"id\":";
        s->out.append(buf, id.ptr);
        s->out += ",\"method\":";
        append_text(s->out, to_sv(r.method), s->plain);
        s->out += ",\"params\":";
        append_embedded(*s, to_sv(r.params));
        s->out.push_back('}');
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_rpc_response(const tern_payload_context*, tern_str reply, tern_str error,
                                         tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        scratch_lease s;
        if (error.size != 0) {
            s->out += "{\"error\":";
            append_text(s->out, to_sv(error), s->plain);
            s->out.push_back('}');
        } else {
            append_embedded(*s, to_sv(reply));
        }
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

tern_status adaptor::encode_provision_response(const tern_payload_context*, const tern_provision_result* result,
                                               tern_bytes_sink sink, void* sink_ctx, tern_error* err) noexcept {
    return sdk::guard(err, [&]() -> tern_status {
        if (sink == nullptr) return fail(err, "no sink");
        if (result == nullptr) return fail(err, "no provisioning result");
        const tern_provision_result r = read_record(result);
        switch (r.status) {
            case TERN_PROVISION_NOT_FOUND:
                emit(sink, sink_ctx, R"({"errorMsg":"Provision data was not found!","status":"NOT_FOUND"})");
                return TERN_OK;
            case TERN_PROVISION_FAILURE:
                emit(sink, sink_ctx, R"({"errorMsg":"Failed to provision device!","status":"FAILURE"})");
                return TERN_OK;
            case TERN_PROVISION_SUCCESS: break;
            default: return fail(err, "provisioning result has no status (" + std::to_string(r.status) + ")");
        }
        const char* type = credentials_type_name(r.credentials_type);
        if (type == nullptr)
            return fail(err, "credentials of kind " + std::to_string(r.credentials_type) + " cannot be provisioned");
        scratch_lease s;
        s->out.push_back('{');
        if (r.credentials_type == TERN_CREDENTIAL_MQTT_BASIC) {
            // ThingsBoard stores these as a JSON object and sends it as one; unset fields are null.
            auto field = [&](const char* name, tern_str v) {
                s->out += name;
                if (v.size == 0) s->out += "null";
                else append_text(s->out, to_sv(v), s->plain);
            };
            field("\"credentialsValue\":{\"clientId\":", r.client_id);
            field(",\"userName\":", r.username);
            field(",\"password\":", r.password);
            s->out += "},";
        } else if (r.credentials_type != TERN_CREDENTIAL_LWM2M) {
            s->out += "\"credentialsValue\":";
            append_text(s->out, to_sv(r.credentials_value), s->plain);
            s->out.push_back(',');
        }
        s->out += "\"credentialsType\":\"";
        s->out += type;
        s->out += "\",\"status\":\"SUCCESS\"}";
        emit(sink, sink_ctx, s->out);
        return TERN_OK;
    });
}

}  // namespace tern::json
